import Messages
import Synchronization

/// This gateway's live state shared across event loops: Engine.IO sessions by sid, Socket.IO sockets by id, rooms,
/// sockets per user and new connections per address. Sessions do their own work on their event loops; the hub only
/// answers "who" under one lock.
final class GatewayHub: Sendable {
    private struct State {
        var sessions: [String: GatewaySession] = [:]
        var sockets: [String: SocketEntry] = [:]
        var rooms = RoomTable()
        var socketsPerUser: [String: Int] = [:]
        var connectionWindows: [String: (start: ContinuousClock.Instant, count: Int)] = [:]
        /// Rooms' recipients as fan-out last resolved them; a room's entry goes when its membership changes.
        var recipientsOfRoom: [String: Recipients] = [:]

        mutating func membershipChanged(_ rooms: some Sequence<String>) {
            guard !recipientsOfRoom.isEmpty else { return }
            for room in rooms { recipientsOfRoom[room] = nil }
        }
    }

    /// A connected socket: its session, user, and whether it has a recovery id (gets delivery positions).
    struct SocketEntry {
        var session: GatewaySession
        var userId: String
        var recoverable: Bool
    }

    /// A socket a delivery targets.
    struct Target {
        var socketID: String
        var session: GatewaySession
        var recoverable: Bool
    }

    private let state = Mutex(State())
    private let maxSocketsPerUser: Int
    private let maxConnectionsPerIPPerMinute: Int

    init(maxSocketsPerUser: Int, maxConnectionsPerIPPerMinute: Int) {
        self.maxSocketsPerUser = maxSocketsPerUser
        self.maxConnectionsPerIPPerMinute = maxConnectionsPerIPPerMinute
    }

    // MARK: Engine.IO sessions

    func addSession(_ session: GatewaySession) {
        state.withLock { $0.sessions[session.sid] = session }
    }

    func session(sid: String) -> GatewaySession? {
        state.withLock { $0.sessions[sid] }
    }

    func removeSession(sid: String) {
        _ = state.withLock { $0.sessions.removeValue(forKey: sid) }
    }

    /// Every open Engine.IO session (for shutdown).
    var allSessions: [GatewaySession] { state.withLock { Array($0.sessions.values) } }

    /// Number of open Engine.IO sessions.
    var sessionCount: Int { state.withLock { $0.sessions.count } }

    /// Whether `address` may open another connection now (a fixed one-minute window per address).
    func admitConnection(from address: String, now: ContinuousClock.Instant) -> Bool {
        state.withLock { state in
            var window = state.connectionWindows[address] ?? (now, 0)
            if now - window.start >= .seconds(60) { window = (now, 0) }
            guard window.count < maxConnectionsPerIPPerMinute else { return false }
            window.count += 1
            state.connectionWindows[address] = window
            if state.connectionWindows.count > 100_000 {  // bound the table: forget windows that are over
                state.connectionWindows = state.connectionWindows.filter { now - $0.value.start < .seconds(60) }
            }
            return true
        }
    }

    // MARK: Socket.IO sockets and rooms

    /// Registers an authenticated socket and joins its initial rooms; false when the user has too many sockets or
    /// the id is taken (a recovered socket whose old connection has not been noticed gone yet).
    func addSocket(_ socketID: String, userId: String, rooms: [String], recoverable: Bool = false,
                   session: GatewaySession) -> Bool {
        state.withLock { state in
            guard state.socketsPerUser[userId, default: 0] < maxSocketsPerUser, state.sockets[socketID] == nil else {
                return false
            }
            state.socketsPerUser[userId, default: 0] += 1
            state.sockets[socketID] = SocketEntry(session: session, userId: userId, recoverable: recoverable)
            for room in rooms { state.rooms.join(socketID, room) }
            state.membershipChanged(rooms)
            return true
        }
    }

    /// Forgets a socket and removes it from every room.
    func removeSocket(_ socketID: String, userId: String) {
        state.withLock { state in
            guard state.sockets.removeValue(forKey: socketID) != nil else { return }
            state.membershipChanged(state.rooms.remove(socketID))
            let remaining = state.socketsPerUser[userId, default: 1] - 1
            state.socketsPerUser[userId] = remaining > 0 ? remaining : nil
        }
    }

    func join(_ socketID: String, _ room: String) {
        state.withLock { state in
            guard state.sockets[socketID] != nil, state.rooms.join(socketID, room) else { return }
            state.membershipChanged(CollectionOfOne(room))
        }
    }

    func leave(_ socketID: String, _ room: String) {
        state.withLock { state in
            if state.rooms.leave(socketID, room) { state.membershipChanged(CollectionOfOne(room)) }
        }
    }

    /// The sessions a delivery target names on this gateway, grouped by event loop for fan-out. A room's are kept
    /// until its membership changes, so a busy room costs no lookup per member and event.
    func recipients(for target: DeliveryTarget) -> Recipients {
        state.withLock { state in
            guard target.kind == .room, target.exceptSocketId == nil, let room = target.id else {
                return Recipients(Self.resolve(target, in: state))
            }
            if let recipients = state.recipientsOfRoom[room] { return recipients }
            let recipients = Recipients(Self.resolve(target, in: state))
            if !recipients.isEmpty { state.recipientsOfRoom[room] = recipients }
            return recipients
        }
    }

    /// Whether `socketID` is connected here.
    func hasSocket(_ socketID: String) -> Bool { state.withLock { $0.sockets[socketID] != nil } }

    /// The rooms `socketID` is in.
    func rooms(of socketID: String) -> Set<String> { state.withLock { $0.rooms.rooms(of: socketID) } }

    /// The sockets a delivery target names on this gateway.
    func resolve(_ target: DeliveryTarget) -> [Target] {
        state.withLock { Self.resolve(target, in: $0) }
    }

    private static func resolve(_ target: DeliveryTarget, in state: State) -> [Target] {
        var ids: [String]
        switch target.kind {
        case .socket: ids = target.id.map { [$0] } ?? []
        case .user: ids = target.id.map { Array(state.rooms.sockets(in: Rooms.user($0))) } ?? []
        case .room: ids = target.id.map { Array(state.rooms.sockets(in: $0)) } ?? []
        case .all: ids = Array(state.sockets.keys)
        }
        if let except = target.exceptSocketId { ids.removeAll { $0 == except } }
        return ids.compactMap { id in
            state.sockets[id].map { Target(socketID: id, session: $0.session, recoverable: $0.recoverable) }
        }
    }

    /// Sockets in `room` (tests, metrics).
    func sockets(in room: String) -> Set<String> {
        state.withLock { $0.rooms.sockets(in: room) }
    }

    /// Connected sockets with their users (for the liveness record).
    func socketList() -> [(socketID: String, userId: String)] {
        state.withLock { state in
            state.sockets.map { ($0.key, $0.value.userId) }
        }
    }

    /// The sessions of recoverable sockets (their room records are refreshed every half recovery window).
    func recoverableSessions() -> [GatewaySession] {
        state.withLock { state in state.sockets.values.filter(\.recoverable).map(\.session) }
    }

    /// Number of connected Socket.IO sockets.
    var socketCount: Int { state.withLock { $0.sockets.count } }

    /// Number of distinct users with a connected socket.
    var userCount: Int { state.withLock { $0.socketsPerUser.count } }
}
