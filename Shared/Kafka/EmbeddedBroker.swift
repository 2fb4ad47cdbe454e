import CRdKafka
import Dispatch
import Logging

/// A Kafka-protocol broker inside this process: librdkafka's mock cluster, reachable by any client over TCP.
///
/// For development and tests only. Its limits (documented in the README): ephemeral ports only, topics cannot be
/// created by clients (they are pre-created here), offsets-for-times answers -1, each partition keeps only a few
/// MiB, no compaction.
///
/// Every mock-cluster call waits for the cluster's own thread, which sometimes sleeps out its 1 s poll before
/// answering (measured: 40 clusters created at once, a few waits of 1–3 s; destroying them ~0.75 s each). So
/// nothing here runs on the caller's thread: creating, failing and restoring go through ``BlockingCalls``, and the
/// cluster is destroyed on a thread of its own. On a 2-core machine two such waits on the cooperative pool stall
/// every task in the process.
public final class EmbeddedBroker: Sendable {
    private let client: RDKafkaClient
    private let cluster: MockCluster
    /// The `bootstrap.servers` string of the cluster, e.g. `127.0.0.1:40123`.
    public let bootstrapServers: String
    /// How many brokers the cluster has (ids 1...brokerCount).
    public let brokerCount: Int

    /// Starts a cluster with `brokerCount` brokers and the given topics pre-created.
    public static func start(brokerCount: Int = 1, topics: [NewTopic], logger: Logger) async throws(KafkaError)
        -> EmbeddedBroker {
        try await BlockingCalls.run { () throws(KafkaError) in
            try EmbeddedBroker(brokerCount: brokerCount, topics: topics, logger: logger)
        }
    }

    private init(brokerCount: Int, topics: [NewTopic], logger: Logger) throws(KafkaError) {
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
    public func setDown() async {
        let cluster = cluster, brokerCount = brokerCount
        _ = try? await BlockingCalls.run {
            for id in 1...brokerCount { _ = rd_kafka_mock_broker_set_down(cluster.pointer, Int32(id)) }
        }
    }

    /// Lets the brokers accept connections again.
    public func setUp() async {
        let cluster = cluster, brokerCount = brokerCount
        _ = try? await BlockingCalls.run {
            for id in 1...brokerCount { _ = rd_kafka_mock_broker_set_up(cluster.pointer, Int32(id)) }
        }
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
        // Destroying joins the cluster's thread (up to its 1 s poll): done on a thread of its own, keeping the host
        // client alive until it is over. Nothing else holds the pointer once this object is gone.
        nonisolated(unsafe) let pointer = pointer
        let client = client
        DispatchQueue(label: "embedded-broker.destroy").async {
            rd_kafka_mock_cluster_destroy(pointer)
            withExtendedLifetime(client) {}
        }
    }
}
