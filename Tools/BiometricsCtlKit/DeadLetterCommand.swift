import ArgumentParser
import Foundation
import Kafka
import Logging
import Messages

/// `biometricsctl deadletter list|redrive`: inspect the `deadletter` topic and send entries back to their original
/// topic with their original key, headers and value.
struct DeadLetterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deadletter",
        abstract: "List dead-lettered records and redrive them to their original topic.",
        subcommands: [List.self, Redrive.self])

    /// The header a redriven record carries: the dead-letter entry it came from (`deadletter/partition/offset`).
    static let redrivenFromHeader = "redriven-from"

    /// One dead-letter entry with where it sits on `deadletter`.
    struct Entry: Sendable {
        /// The entry's envelope id.
        var id: UUID
        /// Its partition on `deadletter`.
        var partition: Int32
        /// Its offset on `deadletter`.
        var offset: Int64
        /// The entry.
        var letter: DeadLetter

        /// `originalTopic/partition/offset`, the entry's other name.
        var origin: String { "\(letter.originalTopic)/\(letter.partition)/\(letter.offset)" }

        /// One human-readable line.
        var line: String {
            let key = letter.key.map { String(validating: Array($0), as: UTF8.self) ?? "0x" + $0.map { String(format: "%02x", $0) }.joined() }
            return "\(id.uuidString.lowercased())  \(Timestamp.string(from: letter.failedAt))  \(letter.service)  \(origin)"
                + "  key=\(key ?? "-")" + (letter.valueTruncated == true ? "  (value truncated)" : "")
                + "  error=\(letter.error)"
        }
    }

    /// Selection options shared by `list` and `redrive`.
    struct Selection: ParsableArguments {
        @Option(name: .customLong("topic"), help: "Only entries from this original topic (repeatable).")
        var topics: [String] = []

        @Option(name: .customLong("service"), help: "Only entries this service gave up on (repeatable).")
        var services: [String] = []

        @Option(name: .customLong("key"), help: "Only entries whose original key is this (repeatable).")
        var keys: [String] = []

        @Option(help: "Only entries whose error contains this text.")
        var errorContains: String?

        @Option(help: "Only entries that failed at or after this RFC 3339 time.")
        var since: String?

        func validate() throws {
            if let since { _ = try RFC3339.parse(since, option: "--since") }
        }

        func matches(_ entry: Entry) throws -> Bool {
            let letter = entry.letter
            if !topics.isEmpty, !topics.contains(letter.originalTopic) { return false }
            if !services.isEmpty, !services.contains(letter.service) { return false }
            if !keys.isEmpty {
                guard let key = letter.key.flatMap({ String(validating: Array($0), as: UTF8.self) }), keys.contains(key)
                else { return false }
            }
            if let errorContains, !letter.error.contains(errorContains) { return false }
            if let since, letter.failedAt < (try RFC3339.parse(since, option: "--since")) { return false }
            return true
        }
    }

    /// Reads every entry on `deadletter` up to now; records that are not entries are reported on stderr and skipped.
    static func entries(kafka: KafkaConfiguration, logger: Logger) async throws -> [Entry] {
        let admin = try KafkaAdmin(configuration: kafka, logger: logger)
        let slice = try await TopicSlice.resolve(topic: Topics.deadletter, partitions: nil, bounds: .init(), admin: admin)
        var entries: [Entry] = []
        try await slice.read(kafka: kafka, logger: logger) { message in
            do {
                let decoded = try MessageCoding.decodeMessage(from: Data(message.value), topic: Topics.deadletter)
                guard let letter = decoded.payload as? DeadLetter else { throw OperationsError("not a deadletter entry") }
                entries.append(Entry(id: decoded.header.id, partition: message.partition, offset: message.offset, letter: letter))
            } catch {
                ToolEnvironment.printError("deadletter/\(message.partition)/\(message.offset): skipped, not an entry (\(error))")
            }
        }
        return entries.sorted { ($0.letter.failedAt, $0.partition, $0.offset) < ($1.letter.failedAt, $1.partition, $1.offset) }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List dead-lettered records, oldest first.")

        @OptionGroup var selection: Selection

        @Flag(help: "One JSON object per line (the entry plus its id and deadletter position).")
        var json = false

        func run() async throws {
            let (kafka, logger) = try ToolEnvironment.kafka(tool: "biometricsctl-deadletter")
            for line in try await execute(kafka: kafka, logger: logger) { print(line) }
        }

        /// The lines `run()` prints.
        func execute(kafka: KafkaConfiguration, logger: Logger) async throws -> [String] {
            let selected = try await DeadLetterCommand.entries(kafka: kafka, logger: logger).filter(selection.matches)
            guard json else { return selected.map(\.line) }
            return try selected.map { entry in
                var object = try JSONSerialization.jsonObject(with: MessageCoding.encode(entry.letter)) as? [String: Any] ?? [:]
                object["id"] = entry.id.uuidString.lowercased()
                object["deadletter"] = "\(Topics.deadletter)/\(entry.partition)/\(entry.offset)"
                return String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
            }
        }
    }

    struct Redrive: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send dead-lettered records back to their original topic (original key, headers and value).",
            discussion: """
                Select entries by --id (the entry id or its original topic/partition/offset, repeatable) or --all, \
                narrowed by the same filters as list. Entries whose value was truncated when dead-lettered are \
                refused. Redriven records carry a `redriven-from: deadletter/partition/offset` header.
                """)

        @Option(name: .customLong("id"), help: "Entry id or original topic/partition/offset (repeatable).")
        var ids: [String] = []

        @Flag(help: "Every entry the filters select.")
        var all = false

        @OptionGroup var selection: Selection

        @Flag(help: "Only show what would be redriven.")
        var dryRun = false

        func validate() throws {
            guard all != !ids.isEmpty else { throw ValidationError("give --id … or --all (not both)") }
        }

        func run() async throws {
            let (kafka, logger) = try ToolEnvironment.kafka(tool: "biometricsctl-deadletter")
            let outcome = try await execute(kafka: kafka, logger: logger)
            for line in outcome.lines { print(line) }
            if outcome.failed > 0 || outcome.missing.count > 0 { throw ExitCode.failure }
        }

        /// What a redrive did.
        struct Outcome: Sendable {
            var redriven = 0
            var failed = 0
            var missing: [String] = []
            var lines: [String] = []
        }

        /// Redrives against `kafka` (tests call this; ``run()`` reads the environment).
        func execute(kafka: KafkaConfiguration, logger: Logger) async throws -> Outcome {
            let entries = try await DeadLetterCommand.entries(kafka: kafka, logger: logger)
            var selected = try entries.filter(selection.matches)
            var outcome = Outcome()
            if !all {
                let wanted = Set(ids.map { $0.lowercased() })
                selected = selected.filter { wanted.contains($0.id.uuidString.lowercased()) || wanted.contains($0.origin.lowercased()) }
                let found = Set(selected.flatMap { [$0.id.uuidString.lowercased(), $0.origin.lowercased()] })
                outcome.missing = ids.filter { !found.contains($0.lowercased()) }
                for id in outcome.missing { ToolEnvironment.printError("no dead-letter entry \(id) (with these filters)") }
            }
            let producer = dryRun ? nil : try KafkaProducer(configuration: KafkaProducerConfiguration(kafka: kafka), logger: logger)
            for entry in selected {
                let letter = entry.letter
                if letter.valueTruncated == true {
                    outcome.failed += 1
                    outcome.lines.append("REFUSED \(entry.line): its value was truncated when dead-lettered")
                    continue
                }
                var headers = letter.headers.keys.sorted().filter { $0 != DeadLetterCommand.redrivenFromHeader }
                    .map { KafkaHeader(name: $0, string: letter.headers[$0]!) }
                headers.append(KafkaHeader(name: DeadLetterCommand.redrivenFromHeader,
                                           string: "\(Topics.deadletter)/\(entry.partition)/\(entry.offset)"))
                let message = OutgoingMessage(topic: letter.originalTopic, key: letter.key.map(Array.init),
                                              value: Array(letter.value), headers: headers)
                guard let producer else {
                    outcome.lines.append("would redrive \(entry.line)")
                    continue
                }
                do {
                    let report = try await producer.send(message)
                    outcome.redriven += 1
                    outcome.lines.append("redriven \(entry.id.uuidString.lowercased()) → \(report.topicPartition)@\(report.offset)")
                } catch {
                    outcome.failed += 1
                    outcome.lines.append("FAILED \(entry.line): \(error)")
                }
            }
            await producer?.close()
            return outcome
        }
    }
}
