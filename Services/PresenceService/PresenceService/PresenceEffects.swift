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

/// A socket registered from a record (a connect, or a liveness report listing a socket we did not know).
public struct SocketArrival: Sendable, Hashable {
    /// The socket.
    public var socketId: String
    /// Its user.
    public var userId: String
    /// Whether the user came online with it (had no socket before).
    public var online: Bool

    /// Creates an arrival.
    public init(socketId: String, userId: String, online: Bool) {
        self.socketId = socketId
        self.userId = userId
        self.online = online
    }
}

/// Who hears a user's status change: every presence room they are in, and directly their sockets that are in none
/// (a socket in a room hears it through the room, so each socket hears it once).
public struct PresenceAudience: Sendable, Hashable {
    /// Presence room ids, sorted.
    public var rooms: [String]
    /// The user's sockets in no room.
    public var directSockets: [ReplyAddress]

    /// Creates an audience.
    public init(rooms: [String], directSockets: [ReplyAddress]) {
        self.rooms = rooms
        self.directSockets = directSockets
    }
}

/// The outcome of `presence:join-room` once allowed.
public struct JoinOutcome: Sendable, Hashable {
    /// The socket had already disconnected: nothing was joined.
    public var closed: Bool
    /// The user came online with this (first sight of the socket).
    public var online: Bool
    /// The user was not a member before.
    public var newMember: Bool
    /// Members (user ids) after the join, sorted.
    public var members: [String]

    /// Creates an outcome.
    public init(closed: Bool = false, online: Bool = false, newMember: Bool = false, members: [String] = []) {
        self.closed = closed
        self.online = online
        self.newMember = newMember
        self.members = members
    }
}

/// The outcome of `session:create`.
public enum SessionCreation: Sendable, Hashable {
    /// Created; `online` when the user came online with it (first sight of the socket).
    case created(session: JSONValue, online: Bool)
    /// The socket already holds this live session.
    case existing(String)
    /// The socket had already disconnected.
    case closed
}

/// A session that `session:end` ended.
public struct EndedSession: Sendable, Hashable {
    /// The session.
    public var sessionId: String
    /// The socket that held it.
    public var socketId: String?
    /// That socket's gateway.
    public var gatewayId: String?

    /// Creates the value.
    public init(sessionId: String, socketId: String?, gatewayId: String?) {
        self.sessionId = sessionId
        self.socketId = socketId
        self.gatewayId = gatewayId
    }
}

/// Registry-wide counts for gauges and `server:health`.
public struct PresenceCounts: Sendable, Hashable {
    /// Live sockets.
    public var sockets: Int
    /// Online users.
    public var users: Int
    /// Non-empty presence rooms.
    public var rooms: Int
    /// Live sessions.
    public var sessions: Int
    /// Known gateways.
    public var gateways: Int

    /// Creates counts.
    public init(sockets: Int, users: Int, rooms: Int, sessions: Int, gateways: Int) {
        self.sockets = sockets
        self.users = users
        self.rooms = rooms
        self.sessions = sessions
        self.gateways = gateways
    }
}

extension Optional where Wrapped == JSONValue {
    /// A list from a script's JSON: Lua's cjson writes an empty table as `{}`, so that counts as empty.
    var luaList: [JSONValue] { self?.arrayValue ?? [] }

    /// The strings of a list from a script's JSON.
    var luaStrings: [String] { luaList.compactMap(\.stringValue) }
}
