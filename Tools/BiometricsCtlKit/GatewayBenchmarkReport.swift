import Foundation

private typealias R = BenchReport

/// Idle connections held by one server and what they cost it.
struct IdleResult: Sendable, Codable {
    /// Connections asked for.
    var requested: Int
    /// Connections still open after the settle time.
    var held: Int
    /// Connections that could not be opened.
    var failed: Int
    /// Connections that were open and closed before the end.
    var lost: Int
    /// Wall time to open the connections after the baseline.
    var connectSeconds: Double
    /// Server CPU time spent opening them.
    var connectCPUSeconds: Double
    /// Server RSS right after start.
    var startRSSBytes: Int
    /// Connections open at the baseline reading.
    var baselineConnections: Int
    /// Server RSS with the baseline connections open.
    var baselineRSSBytes: Int
    /// Server RSS with all connections open, after the settle time.
    var rssBytes: Int
    /// The first connection failure, if any.
    var firstError: String?

    /// RSS growth per connection beyond the baseline.
    var bytesPerConnection: Double {
        Double(rssBytes - baselineRSSBytes) / Double(max(held - baselineConnections, 1))
    }

    /// Connections opened per second after the baseline.
    var connectionsPerSecond: Double {
        Double(held - baselineConnections) / max(connectSeconds, 1e-9)
    }

    /// Server CPU per opened connection (handshake, Socket.IO CONNECT, authentication), in microseconds.
    var connectMicroseconds: Double {
        connectCPUSeconds * 1e6 / Double(max(held - baselineConnections, 1))
    }

    /// The RSS 100 000 connections would take at this rate (baseline included).
    var projectedRSSAt100kBytes: Double {
        Double(baselineRSSBytes) + bytesPerConnection * Double(100_000 - baselineConnections)
    }
}

/// One timed room fan-out.
struct FanoutResult: Sendable, Codable {
    /// Sockets in the room.
    var members: Int
    /// Events sent to the room.
    var messages: Int
    /// members × messages.
    var expected: Int
    /// Deliveries counted at the clients.
    var delivered: Int
    /// From the trigger to the last delivery.
    var seconds: Double
    /// From the trigger to the first delivery.
    var firstDeliveryMilliseconds: Double
    /// Server CPU time (user + system, all threads) over the round.
    var serverCPUSeconds: Double
    /// This process's CPU time (load generator, producer) over the round.
    var generatorCPUSeconds: Double
    /// Deliveries fully decoded and checked with the shared codec.
    var verified: Int
    /// Deliveries or packets that did not decode or match.
    var malformed: Int
    /// Room members whose connection closed during the round.
    var disconnected: Int
    /// Share of the server's CPU that was busy (any process, kernel included) during the round.
    var serverCoreBusy: Double
    /// Share of the load generator's CPU that was busy during the round.
    var clientCoreBusy: Double

    /// Whether every expected delivery arrived, and nothing else.
    var complete: Bool { delivered == expected && malformed == 0 }
    /// Deliveries per second of wall time.
    var deliveriesPerSecond: Double { Double(delivered) / max(seconds, 1e-9) }
    /// Server CPU per delivery, in microseconds.
    var serverMicrosecondsPerDelivery: Double { serverCPUSeconds * 1e6 / Double(max(delivered, 1)) }
    /// Deliveries per second of server CPU: what one fully busy core of the server would deliver.
    var deliveriesPerServerCPUSecond: Double { Double(delivered) / max(serverCPUSeconds, 1e-9) }
    /// Share of the round the server was on CPU (1 = one core busy throughout).
    var serverUtilisation: Double { serverCPUSeconds / max(seconds, 1e-9) }
    /// Share of the round the load generator was on CPU.
    var generatorUtilisation: Double { generatorCPUSeconds / max(seconds, 1e-9) }
    /// Share of the server's CPU used by something other than the server (other processes; noise).
    var serverCoreInterference: Double { max(0, serverCoreBusy - serverUtilisation) }
}

/// Everything measured against one server.
struct GatewayServerResult: Sendable, Codable {
    /// Which server.
    var kind: GatewayBenchServerKind
    /// Idle connections phase.
    var idle: IdleResult?
    /// The best timed room fan-out (most deliveries per second).
    var fanout: FanoutResult?
    /// Every timed room fan-out.
    var fanoutRuns: [FanoutResult] = []
    /// Emit→ack round trips.
    var latency: LatencyResult?
    /// Why a phase failed, if one did.
    var error: String?
    /// How the server process ended when stopped.
    var exit: String?
    /// The machine's 1-minute load average when this server's measurement began and ended (other tenants show).
    var loadAverage: [Double] = []
    /// The headline numbers derived from the phases (what the plot script reads).
    var summary: Summary?

