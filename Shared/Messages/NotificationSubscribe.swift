/// `notification:subscribe {categories}`: join `notifications:<category>` rooms.
public struct NotificationSubscribe: ClientEventPayload, MessagePayload {
    /// The client event `notification:subscribe`.
    public static let event = ClientEvent.notificationSubscribe

    /// Categories (no ':').
    public var categories: [String]

    /// Creates the payload.
    public init(categories: [String]) {
        self.categories = categories
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case categories }

    /// Decodes strictly (unknown fields and explicit nulls are errors) and validates.
    public init(from decoder: any Decoder) throws {
        let c = try StrictContainer<CodingKeys>(decoder)
        self.init(
            categories: try c.required(.categories))
        try validate(at: decoder)
    }

    /// Encodes the fields; absent optionals are omitted.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(categories, forKey: .categories)
    }

    /// Checks bounds, patterns and enums.
    public func validate() throws(MessageError) {
        try Check.count(categories.count, "categories", min: 1, max: MessageLimits.maxCategories)
        try Check.each(categories, "categories", Check.roomId)
    }
}
