import Foundation
import Kafka
import Logging
import Synchronization
import Testing

@testable import Runtime

/// How the Kafka client meets the runtime: environment properties, logs, statistics.
@Suite("Kafka in the runtime", .timeLimit(.minutes(1)))
struct KafkaRuntimeTests {
    @Test("a KAFKA_* variable librdkafka refuses stops configuration with an error naming the variable")
    func badKafkaVariableNamesItself() {
        for (variable, value) in [("KAFKA_NO_SUCH_THING", "1"), ("KAFKA_SECURITY_PROTOCOL", "carrier-pigeon")] {
            let error = #expect(throws: ConfigurationError.self) {
                _ = try CommonConfiguration(serviceName: "svc", defaultHTTPPort: 0,
                                            environment: EnvironmentReader([variable: value]))
            }
            #expect(error?.variable == variable)
            #expect(error?.description.hasPrefix("\(variable): ") == true)
        }
        let secret = #expect(throws: ConfigurationError.self) {
            _ = try CommonConfiguration(serviceName: "svc", defaultHTTPPort: 0,
                                        environment: EnvironmentReader(["KAFKA_SASL_PASSWORDD": "hunter2"]))
        }
        #expect(secret?.description.contains("hunter2") == false, "a refused secret must not be echoed")
    }

    @Test("TLS/SASL properties from the environment reach librdkafka and the client starts")
    func securityPropertiesAreAccepted() throws {
        let configuration = try CommonConfiguration(
            serviceName: "svc", defaultHTTPPort: 0,
            environment: EnvironmentReader([
                "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
                "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
                "KAFKA_SASL_MECHANISMS": "PLAIN",
                "KAFKA_SASL_USERNAME": "svc",
                "KAFKA_SASL_PASSWORD": "hunter2",
                "KAFKA_SSL_CA_LOCATION": "/etc/ssl/certs/ca-certificates.crt",
            ]))
        #expect(configuration.kafka.properties["security.protocol"] == "SASL_SSL")
        let logs = LogCapture()
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(kafka: configuration.kafka),
                                         logger: logs.logger(level: .trace))
        _ = producer
        #expect(logs.text.contains("sasl.password"), "the client logs its redacted configuration at debug")
        #expect(!logs.text.contains("hunter2"))
    }

    @Test("librdkafka's own log lines arrive in swift-log with their facility")
    func librdkafkaLogsReachSwiftLog() async throws {
        let logs = LogCapture()
        // Nothing listens on port 1: librdkafka logs the failed connection attempts.
        let producer = try KafkaProducer(
            configuration: KafkaProducerConfiguration(kafka: KafkaConfiguration(
                bootstrapServers: "127.0.0.1:1", properties: ["reconnect.backoff.ms": "10"], statisticsInterval: nil)),
            logger: logs.logger(level: .debug))
        let deadline = ContinuousClock.now + .seconds(10)
        while !logs.entries.contains(where: { $0.metadata["kafka.facility"] != nil }), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(logs.entries.contains { $0.metadata["kafka.facility"] != nil })
        await producer.close()
    }

    @Test("librdkafka statistics become Prometheus gauges")
    func statisticsBecomeMetrics() async throws {
        MetricsBootstrap.bootstrap()
        let broker = try await EmbeddedBroker.start(topics: [NewTopic(name: "events", partitions: 1)], logger: Logger(label: "b"))
        let producer = try KafkaProducer(
            configuration: KafkaProducerConfiguration(kafka: KafkaConfiguration(
                bootstrapServers: broker.bootstrapServers, clientId: "stats-test", statisticsInterval: .milliseconds(100))),
            logger: Logger(label: "stats"))
        try await producer.send(OutgoingMessage(topic: "events", key: "k", value: [1, 2, 3]))
        let deadline = ContinuousClock.now + .seconds(10)
        while !MetricsBootstrap.prometheusText().contains(#"kafka_client_messages_sent{client_id="stats-test""#),
              ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        let text = MetricsBootstrap.prometheusText()
        #expect(text.contains(#"kafka_client_messages_sent{client_id="stats-test",role="producer"}"#))
        #expect(text.contains(#"kafka_client_queued_messages{client_id="stats-test",role="producer"}"#))
        await producer.close()
    }
}

/// A swift-log handler that keeps every entry, for assertions on what was logged.
final class LogCapture: Sendable {
    struct Entry: Sendable {
        var level: Logger.Level
        var message: String
        var metadata: [String: String]
    }
    private let storage = Mutex<[Entry]>([])

    var entries: [Entry] { storage.withLock { $0 } }
    var text: String { entries.map { "\($0.message) \($0.metadata)" }.joined(separator: "\n") }

    func logger(level: Logger.Level) -> Logger {
        var logger = Logger(label: "capture") { _ in Handler(capture: self) }
        logger.logLevel = level
        return logger
    }

    struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { $1 }
            capture.storage.withLock {
                $0.append(Entry(level: event.level, message: "\(event.message)",
                                metadata: merged.mapValues { "\($0)" }))
            }
        }
    }
}
