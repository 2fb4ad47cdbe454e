import Foundation
import Kafka
import Logging
import Messages
import ServiceLifecycle

/// Reads `service.metrics` (every partition, from the end: each exporter instance sees every snapshot) and hands
/// each snapshot to the aggregator. Records that are not valid `service:metrics` envelopes are counted and skipped:
/// the topic is telemetry, nothing to dead-letter.
public struct SnapshotIngestor: Service {
    private let consumer: KafkaConsumer
    private let aggregator: MetricsAggregator
    private let logger: Logger

    /// Creates the ingestor over an assign-mode consumer of `service.metrics`.
    public init(kafka: KafkaConfiguration, partitions: Int32, aggregator: MetricsAggregator, logger: Logger) throws {
        var assignment: [TopicPartition: KafkaOffset] = [:]
        for partition in 0..<max(partitions, 1) {
            assignment[TopicPartition(topic: Topics.serviceMetrics, partition: partition)] = .end
        }
        consumer = try KafkaConsumer(
            configuration: KafkaConsumerConfiguration(kafka: kafka, mode: .assign(assignment), bufferCapacity: 256),
            logger: logger)
        self.aggregator = aggregator
        self.logger = logger
    }

    /// Whether the consumer has its partitions.
    public var isAssigned: Bool { ((try? consumer.assignment()) ?? []).isEmpty == false }

    /// Ingests until graceful shutdown.
    public func run() async throws {
        await withGracefulShutdownHandler {
            for await record in consumer.messages {
                ingest(record)
            }
        } onGracefulShutdown: { [consumer] in
            Task { await consumer.close() }
        }
        await consumer.close()
    }

    private func ingest(_ record: KafkaMessage) {
        do {
            let decoded = try MessageCoding.decodeMessage(from: Data(record.value), topic: Topics.serviceMetrics)
            guard let snapshot = decoded.payload as? ServiceMetrics else {
                aggregator.countRejected()
                return
            }
            try aggregator.ingest(snapshot)
        } catch {
            aggregator.countRejected()
            logger.warning("service.metrics record skipped", metadata: [
                "kafka.partition": "\(record.partition)", "kafka.offset": "\(record.offset)",
                "error.message": "\(error)",
            ])
        }
    }
}
