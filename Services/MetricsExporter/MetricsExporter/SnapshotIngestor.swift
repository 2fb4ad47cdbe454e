import Foundation
import Kafka
import Logging
import Messages
import ServiceLifecycle
import Synchronization

/// Reads `service.metrics` (every partition, without a group: each exporter instance sees every snapshot) and hands
/// each snapshot to the aggregator, stamped with its record time.
///
/// It starts where the records of the last stale window begin, so a restarted exporter serves every live instance at
/// once instead of after the next interval. Records that are not valid `service:metrics` envelopes are counted and
/// skipped: the topic is telemetry, nothing to dead-letter.
public final class SnapshotIngestor: Service, Sendable {
    private let kafka: KafkaConfiguration
    private let admin: KafkaAdmin
    private let aggregator: MetricsAggregator
    private let logger: Logger
    private let consumer = Mutex<KafkaConsumer?>(nil)

    /// Creates the ingestor; the consumer is made in ``run()`` once the start offsets are known.
    public init(kafka: KafkaConfiguration, admin: KafkaAdmin, aggregator: MetricsAggregator, logger: Logger) {
        self.kafka = kafka
        self.admin = admin
        self.aggregator = aggregator
        self.logger = logger
    }

    /// Whether the consumer has its partitions.
    public var isAssigned: Bool {
        guard let consumer = consumer.withLock({ $0 }) else { return false }
        return ((try? consumer.assignment()) ?? []).isEmpty == false
    }

    /// Ingests until graceful shutdown.
    public func run() async throws {
        let assignment = await startPositions()
        let created = try KafkaConsumer(
            configuration: KafkaConsumerConfiguration(kafka: kafka, mode: .assign(assignment), bufferCapacity: 256,
                                                      latency: .background),
            logger: logger)
        consumer.withLock { $0 = created }
        await withGracefulShutdownHandler {
            for await record in created.messages {
                ingest(record)
            }
        } onGracefulShutdown: {
            Task { await created.close() }
        }
        await created.close()
    }

    /// Per partition, the first offset of the last stale window (the end where that cannot be found).
    private func startPositions() async -> [TopicPartition: KafkaOffset] {
        let partitions: [Int32]
        do {
            partitions = try await admin.listTopics().first { $0.name == Topics.serviceMetrics }?.partitions ?? []
        } catch {
            logger.warning("service.metrics partitions unknown; reading partition 0..n from the spec",
                           metadata: ["error.message": "\(error)"])
            partitions = (0..<Int32(Topics.spec(named: Topics.serviceMetrics)?.partitions ?? 1)).map { $0 }
        }
        let since = Date().addingTimeInterval(-aggregator.staleAfterSeconds)
        var positions: [TopicPartition: KafkaOffset] = [:]
        for partition in partitions.isEmpty ? [0] : partitions {
            let tp = TopicPartition(topic: Topics.serviceMetrics, partition: partition)
            do {
                positions[tp] = .offset(try await admin.offset(for: since, in: tp, timeout: .seconds(5)))
            } catch {
                logger.info("reading \(tp) from the end", metadata: ["error.message": "\(error)"])
                positions[tp] = .end
            }
        }
        return positions
    }

    private func ingest(_ record: KafkaMessage) {
        do {
            let decoded = try MessageCoding.decodeMessage(from: Data(record.value), topic: Topics.serviceMetrics)
            guard let snapshot = decoded.payload as? ServiceMetrics else {
                aggregator.countRejected()
                return
            }
            // The record time, not the arrival time: snapshots read on catch-up keep their real age. A producer clock
            // ahead of ours is clamped to now.
            try aggregator.ingest(snapshot, at: min(record.timestamp ?? Date(), Date()))
        } catch {
            aggregator.countRejected()
            logger.warning("service.metrics record skipped", metadata: [
                "kafka.partition": "\(record.partition)", "kafka.offset": "\(record.offset)",
                "error.message": "\(error)",
            ])
        }
    }
}
