/// The socket a command came from: its id, user and gateway (from the envelope's principal).
public struct SocketRef: Sendable, Hashable {
    /// The socket.
    public var socketId: String
    /// Its user.
    public var userId: String
    /// Its gateway.
    public var gatewayId: String

    /// Creates a reference.
    public init(socketId: String, userId: String, gatewayId: String) {
        self.socketId = socketId
        self.userId = userId
        self.gatewayId = gatewayId
    }
}
