/// `broadcast:admin {type, payload}`: message everyone (role ADMIN), delivered with `from: "admin"`.
public struct BroadcastAdmin: ClientEventPayload, MessagePayload {
    /// The client event `broadcast:admin`.
    public static let event = ClientEvent.broadcastAdmin

    /// Application message type.
    public var type: String
    /// Application data (any JSON, bounded at its top level).
    public var payload: JSONValue

    /// Creates the payload.
    public init(type: String, payload: JSONValue) {
        self.type = type
        self.payload = payload
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case type, payload }

    /// Decodes strictly (unknown fields and explicit nulls are errors) and validates.
    public init(from decoder: any Decoder) throws {
        let c = try StrictContainer<CodingKeys>(decoder)
        self.init(
            type: try c.required(.type),
            payload: try c.required(.payload))
        try validate(at: decoder)
    }

    /// Encodes the fields; absent optionals are omitted.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(type, forKey: .type)
        try c.encode(payload, forKey: .payload)
    }

    /// Checks bounds, patterns and enums.
    public func validate() throws(MessageError) {
        try Check.token(type, "type")
        try Check.freeform(payload, "payload")
    }
}
