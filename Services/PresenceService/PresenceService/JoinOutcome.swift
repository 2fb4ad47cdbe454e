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
