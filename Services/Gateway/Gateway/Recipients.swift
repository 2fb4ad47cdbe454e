/// The sessions one delivery reaches on this gateway, grouped by event loop, so fan-out hands each loop its sessions in
/// one task. The hub keeps a room's recipients until its membership changes.
struct Recipients: Sendable {
    /// Each event loop's flusher with the loop's sessions.
    let groups: [(flusher: FanOutFlusher, sessions: [GatewaySession])]

    /// Groups `sessions` by event loop (one group, without building a dictionary, when they share a loop).
    init(_ sessions: [GatewaySession]) {
        guard let first = sessions.first else {
            groups = []
            return
        }
        if sessions.allSatisfy({ $0.flusher === first.flusher }) {
            groups = [(first.flusher, sessions)]
            return
        }
        var byLoop: [ObjectIdentifier: (flusher: FanOutFlusher, sessions: [GatewaySession])] = [:]
        for session in sessions {
            byLoop[ObjectIdentifier(session.flusher), default: (session.flusher, [])].sessions.append(session)
        }
        groups = Array(byLoop.values)
    }

    /// Whether no session is reached.
    var isEmpty: Bool { groups.isEmpty }

    /// Every session reached.
    var sessions: [GatewaySession] { groups.flatMap(\.sessions) }
}
