import Crypto
import Foundation
import Kafka
import Logging
import Messages
import Synchronization

/// Connection-state recovery across gateways: issues recovery ids, finds a socket's last rooms on
/// `gateway.connections`, and reads back from `gateway.deliveries` what it missed.
///
/// Every delivery already has a Kafka offset, so no gateway keeps per-socket history: a reconnecting client names
/// the last position it saw, and any gateway replays the deliveries after it that targeted the socket.
final class SessionRecovery: Sendable {
    /// Why a recovery failed (logged; the client is told `recovered: false`).
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// What a successful lookup restores before the replay.
    struct Restored: Sendable {
        /// The id as the client presented it (answered unchanged: socket.io-client compares it).
        let recoveryId: String
        let token: RecoveryToken
        /// Where the replay starts.
        let from: DeliveryPosition
        let rooms: [String]
        let streams: [String]
    }

    let key: SymmetricKey
    let window: Duration
    let maxReplay: Int64
    let partitions: Int
    /// Every recoverable socket's last rooms, followed from `gateway.connections` (a service of the gateway).
    let index: RecoveryIndex
    /// The relay's position and the deliveries of the last window.
    private let cut: DeliveryCut
    private let kafka: KafkaConfiguration
    private let admin: KafkaAdmin
    private let logger: Logger

    init(secret: String, window: Duration, maxReplay: Int64, partitions: GatewayPartitions, cut: DeliveryCut,
         kafka: KafkaConfiguration, logger: Logger) throws {
        key = RecoveryToken.key(secret: secret)
        self.window = window
        self.maxReplay = maxReplay
        self.partitions = partitions.deliveries
        var quiet = kafka
        quiet.statisticsInterval = nil
        self.kafka = quiet
        admin = try KafkaAdmin(configuration: quiet, logger: logger)
        index = RecoveryIndex(admin: admin, kafka: quiet, partitions: partitions.connections, window: window,
                              logger: logger)
        self.cut = cut
        self.logger = logger
    }

    /// A recovery id for a new socket that starts at `position`.
    func issue(socketId: String, userId: String, gatewayId: String, position: DeliveryPosition) -> String {
        RecoveryToken(socketId: socketId, userId: userId, gatewayId: gatewayId,
                      issuedAt: Int64(Date().timeIntervalSince1970), position: position.description).sealed(with: key)
    }

    /// Checks the id against the reconnecting user and finds the socket's last rooms within the window; the
    /// replay starts at `offset`, or where the socket started when the client sends none.
    func restore(recoveryId: String, offset: String?, userId: String) async throws -> Restored {
        guard let token = RecoveryToken.open(recoveryId, with: key) else { throw Failure(description: "invalid recovery id") }
        guard token.userId == userId else { throw Failure(description: "recovery id of another user") }
        guard let from = DeliveryPosition(parsing: offset ?? token.position, partitions: partitions) else {
            throw Failure(description: "invalid delivery position (offset)")
        }
        // The newest record is at most half a window old while the socket lives (refreshed), and the index keeps
        // 1.5 windows: a socket that went away less than a window ago is found.
        guard let checkpoint = try await index.lookup(token.socketId) else {
            throw Failure(description: "no record of the socket within the recovery window")
        }
        if checkpoint.rooms.disconnected, Date().timeIntervalSince(checkpoint.at) > window.seconds {
            throw Failure(description: "the socket left more than \(window) ago")
        }
        return Restored(recoveryId: recoveryId, token: token, from: from, rooms: checkpoint.rooms.rooms,
                        streams: checkpoint.rooms.streams)
    }

    /// Feeds `replay` every delivery in [from, to): the ones the socket missed. Fails when some are no longer
    /// retained or there are more than `maxReplay`.
    func replay(_ replay: inout RecoveryReplay, from: DeliveryPosition, to: DeliveryPosition) async throws {
        let outstanding = from.distance(to: to)
        guard outstanding <= maxReplay else {
            throw Failure(description: "\(outstanding) deliveries to scan, more than RECOVERY_MAX_REPLAY \(maxReplay)")
        }
        guard outstanding > 0 else { return }
        if let entries = cut.history(from: from, to: to) {
            for (partition, entry) in entries { replay.apply(entry.delivery, partition: partition, offset: entry.offset) }
            return
        }
        var ranges: [TopicPartition: Range<Int64>] = [:]
        for (index, start) in from.next.enumerated() where start < to.next[index] {
            let partition = TopicPartition(topic: Topics.gatewayDeliveries, partition: Int32(index))
            let (low, _) = try await admin.watermarks(partition)
            guard low <= start else { throw Failure(description: "deliveries of partition \(index) no longer retained") }
            ranges[partition] = start..<to.next[index]
        }
        var seen: Set<UUID> = []  // a redelivered delivery (same envelope id) is replayed once, as live ones are
        try await read(ranges) { record in
            let decoded = try? MessageCoding.decodeMessage(from: Data(record.value), topic: Topics.gatewayDeliveries)
            let fresh = decoded.map { seen.insert($0.header.id).inserted } ?? false
            replay.apply(fresh ? decoded?.payload as? Delivery : nil, partition: record.partition, offset: record.offset)
        }
    }

