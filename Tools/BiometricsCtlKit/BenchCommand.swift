import ArgumentParser
import Foundation
import Kafka
import Logging
import Runtime

#if canImport(Glibc)
import Glibc
#endif

/// `biometricsctl bench`: benchmarks (measurements, not tests).
struct BenchCommand: AsyncParsableCommand {
    /// Command description and subcommands.
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmark the project's clients against reference tools.",
        subcommands: [KafkaBenchCommand.self, GatewayBenchCommand.self, ReconnectBenchCommand.self,
                      NotifyBenchCommand.self, VerifyBenchCommand.self, BrokerProcessCommand.self,
                      RawServerCommand.self, CodecBenchCommand.self])
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

        try BenchReport.writeJSON(report, to: output)
        print("\nresults: \(output)")
    }
}

/// `biometricsctl bench gateway`: our gateway against the raw NIO limit and python-socketio, one load generator.
struct GatewayBenchCommand: AsyncParsableCommand {
    /// Command description.
    static let configuration = CommandConfiguration(
        commandName: "gateway",
        abstract: "Gateway idle connections, room fan-out and emit→ack latency, against a raw NIO WebSocket "
            + "broadcast server (the limit) and python-socketio + aiohttp (the peer).",
        discussion: """
            Runs each server in turn as a child process pinned to --server-cpu; this process (a SwiftNIO Socket.IO \
            load generator on one event loop, the Kafka producer and ack responder) and the gateway's embedded \
            broker are pinned to --client-cpu. Per server: hold --idle-connections idle Socket.IO connections and \
            read the server's RSS; fan --room-messages events out to a room of --room-clients members and count \
            deliveries at the clients (server CPU per delivery from /proc); time sequential emit→ack round trips. \
            Prints progress on stderr and a table on stdout; writes JSON (--output), a Markdown report (--report) \
            and a PNG plot (--plot, by --plot-script). Goals: gateway ≥ 100k connections at ≤ 8 KiB each \
            (projected: a process holds ~19.9k sockets here), fan-out ≥ 70 % of the raw limit and ≥ 20× the peer.
            """)

    @Option(help: "Servers to measure, in order (gateway, raw, python-socketio).")
    var servers = "gateway,raw,python-socketio"

    @Option(help: "Idle connections per server (the open-files limit caps a process at ~19.9k sockets).")
    var idleConnections = 19_000

    @Option(help: "Connections opened before the RSS baseline.")
    var baselineConnections = 500

    @Option(help: "Members of the fan-out room.")
    var roomClients = 1000

    @Option(help: "Events per fan-out round by the gateway and the raw server.")
    var roomMessages = 3000

    @Option(help: "Events per fan-out round by python-socketio.")
    var peerRoomMessages = 100

    @Option(help: "Padding bytes per event.")
    var payloadBytes = 64

    @Option(help: "Untimed events before the timed fan-outs.")
    var warmupMessages = 10

    @Option(help: "Timed fan-out rounds per server (the best is reported: the machine may be shared).")
    var runs = 3

    @Option(help: "Timed emit→ack round trips.")
    var latencySamples = 2000

    @Option(help: "Untimed emit→ack round trips first.")
    var latencyWarmup = 100

    @Option(help: "Source addresses 127.0.0.2 … 127.0.0.(1+N) for the clients.")
    var sourceAddresses = 8

    @Option(help: "Handshakes in flight while connecting.")
    var connectConcurrency = 200

    @Option(help: "Seconds to wait before reading RSS.")
    var settleSeconds = 3.0

    @Option(help: "CPU for the server under test.")
    var serverCPU = 0

    @Option(help: "CPU for the load generator, the broker and the ack responder.")
    var clientCPU = 1

    @Flag(help: "Do not pin servers and the load generator to CPUs.")
    var noPin = false

    @Option(help: "The gateway executable (default: next to this one).")
    var gateway: String?

    @Option(help: "Python with python-socketio and aiohttp (default: $BIOMETRICS_PYTHON, else .venv/bin/python3).")
    var python: String?

    @Option(help: "The python-socketio server script.")
    var peerScript = "bench/peers/sio_server.py"

    @Option(help: "Where to write the JSON results.")
    var output = "bench-results/gateway.json"

    @Option(help: "Where to write the Markdown report.")
    var report = "bench/results/gateway.md"

    @Option(help: "Where the plot script writes the PNG (empty: no plot).")
    var plot = "bench/results/gateway.png"

    @Option(help: "The plot script (run with --python: JSON in, PNG out).")
    var plotScript = "bench/plot_gateway.py"