    /// Headline numbers of one server.
    struct Summary: Sendable, Codable {
        var idleConnectionsHeld: Int?
        var bytesPerIdleConnection: Double?
        var deliveriesPerSecond: Double?
        var serverMicrosecondsPerDelivery: Double?
        var lowestServerMicrosecondsPerDelivery: Double?
        var deliveriesPerServerCPUSecond: Double?
        var ackP50Milliseconds: Double?
        var ackP99Milliseconds: Double?
    }

    init(kind: GatewayBenchServerKind) {
        self.kind = kind
    }

    /// The least server CPU per delivery of the fan-out rounds (the least disturbed by other tenants).
    var lowestMicrosecondsPerDelivery: Double? { fanoutRuns.map(\.serverMicrosecondsPerDelivery).min() }

    /// Fills ``summary`` from the phases.
    mutating func summarise() {
        summary = Summary(
            idleConnectionsHeld: idle?.held, bytesPerIdleConnection: idle?.bytesPerConnection,
            deliveriesPerSecond: fanout?.deliveriesPerSecond,
            serverMicrosecondsPerDelivery: fanout?.serverMicrosecondsPerDelivery,
            lowestServerMicrosecondsPerDelivery: lowestMicrosecondsPerDelivery,
            deliveriesPerServerCPUSecond: fanout?.deliveriesPerServerCPUSecond,
            ackP50Milliseconds: latency?.p50, ackP99Milliseconds: latency?.p99)
    }
}

/// Everything one `bench gateway` invocation measured, with the verdicts against the goals.
struct GatewayBenchmarkReport: Sendable, Codable {
    /// Goal: connections one gateway should hold (the machine allows ~19.9k per process; see the report).
    static let connectionGoal = 100_000
    /// Goal: RSS per idle connection, in bytes.
    static let bytesPerConnectionGoal = 8.0 * 1024
    /// Goal: gateway fan-out at least this share of the raw limit.
    static let rawShareGoal = 0.7
    /// Goal: gateway fan-out at least this many times the peer's.
    static let peerFactorGoal = 20.0

    var date: Date
    var machine: MachineFacts
    var options: GatewayBenchmark.Options
    var notes: [String]
    var servers: [GatewayServerResult]
    var verdicts: [BenchVerdict]

    init(date: Date, machine: MachineFacts, options: GatewayBenchmark.Options, notes: [String],
         servers: [GatewayServerResult]) {
        self.date = date
        self.machine = machine
        self.options = options
        self.notes = notes
        self.servers = servers.map { server in
            var server = server
            server.summarise()
            return server
        }
        verdicts = Self.verdicts(servers)
    }

    func server(_ kind: GatewayBenchServerKind) -> GatewayServerResult? {
        servers.first { $0.kind == kind }
    }

    private static func verdicts(_ servers: [GatewayServerResult]) -> [BenchVerdict] {
        func result(_ kind: GatewayBenchServerKind) -> GatewayServerResult? { servers.first { $0.kind == kind } }
        guard let gateway = result(.gateway) else { return [] }
        var verdicts: [BenchVerdict] = []
        if let idle = gateway.idle {
            let held = Double(idle.held) / Double(idle.requested)
            verdicts.append(BenchVerdict(goal: "gateway holds every idle connection asked for (\(idle.requested))",
                                         measured: held, medianRun: held, pass: idle.held == idle.requested))
            let perConnection = idle.bytesPerConnection
            verdicts.append(BenchVerdict(
                goal: "gateway RSS per idle connection ≤ 8 KiB (100k connections ≤ 800 MiB)",
                measured: perConnection, medianRun: perConnection, pass: perConnection <= bytesPerConnectionGoal))
        }
        // Wall clock from the fastest round; CPU per delivery from each server's least disturbed round (another
        // tenant of the machine can only add to it).
        guard let ours = gateway.fanout, let oursCPU = gateway.lowestMicrosecondsPerDelivery else { return verdicts }
        if let raw = result(.raw)?.fanout, let rawCPU = result(.raw)?.lowestMicrosecondsPerDelivery {
            let wall = ours.deliveriesPerSecond / raw.deliveriesPerSecond
            let cpu = rawCPU / oursCPU
            verdicts.append(BenchVerdict(goal: "fan-out deliveries/s ≥ \(R.percent(rawShareGoal)) of the raw limit",
                                         measured: wall, medianRun: wall, pass: wall >= rawShareGoal))
            verdicts.append(BenchVerdict(
                goal: "fan-out server CPU per delivery (lowest round): raw ÷ gateway ≥ \(R.percent(rawShareGoal))",
                measured: cpu, medianRun: cpu, pass: cpu >= rawShareGoal))
        }
        if let peer = result(.python)?.fanout, let peerCPU = result(.python)?.lowestMicrosecondsPerDelivery {
            let wall = ours.deliveriesPerSecond / peer.deliveriesPerSecond
            let cpu = peerCPU / oursCPU
            verdicts.append(BenchVerdict(goal: "fan-out deliveries/s ≥ \(Int(peerFactorGoal))× python-socketio",
                                         measured: wall, medianRun: wall, pass: wall >= peerFactorGoal))
            verdicts.append(BenchVerdict(
                goal: "fan-out server CPU per delivery (lowest round): python ÷ gateway ≥ \(Int(peerFactorGoal))×",
                measured: cpu, medianRun: cpu, pass: cpu >= peerFactorGoal))
        }
        return verdicts
    }

