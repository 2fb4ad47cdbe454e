/// `notification:create`: a backend creates a durable notification; same fields as `notification:send`.
///
/// The envelope carries the backend's service principal (`PrincipalRule.required`).
@dynamicMemberLookup
public struct NotificationCreate: NotificationContentPayload {
    /// The envelope type.
    public static let messageType = "notification:create"
    /// The topic it travels on.
    public static let topic = Topics.notificationCommands
    /// Its payload schema.
    public static let schema = "messages/notification.create.schema.json"
    /// What the envelope's principal must hold.
    public static let principalRule = PrincipalRule.required

    /// The notification's fields.
    public var content: NotificationContent

    /// Wraps the fields.
    public init(content: NotificationContent) {
        self.content = content
    }
}
