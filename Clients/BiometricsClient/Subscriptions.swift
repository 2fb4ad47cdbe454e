import SocketIO

/// What the client re-establishes after a reconnect: a new socket on the gateway starts with only `user:<id>`.
///
/// Each entry is the emit that created it; a later opposite call (unsubscribe, leave, stop) removes it.
struct Subscriptions: Sendable {
    /// One emit to repeat.
    struct Entry: Sendable, Hashable {
        var name: String
        var payload: SocketIOValue
    }

    private(set) var records: [String] = []
    private(set) var rooms: [String] = []
    private(set) var streams: [String] = []
    private(set) var categories: [String] = []
    /// The presence status the app set last (`away` must survive a reconnect; `online` is the default).
    var presence: String?

    mutating func add(record: String) { if !records.contains(record) { records.append(record) } }
    mutating func remove(record: String) { records.removeAll { $0 == record } }
    mutating func add(room: String) { if !rooms.contains(room) { rooms.append(room) } }
    mutating func remove(room: String) { rooms.removeAll { $0 == room } }
    mutating func add(stream: String) { if !streams.contains(stream) { streams.append(stream) } }
    mutating func remove(stream: String) { streams.removeAll { $0 == stream } }
    mutating func add(categories new: [String]) { for category in new where !categories.contains(category) { categories.append(category) } }

    /// The emits that restore it, in a stable order.
    ///
    /// A recovered socket (`recovered: true`) skips what the services keep per user (categories, presence status)
    /// but still re-asserts its rooms and stream grants: the gateway restores those from the socket's last
    /// `connection:rooms` record, and a gateway killed right after a join may not have written it yet (found by the
    /// SIGKILL test under load). Joins are idempotent, so repeating one costs a command, never a duplicate.
    func emits(recovered: Bool) -> [Entry] {
        let rooms = records.map { Entry(name: "biometric:subscribe", payload: ["recordId": .string($0)]) }
            + streams.map { Entry(name: "biometric:stream-start", payload: ["deviceId": .string($0)]) }
            + self.rooms.map { Entry(name: "presence:join-room", payload: ["roomId": .string($0)]) }
        if recovered { return rooms }
        return rooms
            + (categories.isEmpty ? [] : [Entry(name: "notification:subscribe",
                                                 payload: ["categories": .array(categories.map { .string($0) })])])
            + (presence.map { [Entry(name: "presence:update", payload: ["status": .string($0)])] } ?? [])
    }

    /// Everything the client has subscribed to, for ``BiometricsClient/subscriptions``.
    var isEmpty: Bool { records.isEmpty && rooms.isEmpty && streams.isEmpty && categories.isEmpty && presence == nil }
}
