import Kafka
import Logging
import Messages

/// Reads a topic from the beginning, the way an auditor would, to check what services produced.
public struct TopicReader: Sendable {
    /// The broker to read from.
    public let bootstrapServers: String
    /// Where the consumer logs.
    public let logger: Logger

    /// Creates a reader for the broker at `bootstrapServers`.
    public init(bootstrapServers: String, logger: Logger) {
        self.bootstrapServers = bootstrapServers
        self.logger = logger
    }

    /// Reads `topic` (every partition, from the beginning) until `count` records match `predicate` or `timeout`
    /// passes; returns the matching ones.
    public func records(
        on topic: String, count: Int, timeout: Duration = .seconds(15),
        where predicate: @Sendable (KafkaMessage) -> Bool = { _ in true }
    ) async throws -> [KafkaMessage] {
        let partitions = Topics.spec(named: topic)?.partitions ?? 1
        var assignment: [TopicPartition: KafkaOffset] = [:]
        for partition in 0..<partitions {
            assignment[TopicPartition(topic: topic, partition: Int32(partition))] = .beginning
        }
        let consumer = try KafkaConsumer(
            configuration: KafkaConsumerConfiguration(
                kafka: KafkaConfiguration(bootstrapServers: bootstrapServers, statisticsInterval: nil),
                mode: .assign(assignment)),
            logger: logger)
        var found: [KafkaMessage] = []
        let deadline = ContinuousClock.now + timeout
        while found.count < count, ContinuousClock.now < deadline {
            guard let record = await consumer.nextMessage(timeout: deadline - ContinuousClock.now) else { break }
            if predicate(record) { found.append(record) }
        }
        await consumer.close()
        return found
    }
}