    /// Checks the sizes against the machine's limits before anything starts.
    func validate() throws {
        guard idleConnections > baselineConnections, baselineConnections > 0, roomClients > 0, roomMessages > 0,
              peerRoomMessages > 0, payloadBytes >= 0, warmupMessages > 0, runs > 0, latencySamples > 0, latencyWarmup >= 0,
              (1...250).contains(sourceAddresses), connectConcurrency > 0, settleSeconds >= 0
        else { throw ValidationError("sizes must be positive (and --source-addresses 1…250)") }
        _ = try parsedServers()
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        let needed = rlim_t(max(idleConnections, roomClients) + 200)
        if limit.rlim_cur < needed {
            throw ValidationError("the open-files limit is \(limit.rlim_cur): this process and each server need "
                + "about \(needed) for \(idleConnections) connections; use fewer --idle-connections")
        }
        // Every fan-out event is one record on one partition of gateway.deliveries (ordered after the join).
        if Double(roomMessages * runs + warmupMessages) * Double(payloadBytes + 400) > 4.5 * 1024 * 1024 {
            throw ValidationError("the embedded broker keeps ~5 MiB per partition: use fewer --room-messages")
        }
    }

    private func parsedServers() throws -> [GatewayBenchServerKind] {
        try servers.split(separator: ",").map { name in
            guard let kind = GatewayBenchServerKind(rawValue: name.trimmingCharacters(in: .whitespaces)) else {
                throw ValidationError("unknown server \(name): use gateway, raw, python-socketio")
            }
            return kind
        }
    }

    /// Runs the benchmark, prints the table and writes the JSON, Markdown and PNG files.
    func run() async throws {
        var logger = Logger(label: "bench.gateway")
        logger.logLevel = .error  // the mock broker's idle-connection reaps are warnings, not news
        let pin = !noPin && ProcessInfo.processInfo.activeProcessorCount > max(serverCPU, clientCPU)
        if !noPin && !pin {
            print("note: fewer CPUs than --server-cpu/--client-cpu need; running unpinned")
        }
        let taskset = pin ? ChildProcess.findExecutable("taskset") : nil
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments[0]
        let environment = ProcessInfo.processInfo.environment
        let python = python ?? environment["BIOMETRICS_PYTHON"] ?? ".venv/bin/python3"
        let scratch = FileManager.default.temporaryDirectory
            .appendingPathComponent("biometrics-gwbench-\(getpid())", isDirectory: true)
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let programs = GatewayBenchPrograms(
            biometricsctl: executable,
            gateway: gateway ?? URL(fileURLWithPath: executable).deletingLastPathComponent()
                .appendingPathComponent("gateway").path,
            python: python, peerScript: peerScript,
            serverPrefix: taskset.map { [$0, "-c", "\(serverCPU)"] } ?? [],
            clientPrefix: taskset.map { [$0, "-c", "\(clientCPU)"] } ?? [],
            scratch: scratch)
        let options = GatewayBenchmark.Options(
            servers: try parsedServers(), idleConnections: idleConnections, baselineConnections: baselineConnections,
            roomClients: roomClients, roomMessages: roomMessages, peerRoomMessages: peerRoomMessages,
            payloadBytes: payloadBytes, warmupMessages: warmupMessages, runs: runs, latencySamples: latencySamples,
            latencyWarmup: latencyWarmup, sourceAddresses: sourceAddresses, connectConcurrency: connectConcurrency,
            settleSeconds: settleSeconds, serverCPU: taskset != nil ? serverCPU : nil,
            clientCPU: taskset != nil ? clientCPU : nil)
        let benchmark = GatewayBenchmark(options: options, programs: programs, logger: logger) { line in
            FileHandle.standardError.write(Data("· \(line)\n".utf8))
        }
        let result = try await benchmark.run()
        print(result.renderTable())

        try BenchReport.writeJSON(result, to: output)
        var plotted: String?
        if !plot.isEmpty {
            try FileManager.default.createDirectory(at: URL(fileURLWithPath: plot).deletingLastPathComponent(),
                                                    withIntermediateDirectories: true)
            let run = try? await KafkaBenchmark.runClient([python, plotScript, output, plot], scratch: scratch)
            if let run, run.status.isSuccess {
                plotted = URL(fileURLWithPath: plot).lastPathComponent
            } else {
                print("note: no plot: \(run.map { "\($0.status): \($0.stderr)" } ?? "\(python) did not start")")
            }
        }
        try BenchReport.writeText(result.renderMarkdown(plotFile: plotted), to: report)
        print("\nresults: \(output), \(report)\(plotted.map { _ in ", \(plot)" } ?? "")")
    }
}

