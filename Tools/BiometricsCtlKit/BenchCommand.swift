import ArgumentParser
import Foundation
import Kafka
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// `biometricsctl bench`: benchmarks (measurements, not tests).
struct BenchCommand: AsyncParsableCommand {
    /// Command description and subcommands.
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmark the project's clients against reference tools.",
        subcommands: [KafkaBenchCommand.self, BrokerProcessCommand.self])
}

/// `biometricsctl bench kafka`: our Kafka wrapper against kcat on the same embedded broker.
struct KafkaBenchCommand: AsyncParsableCommand {
    /// Command description.
    static let configuration = CommandConfiguration(
        commandName: "kafka",
        abstract: "Kafka wrapper produce/consume throughput and delivery latency, against kcat on the same broker.",
        discussion: """
            Starts an embedded broker in a child process pinned to --broker-cpu and pins this process and kcat to \
            --client-cpu (taskset). Produce: N messages of --message-bytes with random keys, ours (enqueue + flush, \
            linger.ms 0 and 5) against `kcat -P -l FILE`. Consume: N messages from the beginning of one pre-filled \
            topic, ours (assign mode, `messages`) against `kcat -C -e`. Latency: awaited `send`s, produce → delivery \
            report. Prints a table and writes JSON to --output. Goals: ≥ 80 % of kcat's throughput, p50 ≤ 1 ms.
            """)

    @Option(help: "Messages per throughput phase (the embedded broker keeps ~5 MiB per partition: stay below ~3).")
    var messages = 150_000

    @Option(help: "Bytes per message value.")
    var messageBytes = 200

    @Option(help: "Partitions of every benchmark topic.")
    var partitions = 12

    @Option(help: "Timed awaited sends for the latency percentiles.")
    var latencySamples = 5000

    @Option(help: "Untimed awaited sends before the latency samples.")
    var latencyWarmup = 500

    @Option(help: "Repetitions of every phase; best and median are reported.")
    var runs = 3

    @Option(help: "CPU for the broker process.")
    var brokerCPU = 0

    @Option(help: "CPU for the measured clients (this process and kcat).")
    var clientCPU = 1

    @Flag(help: "Do not pin the broker and the clients to CPUs.")
    var noPin = false

    @Option(help: "The kcat executable.")
    var kcat = "kcat"

    @Option(help: "Where to write the JSON results.")
    var output = "bench-results/kafka.json"

    @Option(help: "Seed of the message generator.")
    var seed: UInt64 = 42

    /// Validates the sizes before anything starts.
    func validate() throws {
        guard messages > 0, messageBytes > 0, partitions > 0, latencySamples > 0, latencyWarmup >= 0, runs > 0 else {
            throw ValidationError("sizes must be positive")
        }
        let perPartition = Double(messages) * Double(messageBytes + 40) / Double(partitions)
        if perPartition > 4.5 * 1024 * 1024 {
            throw ValidationError("about \(Int(perPartition / 1024)) KiB per partition: the embedded broker keeps "
                + "only ~5 MiB per partition; use fewer messages or more partitions")
        }
    }

    /// Runs the benchmark, prints the table and writes the JSON file.
    func run() async throws {
        var logger = Logger(label: "bench.kafka")
        logger.logLevel = .warning
        let pin = !noPin && ProcessInfo.processInfo.activeProcessorCount > max(brokerCPU, clientCPU)
        if !noPin && !pin {
            print("note: fewer CPUs than --broker-cpu/--client-cpu need; running unpinned")
        }
        let options = KafkaBenchmark.Options(
            messages: messages, messageBytes: messageBytes, partitions: partitions, latencySamples: latencySamples,
            latencyWarmup: latencyWarmup, runs: runs, brokerCPU: pin ? brokerCPU : nil,
            clientCPU: pin ? clientCPU : nil, kcatPath: kcat, seed: seed)
        let benchmark = KafkaBenchmark(options: options, logger: logger) { line in
            FileHandle.standardError.write(Data("· \(line)\n".utf8))
        }
        let report = try await benchmark.run()
        print(report.renderTable())

        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        let url = URL(fileURLWithPath: output)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try encoder.encode(report).write(to: url, options: .atomic)
        print("\nresults: \(output)")
    }
}

/// `biometricsctl bench broker-process` (hidden): the benchmark's embedded broker in its own process.
///
/// Writes the bootstrap address to `--address-file` (atomically, once every topic exists) and runs until SIGTERM,
/// or until its standard input reaches EOF with `--watch-stdin` (the benchmark holds the pipe: if it dies, so does
/// the broker).
struct BrokerProcessCommand: AsyncParsableCommand {
    /// Command description; hidden from help.
    static let configuration = CommandConfiguration(
        commandName: "broker-process",
        abstract: "Run an embedded broker for the benchmarks until SIGTERM.",
        shouldDisplay: false)

    @Option(help: "Where to write the bootstrap address once the topics exist.")
    var addressFile: String

    @Option(name: .customLong("topic"), help: "A topic to pre-create (repeatable).")
    var topics: [String] = []

    @Option(help: "Partitions per topic.")
    var partitions = 12

    @Flag(help: "Exit when standard input reaches EOF.")
    var watchStdin = false

    /// Starts the broker, publishes its address and waits.
    func run() async throws {
        var logger = Logger(label: "bench.broker")
        logger.logLevel = .warning
        let broker = try EmbeddedBroker(
            topics: topics.map { NewTopic(name: $0, partitions: partitions, replicationFactor: 1) }, logger: logger)
        try Data(broker.bootstrapServers.utf8).write(to: URL(fileURLWithPath: addressFile), options: .atomic)
        if watchStdin {
            let thread = Thread {
                var byte: UInt8 = 0
                while read(0, &byte, 1) > 0 {}
                _exit(0)
            }
            thread.start()
        }
        while !Task.isCancelled { try await Task.sleep(for: .seconds(3600)) }
        withExtendedLifetime(broker) {}
    }
}
