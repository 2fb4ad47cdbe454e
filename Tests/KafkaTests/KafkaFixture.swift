import Foundation
import Kafka
import Logging
import Runtime
import Testing

/// An embedded broker with a few topics, plus helpers to build clients against it.
final class KafkaFixture: Sendable {
    let broker: EmbeddedBroker
    let logger: Logger

    init(topics: [NewTopic] = [NewTopic(name: "events", partitions: 4)]) async throws {
        var logger = Logger(label: "kafka-tests")
        logger.logLevel = .warning
        self.logger = logger
        broker = try await EmbeddedBroker.start(topics: topics, logger: logger)
    }

    var kafka: KafkaConfiguration {
        KafkaConfiguration(bootstrapServers: broker.bootstrapServers, clientId: "tests", statisticsInterval: nil)
    }

    func producer(maxInFlight: Int = 10_000) throws -> KafkaProducer {
        try KafkaProducer(configuration: KafkaProducerConfiguration(kafka: kafka, maxInFlight: maxInFlight), logger: logger)
    }

    func consumer(_ mode: KafkaConsumerConfiguration.Mode, topics: [String] = ["events"],
                  properties: [String: String] = [:]) throws -> KafkaConsumer {
        var kafka = kafka
        kafka.properties = ["session.timeout.ms": "6000"].merging(properties) { $1 }
        return try KafkaConsumer(configuration: KafkaConsumerConfiguration(kafka: kafka, mode: mode, topics: topics),
                                 logger: logger)
    }

    /// Reads `count` messages or fails after `timeout`.
    func read(_ count: Int, from consumer: KafkaConsumer, timeout: Duration = .seconds(20),
              sourceLocation: SourceLocation = #_sourceLocation) async -> [KafkaMessage] {
        var result: [KafkaMessage] = []
        let deadline = ContinuousClock.now + timeout
        while result.count < count, ContinuousClock.now < deadline {
            if let message = await consumer.nextMessage(timeout: deadline - ContinuousClock.now) {
                result.append(message)
            }
        }
        #expect(result.count == count, "read \(result.count) of \(count) messages", sourceLocation: sourceLocation)
        return result
    }
}

/// Runs `kcat` (a Kafka client we did not write) and returns its standard output.
func kcat(_ arguments: [String], input: String? = nil) async throws -> String {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kcat-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let inputFile = directory.appendingPathComponent("in")
    try Data((input ?? "").utf8).write(to: inputFile)
    let output = directory.appendingPathComponent("out")
    let errors = directory.appendingPathComponent("err")
    let stdin = open(inputFile.path, O_RDONLY)
    defer { close(stdin) }
    let process = try ChildProcess(executable: "kcat", arguments: arguments, standardInput: stdin,
                                   standardOutput: .file(output, append: false), standardError: .file(errors, append: false))
    let status = await process.waitForExit()
    guard status.isSuccess else {
        let errorText = (try? String(contentsOf: errors, encoding: .utf8)) ?? ""
        throw KafkaTestError("kcat \(arguments.joined(separator: " ")) ended with \(status): \(errorText)")
    }
    return (try? String(contentsOf: output, encoding: .utf8)) ?? ""
}

struct KafkaTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
