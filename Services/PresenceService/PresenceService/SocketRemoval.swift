import Messages

/// What removing one socket changed (a disconnect, a liveness report that no longer lists it, a dead gateway).
public struct SocketRemoval: Sendable, Hashable {
    /// The socket.
    public var socketId: String
    /// Its user.
    public var userId: String
    /// The gateway that held it.
    public var gatewayId: String?
    /// Presence rooms (ids) the user left because this was their last socket in them, sorted.
    public var leftRooms: [String]
    /// Whether this was the user's last socket anywhere (the user is now offline).
    public var offline: Bool
    /// The session this socket held, now ended.
    public var endedSession: String?

    /// Creates a removal.
    public init(socketId: String, userId: String, gatewayId: String? = nil, leftRooms: [String] = [],
                offline: Bool = false, endedSession: String? = nil) {
        self.socketId = socketId
        self.userId = userId
        self.gatewayId = gatewayId
        self.leftRooms = leftRooms
        self.offline = offline
        self.endedSession = endedSession
    }

    init?(_ json: JSONValue) {
        guard let socketId = json["socketId"]?.stringValue, let userId = json["userId"]?.stringValue else { return nil }
        self.init(
            socketId: socketId, userId: userId, gatewayId: json["gatewayId"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 },
            leftRooms: json["leftRooms"].luaStrings, offline: json["offline"]?.boolValue ?? false,
            endedSession: json["endedSession"]?.stringValue)
    }
}
