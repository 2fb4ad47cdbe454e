import Messages

/// The outcome of `session:create`.
public enum SessionCreation: Sendable, Hashable {
    /// Created; `online` when the user came online with it (first sight of the socket).
    case created(session: JSONValue, online: Bool)
    /// The socket already holds this live session.
    case existing(String)
    /// The socket had already disconnected.
    case closed
}
