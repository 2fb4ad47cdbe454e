import ArgumentParser
import Foundation
import Kafka
import Logging

/// `biometricsctl replay`: copy a slice of a topic (by offsets or times, filtered by key and envelope type) to a JSONL
/// file or into a topic, or count it; or re-drive a saved JSONL slice into a topic.
struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Replay a topic slice to a JSONL file or into a topic (KAFKA_BOOTSTRAP_SERVERS, KAFKA_* properties).",
        discussion: """
            Offsets and times select [start, end): --to-offset and --to are exclusive. Replayed records keep their \
            key, value and headers and get a `replayed-from: topic/partition/offset` header; the partition is chosen \
            by key on the target topic. Progress goes to standard error.
            """)

    /// The header replayed records carry: where they were read.
    static let replayedFromHeader = "replayed-from"

    @Option(help: "Topic to read.")
    var topic: String?

    @Option(name: .customLong("partition"), help: "Partition to read (repeatable; default all).")
    var partitions: [Int32] = []

    @Option(help: "First offset (inclusive).")
    var fromOffset: Int64?

    @Option(help: "End offset (exclusive).")
    var toOffset: Int64?

    @Option(help: "First message time, RFC 3339 (inclusive).")
    var from: String?

    @Option(help: "End time, RFC 3339 (exclusive).")
    var to: String?

    @OptionGroup var filters: RecordFilterOptions

    @Option(help: "Write the slice as JSONL to this file ('-' for standard output).")
    var output: String?

    @Option(help: "Produce the slice into this topic.")
    var into: String?

    @Option(help: "Read records from a JSONL file written by --output instead of a topic.")
    var fromFile: String?

    @Flag(help: "Only count what would be replayed.")
    var dryRun = false

    func validate() throws {
        let sinks = [output != nil, into != nil, dryRun].filter { $0 }.count
        guard sinks == 1 else { throw ValidationError("give exactly one of --output FILE, --into TOPIC, --dry-run") }
        if fromFile != nil {
            guard topic == nil, partitions.isEmpty, fromOffset == nil, toOffset == nil, from == nil, to == nil else {
                throw ValidationError("--from-file replays a saved slice; --topic, --partition and bounds do not apply")
            }
            guard output == nil else { throw ValidationError("--from-file needs --into TOPIC or --dry-run") }
        } else {
            guard let topic, !topic.isEmpty else { throw ValidationError("--topic is required (or --from-file)") }
        }
        if let fromOffset, fromOffset < 0 { throw ValidationError("--from-offset must be ≥ 0") }
        if let fromOffset, let toOffset, toOffset < fromOffset {
            throw ValidationError("--to-offset must be ≥ --from-offset")
        }
        if let from { _ = try RFC3339.parse(from, option: "--from") }
        if let to { _ = try RFC3339.parse(to, option: "--to") }
    }

    func run() async throws {
        let (kafka, logger) = try ToolEnvironment.kafka(tool: "biometricsctl-replay")
        let summary = try await execute(kafka: kafka, logger: logger)
        if summary.failed > 0 { throw ExitCode.failure }
    }

    /// What a replay did.
    struct Summary: Sendable, Equatable {
        /// Records read from the slice or file.
        var read: Int64 = 0
        /// Records that passed the filters (written, produced or counted).
        var matched: Int64 = 0
        /// Records that could not be written or produced.
        var failed: Int64 = 0
    }

    /// Runs the replay against `kafka` (tests call this; ``run()`` reads the environment).
    func execute(kafka: KafkaConfiguration, logger: Logger) async throws -> Summary {
        let filter = filters.filter
        var summary = Summary()
        let sink = try Sink(output: output, into: into, kafka: kafka, logger: logger)
        var progress: ProgressReporter
        if let fromFile {
            let records = try RecordLine.read(file: URL(fileURLWithPath: fromFile))
            progress = ProgressReporter(label: "replay", total: Int64(records.count))
            for record in records {
                summary.read += 1
                let message = try record.message()
                if filter.matches(message) {
                    summary.matched += 1
                    try await sink.take(message, dryRun: dryRun)
                }
                progress.advance()
            }
        } else {
            let admin = try KafkaAdmin(configuration: kafka, logger: logger)
            let bounds = TopicSlice.Bounds(
                fromOffset: fromOffset, toOffset: toOffset,
                from: try from.map { try RFC3339.parse($0, option: "--from") },
                to: try to.map { try RFC3339.parse($0, option: "--to") })
            let slice = try await TopicSlice.resolve(
                topic: topic!, partitions: partitions.isEmpty ? nil : partitions, bounds: bounds, admin: admin)
            progress = ProgressReporter(label: "replay", total: slice.count)
            try await slice.read(kafka: kafka, logger: logger) { message in
                summary.read += 1
                if filter.matches(message) {
                    summary.matched += 1
                    try await sink.take(message, dryRun: dryRun)
                }
                progress.advance()
            }
        }
        summary.failed = try await sink.finish()
        let verb = dryRun ? "would replay" : into.map { "produced into \($0)" } ?? "wrote"
        progress.finish("\(verb) \(summary.matched) of \(summary.read) records" + (summary.failed > 0 ? ", \(summary.failed) FAILED" : ""))
        return summary
    }

    /// Where matched records go.
    private final class Sink {
        private let file: FileHandle?
        private let ownsFile: Bool
        private let producer: KafkaProducer?
        private let target: String?
        private let pending = PendingDeliveries()

        init(output: String?, into: String?, kafka: KafkaConfiguration, logger: Logger) throws {
            if let output {
                if output == "-" {
                    file = FileHandle.standardOutput
                    ownsFile = false
                } else {
                    guard FileManager.default.createFile(atPath: output, contents: nil) else {
                        throw OperationsError("cannot create \(output)")
                    }
                    file = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
                    ownsFile = true
                }
            } else {
                file = nil
                ownsFile = false
            }
            target = into
            producer = try into.map { _ in
                try KafkaProducer(configuration: KafkaProducerConfiguration(kafka: kafka), logger: logger)
            }
        }

        func take(_ message: KafkaMessage, dryRun: Bool) async throws {
            if dryRun { return }
            if let file {
                try file.write(contentsOf: Data((try RecordLine(message).jsonLine() + "\n").utf8))
            }
            if let producer, let target {
                var headers = message.headers.filter { $0.name != ReplayCommand.replayedFromHeader }
                headers.append(KafkaHeader(name: ReplayCommand.replayedFromHeader,
                                           string: "\(message.topic)/\(message.partition)/\(message.offset)"))
                let outgoing = OutgoingMessage(topic: target, key: message.key, value: message.value, headers: headers)
                await pending.send(outgoing, through: producer)
            }
        }

        /// Waits for every delivery; returns how many failed.
        func finish() async throws -> Int64 {
            if ownsFile { try file?.close() }
            return await pending.wait()
        }
    }
}

/// Sends through a producer with bounded concurrency and counts failed deliveries.
actor PendingDeliveries {
    private var tasks: [Task<Bool, Never>] = []
    private var failed: Int64 = 0

    func send(_ message: OutgoingMessage, through producer: KafkaProducer) async {
        tasks.append(Task {
            do {
                _ = try await producer.send(message)
                return true
            } catch {
                ToolEnvironment.printError("not produced: \(message.topic): \(error)")
                return false
            }
        })
        if tasks.count >= 1000 { await drain() }
    }

    private func drain() async {
        for task in tasks where await !task.value { failed += 1 }
        tasks.removeAll()
    }

    func wait() async -> Int64 {
        await drain()
        return failed
    }
}
