/// `notification:send {targetUserId, type, title, body, data?, category?}`: create a durable notification.
///
/// The sender needs a role or scope that allows it (the notification service decides).
@dynamicMemberLookup
public struct NotificationSend: ClientEventPayload, NotificationContentPayload {
    /// The client event `notification:send`.
    public static let event = ClientEvent.notificationSend

    /// The notification's fields.
    public var content: NotificationContent

    /// Wraps the fields.
    public init(content: NotificationContent) {
        self.content = content
    }
}
