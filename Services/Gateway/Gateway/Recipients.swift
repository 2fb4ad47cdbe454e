/// The sockets one delivery reaches on this gateway, grouped by event loop so fan-out hands each loop its sessions in
/// one task; recoverable sockets (with a recovery id) apart, since their events carry the delivery position. The hub
/// keeps a room's recipients until its membership changes.
struct Recipients: Sendable {
    /// One event loop's flusher with the loop's sessions.
    typealias Group = (flusher: FanOutFlusher, sessions: [GatewaySession])

    /// Sockets that get events as they are.
    let plain: [Group]
    /// Sockets whose events carry the delivery position (Socket.IO's recovery offset).
    let recoverable: [Group]

    /// Groups the targets' sessions by kind and event loop.
    init(_ targets: [GatewayHub.Target]) {
        plain = Self.groups(targets.filter { !$0.recoverable }.map(\.session))
        recoverable = Self.groups(targets.filter(\.recoverable).map(\.session))
    }

    /// Whether no session is reached.
    var isEmpty: Bool { plain.isEmpty && recoverable.isEmpty }

    /// Every group, for packets that are the same for both kinds (stream frames, health reports).
    var all: [Group] { plain + recoverable }

    /// Every session reached.
    var sessions: [GatewaySession] { all.flatMap(\.sessions) }

    /// `sessions` by event loop (one group, without building a dictionary, when they share a loop).
    private static func groups(_ sessions: [GatewaySession]) -> [Group] {
        guard let first = sessions.first else { return [] }
        if sessions.allSatisfy({ $0.flusher === first.flusher }) { return [(first.flusher, sessions)] }
        var byLoop: [ObjectIdentifier: Group] = [:]
        for session in sessions {
            byLoop[ObjectIdentifier(session.flusher), default: (session.flusher, [])].sessions.append(session)
        }
        return Array(byLoop.values)
    }
}
