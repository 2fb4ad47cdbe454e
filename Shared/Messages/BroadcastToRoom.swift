/// `broadcast:to-room {targetRoom, type, payload}`: message a presence room.
public struct BroadcastToRoom: ClientEventPayload, MessagePayload {
    /// The client event `broadcast:to-room`.
    public static let event = ClientEvent.broadcastToRoom

    /// The presence room as clients name it (`team-1`).
    public var targetRoom: String
    /// Application message type.
    public var type: String
    /// Application data (any JSON, bounded at its top level).
    public var payload: JSONValue

    /// Creates the payload.
    public init(targetRoom: String, type: String, payload: JSONValue) {
        self.targetRoom = targetRoom
        self.type = type
        self.payload = payload
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case targetRoom, type, payload }

    /// Decodes strictly (unknown fields and explicit nulls are errors) and validates.
    public init(from decoder: any Decoder) throws {
        let c = try StrictContainer<CodingKeys>(decoder)
        self.init(
            targetRoom: try c.required(.targetRoom),
            type: try c.required(.type),
            payload: try c.required(.payload))
        try validate(at: decoder)
    }

    /// Encodes the fields; absent optionals are omitted.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(targetRoom, forKey: .targetRoom)
        try c.encode(type, forKey: .type)
        try c.encode(payload, forKey: .payload)
    }

    /// Checks bounds, patterns and enums.
    public func validate() throws(MessageError) {
        try Check.roomId(targetRoom, "targetRoom")
        try Check.token(type, "type")
        try Check.freeform(payload, "payload")
    }
}
