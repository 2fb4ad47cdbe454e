/// Where to answer a client's Socket.IO acknowledgement (envelope `reply`).
public struct ReplyTo: ValidatedMessage, Hashable {
    /// The gateway holding the socket.
    public var gatewayId: String
    /// The socket that asked.
    public var socketId: String
    /// The Socket.IO ack id.
    public var ackId: Int

    /// Creates a reply address.
    public init(gatewayId: String, socketId: String, ackId: Int) {
        self.gatewayId = gatewayId
        self.socketId = socketId
        self.ackId = ackId
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case gatewayId, socketId, ackId }

    /// Decodes strictly and validates.
    public init(from decoder: any Decoder) throws {
        let c = try StrictContainer<CodingKeys>(decoder)
        self.init(
            gatewayId: try c.required(.gatewayId), socketId: try c.required(.socketId), ackId: try c.required(.ackId))
        try validate(at: decoder)
    }

    /// Checks ids and the ack id range.
    public func validate() throws(MessageError) {
        try Check.id(gatewayId, "gatewayId")
        try Check.id(socketId, "socketId")
        try Check.range(ackId, "ackId", min: 0, max: MessageLimits.maxAckId)
    }
}
