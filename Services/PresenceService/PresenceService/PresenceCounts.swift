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
