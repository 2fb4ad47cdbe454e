import ArgumentParser
import Foundation
import Logging
import Runtime

/// `biometricsctl bench verify`: verification round trips through gateway → Kafka → worker → Kafka → gateway.
struct VerifyBenchCommand: AsyncParsableCommand {
    /// Command description.
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Verify round trips per second and p50/p99 latency at a fixed load through gateway → Kafka → "
            + "verification worker → Kafka → gateway, with the ES256 verify cost alone beside it.",
        discussion: """
            Starts an embedded broker and redis-server (pinned to --client-cpu), the gateway and one verification \
            worker (pinned to --server-cpu) for each --fetch-waits value (the services' consumer \
            fetch.wait.max.ms). --clients Socket.IO clients (one user and enrolled ES256 record each) on one NIO \
            event loop in this process (pinned to --client-cpu) verify: open loop at --rate for --seconds first \
            (latency from each verify's scheduled send to its ack), then a closed loop for throughput. Every answer is checked. Prints a table; writes JSON (--output) and the Markdown table \
            (--markdown). Goal: p99 ≤ 10 ms at 1000 verifies/s, every verify succeeding.
            """)

    @Option(help: "Socket.IO clients, each its own user owning one record.")
    var clients = 50

    @Option(help: "Verifies in the closed-loop throughput phase.")
    var throughputVerifies = 3000

    @Option(help: "Outstanding requests in the closed-loop phases.")
    var concurrency = 50

    @Option(help: "Offered load of the fixed-load phase, verifies per second.")
    var rate = 1000.0

    @Option(help: "Length of the fixed-load phase, seconds.")
    var seconds = 10.0

    @Option(help: "Untimed verifies first.")
    var warmupVerifies = 200

    @Option(help: "Comma list of the services' consumer fetch.wait.max.ms to run (each a fresh stack).")
    var fetchWaits = "10,1"

    @Option(help: "ES256 operations timed in-process.")
    var es256Iterations = 5000

    @Option(help: "CPU for gateway and worker.")
    var serverCPU = 0

    @Option(help: "CPU for the load generator, the broker and redis-server.")
    var clientCPU = 1

    @Flag(help: "Do not pin processes to CPUs.")
    var noPin = false

    @Option(help: "The gateway executable (default: next to this one).")
    var gateway: String?

    @Option(help: "The verification worker executable (default: next to this one).")
    var worker: String?

    @Option(help: "Where to write the JSON results.")
    var output = "bench-results/verify.json"

    @Option(help: "Where to write the Markdown table (empty: none).")
    var markdown = "bench-results/verify-table.md"

    @Option(help: "Where to write each fixed-load verify's index, client and latency in ms (one line each).")
    var latencies: String?

    /// Checks the sizes before anything starts.
    func validate() throws {
        guard clients > 0, throughputVerifies > 0, concurrency > 0, rate > 0, seconds > 0, warmupVerifies >= 0,
              es256Iterations > 0
        else { throw ValidationError("sizes must be positive") }
        _ = try parsedFetchWaits()
    }

    private func parsedFetchWaits() throws -> [Int] {
        try fetchWaits.split(separator: ",").map { text in
            guard let value = Int(text.trimmingCharacters(in: .whitespaces)), (0...10_000).contains(value) else {
                throw ValidationError("--fetch-waits takes milliseconds 0…10000, comma separated")
            }
            return value
        }
    }

    /// Runs the benchmark, prints the table and writes the files.
    func run() async throws {
        var logger = Logger(label: "bench.verify")
        logger.logLevel = .error
        let pin = !noPin && ProcessInfo.processInfo.activeProcessorCount > max(serverCPU, clientCPU)
        if !noPin && !pin { print("note: fewer CPUs than --server-cpu/--client-cpu need; running unpinned") }
        let taskset = pin ? ChildProcess.findExecutable("taskset") : nil
        guard let redisServer = ChildProcess.findExecutable("redis-server") else {
            throw ValidationError("redis-server not found (apt-get install redis-server)")
        }
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments[0]
        let directory = URL(fileURLWithPath: executable).deletingLastPathComponent()
        let scratch = FileManager.default.temporaryDirectory
            .appendingPathComponent("biometrics-verifybench-\(getpid())", isDirectory: true)
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        var overrides: [String: String] = [:]
        if let gateway { overrides["gateway"] = gateway }
        if let worker { overrides[StackService.verificationWorker.rawValue] = worker }
        let programs = StackPrograms(
            serviceDirectory: directory, overrides: overrides, redisServer: redisServer,
            serverPrefix: taskset.map { [$0, "-c", "\(serverCPU)"] } ?? [],
            clientPrefix: taskset.map { [$0, "-c", "\(clientCPU)"] } ?? [],
            // redis-server beside the broker: CPU 0 runs only the code under test (gateway and worker).
            redisPrefix: taskset.map { [$0, "-c", "\(clientCPU)"] } ?? [],
            scratch: scratch)
        let options = VerifyBenchmark.Options(
            clients: clients, throughputVerifies: throughputVerifies, concurrency: concurrency, rate: rate,
            seconds: seconds, warmupVerifies: warmupVerifies, fetchWaits: try parsedFetchWaits(),
            es256Iterations: es256Iterations, serverCPU: taskset != nil ? serverCPU : nil,
            clientCPU: taskset != nil ? clientCPU : nil, latenciesFile: latencies)
        let benchmark = VerifyBenchmark(options: options, programs: programs, logger: logger) { line in
            FileHandle.standardError.write(Data("· \(line)\n".utf8))
        }
        let report = try await benchmark.run()
        print(report.renderTable())

        try BenchReport.writeJSON(report, to: output)
        var written = [output]
        if !markdown.isEmpty {
            try BenchReport.writeText(report.renderMarkdown() + "\n", to: markdown)
            written.append(markdown)
        }
        print("\nresults: \(written.joined(separator: ", "))")
    }
}
