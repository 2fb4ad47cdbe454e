/// A delivery that emits event `name` with `data` to the target sockets.
public struct DeliveryEvent: ValidatedMessage, Hashable {
    /// The Socket.IO event name (`biometric:verification-result`).
    public var name: String
    /// The event's single argument (any JSON).
    public var data: JSONValue
    /// Also answer this acknowledgement of the target socket with `data`.
    public var ackId: Int?

    /// Creates an event delivery body.
    public init(name: String, data: JSONValue, ackId: Int? = nil) {
        self.name = name
        self.data = data
        self.ackId = ackId
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case name, data, ackId }

    /// Decodes strictly and validates.
    public init(from decoder: any Decoder) throws {
        let c = try StrictContainer<CodingKeys>(decoder)
        self.init(name: try c.required(.name), data: try c.required(.data), ackId: try c.optional(.ackId))
        try validate(at: decoder)
    }

    /// Encodes the fields; an absent ack id is omitted.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(data, forKey: .data)
        try c.encodeIfPresent(ackId, forKey: .ackId)
    }

    /// Checks the event name and ack id.
    public func validate() throws(MessageError) {
        try Check.eventName(name, "name")
        if let ackId { try Check.range(ackId, "ackId", min: 0, max: MessageLimits.maxAckId) }
    }
}
