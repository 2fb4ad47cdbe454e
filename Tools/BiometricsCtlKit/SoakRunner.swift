import Foundation
import Kafka
import Logging
import MetricsExporter

#if canImport(Glibc)
import Glibc
#endif

/// One sample of `biometricsctl soak` (every `--sample-seconds`).
struct SoakSample: Sendable, Codable {
    /// Seconds since the load started.
    var t: Double
    /// Resident set size (MiB) and open descriptors of each process, by name.
    var rssMiB: [String: Double]
    var fds: [String: Int]
    /// Consumer lag (messages not yet committed) summed over the partitions, by group.
    var lag: [String: Int64]
    /// Round-trip latency (ms) of the verifies (challenge + verify) and notifications of the window.
    var verify: LatencyResult
    var notify: LatencyResult
    /// Operations and failures of the window; clients connected at the sample.
    var operations: Int
    var failed: Int
    var connected: Int
}

/// A series judged flat or not: a least-squares line over the samples after the warm-up, and the growth it implies
/// over that stretch against the allowance.
struct SoakTrend: Sendable, Codable {
    /// What (`rss gateway-a`, `fds presence-service`, `lag notification-service`).
    var series: String
    /// Mean over the judged stretch, the slope per hour, the growth over the stretch, the allowance.
    var mean: Double
    var slopePerHour: Double
    var growth: Double
    var allowed: Double
    /// Whether growth ≤ allowed.
    var flat: Bool

    /// Fits `points` (t in seconds, value) from `from` seconds on; `allowed` from the mean.
    static func judge(_ series: String, _ points: [(Double, Double)], from: Double = 0,
                      allowance: (Double) -> Double) -> SoakTrend {
        let judged = points.filter { $0.0 >= from }
        let n = Double(judged.count)
        let mean = judged.map(\.1).reduce(0, +) / max(n, 1)
        let meanT = judged.map(\.0).reduce(0, +) / max(n, 1)
        let covariance = judged.map { ($0.0 - meanT) * ($0.1 - mean) }.reduce(0, +)
        let variance = judged.map { ($0.0 - meanT) * ($0.0 - meanT) }.reduce(0, +)
        let slope = variance > 0 ? covariance / variance : 0
        let span = (judged.last?.0 ?? 0) - (judged.first?.0 ?? 0)
        let growth = slope * span
        let allowed = allowance(mean)
        return SoakTrend(series: series, mean: mean, slopePerHour: slope * 3600, growth: growth, allowed: allowed,
                         flat: growth <= allowed)
    }
}

/// The results of `biometricsctl soak`.
struct SoakReport: Sendable, Codable {
    var date: String
    var command: String
    var minutes: Double
    var clients: Int
    var churnPerRound: Double
    var samples: [SoakSample]
    var trends: [SoakTrend]
    /// Samples before this many seconds are warm-up (not judged).
    var judgedFromSeconds: Double

    /// Whether enough samples follow the warm-up to judge (at least 6).
    var judged: Bool { samples.filter { $0.t >= judgedFromSeconds }.count >= 6 }
    /// What was lost over the whole run (the chaos accounting, without a fault).
    var accounting: ChaosScenarioResult
    /// Latency over the whole run.
    var verify: LatencyResult
    var notify: LatencyResult

    /// Flat memory, fds and lag, nothing acknowledged lost.
    var passed: Bool { judged && trends.allSatisfy(\.flat) && accounting.isClean }

    /// PASS, FAIL, or TOO SHORT (memory and lag not judged).
    var verdict: String { !accounting.isClean ? "FAIL" : !judged ? "TOO SHORT" : passed ? "PASS" : "FAIL" }

    /// The criterion, for the summary.
    static let criterion = """
        A series is flat when the least-squares line through its samples after the warm-up (the first third of the \
        run, and at least the first 6 minutes: the gateway keeps delivery ids for 5 min (DELIVERY_DEDUP_WINDOW_SECONDS) \
        and deliveries for 2 min (RECOVERY_WINDOW_SECONDS), so its memory rises that long by design) grows by no \
        more than its allowance over that stretch: RSS ≤ max(10 % of its mean, 8 MiB), open \
        descriptors ≤ max(10 % of the mean, 8), consumer lag (per group) ≤ max(50 % of the mean, 50 messages). \
        Judged: the gateways and services; redis-server and the broker keep data by design (idempotency memos \
        until their TTL, topic logs) and are only plotted.
        """

