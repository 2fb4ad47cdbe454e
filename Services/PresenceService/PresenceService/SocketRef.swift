import Foundation

/// The socket a command came from: its id, user and gateway (from the envelope's principal), and when the gateway
/// relayed the command.
public struct SocketRef: Sendable, Hashable {
    /// The socket.
    public var socketId: String
    /// Its user.
    public var userId: String
    /// Its gateway.
    public var gatewayId: String
    /// The command's time on the gateway's clock (the envelope's `occurredAt`). Compared with the time a closed
    /// socket was removed at: a later command comes from a new incarnation of the socket (recovered on the same
    /// gateway), an earlier one from the closed socket.
    public var sentAt: Date

    /// Creates a reference.
    public init(socketId: String, userId: String, gatewayId: String, sentAt: Date) {
        self.socketId = socketId
        self.userId = userId
        self.gatewayId = gatewayId
        self.sentAt = sentAt
    }
}
