/// The fields of a notification to create — `{targetUserId, type, title, body, data?, category?}` — shared by the
/// client event `notification:send` and the backends' `notification:create` (one decoding, one validation).
public struct NotificationContent: ValidatedMessage, Hashable {
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

    /// Creates the fields.
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

/// A payload that is a ``NotificationContent`` on the wire (the same flat object): its fields read through.
public protocol NotificationContentPayload: MessagePayload {
    /// The notification's fields.
    var content: NotificationContent { get set }
    /// Wraps the fields.
    init(content: NotificationContent)
}

extension NotificationContentPayload {
    /// Creates the payload from its fields.
    public init(
        targetUserId: String, type: String, title: String, body: String, data: JSONValue? = nil,
        category: String = MessageLimits.defaultNotificationCategory
    ) {
        self.init(content: NotificationContent(
            targetUserId: targetUserId, type: type, title: title, body: body, data: data, category: category))
    }

    /// Decodes the flat object strictly and validates it.
    public init(from decoder: any Decoder) throws {
        self.init(content: try NotificationContent(from: decoder))
    }

    /// Encodes the flat object.
    public func encode(to encoder: any Encoder) throws {
        try content.encode(to: encoder)
    }

    /// Checks the fields.
    public func validate() throws(MessageError) {
        try content.validate()
    }

    /// Reads a field of ``content`` (`send.title`).
    public subscript<Value>(dynamicMember keyPath: WritableKeyPath<NotificationContent, Value>) -> Value {
        get { content[keyPath: keyPath] }
        set { content[keyPath: keyPath] = newValue }
    }
}
