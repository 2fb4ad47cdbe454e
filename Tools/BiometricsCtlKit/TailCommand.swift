import ArgumentParser
import Foundation
import Kafka
import Logging
import Messages

/// `biometricsctl tail`: follow topics live and print each record — envelopes pretty-printed (type, key, principal,
/// payload summary), or raw JSONL records like `replay --output`.
struct TailCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tail",
        abstract: "Follow topics live, pretty-printing envelopes (KAFKA_BOOTSTRAP_SERVERS, KAFKA_* properties).")

    @Argument(help: "Topics to follow.")
    var topics: [String]

    @OptionGroup var filters: RecordFilterOptions

    @Flag(help: "Print each record as a JSON line (key, value, headers, partition, offset, timestamp).")
    var raw = false

    @Flag(help: "Start from the oldest retained records instead of new ones.")
    var fromBeginning = false

    @Option(help: "Stop after this many matching records.")
    var count: Int?

    func validate() throws {
        guard !topics.isEmpty else { throw ValidationError("name at least one topic") }
        if let count, count <= 0 { throw ValidationError("--count must be positive") }
    }

    func run() async throws {
        let (kafka, logger) = try ToolEnvironment.kafka(tool: "biometricsctl-tail")
        try await execute(kafka: kafka, logger: logger) { line in
            FileHandle.standardOutput.write(Data((line + "\n").utf8))
        }
    }

    /// Follows the topics until `count` records matched or the task is cancelled, handing each line to `emit`.
    func execute(kafka: KafkaConfiguration, logger: Logger, emit: (String) -> Void) async throws {
        let admin = try KafkaAdmin(configuration: kafka, logger: logger)
        let metadata = try await admin.listTopics()
        var assignment: [TopicPartition: KafkaOffset] = [:]
        for topic in topics {
            guard let found = metadata.first(where: { $0.name == topic }) else {
                throw ValidationError("topic \(topic) does not exist")
            }
            for partition in found.partitions {
                assignment[TopicPartition(topic: topic, partition: partition)] = fromBeginning ? .beginning : .end
            }
        }
        let consumer = try KafkaConsumer(
            configuration: KafkaConsumerConfiguration(kafka: kafka, mode: .assign(assignment), bufferCapacity: 1024),
            logger: logger)
        let filter = filters.filter
        var matched = 0
        do {
            while !Task.isCancelled {
                guard let message = await consumer.nextMessage(timeout: .milliseconds(500)) else { continue }
                guard filter.matches(message) else { continue }
                emit(raw ? try RecordLine(message).jsonLine() : Self.pretty(message))
                matched += 1
                if let count, matched >= count { break }
            }
        } catch {
            await consumer.close()
            throw error
        }
        await consumer.close()
    }

    /// `time topic[partition]@offset type key=… principal=… {payload summary}`, or a byte preview for non-envelopes.
    static func pretty(_ message: KafkaMessage) -> String {
        let time = message.timestamp.map(Timestamp.string(from:)) ?? "-"
        let position = "\(message.topic)[\(message.partition)]@\(message.offset)"
        let key = message.key.map { String(validating: $0, as: UTF8.self) ?? "0x" + hex($0.prefix(16)) } ?? "-"
        guard message.value.first == UInt8(ascii: "{"),
              case .object(let object)? = try? JSONDecoder().decode(JSONValue.self, from: Data(message.value)),
              case .string(let type)? = object["type"]
        else {
            let preview = String(validating: message.value.prefix(80), as: UTF8.self).map { "\"\($0)\"" }
                ?? "0x" + hex(message.value.prefix(24))
            return "\(time) \(position) (not an envelope, \(message.value.count) bytes) key=\(key) \(preview)"
        }
        var line = "\(time) \(position) \(type) key=\(key)"
        if case .object(let principal)? = object["principal"], case .string(let user)? = principal["userId"] {
            line += " principal=\(user)"
            if case .string(let socket)? = principal["socketId"] { line += "/\(socket)" }
        }
        if case .object(let source)? = object["source"], case .string(let service)? = source["service"] {
            line += " from=\(service)"
        }
        if let payload = object["payload"] { line += " " + summary(payload, depth: 0) }
        return line
    }

    /// A short rendering of a JSON value: strings cut to 40 characters, nesting beyond one level elided.
    static func summary(_ value: JSONValue, depth: Int) -> String {
        switch value {
        case .string(let string):
            let cut = string.count > 40 ? String(string.prefix(40)) + "…" : string
            return "\"\(cut.replacingOccurrences(of: "\n", with: "\\n"))\""
        case .number(let number):
            return number == number.rounded() && abs(number) < 1e15 ? String(Int64(number)) : "\(number)"
        case .bool(let bool):
            return bool ? "true" : "false"
        case .null:
            return "null"
        case .array(let array):
            if depth > 0 { return "[\(array.count)]" }
            return "[" + array.prefix(5).map { summary($0, depth: depth + 1) }.joined(separator: ", ")
                + (array.count > 5 ? ", …" : "") + "]"
        case .object(let object):
            if depth > 0 { return "{…}" }
            let keys = object.keys.sorted()
            return "{" + keys.prefix(8).map { "\($0): \(summary(object[$0]!, depth: depth + 1))" }.joined(separator: ", ")
                + (keys.count > 8 ? ", …" : "") + "}"
        }
    }

    private static func hex<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        bytes.map { String(format: "%02x", $0) }.joined()
    }
}