    // MARK: Rendering

    /// The comparison rows: a label and one cell per server, in measuring order.
    func rows() -> [(String, [String])] {
        func cells(_ body: (GatewayServerResult) -> String?) -> [String] { servers.map { body($0) ?? "–" } }
        let o = options
        return [
            ("idle connections held", cells { r in r.idle.map { "\(R.format(Double($0.held), 0)) / \(R.format(Double($0.requested), 0))" } }),
            ("connections opened per second", cells { r in r.idle.map { R.format($0.connectionsPerSecond, 0) } }),
            ("server CPU per connection opened, µs", cells { r in r.idle.map { R.format($0.connectMicroseconds, 0) } }),
            ("server RSS: start → \(R.format(Double(o.baselineConnections), 0)) → all held, MiB", cells { r in
                r.idle.map { i in
                    [i.startRSSBytes, i.baselineRSSBytes, i.rssBytes].map { R.format(Double($0) / 1_048_576, 1) }
                        .joined(separator: " → ")
                }
            }),
            ("**RSS per idle connection, KiB**", cells { r in r.idle.map { "**" + R.format($0.bytesPerConnection / 1024, 2) + "**" } }),
            ("projected RSS at 100k connections, MiB", cells { r in r.idle.map { R.format($0.projectedRSSAt100kBytes / 1_048_576, 0) } }),
            ("fan-out: members × events", cells { r in r.fanout.map { "\(R.format(Double($0.members), 0)) × \(R.format(Double($0.messages), 0))" } }),
            ("**fan-out deliveries/s**", cells { r in r.fanout.map { "**" + R.format($0.deliveriesPerSecond, 0) + "**" } }),
            ("first delivery after the trigger, ms", cells { r in r.fanout.map { R.format($0.firstDeliveryMilliseconds, 1) } }),
            ("server CPU per delivery in that round, µs", cells { r in r.fanout.map { R.format($0.serverMicrosecondsPerDelivery, 3) } }),
            ("**server CPU per delivery, lowest round, µs**", cells { r in
                r.lowestMicrosecondsPerDelivery.map { "**" + R.format($0, 3) + "**" }
            }),
            ("deliveries per server CPU-second", cells { r in r.fanout.map { R.format($0.deliveriesPerServerCPUSecond, 0) } }),
            ("fan-out rounds: deliveries/s (server µs per delivery, server on CPU)", cells { r in
                r.fanoutRuns.isEmpty ? nil : r.fanoutRuns.map {
                    "\(R.format($0.deliveriesPerSecond, 0)) (\(R.format($0.serverMicrosecondsPerDelivery, 2)), "
                        + "\(R.percent($0.serverUtilisation)))"
                }.joined(separator: "; ")
            }),
            ("server / generator on CPU (their cores busy)", cells { r in
                r.fanout.map {
                    "\(R.percent($0.serverUtilisation)) (\(R.percent($0.serverCoreBusy))) / "
                        + "\(R.percent($0.generatorUtilisation)) (\(R.percent($0.clientCoreBusy)))"
                }
            }),
            ("machine load average (1 min): start → end", cells { r in
                r.loadAverage.isEmpty ? nil : r.loadAverage.map { R.format($0, 2) }.joined(separator: " → ")
            }),
            ("deliveries checked with the codec (sample)", cells { r in r.fanout.map { "\(R.format(Double($0.verified), 0)), \($0.malformed) bad" } }),
            ("**emit→ack p50 / p99, ms**", cells { r in r.latency.map { "**" + R.format($0.p50, 3) + " / " + R.format($0.p99, 3) + "**" } }),
            ("emit→ack path", cells { r in
                switch r.kind {
                case .gateway: "gateway → Kafka → responder → Kafka → gateway"
                case .raw, .python: "answered by the server"
                }
            }),
            ("error", cells { r in r.error }),
        ].filter { row in row.0 != "error" || servers.contains { $0.error != nil } }
    }

