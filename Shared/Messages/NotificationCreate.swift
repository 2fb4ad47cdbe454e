/// `notification:create`: a backend creates a durable notification; same fields as `notification:send`.
///
/// The envelope carries the backend's service principal (`PrincipalRule.required`).
public struct NotificationCreate: MessagePayload {
    /// The envelope type.
    public static let messageType = "notification:create"
    /// The topic it travels on.
    public static let topic = Topics.notificationCommands
    /// Its payload schema.
    public static let schema = "messages/notification.create.schema.json"
    /// What the envelope's principal must hold.
    public static let principalRule = PrincipalRule.required

    /// The recipient.
    public var targetUserId: String
    /// Application notification type.
    public var type: String
    /// Title (1...200 characters).
    public var title: String
    /// Body (at most 4000 characters).
    public var body: String
    /// Application data, an object of at most 64 members.
    public var data: JSONValue?
    /// Category; `general` when the sender names none.
    public var category: String

    /// Creates the payload.
    public init(
        targetUserId: String, type: String, title: String, body: String, data: JSONValue? = nil,
        category: String = MessageLimits.defaultNotificationCategory
    ) {
        self.targetUserId = targetUserId
        self.type = type
        self.title = title
        self.body = body
        self.data = data
        self.category = category
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case targetUserId, type, title, body, data, category }

    /// Decodes strictly (unknown fields and explicit nulls are errors) and validates.
    public init(from decoder: any Decoder) throws {
        let c = try StrictContainer<CodingKeys>(decoder)
        self.init(
            targetUserId: try c.required(.targetUserId),
            type: try c.required(.type),
            title: try c.required(.title),
            body: try c.required(.body),
            data: try c.optional(.data),
            category: try c.optional(.category) ?? MessageLimits.defaultNotificationCategory)
        try validate(at: decoder)
    }

    /// Encodes the fields; absent optionals are omitted.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(targetUserId, forKey: .targetUserId)
        try c.encode(type, forKey: .type)
        try c.encode(title, forKey: .title)
        try c.encode(body, forKey: .body)
        try c.encodeIfPresent(data, forKey: .data)
        try c.encode(category, forKey: .category)
    }

    /// Checks bounds, patterns and enums.
    public func validate() throws(MessageError) {
        try Check.id(targetUserId, "targetUserId")
        try Check.token(type, "type")
        try Check.text(title, "title", max: MessageLimits.maxTitleLength)
        try Check.text(body, "body", min: 0, max: MessageLimits.maxBodyLength)
        if let data { try Check.freeformObject(data, "data") }
        try Check.roomId(category, "category")
    }
}
