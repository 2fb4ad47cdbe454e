/// `notification:mark-read {notificationId}`: mark one notification read.
public struct NotificationMarkRead: ClientEventPayload, MessagePayload {
    /// The client event `notification:mark-read`.
    public static let event = ClientEvent.notificationMarkRead

    /// The notification.
    public var notificationId: String

    /// Creates the payload.
    public init(notificationId: String) {
        self.notificationId = notificationId
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case notificationId }

    /// Decodes strictly (unknown fields and explicit nulls are errors) and validates.
    public init(from decoder: any Decoder) throws {
        let c = try StrictContainer<CodingKeys>(decoder)
        self.init(
            notificationId: try c.required(.notificationId))
        try validate(at: decoder)
    }

    /// Encodes the fields; absent optionals are omitted.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(notificationId, forKey: .notificationId)
    }

    /// Checks bounds, patterns and enums.
    public func validate() throws(MessageError) {
        try Check.id(notificationId, "notificationId")
    }
}
