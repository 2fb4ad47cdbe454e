import Foundation

/// swift-crypto's P-256 cost in this process, per operation.
struct ES256Cost: Sendable, Codable {
    /// Operations timed (each).
    var iterations: Int
    /// Verifications that succeeded (all of them, or the measurement is wrong).
    var valid: Int
    /// Microseconds per verification.
    var verifyMicroseconds: Double
    /// Microseconds per signature (what the benchmark's clients pay).
    var signMicroseconds: Double
}

/// A closed-loop phase: how many round trips, how fast, how many succeeded.
struct PhaseResult: Sendable, Codable {
    /// Requests sent.
    var sent: Int
    /// Requests answered.
    var answered: Int
    /// Answers that were a success.
    var succeeded: Int
    /// Requests not answered or not successful.
    var failed: Int
    /// From the first send to the last answer.
    var seconds: Double

    /// Answered round trips per second.
    var perSecond: Double { Double(answered) / max(seconds, 1e-9) }

    init(_ run: AckDriver.Run, succeeded: Int) {
        sent = run.outcomes.count
        answered = run.outcomes.compactMap { $0 }.count
        self.succeeded = succeeded
        failed = sent - succeeded
        seconds = run.seconds
    }
}

/// CPU seconds one process used during the fixed-load phase.
struct ProcessCPU: Sendable, Codable {
    /// Which process.
    var name: String
    /// User + system seconds.
    var seconds: Double
}

/// The fixed-load (open-loop) phase.
struct LoadResult: Sendable, Codable {
    /// Offered verifies per second.
    var offeredPerSecond: Double
    /// Verifies sent.
    var sent: Int
    /// Verifies answered.
    var answered: Int
    /// Answers that were a success.
    var succeeded: Int
    /// Verifies not answered or not successful.
    var failed: Int
    /// From the first send to the last answer.
    var seconds: Double
    /// How late the generator sent at worst against its schedule.
    var worstSendLagMs: Double
    /// Scheduled send → ack, answered verifies; `cpuMicrosecondsPerMessage` is the server side's CPU per verify.
    var latency: LatencyResult
    /// Busy share of the server CPU during the phase.
    var serverCoreBusy: Double
    /// Busy share of the load generator's CPU during the phase.
    var clientCoreBusy: Double
    /// CPU seconds per process during the phase.
    var processCPU: [ProcessCPU]
    /// `/proc/loadavg`'s 1-minute load before and after the phase (other work on the machine shows here).
    var loadAverage: [Double]
    /// p99 of the verifies scheduled in each second of the phase, ms: a tail spread over the run is queueing, one
    /// in a single second a stall.
    var p99BySecondMs: [Double]
}

/// Everything measured with one `fetch.wait.max.ms`.
struct VerifyRunResult: Sendable, Codable {
    /// The consumers' `fetch.wait.max.ms` (gateway and worker).
    var fetchWaitMs: Int
    /// Challenge issuing in the throughput phase.
    var challenges: PhaseResult?
    /// Verifies in the throughput phase.
    var throughput: PhaseResult?
    /// The fixed-load phase.
    var load: LoadResult?
    /// Why the run stopped early, if it did.
    var error: String?

    init(fetchWaitMs: Int) {
        self.fetchWaitMs = fetchWaitMs
    }
}

/// The whole `bench verify` report.
struct VerifyBenchmarkReport: Sendable, Codable {
    var date: Date
    var machine: MachineFacts
    var options: VerifyBenchmark.Options
    var notes: [String]
    var es256: ES256Cost
    var runs: [VerifyRunResult]

    /// The latency goal at the fixed load.
    static let goalP99Ms = 10.0

