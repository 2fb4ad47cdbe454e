import ArgumentParser
import Foundation
import Logging
import Runtime

#if canImport(Glibc)
import Glibc
#endif

/// `biometricsctl chaos`: fault injection with real processes under a steady mixed load, and what it lost.
struct ChaosCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chaos",
        abstract: "Kill, stop and cut the stack's processes one at a time under steady load; count what was lost.",
        discussion: """
            Starts the embedded broker (own process), redis-server (append-only file), two gateways, the \
            verification worker, the presence and the notification service, and --clients SDK clients (half on \
            each gateway), each doing a round every --interval seconds: verify with an enrolled ES256 record, \
            notification:send to a peer, presence:update, session create/list, one frame. Then per scenario: \
            steady load, the fault, --observe seconds of load, a pause, and the check: every acknowledged \
            notification read back, every answered verify matched by its audit record on biometric.verifications, \
            every session listed while its socket lived. Prints a table; writes JSON (--output) and Markdown \
            (--markdown). Exit status 1 when something acknowledged was lost.
            """)

    @Option(help: "SDK clients (one user each).")
    var clients = 12

    @Option(help: "Seconds between a client's rounds.")
    var interval = 1.0

    @Option(help: ArgumentHelp(
        "Comma list of scenarios (default: all): baseline, kill-gateway-a, kill-worker, kill-presence, "
            + "kill-notification, restart-redis, broker-down, kill-gateway-b."))
    var scenarios: String?

    @Option(help: "Seconds of steady load before each fault.")
    var warmup = 8.0

    @Option(help: "Seconds of load after each fault is undone, before the check.")
    var observe = 25.0

    @Option(help: "Directory of the service executables (default: next to this one).")
    var serviceDir: String?

    @Option(help: "Where to write the JSON results.")
    var output = "bench-results/chaos.json"

    @Option(help: "Where to write the Markdown table (empty: none).")
    var markdown = "bench-results/chaos.md"

    func validate() throws {
        guard clients > 1, interval > 0, warmup >= 0, observe > 0 else {
            throw ValidationError("--clients must be at least 2; times must be positive")
        }
        _ = try selectedScenarios()
    }

    func selectedScenarios() throws -> [ChaosScenario] {
        guard let scenarios else { return ChaosScenario.all }
        return try scenarios.split(separator: ",").map { id in
            guard let scenario = ChaosScenario.all.first(where: { $0.id == id }) else {
                throw ValidationError("unknown scenario \(id); known: \(ChaosScenario.all.map(\.id).joined(separator: ", "))")
            }
            return scenario
        }
    }

    func run() async throws {
        let report = try await Self.execute(
            clients: clients, interval: interval, scenarios: try selectedScenarios(), warmup: warmup, observe: observe,
            serviceDirectory: serviceDir.map { URL(fileURLWithPath: $0, isDirectory: true) }, biometricsctl: nil,
            command: (["biometricsctl"] + CommandLine.arguments.dropFirst()).joined(separator: " ")
        ) { line in
            FileHandle.standardError.write(Data("· \(line)\n".utf8))
        }
        print(report.table)
        var written: [String] = []
        try BenchReport.writeJSON(report, to: output)
        written.append(output)
        if !markdown.isEmpty {
            try BenchReport.writeText(report.markdown, to: markdown)
            written.append(markdown)
        }
        print("\nresults: \(written.joined(separator: ", "))")
        if !report.isClean { throw ExitCode(1) }
    }

    /// Starts the harness, runs `scenarios` and stops everything; the report of what happened.
    static func execute(
        clients: Int, interval: Double, scenarios: [ChaosScenario], warmup: Double, observe: Double,
        serviceDirectory: URL?, biometricsctl: String?, command: String, progress: @escaping @Sendable (String) -> Void
    ) async throws -> ChaosReport {
        var logger = Logger(label: "chaos")
        // librdkafka's connection errors while the broker is down are the point of a scenario, not news.
        logger.logLevel = .critical
        let scratch = FileManager.default.temporaryDirectory
            .appendingPathComponent("biometrics-chaos-\(getpid())", isDirectory: true)
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        let programs = try ChaosHarness.programs(
            scratch: scratch, serviceDirectory: serviceDirectory, biometricsctl: biometricsctl)
        progress("starting broker, redis-server, 2 gateways, 3 services and \(clients) clients (logs: \(scratch.path))")
        var options = MixedLoadOptions(clients: clients)
        options.roundInterval = .seconds(interval)
        let harness = try await ChaosHarness.start(load: options, programs: programs, logger: logger)
        let interrupts = harness.killAllOnInterrupt()
        defer { interrupts.forEach { $0.cancel() } }
        harness.load.resume()
        let runner = ChaosRunner(warmup: .seconds(warmup), observe: .seconds(observe), progress: progress)
        var results: [ChaosScenarioResult] = []
        for scenario in scenarios {
            results.append(await runner.run(scenario, stack: harness.stack, load: harness.load, audit: harness.audit))
        }
        await harness.stop()
        let clean = results.allSatisfy(\.isClean)
        if clean { try? FileManager.default.removeItem(at: scratch) } else { progress("logs kept in \(scratch.path)") }
        return ChaosReport(
            date: ISO8601DateFormatter().string(from: Date()), command: command, clients: clients,
            gateways: harness.stack.gateways.count, roundIntervalSeconds: interval, scenarios: results)
    }
}
