/// `connection:rooms` on gateway.connections: the rooms and stream grants of a socket that can be recovered, so that
/// any gateway can restore them when the client reconnects with its recovery id (sent when they change, every half
/// recovery window, and at disconnect).
public struct ConnectionRooms: MessagePayload {
    /// The envelope type.
    public static let messageType = "connection:rooms"
    /// The topic it travels on.
    public static let topic = Topics.gatewayConnections
    /// Its payload schema.
    public static let schema = "messages/connection.rooms.schema.json"

    /// The gateway that holds (or held) the socket.
    public var gatewayId: String
    /// The socket.
    public var socketId: String
    /// The socket's user.
    public var userId: String
    /// Server-side rooms the socket is in besides `user:<id>` and `admin`.
    public var rooms: [String]
    /// Devices the socket may publish frames for.
    public var streams: [String]
    /// Whether the socket is gone (the last record for it).
    public var disconnected: Bool

    /// Creates the payload.
    public init(gatewayId: String, socketId: String, userId: String, rooms: [String], streams: [String],
                disconnected: Bool) {
        self.gatewayId = gatewayId
        self.socketId = socketId
        self.userId = userId
        self.rooms = rooms
        self.streams = streams
        self.disconnected = disconnected
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case gatewayId, socketId, userId, rooms, streams, disconnected }

    /// Decodes strictly (unknown fields and explicit nulls are errors) and validates.
    public init(from decoder: any Decoder) throws {
        let c = try StrictContainer<CodingKeys>(decoder)
        self.init(
            gatewayId: try c.required(.gatewayId),
            socketId: try c.required(.socketId),
            userId: try c.required(.userId),
            rooms: try c.required(.rooms),
            streams: try c.required(.streams),
            disconnected: try c.required(.disconnected))
        try validate(at: decoder)
    }

    /// Encodes the fields.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(gatewayId, forKey: .gatewayId)
        try c.encode(socketId, forKey: .socketId)
        try c.encode(userId, forKey: .userId)
        try c.encode(rooms, forKey: .rooms)
        try c.encode(streams, forKey: .streams)
        try c.encode(disconnected, forKey: .disconnected)
    }

    /// Checks bounds and patterns.
    public func validate() throws(MessageError) {
        try Check.id(gatewayId, "gatewayId")
        try Check.id(socketId, "socketId")
        try Check.id(userId, "userId")
        try Check.count(rooms.count, "rooms", max: MessageLimits.maxSocketRooms)
        try Check.each(rooms, "rooms", Check.serverRoom)
        try Check.count(streams.count, "streams", max: MessageLimits.maxSocketRooms)
        try Check.each(streams, "streams", Check.id)
    }
}
