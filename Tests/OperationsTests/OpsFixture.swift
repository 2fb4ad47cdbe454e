import Foundation
import Kafka
import Logging
import Messages
import Runtime
import Testing
import TestSupport

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// An embedded broker with every project topic, and helpers the operations tests share.
final class OpsFixture: Sendable {
    let broker: EmbeddedBroker
    let logger: Logger

    init() async throws {
        var logger = Logger(label: "ops-tests")
        logger.logLevel = .critical  // teardown (broker before clients) is noisy; failures show as expectations
        self.logger = logger
        broker = try await EmbeddedBroker.start(
            topics: Topics.all.map { NewTopic(name: $0.name, partitions: $0.partitions) } + [
                NewTopic(name: "replay.source", partitions: 2), NewTopic(name: "replay.target", partitions: 2),
                NewTopic(name: "replay.again", partitions: 2),
            ],
            logger: logger)
    }

    var kafka: KafkaConfiguration {
        KafkaConfiguration(bootstrapServers: broker.bootstrapServers, clientId: "ops-tests", statisticsInterval: nil)
    }

    /// Shared settings of a service under test: ephemeral ops port, this broker.
    func common(service: String, instance: String = "test-1") -> CommonConfiguration {
        CommonConfiguration(serviceName: service, instanceId: instance, httpPort: 0,
                            kafkaBootstrapServers: broker.bootstrapServers,
                            kafkaProperties: ["session.timeout.ms": "6000"], statsInterval: .seconds(1))
    }

    func producer() throws -> KafkaProducer {
        try KafkaProducer(configuration: KafkaProducerConfiguration(kafka: kafka), logger: logger)
    }

    func envelopeProducer(service: String, instance: String) throws -> EnvelopeProducer {
        EnvelopeProducer(producer: try producer(), source: Source(service: service, instance: instance))
    }
}



/// Runs a Python script from `Tests/ops` with the test venv's interpreter and returns its standard output; a non-zero
/// exit is an error carrying its standard error.
func runOpsScript(_ name: String, arguments: [String]) async throws -> Data {
    let python = try RepoPaths.python()
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ops-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let stdout = directory.appendingPathComponent("stdout")
    let stderr = directory.appendingPathComponent("stderr")
    let script = RepoPaths.root.appendingPathComponent("Tests/ops/\(name)")
    let process = try ChildProcess(
        executable: python.path, arguments: [script.path] + arguments,
        standardOutput: .file(stdout, append: false), standardError: .file(stderr, append: false))
    let status = await process.waitForExit()
    guard status.isSuccess else {
        let errors = (try? String(contentsOf: stderr, encoding: .utf8)) ?? ""
        throw FixtureError("\(name) ended with \(status): \(errors)")
    }
    return try Data(contentsOf: stdout)
}