    /// Plain-text table for the terminal.
    func renderTable() -> String {
        var lines: [String] = []
        let (labelWidth, cellWidth) = (52, 28)
        lines.append(R.textRow("GATEWAY BENCHMARK", servers.map(\.kind.rawValue), labelWidth: labelWidth,
                               cellWidth: cellWidth))
        for (label, cells) in rows() {
            lines.append(R.textRow("  " + label, cells, labelWidth: labelWidth, cellWidth: cellWidth)
                .replacingOccurrences(of: "**", with: ""))
        }
        lines.append("")
        for verdict in verdicts {
            lines.append("  \(R.verdict(verdict.pass))  \(verdict.goal): \(measuredText(verdict))")
        }
        for note in notes { lines.append("note: \(note)") }
        return lines.joined(separator: "\n")
    }

    private func measuredText(_ verdict: BenchVerdict) -> String {
        if verdict.goal.contains("KiB") { return R.format(verdict.measured / 1024, 2) + " KiB" }
        if verdict.goal.contains("×") { return R.format(verdict.measured, 1) + "×" }
        return R.percent(verdict.measured)
    }

    /// The Markdown report (`bench/results/gateway.md`).
    func renderMarkdown(plotFile: String?) -> String {
        let o = options
        var lines: [String] = []
        lines.append("# Gateway benchmark")
        lines.append("")
        lines.append("`biometricsctl bench gateway` (`make bench`), run \(ISO8601DateFormatter().string(from: date)) on "
            + "\(machine.cpus) CPUs (\(machine.cpuModel)), Linux \(machine.kernel). Server under test pinned to CPU "
            + "\(o.serverCPU.map(String.init) ?? "any"); load generator (one NIO event loop), Kafka broker and ack "
            + "responder pinned to CPU \(o.clientCPU.map(String.init) ?? "any"). Generated by the benchmark; "
            + "method and findings: [`bench/README.md`](../README.md).")
        lines.append("")
        lines += R.markdownTable([""] + servers.map(\.kind.label), rows().map { [$0.0] + $0.1 })
        lines.append("")
        if let plotFile {
            lines.append("![deliveries per second, RSS per connection, emit→ack latency](\(plotFile))")
            lines.append("")
        }
        lines.append("## Goals")
        lines.append("")
        lines += R.markdownTable(["goal", "measured", ""], verdicts.map { verdict in
            [verdict.goal, measuredText(verdict), verdict.pass ? "PASS" : "**MISS**"]
        })
        lines.append("")
        lines.append("## Run")
        lines.append("")
        lines.append("- idle: \(R.format(Double(o.idleConnections), 0)) Socket.IO connections per server (WebSocket, "
            + "CONNECT done), RSS read after \(R.format(Double(o.baselineConnections), 0)) (baseline) and after all, "
            + "\(R.format(o.settleSeconds, 0)) s settle each; per connection = growth ÷ connections added. On the gateway "
            + "each idle connection is a distinct user (its own `user:<id>` room). Clients bound to "
            + "127.0.0.2–127.0.0.\(1 + o.sourceAddresses), \(o.connectConcurrency) handshakes in flight.")
        lines.append("- fan-out: \(R.format(Double(o.roomClients), 0)) members; \(R.format(Double(o.roomMessages), 0)) "
            + "events (python-socketio: \(R.format(Double(o.peerRoomMessages), 0))) of \(o.payloadBytes) padding bytes "
            + "after \(o.warmupMessages) warm-up events, best of \(o.runs) rounds; clock from the trigger (first Kafka "
            + "produce for the gateway, whose members joined `room:bench` by one `join` delivery; the `bench:broadcast` "
            + "emit for the others) to the last delivery; server CPU from `/proc/<pid>/stat`, cores' busy share from "
            + "`/proc/stat`.")
        lines.append("- emit→ack: \(R.format(Double(o.latencySamples), 0)) sequential `\(GatewayBenchmark.ackEvent)` "
            + "emits with an ack after \(o.latencyWarmup) warm-up, one outstanding at a time.")
        lines.append("- machine limit: 20 000 open files per process (hard), so one server process holds at most "
            + "~19.9k sockets; the 100k figure is projected from the per-connection growth.")
        for note in notes { lines.append("- note: \(note)") }
        for server in servers {
            if let error = server.error { lines.append("- \(server.kind.rawValue) failed: \(error)") }
        }
        lines.append("")
        return lines.joined(separator: "\n")
    }
}