    /// Where the relay starts reading `gateway.deliveries` (one window back, so the history covers recoveries at
    /// once) and where the topic ends now (the relay is caught up there). Where the broker cannot find offsets by
    /// time (the embedded one), a partition of fewer than `backlogReadWholeBelow` records is read whole and a larger
    /// one searched; if that fails, the history starts empty (recoveries then read Kafka) rather than the gateway
    /// failing to start.
    func deliveryBacklog() async throws -> (starts: [Int64], ends: [Int64]) {
        let since = Date().addingTimeInterval(-window.seconds)
        let topicPartitions = (0..<partitions).map { TopicPartition(topic: Topics.gatewayDeliveries, partition: Int32($0)) }
        do {
            let found = try await admin.offsets(for: since, in: topicPartitions, readWholeBelow: Self.backlogReadWholeBelow)
            return (topicPartitions.map { found[$0]!.offset }, topicPartitions.map { found[$0]!.high })
        } catch {
            logger.warning("delivery history starts empty: the backlog's offsets by time could not be found",
                           metadata: ["error.message": "\(error)"])
            let marks = try await admin.watermarks(topicPartitions)
            let ends = topicPartitions.map { marks[$0]!.high }
            return (ends, ends)
        }
    }

    /// Below this many retained records a partition's backlog is read whole instead of searched.
    static let backlogReadWholeBelow: Int64 = 20_000

    /// Reads exactly the offsets in `ranges` (per partition, in order) with a temporary assign-mode consumer.
    private func read(_ ranges: [TopicPartition: Range<Int64>], _ body: (KafkaMessage) -> Void) async throws {
        guard !ranges.isEmpty else { return }
        let consumer = try KafkaConsumer(
            configuration: KafkaConsumerConfiguration(kafka: kafka, mode: .assign(ranges.mapValues { .offset($0.lowerBound) })),
            logger: logger)
        defer { Task { await consumer.close() } }
        var remaining = ranges
        let deadline = ContinuousClock.now + .seconds(30)
        while !remaining.isEmpty {
            guard let record = await consumer.nextMessage(timeout: deadline - ContinuousClock.now) else {
                throw Failure(description: "reading back \(ranges.keys.first?.topic ?? "") did not finish within 30 s")
            }
            guard let range = remaining[record.topicPartition], range.contains(record.offset) else { continue }
            if record.offset + 1 >= range.upperBound { remaining.removeValue(forKey: record.topicPartition) }
            body(record)
        }
    }
}

/// The position of the delivery relay and the deliveries of the last window, under the lock that makes a
/// recovering socket's registration fall exactly between two deliveries: everything before the cut is replayed,
/// everything after reaches it live.
final class DeliveryCut: Sendable {
    private struct State {
        var position: DeliveryPosition
        var history: DeliveryHistory
    }

    private let state: Mutex<State>

    init(partitions: Int, historyEntries: Int) {
        state = Mutex(State(position: DeliveryPosition(partitions: partitions),
                            history: DeliveryHistory(partitions: partitions, maxEntries: historyEntries)))
    }

    /// Runs the relay's handling of one delivery, keeps it in the history and advances past it, atomically with
    /// respect to ``register(_:)``.
    func relay(partition: Int32, offset: Int64, delivery: Delivery?, _ body: (DeliveryPosition) -> Void) {
        let now = ContinuousClock.now
        state.withLock { state in
            state.position.advance(partition: partition, past: offset)
            state.history.append(partition: partition, offset: offset, delivery: delivery, now: now)
            body(state.position)
        }
    }

    /// Runs `body` (the hub registration) between two deliveries and returns the position it happened at.
    func register(_ body: () -> Void) -> DeliveryPosition {
        state.withLock { state in
            body()
            return state.position
        }
    }

    /// Where the relay is now.
    var current: DeliveryPosition { state.withLock { $0.position } }

    /// Starts partitions the relay has not read yet at `starts`.
    func start(at starts: [Int64]) {
        state.withLock { state in
            for (partition, start) in starts.enumerated() where start > 0 {
                state.position.advance(partition: Int32(partition), past: start - 1)
            }
        }
    }

    /// The kept deliveries in [from, to), or nil when the history no longer reaches back to `from`.
    func history(from: DeliveryPosition, to: DeliveryPosition) -> [(partition: Int32, entry: DeliveryHistory.Entry)]? {
        state.withLock { $0.history.entries(from: from, to: to) }
    }

    /// Forgets deliveries read before `cutoff`.
    func evict(readBefore cutoff: ContinuousClock.Instant) {
        state.withLock { $0.history.evict(readBefore: cutoff) }
    }
}

extension Duration {
    /// The duration in seconds, as a `Double`.
    fileprivate var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