    private func f(_ value: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", value) }

    private func rows() -> [(String, [String])] {
        func cells(_ value: (VerifyRunResult) -> String?) -> [String] { runs.map { value($0) ?? "—" } }
        return [
            ("verify round trips/s (closed loop, \(options.concurrency) outstanding)",
             cells { $0.throughput.map { f($0.perSecond, 0) } }),
            ("verifies ok / failed (throughput)", cells { $0.throughput.map { "\($0.succeeded) / \($0.failed)" } }),
            ("challenge round trips/s (closed loop)", cells { $0.challenges.map { f($0.perSecond, 0) } }),
            ("**p50 / p99 at \(f(options.rate, 0)) verifies/s, ms**",
             cells { $0.load.map { "**\(f($0.latency.p50, 2)) / \(f($0.latency.p99, 2))**" } }),
            ("max latency, ms", cells { $0.load.map { f($0.latency.max, 2) } }),
            ("p99 of each second, ms", cells { $0.load.map { $0.p99BySecondMs.map { f($0, 1) }.joined(separator: " ") } }),
            ("verifies ok / failed (fixed load)", cells { $0.load.map { "\($0.succeeded) / \($0.failed)" } }),
            ("achieved rate, verifies/s", cells { $0.load.map { f(Double($0.answered) / max($0.seconds, 1e-9), 0) } }),
            ("server CPU busy / generator CPU busy", cells { $0.load.map {
                "\(f($0.serverCoreBusy * 100, 0)) % / \(f($0.clientCoreBusy * 100, 0)) %"
            } }),
            ("server-side CPU per verify, µs", cells { $0.load.map { f($0.latency.cpuMicrosecondsPerMessage, 0) } }),
            ("CPU s: gateway · worker · redis · broker · generator", cells { $0.load.map {
                $0.processCPU.map { f($0.seconds, 2) }.joined(separator: " · ")
            } }),
            ("worst generator send lag, ms", cells { $0.load.map { f($0.worstSendLagMs, 2) } }),
            ("machine load average (1 min) before → after", cells { $0.load.map {
                $0.loadAverage.map { f($0, 2) }.joined(separator: " → ")
            } }),
        ]
    }

    /// PASS/MISS of the p99 goal for each run.
    var verdicts: [(run: Int, pass: Bool, p99: Double)] {
        runs.compactMap { run in
            guard let load = run.load else { return nil }
            return (run.fetchWaitMs, load.latency.p99 <= Self.goalP99Ms && load.failed == 0, load.latency.p99)
        }
    }

    /// Plain-text table for the terminal.
    func renderTable() -> String {
        var lines: [String] = []
        lines.append("VERIFY BENCHMARK".padding(toLength: 58, withPad: " ", startingAt: 0)
            + runs.map { "fetch.wait \($0.fetchWaitMs) ms".leftPadded(22) }.joined())
        for (label, cells) in rows() {
            lines.append(("  " + label.replacingOccurrences(of: "**", with: "")).padding(toLength: 58, withPad: " ",
                                                                                         startingAt: 0)
                + cells.map { $0.replacingOccurrences(of: "**", with: "").leftPadded(22) }.joined())
        }
        lines.append("")
        lines.append("  ES256 alone (swift-crypto P-256): verify \(f(es256.verifyMicroseconds, 1)) µs/op, sign "
            + "\(f(es256.signMicroseconds, 1)) µs/op")
        for verdict in verdicts {
            lines.append("  \(verdict.pass ? "PASS" : "MISS")  p99 ≤ \(f(Self.goalP99Ms, 0)) ms at "
                + "\(f(options.rate, 0)) verifies/s, all succeed (fetch.wait.max.ms \(verdict.run)): \(f(verdict.p99, 2)) ms")
        }
        for run in runs where run.error != nil { lines.append("  fetch.wait \(run.fetchWaitMs) ms failed: \(run.error!)") }
        for note in notes { lines.append("note: \(note)") }
        return lines.joined(separator: "\n")
    }

    /// The Markdown table, goals and run facts (`bench/results/verify.md` adds the discussion by hand).
    func renderMarkdown() -> String {
        let o = options
        var lines: [String] = []
        lines.append("| | " + runs.map { "`fetch.wait.max.ms` \($0.fetchWaitMs)" }.joined(separator: " | ") + " |")
        lines.append("|---|" + runs.map { _ in "--:|" }.joined())
        for (label, cells) in rows() { lines.append("| \(label) | " + cells.joined(separator: " | ") + " |") }
        lines.append("| ES256 verify alone (swift-crypto P-256), µs/op | "
            + runs.map { _ in f(es256.verifyMicroseconds, 1) }.joined(separator: " | ") + " |")
        lines.append("")
        lines.append("| goal | measured | |")
        lines.append("|---|--:|---|")
        for verdict in verdicts {
            lines.append("| p99 ≤ \(f(Self.goalP99Ms, 0)) ms at \(f(o.rate, 0)) verifies/s, every verify succeeds "
                + "(`fetch.wait.max.ms` \(verdict.run)) | \(f(verdict.p99, 2)) ms | \(verdict.pass ? "PASS" : "**MISS**") |")
        }
        lines.append("")
        lines.append("Run \(ISO8601DateFormatter().string(from: date)) on \(machine.cpus) CPUs (\(machine.cpuModel)), "
            + "Linux \(machine.kernel), librdkafka \(machine.librdkafka). Gateway and worker pinned to CPU "
            + "\(o.serverCPU.map(String.init) ?? "any"); load generator (one NIO event loop), embedded broker and "
            + "redis-server to CPU "
            + "\(o.clientCPU.map(String.init) ?? "any"). \(o.clients) clients (one user and record each); "
            + "\(o.warmupVerifies) warm-up verifies; throughput \(o.throughputVerifies) verifies; fixed load "
            + "\(f(o.rate, 0))/s for \(f(o.seconds, 0)) s; ES256 \(es256.iterations) operations.")
        for note in notes { lines.append("- note: \(note)") }
        for run in runs where run.error != nil { lines.append("- fetch.wait \(run.fetchWaitMs) ms failed: \(run.error!)") }
        return lines.joined(separator: "\n")
    }
}

extension String {
    /// The string right-aligned in `width` columns.
    fileprivate func leftPadded(_ width: Int) -> String {
        count >= width ? " " + self : String(repeating: " ", count: width - count) + self
    }
}
