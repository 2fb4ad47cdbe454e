import ArgumentParser
import Foundation
import Logging
import Runtime

#if canImport(Glibc)
import Glibc
#endif

/// `biometricsctl soak`: the chaos harness's steady mixed load with connection churn for a long time, sampled.
struct SoakCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "soak",
        abstract: "Run a steady mixed load with connection churn; sample RSS, fds, consumer lag and latency; judge.",
        discussion: """
            The stack and load of `chaos` (two gateways, every service, --clients SDK clients, a round per \
            --interval seconds), each client reconnecting with a fresh connection with probability --churn per \
            round, for --minutes (env SOAK_MINUTES). Every --sample-seconds: RSS and open descriptors of every \
            process (/proc), consumer lag of the services' groups, verify and notification round-trip percentiles. \
            Writes <output>.json, <output>.md (verdict) and <output>.png (with --python, matplotlib). Exit status 1 \
            when memory, descriptors or lag grow, or something acknowledged was lost.
            """)

    @Option(help: "Minutes to run (default: SOAK_MINUTES, else 30).")
    var minutes: Double?

    @Option(help: "SDK clients (one user each).")
    var clients = 12

    @Option(help: "Seconds between a client's rounds.")
    var interval = 1.0

    @Option(help: "Chance per round that a client closes its connection and opens a new one.")
    var churn = 0.02

    @Option(help: "Seconds between samples.")
    var sampleSeconds = 10.0

    @Option(help: "Seconds at least that are warm-up, not judged (the first third of the run is, too).")
    var warmupSeconds = 360.0

    @Option(name: .customLong("gateway-env"), help: ArgumentHelp(
        "KEY=VALUE for both gateways (repeatable), e.g. DELIVERY_DEDUP_WINDOW_SECONDS=30 RECOVERY_WINDOW_SECONDS=30 "
            + "to fill the gateways' windows within a short run."))
    var gatewayEnvironment: [String] = []

    @Option(help: "Directory of the service executables (default: next to this one).")
    var serviceDir: String?

    @Option(help: "Output path without extension (.json, .md, .png are written).")
    var output = "bench-results/soak"

    @Option(help: "Python with matplotlib for the plot (empty: no plot).")
    var python = ".venv/bin/python3"

    @Option(help: "The plot script.")
    var plotScript = "bench/plot_soak.py"

    func validate() throws {
        guard clients > 1, interval > 0, (0...1).contains(churn), sampleSeconds > 0 else {
            throw ValidationError("--clients must be at least 2, --churn in 0…1, times positive")
        }
        guard try resolvedMinutes() > 0 else { throw ValidationError("--minutes must be positive") }
        _ = try parsedGatewayEnvironment()
    }

    private func parsedGatewayEnvironment() throws -> [String: String] {
        var environment: [String: String] = [:]
        for entry in gatewayEnvironment {
            guard let equals = entry.firstIndex(of: "="), equals != entry.startIndex else {
                throw ValidationError("--gateway-env takes KEY=VALUE, got \(entry)")
            }
            environment[String(entry[..<equals])] = String(entry[entry.index(after: equals)...])
        }
        return environment
    }

    private func resolvedMinutes() throws -> Double {
        if let minutes { return minutes }
        guard let text = ProcessInfo.processInfo.environment["SOAK_MINUTES"], !text.isEmpty else { return 30 }
        guard let value = Double(text), value > 0 else {
            throw ValidationError("SOAK_MINUTES must be a positive number of minutes, got \(text)")
        }
        return value
    }

    func run() async throws {
        var logger = Logger(label: "soak")
        logger.logLevel = .critical
        let progress: @Sendable (String) -> Void = { FileHandle.standardError.write(Data("· \($0)\n".utf8)) }
        let scratch = FileManager.default.temporaryDirectory
            .appendingPathComponent("biometrics-soak-\(getpid())", isDirectory: true)
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        let programs = try ChaosHarness.programs(
            scratch: scratch, serviceDirectory: serviceDir.map { URL(fileURLWithPath: $0, isDirectory: true) })
        let minutes = try resolvedMinutes()
        progress("starting the stack and \(clients) clients (logs: \(scratch.path)); \(minutes) min of load")
        var options = MixedLoadOptions(clients: clients)
        options.roundInterval = .seconds(interval)
        options.churnProbability = churn
        let harness = try await ChaosHarness.start(
            load: options, gatewayEnvironment: try parsedGatewayEnvironment(), programs: programs, logger: logger)
        let interrupts = harness.killAllOnInterrupt()
        defer { interrupts.forEach { $0.cancel() } }
        let report: SoakReport
        do {
            report = try await SoakRunner(minutes: minutes, sampleInterval: .seconds(sampleSeconds),
                                          warmup: .seconds(warmupSeconds), progress: progress)
                .run(harness: harness, command: (["biometricsctl"] + CommandLine.arguments.dropFirst()).joined(separator: " "), logger: logger)
        } catch {
            await harness.stop()
            throw error
        }
        await harness.stop()

        try BenchReport.writeJSON(report, to: output + ".json")
        try BenchReport.writeText(report.markdown, to: output + ".md")
        var written = [output + ".json", output + ".md"]
        if !python.isEmpty {
            let plot = try ChildProcess(executable: python, arguments: [plotScript, output + ".json", output + ".png"],
                                        logFile: scratch.appendingPathComponent("plot.log"))
            let status = await plot.waitForExit()
            if status.isSuccess { written.append(output + ".png") } else { progress("plot failed (\(status)): \(plot.logTail())") }
        }
        print(report.markdown)
        print("results: \(written.joined(separator: ", "))")
        if report.passed { try? FileManager.default.removeItem(at: scratch) } else { progress("logs kept in \(scratch.path)") }
        if !report.passed { throw ExitCode(1) }
    }
}
