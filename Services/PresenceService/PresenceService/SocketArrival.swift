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