/// `biometricsctl bench notify`: the notification service end to end (created + delivered per second) and its store.
struct NotifyBenchCommand: AsyncParsableCommand {
    /// Command description.
    static let configuration = CommandConfiguration(
        commandName: "notify",
        abstract: "Notification service: created+delivered per second end to end, create latency, store call latency.",
        discussion: """
            Times SQLite store calls in this process, then runs the embedded broker and the built notification-service \
            as child processes and produces backend notification:create envelopes, counting notification:new \
            deliveries on gateway.deliveries. Prints a summary; writes JSON (--output) and a Markdown report (--report).
            """)

    @Option(help: "Creates per throughput run.")
    var notifications = 5000

    @Option(help: "Distinct target users (keys) per run.")
    var users = 500

    @Option(help: "Throughput runs (best and median are reported).")
    var runs = 3

    @Option(help: "Timed sequential creates for the end-to-end latency.")
    var latencySamples = 300

    @Option(help: "Untimed sequential creates first.")
    var latencyWarmup = 20

    @Option(help: "Timed store creates (each followed by a timed markDelivered).")
    var storeWrites = 2000

    @Option(help: "Timed unread-page reads.")
    var storeReads = 2000

    @Option(help: "The notification-service executable (default: next to this one).")
    var service: String?

    @Option(help: "Where to write the JSON results.")
    var output = "bench-results/notify.json"

    @Option(help: "Where to write the Markdown report.")
    var report = "bench/results/notify.md"

    /// Checks the sizes before anything starts.
    func validate() throws {
        guard notifications > 0, users > 0, runs > 0, latencySamples > 0, latencyWarmup >= 0, storeWrites > 0,
              storeReads > 0
        else { throw ValidationError("sizes must be positive") }
        // Each create is ~1.5 KiB on gateway.deliveries (two deliveries) and ~0.6 KiB on notification.commands.
        if Double(notifications * runs) * 1600 / 12 > 4.5 * 1024 * 1024 {
            throw ValidationError("the embedded broker keeps ~5 MiB per partition: use fewer --notifications or --runs")
        }
    }

    /// Runs the benchmark, prints the summary and writes the JSON and Markdown files.
    func run() async throws {
        var logger = Logger(label: "bench.notify")
        logger.logLevel = .error
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments[0]
        let options = NotifyBenchmark.Options(
            notifications: notifications, users: users, runs: runs, latencySamples: latencySamples,
            latencyWarmup: latencyWarmup, storeWrites: storeWrites, storeReads: storeReads,
            service: service ?? URL(fileURLWithPath: executable).deletingLastPathComponent()
                .appendingPathComponent("notification-service").path)
        let benchmark = NotifyBenchmark(options: options, logger: logger) { line in
            FileHandle.standardError.write(Data("· \(line)\n".utf8))
        }
        let result = try await benchmark.run()
        print(result.renderTable())
        try BenchReport.writeJSON(result, to: output)
        try BenchReport.writeText(result.renderMarkdown(), to: report)
        print("\nresults: \(output), \(report)")
    }
}

/// `biometricsctl bench broker-process` (hidden): the benchmark's embedded broker in its own process.
///
/// Writes the bootstrap address to `--address-file` (atomically, once every topic exists) and runs until SIGTERM,
/// or until its standard input reaches EOF with `--watch-stdin` (the benchmark holds the pipe: if it dies, so does
/// the broker); with `--watch-stdin` the lines `down` and `up` take the broker down and back (``BrokerProcess/setDown()``).
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

    @Flag(help: "Exit when standard input reaches EOF; lines `down` / `up` on it take the broker down and back.")
    var watchStdin = false

    /// Starts the broker, publishes its address and waits.
    func run() async throws {
        var logger = Logger(label: "bench.broker")
        logger.logLevel = .warning
        let broker = try await EmbeddedBroker.start(
            topics: topics.map { NewTopic(name: $0, partitions: partitions, replicationFactor: 1) }, logger: logger)
        try Data(broker.bootstrapServers.utf8).write(to: URL(fileURLWithPath: addressFile), options: .atomic)
        if watchStdin {
            let thread = Thread {
                // Lines `down` / `up` take the broker down (connections refused and dropped, its log kept) and back.
                var line: [UInt8] = []
                var byte: UInt8 = 0
                while read(0, &byte, 1) > 0 {
                    guard byte == UInt8(ascii: "\n") else {
                        line.append(byte)
                        continue
                    }
                    let command = String(decoding: line, as: UTF8.self)
                    // One command at a time, in order: this thread waits for each to finish.
                    let done = DispatchSemaphore(value: 0)
                    Task {
                        switch command {
                        case "down": await broker.setDown()
                        case "up": await broker.setUp()
                        default: break
                        }
                        done.signal()
                    }
                    done.wait()
                    line = []
                }
                _exit(0)
            }
            thread.start()
        }
        while !Task.isCancelled { try await Task.sleep(for: .seconds(3600)) }
        withExtendedLifetime(broker) {}
    }
}
