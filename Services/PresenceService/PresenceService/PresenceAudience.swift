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
