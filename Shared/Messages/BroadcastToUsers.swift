/// `broadcast:to-users {targetUsers, type, payload}`: message users who share a presence room with the sender.
public struct BroadcastToUsers: ClientEventPayload, MessagePayload {
    /// The client event `broadcast:to-users`.
    public static let event = ClientEvent.broadcastToUsers

    /// Recipient user ids.
    public var targetUsers: [String]
    /// Application message type.
    public var type: String
    /// Application data (any JSON, bounded at its top level).
    public var payload: JSONValue

    /// Creates the payload.
    public init(targetUsers: [String], type: String, payload: JSONValue) {
        self.targetUsers = targetUsers
        self.type = type
        self.payload = payload
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case targetUsers, type, payload }

    /// Decodes strictly (unknown fields and explicit nulls are errors) and validates.
    public init(from decoder: any Decoder) throws {
        let c = try StrictContainer<CodingKeys>(decoder)
        self.init(
            targetUsers: try c.required(.targetUsers),
            type: try c.required(.type),
            payload: try c.required(.payload))
        try validate(at: decoder)
    }

    /// Encodes the fields; absent optionals are omitted.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(targetUsers, forKey: .targetUsers)
        try c.encode(type, forKey: .type)
        try c.encode(payload, forKey: .payload)
    }

    /// Checks bounds, patterns and enums.
    public func validate() throws(MessageError) {
        try Check.count(targetUsers.count, "targetUsers", min: 1, max: MessageLimits.maxTargetUsers)
        try Check.each(targetUsers, "targetUsers", Check.id)
        try Check.token(type, "type")
        try Check.freeform(payload, "payload")
    }
}
