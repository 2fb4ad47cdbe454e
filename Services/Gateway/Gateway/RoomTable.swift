/// Which sockets are in which rooms, in both directions. Pure value; the gateway guards one with a lock.
///
/// Rooms are server-side names (`user:alice`, `room:team-1`, `biometric:r1`, `stream:d1`); a socket leaves every
/// room when it is removed, so nothing outlives its socket.
public struct RoomTable: Sendable {
    private var members: [String: Set<String>] = [:]
    private var roomsOfSocket: [String: Set<String>] = [:]

    /// An empty table.
    public init() {}

    /// Adds `socket` to `room`; returns false if it was already a member.
    @discardableResult
    public mutating func join(_ socket: String, _ room: String) -> Bool {
        let inserted = members[room, default: []].insert(socket).inserted
        roomsOfSocket[socket, default: []].insert(room)
        return inserted
    }

    /// Removes `socket` from `room`; returns false if it was not a member.
    @discardableResult
    public mutating func leave(_ socket: String, _ room: String) -> Bool {
        guard members[room]?.remove(socket) != nil else { return false }
        if members[room]?.isEmpty == true { members[room] = nil }
        roomsOfSocket[socket]?.remove(room)
        if roomsOfSocket[socket]?.isEmpty == true { roomsOfSocket[socket] = nil }
        return true
    }

    /// Removes `socket` from every room; returns the rooms it was in.
    @discardableResult
    public mutating func remove(_ socket: String) -> Set<String> {
        let rooms = roomsOfSocket.removeValue(forKey: socket) ?? []
        for room in rooms {
            members[room]?.remove(socket)
            if members[room]?.isEmpty == true { members[room] = nil }
        }
        return rooms
    }

    /// The sockets in `room`.
    public func sockets(in room: String) -> Set<String> { members[room] ?? [] }

    /// The rooms `socket` is in.
    public func rooms(of socket: String) -> Set<String> { roomsOfSocket[socket] ?? [] }

    /// Number of non-empty rooms.
    public var roomCount: Int { members.count }
}
