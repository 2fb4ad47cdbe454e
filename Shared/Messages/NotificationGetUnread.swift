/// `notification:get-unread {limit?, before?}`: list unread notifications, newest first.
public struct NotificationGetUnread: ClientEventPayload, MessagePayload {
    /// The client event `notification:get-unread`.
    public static let event = ClientEvent.notificationGetUnread

    /// Most notifications to return (1...100; the service's default when absent).
    public var limit: Int?
    /// Cursor: only notifications older than this notification id.
    public var before: String?

    /// Creates the payload.
    public init(limit: Int? = nil, before: String? = nil) {
        self.limit = limit
        self.before = before
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case limit, before }

    /// Decodes strictly (unknown fields and explicit nulls are errors) and validates.
    public init(from decoder: any Decoder) throws {
        let c = try StrictContainer<CodingKeys>(decoder)
        self.init(
            limit: try c.optional(.limit),
            before: try c.optional(.before))
        try validate(at: decoder)
    }

    /// Encodes the fields; absent optionals are omitted.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(limit, forKey: .limit)
        try c.encodeIfPresent(before, forKey: .before)
    }

    /// Checks bounds, patterns and enums.
    public func validate() throws(MessageError) {
        if let limit { try Check.range(limit, "limit", min: 1, max: MessageLimits.maxUnreadLimit) }
        try Check.id(before, "before")
    }
}
