/// `connection:disconnected` on gateway.connections: a socket is gone.
public struct ConnectionDisconnected: MessagePayload {
    /// The envelope type.
    public static let messageType = "connection:disconnected"
    /// The topic it travels on.
    public static let topic = Topics.gatewayConnections
    /// Its payload schema.
    public static let schema = "messages/connection.disconnected.schema.json"

    /// The gateway that held the socket.
    public var gatewayId: String
    /// The socket.
    public var socketId: String
    /// The socket's user.
    public var userId: String
    /// The Socket.IO disconnect reason (`transport close`, `ping timeout`, ...).
    public var reason: String

    /// Creates the payload.
    public init(gatewayId: String, socketId: String, userId: String, reason: String) {
        self.gatewayId = gatewayId
        self.socketId = socketId
        self.userId = userId
        self.reason = reason
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case gatewayId, socketId, userId, reason }

    /// Decodes strictly (unknown fields and explicit nulls are errors) and validates.
    public init(from decoder: any Decoder) throws {
        let c = try StrictContainer<CodingKeys>(decoder)
        self.init(
            gatewayId: try c.required(.gatewayId),
            socketId: try c.required(.socketId),
            userId: try c.required(.userId),
            reason: try c.required(.reason))
        try validate(at: decoder)
    }

    /// Encodes the fields; absent optionals are omitted.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(gatewayId, forKey: .gatewayId)
        try c.encode(socketId, forKey: .socketId)
        try c.encode(userId, forKey: .userId)
        try c.encode(reason, forKey: .reason)
    }

    /// Checks bounds, patterns and enums.
    public func validate() throws(MessageError) {
        try Check.id(gatewayId, "gatewayId")
        try Check.id(socketId, "socketId")
        try Check.id(userId, "userId")
        try Check.text(reason, "reason", max: MessageLimits.maxReasonLength)
    }
}
