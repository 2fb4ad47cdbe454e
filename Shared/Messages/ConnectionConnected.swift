import Foundation

/// `connection:connected` on gateway.connections: a socket completed its Socket.IO CONNECT.
public struct ConnectionConnected: MessagePayload {
    /// The envelope type.
    public static let messageType = "connection:connected"
    /// The topic it travels on.
    public static let topic = Topics.gatewayConnections
    /// Its payload schema.
    public static let schema = "messages/connection.connected.schema.json"

    /// The gateway holding the socket.
    public var gatewayId: String
    /// The socket.
    public var socketId: String
    /// The authenticated user.
    public var userId: String
    /// The session the socket resumed, if any.
    public var sessionId: String?
    /// The client address the gateway saw.
    public var remoteAddress: String
    /// When the CONNECT completed.
    public var connectedAt: Date

    /// Creates the payload.
    public init(
        gatewayId: String, socketId: String, userId: String, sessionId: String? = nil, remoteAddress: String,
        connectedAt: Date
    ) {
        self.gatewayId = gatewayId
        self.socketId = socketId
        self.userId = userId
        self.sessionId = sessionId
        self.remoteAddress = remoteAddress
        self.connectedAt = connectedAt
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case gatewayId, socketId, userId, sessionId, remoteAddress, connectedAt
    }

    /// Decodes strictly (unknown fields and explicit nulls are errors) and validates.
    public init(from decoder: any Decoder) throws {
        let c = try StrictContainer<CodingKeys>(decoder)
        self.init(
            gatewayId: try c.required(.gatewayId),
            socketId: try c.required(.socketId),
            userId: try c.required(.userId),
            sessionId: try c.optional(.sessionId),
            remoteAddress: try c.required(.remoteAddress),
            connectedAt: try Check.timestamp(
                try c.required(.connectedAt, as: String.self),
                CodingPath.render(decoder.codingPath, CodingKeys.connectedAt)))
        try validate(at: decoder)
    }

    /// Encodes the fields; absent optionals are omitted.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(gatewayId, forKey: .gatewayId)
        try c.encode(socketId, forKey: .socketId)
        try c.encode(userId, forKey: .userId)
        try c.encodeIfPresent(sessionId, forKey: .sessionId)
        try c.encode(remoteAddress, forKey: .remoteAddress)
        try c.encode(Timestamp.string(from: connectedAt), forKey: .connectedAt)
    }

    /// Checks bounds, patterns and enums.
    public func validate() throws(MessageError) {
        try Check.id(gatewayId, "gatewayId")
        try Check.id(socketId, "socketId")
        try Check.id(userId, "userId")
        try Check.id(sessionId, "sessionId")
        try Check.ipAddress(remoteAddress, "remoteAddress")
    }
}
