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
