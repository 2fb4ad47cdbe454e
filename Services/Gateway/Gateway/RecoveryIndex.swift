import Foundation
import Kafka
import Logging
import Messages
import ServiceLifecycle
import Synchronization

/// The newest `connection:rooms` record of every recoverable socket in the cluster from the last 1.5 recovery
/// windows, kept in memory by following `gateway.connections`: a recovery looks its socket up instead of scanning
/// the topic (10k reconnects after a gateway restart would otherwise be 10k scans).
final class RecoveryIndex: Service, Sendable {
    /// A socket's rooms, and when the record was written.
    struct Record: Sendable {
        let rooms: ConnectionRooms
        let at: Date
    }

    private struct State {
        var records: [String: Record] = [:]
        /// Next offset read per partition.
        var position: [Int32: Int64] = [:]
        var caughtUp = false
        /// The topic's ends as last read, and when that reading began.
        var ends: (offsets: [Int32: Int64], at: ContinuousClock.Instant)?
        /// A lookup waits for ends read after it began.
        var endsWanted = false
    }

    private let admin: KafkaAdmin
    private let kafka: KafkaConfiguration
    private let partitions: Int
    private let retention: TimeInterval
    private let logger: Logger
    private let state = Mutex(State())

    init(admin: KafkaAdmin, kafka: KafkaConfiguration, partitions: Int, window: Duration, logger: Logger) {
        self.admin = admin
        self.kafka = kafka
        self.partitions = partitions
        retention = Double(window.components.seconds) * 1.5 + 5
        self.logger = logger
    }

    /// Whether the index has read everything that was on the topic when it started.
    var isCaughtUp: Bool { state.withLock { $0.caughtUp } }

    /// Reads from 1.5 windows ago, then follows the topic until graceful shutdown.
    func run() async throws {
        let since = Date().addingTimeInterval(-retention)
        var assignment: [TopicPartition: KafkaOffset] = [:]
        var ends: [Int32: Int64] = [:]
        let topicPartitions = (0..<partitions).map { TopicPartition(topic: Topics.gatewayConnections, partition: Int32($0)) }
        // Where the broker cannot say (the embedded one), a partition is read whole up to `fullReadLimit` records:
        // exact either way, and the index keeps only the last 1.5 windows of it.
        let found = try await admin.offsets(for: since, in: topicPartitions, readWholeBelow: Self.fullReadLimit)
        for partition in topicPartitions {
            ends[partition.partition] = found[partition]!.high
            assignment[partition] = .offset(found[partition]!.offset)
        }
        state.withLock { state in
            for (partition, offset) in assignment { if case .offset(let next) = offset { state.position[partition.partition] = next } }
            state.caughtUp = Self.reached(ends, state.position)
        }
        logger.info("recovery index starts", metadata: [
            "kafka.topic": "\(Topics.gatewayConnections)",
            "recovery.starts": "\(assignment.sorted { $0.key.partition < $1.key.partition }.map { "\($0.key.partition):\($0.value)" })",
            "recovery.ends": "\(ends.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" })",
        ])
        let consumer = try KafkaConsumer(
            configuration: KafkaConsumerConfiguration(kafka: kafka, mode: .assign(assignment), latency: .background),
            logger: logger)
        var lastSweep = ContinuousClock.now
        let refresher = Task { await refreshEnds() }
        defer { refresher.cancel() }
        await withGracefulShutdownHandler {
            for await record in consumer.messages {
                let decoded = try? MessageCoding.decodeMessage(from: Data(record.value), topic: Topics.gatewayConnections)
                state.withLock { state in
                    state.position[record.partition] = record.offset + 1
                    if let rooms = Self.rooms(in: decoded?.payload), let at = decoded?.header.occurredAt,
                       at >= since, (state.records[rooms.socketId]?.at ?? .distantPast) <= at {
                        state.records[rooms.socketId] = Record(rooms: rooms, at: at)
                    }
                    if !state.caughtUp { state.caughtUp = Self.reached(ends, state.position) }
                }
                if ContinuousClock.now - lastSweep > .seconds(10) {
                    lastSweep = .now
                    let cutoff = Date().addingTimeInterval(-retention)
                    state.withLock { $0.records = $0.records.filter { $0.value.at >= cutoff } }
                }
            }
        } onGracefulShutdown: {
            Task { await consumer.close() }
        }
        await consumer.close()
    }

    /// What a record says about a socket's rooms: a `connection:rooms` as it is; a `connection:connected` is a
    /// socket in no rooms yet (gateways publish rooms only once there are some, or for a recovered socket, so that
    /// a connect storm writes one record per socket to the gateway's partition, not two).
    static func rooms(in payload: (any MessagePayload)?) -> ConnectionRooms? {
        switch payload {
        case let rooms as ConnectionRooms:
            return rooms
        case let connected as ConnectionConnected:
            return ConnectionRooms(gatewayId: connected.gatewayId, socketId: connected.socketId,
                                   userId: connected.userId, rooms: [], streams: [], disconnected: false)
        default:
            return nil
        }
    }

    /// The socket's newest record as of now: waits until the index has read what was on the topic at the call (a
    /// newer record than the one at hand may be there), and, while there is none, up to 5 s for one still in flight
    /// (the old gateway's producer may not have sent it yet). The topic's ends are read by one refresher for all
    /// waiting lookups, so a reconnect storm costs no broker round trip per socket.
    func lookup(_ socketId: String) async throws -> Record? {
        let asked = ContinuousClock.now
        let deadline = asked + .seconds(5)
        while true {
            let (record, current) = state.withLock { state -> (Record?, Bool) in
                guard let ends = state.ends, ends.at > asked else {
                    state.endsWanted = true
                    return (state.records[socketId], false)
                }
                return (state.records[socketId], Self.reached(ends.offsets, state.position))
            }
            if record != nil, current { return record }
            guard ContinuousClock.now < deadline else { return record }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Reads the topic's ends whenever a lookup waits for newer ones (at most every 20 ms).
    private func refreshEnds() async {
        while !Task.isCancelled {
            if state.withLock({ $0.endsWanted }) {
                let started = ContinuousClock.now
                var offsets: [Int32: Int64] = [:]
                for index in 0..<partitions {
                    let partition = TopicPartition(topic: Topics.gatewayConnections, partition: Int32(index))
                    if let high = try? await admin.watermarks(partition).high { offsets[Int32(index)] = high }
                }
                if offsets.count == partitions {
                    // Stamped with the time the reading began: it covers lookups made before that.
                    state.withLock { state in
                        state.ends = (offsets, started)
                        state.endsWanted = false
                    }
                }
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// A partition with at most this many records is read whole when the broker cannot find an offset by time.
    static let fullReadLimit: Int64 = 1_000_000

    private static func reached(_ ends: [Int32: Int64], _ position: [Int32: Int64]) -> Bool {
        ends.allSatisfy { partition, end in (position[partition] ?? 0) >= end }
    }
}
