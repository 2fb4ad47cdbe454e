/// Where the client's connection stands; observe it with ``BiometricsClient/states()``.
public enum ConnectionState: Sendable, Hashable, CustomStringConvertible {
    /// The first connect is in progress.
    case connecting
    /// Connected; `socketID` is the gateway's id of this socket. After a reconnect, `recovered` says whether the
    /// gateway restored the socket (same id, rooms, every missed delivery replayed in order) or it is a fresh one
    /// (subscriptions were re-sent, and pushes made while away are lost).
    case connected(socketID: String, recovered: Bool)
    /// The connection dropped; attempt `attempt` (1-based) is scheduled or under way.
    case reconnecting(attempt: Int)
    /// Not connected and not trying any more (closed by the app, refused by the gateway, or out of attempts).
    case disconnected(reason: String)

    /// `connecting`, `connected(…)`, ….
    public var description: String {
        switch self {
        case .connecting: "connecting"
        case .connected(let id, let recovered): "connected(\(id)\(recovered ? ", recovered" : ""))"
        case .reconnecting(let attempt): "reconnecting(\(attempt))"
        case .disconnected(let reason): "disconnected(\(reason))"
        }
    }
}
