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
        for index in 0..<partitions {
            let partition = TopicPartition(topic: Topics.gatewayConnections, partition: Int32(index))
            assignment[partition] = .offset(try await admin.offset(for: since, in: partition))
            ends[Int32(index)] = try await admin.watermarks(partition).high
        }
        state.withLock { state in
            for (partition, offset) in assignment { if case .offset(let next) = offset { state.position[partition.partition] = next } }
            state.caughtUp = Self.reached(ends, state.position)
        }
        let consumer = try KafkaConsumer(
            configuration: KafkaConsumerConfiguration(kafka: kafka, mode: .assign(assignment)), logger: logger)
        var lastSweep = ContinuousClock.now
        await withGracefulShutdownHandler {
            for await record in consumer.messages {
                let decoded = try? MessageCoding.decodeMessage(from: Data(record.value), topic: Topics.gatewayConnections)
                state.withLock { state in
                    state.position[record.partition] = record.offset + 1
                    if let rooms = decoded?.payload as? ConnectionRooms, let at = decoded?.header.occurredAt,
                       (state.records[rooms.socketId]?.at ?? .distantPast) <= at {
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

    /// The socket's newest record as of now: waits until the index has read what is on the topic at the call (a
    /// newer record than the one at hand may be there), and, while there is none, up to 2 s for one still in flight
    /// (the old gateway's producer may not have sent it yet).
    func lookup(_ socketId: String) async throws -> Record? {
        var ends: [Int32: Int64] = [:]
        for index in 0..<partitions {
            ends[Int32(index)] = try await admin.watermarks(
                TopicPartition(topic: Topics.gatewayConnections, partition: Int32(index))).high
        }
        let deadline = ContinuousClock.now + .seconds(2)
        while true {
            let (record, reached) = state.withLock { ($0.records[socketId], Self.reached(ends, $0.position)) }
            if record != nil, reached { return record }
            guard ContinuousClock.now < deadline else { return record }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    private static func reached(_ ends: [Int32: Int64], _ position: [Int32: Int64]) -> Bool {
        ends.allSatisfy { partition, end in (position[partition] ?? 0) >= end }
    }
}