    /// Markdown: verdict, criterion, per-series table, latency, accounting.
    var markdown: String {
        var lines = [
            "Soak of \(String(format: "%g", minutes)) min, \(date), `\(command)`: \(clients) SDK clients over two "
                + "gateways (a round per second each: verify, notification, presence, session, frame; each round "
                + "a client closes its connection and opens a new one with probability \(churnPerRound)); "
                + "\(samples.count) samples.",
            "",
            "**Verdict: \(verdict)** — " + (!judged
                ? "fewer than 6 samples after the warm-up (\(Int(judgedFromSeconds)) s): memory and lag not judged"
                : trends.allSatisfy(\.flat) ? "memory, descriptors and lag flat"
                : "not flat: " + trends.filter { !$0.flat }.map(\.series).joined(separator: ", "))
                + (accounting.isClean ? "; nothing acknowledged lost." : "; **losses**: see below."),
            "",
            Self.criterion,
            "",
            "| series | mean | slope / h | growth after warm-up | allowed | flat |",
            "|---|---|---|---|---|---|",
        ]
        lines += trends.map {
            "| \($0.series) | \(String(format: "%.1f", $0.mean)) | \(String(format: "%+.2f", $0.slopePerHour)) | "
                + "\(String(format: "%+.2f", $0.growth)) | \(String(format: "%.1f", $0.allowed)) | \($0.flat ? "yes" : "**no**") |"
        }
        lines += [
            "",
            String(format: "Latency over the run: verify (challenge + verify) p50 %.1f ms, p90 %.1f ms, p99 %.1f ms "
                + "(%d); notification:send p50 %.1f ms, p90 %.1f ms, p99 %.1f ms (%d).",
                   verify.p50, verify.p90, verify.p99, verify.samples, notify.p50, notify.p90, notify.p99, notify.samples),
            "",
            "Accounting: \(accounting.operations) operations, \(accounting.failed) failed; "
                + "\(accounting.notificationsAcked) notifications acknowledged, \(accounting.lostNotifications) lost, "
                + "\(accounting.duplicateNotifications) visible twice; \(accounting.verifiesAnswered) verifies answered, "
                + "\(accounting.lostVerifications) without audit record; \(accounting.sessionsChecked) session checks, "
                + "\(accounting.lostSessions) lost; \(accounting.reconnects) reconnects "
                + "(\(accounting.framesReceived)/\(accounting.framesSent) frames).",
        ]
        if !accounting.errors.isEmpty {
            let top = accounting.errors.sorted { $0.value > $1.value }.prefix(5).map { "`\($0.key)` × \($0.value)" }
            lines.append("Failures: " + top.joined(separator: ", ") + ".")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// `soak`: the chaos harness without faults but with connection churn, sampled every few seconds.
struct SoakRunner: Sendable {
    var minutes: Double
    var sampleInterval: Duration
    /// The least warm-up: samples before it are not judged.
    var warmup: Duration = .seconds(360)
    let progress: @Sendable (String) -> Void

    /// The consumer groups whose lag is sampled.
    static let groups = [
        "verification-worker", "verification-worker-connections", "presence-service", "presence-service-connections",
        "notification-service",
    ]

    /// Runs the load for ``minutes`` on `harness`, sampling; then checks what was acknowledged.
    func run(harness: ChaosHarness, command: String, logger: Logger) async throws -> SoakReport {
        let admin = try KafkaAdmin(
            configuration: KafkaConfiguration(bootstrapServers: harness.stack.broker.bootstrapServers,
                                              clientId: "soak-lag", statisticsInterval: nil),
            logger: logger)
        let lagCollector = ConsumerLagCollector(admin: admin, groups: Self.groups, interval: sampleInterval,
                                                logger: logger)
        let load = harness.load
        _ = load.takeLedger()
        let auditBefore = harness.audit.snapshot
        let startedAt = load.now()
        load.resume()
        var total = LoadLedger()
        var samples: [SoakSample] = []
        let end = ContinuousClock.now + .seconds(minutes * 60)
        while ContinuousClock.now < end {
            try await Task.sleep(for: min(sampleInterval, end - ContinuousClock.now))
            let window = load.takeLedger()
            total.merge(window)
            await lagCollector.measureOnce()
            let sample = Self.sample(window, t: load.now() - startedAt, stack: harness.stack,
                                     lags: lagCollector.lags, connected: load.connectedClients)
            samples.append(sample)
            let rss = sample.rssMiB.values.reduce(0, +)
            progress(String(format: "t=%4.0f s  ops %d (failed %d)  verify p99 %.1f ms  RSS %.0f MiB  fds %d  lag %lld",
                            sample.t, sample.operations, sample.failed, sample.verify.p99, rss,
                            sample.fds.values.reduce(0, +), sample.lag.values.reduce(0, +)))
        }
        await load.pause()
        try await Task.sleep(for: .seconds(3))
        var accounting = ChaosScenarioResult(id: "soak", fault: "none (connection churn)")
        total.merge(load.takeLedger())
        let found = try await load.readBackNotifications()
        accounting.lostNotifications = total.notificationsAcked.keys.filter { found[$0] == nil }.count
        accounting.duplicateNotifications = found.values.filter { $0 > 1 }.count
        let auditAfter = harness.audit.snapshot
        ChaosRunner.account(total, into: &accounting, faultAt: startedAt, auditBefore: auditBefore.perUser,
                            auditAfter: auditAfter.perUser)
        accounting.repeatedAudits = auditAfter.repeated - auditBefore.repeated
        accounting.recoveredAfter = nil
        accounting.allBackAfter = nil
        let judgedFrom = max(minutes * 60 / 3, warmup.seconds)
        return SoakReport(
            date: ISO8601DateFormatter().string(from: Date()), command: command, minutes: minutes,
            clients: load.options.clients, churnPerRound: load.options.churnProbability, samples: samples,
            trends: Self.trends(samples, from: judgedFrom), judgedFromSeconds: judgedFrom, accounting: accounting,
            verify: Self.latency(total, .verify), notify: Self.latency(total, .notify))
    }

    static func latency(_ ledger: LoadLedger, _ kind: LoadOperationKind) -> LatencyResult {
        LatencyResult(milliseconds: ledger.operations.filter { $0.kind == kind && $0.error == nil }
            .map { ($0.end - $0.start) * 1000 }, cpuSeconds: 0)
    }

    static func sample(_ window: LoadLedger, t: Double, stack: ServiceStack, lags: [ConsumerLagCollector.Lag],
                       connected: Int) -> SoakSample {
        var rss: [String: Double] = [:]
        var fds: [String: Int] = [:]
        for (name, pid) in stack.runningProcesses {
            rss[name] = ProcessProbe.residentBytes(pid: pid).map { Double($0) / 1_048_576 }
            fds[name] = ProcessProbe.openDescriptors(pid: pid)
        }
        var lag: [String: Int64] = [:]
        for entry in lags { lag[entry.group, default: 0] += entry.lag }
        return SoakSample(
            t: t, rssMiB: rss, fds: fds, lag: lag, verify: latency(window, .verify), notify: latency(window, .notify),
            operations: window.operations.count, failed: window.operations.filter { $0.error != nil }.count,
            connected: connected)
    }

    static func trends(_ samples: [SoakSample], from: Double) -> [SoakTrend] {
        // The services are judged; redis-server and the broker hold data by design (idempotency memos with their
        // TTL, the topic logs), so they are sampled and plotted but not judged.
        let names = Set(samples.flatMap(\.rssMiB.keys)).subtracting(["redis-server", "broker"]).sorted()
        var trends: [SoakTrend] = []
        for name in names {
            trends.append(.judge("RSS MiB \(name)", samples.compactMap { s in s.rssMiB[name].map { (s.t, $0) } },
                                 from: from) {
                max($0 * 0.1, 8)
            })
        }
        for name in names {
            trends.append(.judge("fds \(name)", samples.compactMap { s in s.fds[name].map { (s.t, Double($0)) } },
                                 from: from) {
                max($0 * 0.1, 8)
            })
        }
        for group in Set(samples.flatMap(\.lag.keys)).sorted() {
            trends.append(.judge("lag \(group)", samples.compactMap { s in s.lag[group].map { (s.t, Double($0)) } },
                                 from: from) {
                max($0 * 0.5, 50)
            })
        }
        return trends
    }
}

extension ProcessProbe {
    /// Open file descriptors (entries of `/proc/<pid>/fd`).
    static func openDescriptors(pid: pid_t) -> Int? {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd"))?.count
    }
}
