import Foundation
import Kafka
import Logging
import Testing

/// An embedded broker with a few topics, plus helpers to build clients against it.
final class KafkaFixture: Sendable {
    let broker: EmbeddedBroker
    let logger: Logger

    init(topics: [NewTopic] = [NewTopic(name: "events", partitions: 4)]) throws {
        var logger = Logger(label: "kafka-tests")
        logger.logLevel = .warning
        self.logger = logger
        broker = try EmbeddedBroker(topics: topics, logger: logger)
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
func kcat(_ arguments: [String], input: String? = nil) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["kcat"] + arguments
    let output = Pipe()
    let errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    let stdin = Pipe()
    process.standardInput = stdin
    try process.run()
    if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
    try stdin.fileHandleForWriting.close()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw KafkaTestError("kcat \(arguments.joined(separator: " ")) exited \(process.terminationStatus): \(errorText)")
    }
    return String(decoding: data, as: UTF8.self)
}

struct KafkaTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
