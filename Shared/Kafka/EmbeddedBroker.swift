import CRdKafka
import Logging

/// A Kafka-protocol broker inside this process: librdkafka's mock cluster, reachable by any client over TCP.
///
/// For development and tests only. Its limits (documented in the README): ephemeral ports only, topics cannot be
/// created by clients (they are pre-created here), offsets-for-times answers -1, each partition keeps only a few
/// MiB, no compaction.
public final class EmbeddedBroker: Sendable {
    private let client: RDKafkaClient
    private let cluster: MockCluster
    /// The `bootstrap.servers` string of the cluster, e.g. `127.0.0.1:40123`.
    public let bootstrapServers: String
    /// How many brokers the cluster has (ids 1...brokerCount).
    public let brokerCount: Int

    /// Starts a cluster with `brokerCount` brokers and the given topics pre-created.
    public init(brokerCount: Int = 1, topics: [NewTopic], logger: Logger) throws {
        // The mock cluster needs a host client handle; it never connects anywhere (hence no bootstrap.servers,
        // and log_level 4 hides librdkafka's notice about that).
        let client = try RDKafkaClient(role: .broker, properties: ["client.id": "embedded-broker", "log_level": "4"], logger: logger)
        guard let pointer = rd_kafka_mock_cluster_new(client.handle, Int32(brokerCount)) else {
            throw KafkaError(code: "configuration", message: "could not start the mock cluster")
        }
        self.client = client
        self.brokerCount = brokerCount
        cluster = MockCluster(pointer, client: client)
        bootstrapServers = String(cString: rd_kafka_mock_cluster_bootstraps(pointer))
        for topic in topics {
            let err = rd_kafka_mock_topic_create(pointer, topic.name, Int32(topic.partitions),
                                                 Int32(min(max(topic.replicationFactor, 1), brokerCount)))
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
                throw KafkaError(code: "configuration", context: "create topic \(topic.name)", rdError: err)
            }
        }
    }

    /// Makes every broker refuse connections (and drop existing ones), as if the cluster were down.
    public func setDown() {
        for id in 1...brokerCount { _ = rd_kafka_mock_broker_set_down(cluster.pointer, Int32(id)) }
    }

    /// Lets the brokers accept connections again.
    public func setUp() {
        for id in 1...brokerCount { _ = rd_kafka_mock_broker_set_up(cluster.pointer, Int32(id)) }
    }
}

/// Owns a `rd_kafka_mock_cluster_t` and keeps its host client alive until the cluster is destroyed.
///
/// `@unchecked Sendable`: the mock cluster API is thread-safe (it posts operations to the cluster's own thread).
private final class MockCluster: @unchecked Sendable {
    let pointer: OpaquePointer
    private let client: RDKafkaClient

    init(_ pointer: OpaquePointer, client: RDKafkaClient) {
        self.pointer = pointer
        self.client = client
    }

    deinit {
        rd_kafka_mock_cluster_destroy(pointer)
    }
}
