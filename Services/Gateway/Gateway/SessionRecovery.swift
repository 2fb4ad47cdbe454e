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
    private let kafka: KafkaConfiguration
    private let admin: KafkaAdmin
    private let logger: Logger

    init(secret: String, window: Duration, maxReplay: Int64, partitions: Int, kafka: KafkaConfiguration,
         logger: Logger) throws {
        key = RecoveryToken.key(secret: secret)
        self.window = window
        self.maxReplay = maxReplay
        self.partitions = partitions
        var quiet = kafka
        quiet.statisticsInterval = nil
        self.kafka = quiet
        admin = try KafkaAdmin(configuration: quiet, logger: logger)
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
        // The newest record is at most half a window old while the socket lives (refreshed), so one and a half
        // windows back finds it for any socket that went away less than a window ago.
        let since = Date().addingTimeInterval(-window.seconds * 1.5 - 5)
        guard let checkpoint = try await lastCheckpoint(socketId: token.socketId, since: since) else {
            throw Failure(description: "no record of the socket within the recovery window")
        }
        if checkpoint.rooms.disconnected, let at = checkpoint.at, Date().timeIntervalSince(at) > window.seconds {
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
        var ranges: [TopicPartition: Range<Int64>] = [:]
        for (index, start) in from.next.enumerated() where start < to.next[index] {
            let partition = TopicPartition(topic: Topics.gatewayDeliveries, partition: Int32(index))
            let (low, _) = try await admin.watermarks(partition)
            guard low <= start else { throw Failure(description: "deliveries of partition \(index) no longer retained") }
            ranges[partition] = start..<to.next[index]
        }
        try await read(ranges) { record in
            let decoded = try? MessageCoding.decodeMessage(from: Data(record.value), topic: Topics.gatewayDeliveries)
            replay.apply(decoded?.payload as? Delivery, partition: record.partition, offset: record.offset)
        }
    }

    /// The next offset of every `gateway.deliveries` partition now (where a gateway starting from the end begins).
    func deliveryEnds() async throws -> [Int64] {
        var ends: [Int64] = []
        for index in 0..<partitions {
            ends.append(try await admin.watermarks(TopicPartition(topic: Topics.gatewayDeliveries,
                                                                  partition: Int32(index))).high)
        }
        return ends
    }

    /// The newest `connection:rooms` for `socketId` written since `since`, with its time.
    private func lastCheckpoint(socketId: String, since: Date) async throws
        -> (rooms: ConnectionRooms, at: Date?)?
    {
        let partitions = Topics.spec(named: Topics.gatewayConnections)?.partitions ?? 1
        var ranges: [TopicPartition: Range<Int64>] = [:]
        for index in 0..<partitions {
            let partition = TopicPartition(topic: Topics.gatewayConnections, partition: Int32(index))
            let (_, high) = try await admin.watermarks(partition)
            let start = try await admin.offset(for: since, in: partition)
            if start < high { ranges[partition] = start..<high }
        }
        var newest: (rooms: ConnectionRooms, at: Date?)?
        try await read(ranges) { record in
            guard let decoded = try? MessageCoding.decodeMessage(from: Data(record.value), topic: Topics.gatewayConnections),
                  let rooms = decoded.payload as? ConnectionRooms, rooms.socketId == socketId
            else { return }
            if newest == nil || (newest?.at ?? .distantPast) <= decoded.header.occurredAt {
                newest = (rooms, decoded.header.occurredAt)
            }
        }
        return newest
    }

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

/// The position of the delivery relay, and the lock that makes a recovering socket's registration fall exactly
/// between two deliveries: everything before the cut is replayed from Kafka, everything after reaches it live.
final class DeliveryCut: Sendable {
    private let position: Mutex<DeliveryPosition>

    init(partitions: Int) {
        position = Mutex(DeliveryPosition(partitions: partitions))
    }

    /// Runs the relay's handling of one delivery and advances past it, atomically with respect to ``register(_:)``.
    func relay(partition: Int32, offset: Int64, _ body: (DeliveryPosition) -> Void) {
        position.withLock { position in
            position.advance(partition: partition, past: offset)
            body(position)
        }
    }

    /// Runs `body` (the hub registration) between two deliveries and returns the position it happened at.
    func register(_ body: () -> Void) -> DeliveryPosition {
        position.withLock { position in
            body()
            return position
        }
    }

    /// Where the relay is now.
    var current: DeliveryPosition { position.withLock { $0 } }

    /// Starts partitions the relay has not read yet at `ends` (it reads from the end: earlier deliveries were never
    /// its sockets').
    func start(at ends: [Int64]) {
        position.withLock { position in
            for (partition, end) in ends.enumerated() where end > 0 {
                position.advance(partition: Int32(partition), past: end - 1)
            }
        }
    }
}

extension Duration {
    /// The duration in seconds, as a `Double`.
    fileprivate var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
