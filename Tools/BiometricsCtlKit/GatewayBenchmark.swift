import Foundation
import Kafka
import Logging
import Messages
import NIOCore
import Runtime
import SocketIO

#if canImport(Glibc)
import Glibc
#endif

/// `biometricsctl bench gateway`: our gateway against a raw NIO WebSocket broadcast server (the limit) and
/// python-socketio on aiohttp (the peer), with one Swift load generator, in one run.
///
/// For each server, in turn: start it pinned to the server CPU; hold idle connections and read its RSS; fan a room
/// out (M members, N events) and time the deliveries and its CPU; time sequential emit→ack round trips; stop it.
/// Each phase is a function returning a result value; ``run()`` strings them together and the command only prints
/// and saves the ``GatewayBenchmarkReport``.
struct GatewayBenchmark: Sendable {
    /// What to measure and how much.
    struct Options: Sendable, Codable {
        /// The servers, in measuring order.
        var servers: [GatewayBenchServerKind]
        /// Idle connections to hold per server (a process holds at most ~19.9k sockets: 20 000 open files).
        var idleConnections: Int
        /// Connections opened before the RSS baseline (so start-up allocations are not counted per connection).
        var baselineConnections: Int
        /// Sockets in the fan-out room.
        var roomClients: Int
        /// Events fanned out to the room by the gateway and the raw server.
        var roomMessages: Int
        /// Events fanned out by python-socketio (slower: fewer, for a run of similar length).
        var peerRoomMessages: Int
        /// Padding bytes in each event (`{"i": n, "pad": "xx…"}`).
        var payloadBytes: Int
        /// Untimed events before the timed fan-outs (they also prove every member is in the room).
        var warmupMessages: Int
        /// Timed fan-out rounds per server; the best is reported (the machine is shared).
        var runs: Int
        /// Timed emit→ack round trips.
        var latencySamples: Int
        /// Untimed round trips first.
        var latencyWarmup: Int
        /// Source addresses 127.0.0.2 … 127.0.0.(1+N) the clients bind to.
        var sourceAddresses: Int
        /// Handshakes in flight while connecting.
        var connectConcurrency: Int
        /// Seconds to wait after connecting before reading RSS.
        var settleSeconds: Double
        /// CPU of the server under test, or nil for no pinning.
        var serverCPU: Int?
        /// CPU of this process (load generator, ack responder, producer) and the broker, or nil.
        var clientCPU: Int?
    }

    let options: Options
    let programs: GatewayBenchPrograms
    let logger: Logger
    let progress: @Sendable (String) -> Void

    /// The event that asks for an ack: a real client event of our gateway (relayed to `presence.commands`), answered
    /// directly by the raw server and the Python peer.
    static let ackEvent = ClientEvent.sessionHeartbeat.rawValue

    /// Measures every server and returns the report; a server that fails is reported with its error.
    func run() async throws -> GatewayBenchmarkReport {
        var notes: [String] = []
        if let cpu = options.clientCPU, let taskset = ChildProcess.findExecutable("taskset") {
            // Pin every existing thread of this process; threads created later inherit it from their creator.
            let pin = try await KafkaBenchmark.runClient([taskset, "-a", "-p", "-c", "\(cpu)", "\(getpid())"],
                                                         scratch: programs.scratch)
            if !pin.status.isSuccess { notes.append("could not pin the load generator to CPU \(cpu): \(pin.stderr)") }
        } else if options.clientCPU != nil {
            notes.append("taskset not found: servers and load generator are not pinned")
        }
        let facts = await MachineFacts.collect(kcatPath: "kcat", scratch: programs.scratch)
        let generator = SocketIOLoadGenerator(threads: 1)
        var results: [GatewayServerResult] = []
        for kind in options.servers {
            results.append(await measure(kind, generator: generator))
        }
        await generator.shutdown()
        return GatewayBenchmarkReport(date: Date(), machine: facts, options: options, notes: notes, servers: results)
    }

    /// Every phase against one server; stops it (and its helpers) whatever happens.
    func measure(_ kind: GatewayBenchServerKind, generator: SocketIOLoadGenerator) async -> GatewayServerResult {
        var result = GatewayServerResult(kind: kind)
        result.loadAverage = ProcessProbe.loadAverage().map { [$0] } ?? []
        let load = result.loadAverage.first.map { BenchReport.format($0, 2) } ?? "unknown"
        progress("[\(kind.rawValue)] starting (machine load average \(load))")
        let server: BenchServer
        do {
            server = try await BenchServer.start(kind, programs: programs, logger: logger)
        } catch {
            progress("[\(kind.rawValue)] did not start: \(error)")
            result.error = "\(error)"
            return result
        }
        do {
            result.idle = try await idle(server, generator: generator)
            await generator.closeAll()
            await waitUntilQuiet(server)  // the server handles the disconnects
            let messages = kind == .python ? options.peerRoomMessages : options.roomMessages
            result.fanoutRuns = try await fanout(server, messages: messages, generator: generator)
            result.fanout = result.fanoutRuns.max { $0.deliveriesPerSecond < $1.deliveriesPerSecond }
            result.latency = try await latency(server, generator: generator)
        } catch {
            progress("[\(kind.rawValue)] failed: \(error)")
            result.error = "\(error); server log: \(server.process.logTail(lines: 8))"
        }
        await generator.closeAll()
        result.exit = await server.stop()
        if let load = ProcessProbe.loadAverage() { result.loadAverage.append(load) }
        progress("[\(kind.rawValue)] stopped")
        return result
    }

    private func target(_ server: BenchServer) -> LoadTarget {
        LoadTarget(port: server.port, auth: server.auth,
                   sourceAddresses: (0..<options.sourceAddresses).map { "127.0.0.\(2 + $0)" })
    }

    // MARK: Idle connections

    /// Opens ``Options/baselineConnections``, reads the server's RSS, opens the rest up to
    /// ``Options/idleConnections``, waits ``Options/settleSeconds`` and reads it again.
    func idle(_ server: BenchServer, generator: SocketIOLoadGenerator) async throws -> IdleResult {
        let name = server.kind.rawValue
        let pid = server.process.pid
        var target = target(server)
        target.perClientAuth = try await server.distinctUserAuth(count: options.idleConnections)
        let disconnectedBefore = generator.counters.disconnected.load(ordering: .relaxed)
        let startRSS = ProcessProbe.residentBytes(pid: pid) ?? 0
        let base = await generator.connect(
            count: options.baselineConnections, to: target, concurrency: options.connectConcurrency,
            timeout: .seconds(20)) { _, _ in }
        guard base.connected == options.baselineConnections else {
            throw BenchError("only \(base.connected) of \(options.baselineConnections) baseline connections: "
                + (base.firstError ?? "no error"))
        }
        try await Task.sleep(for: .seconds(options.settleSeconds))
        let baseRSS = ProcessProbe.residentBytes(pid: pid) ?? 0
        let cpuBefore = ProcessProbe.cpuSeconds(pid: pid) ?? 0
        progress("[\(name)] idle: \(base.connected) baseline connections, server RSS \(BenchReport.mib(baseRSS)) "
            + "(\(BenchReport.mib(startRSS)) at start)")
        let rest = await generator.connect(
            count: options.idleConnections - options.baselineConnections, firstIndex: options.baselineConnections,
            to: target,
            concurrency: options.connectConcurrency, timeout: .seconds(20)
        ) { connected, failed in
            progress("[\(name)] idle: \(base.connected + connected) connected, \(failed) failed, server RSS "
                + BenchReport.mib(ProcessProbe.residentBytes(pid: pid) ?? 0))
        }
        let cpuAfter = ProcessProbe.cpuSeconds(pid: pid) ?? 0
        try await Task.sleep(for: .seconds(options.settleSeconds))
        let rss = ProcessProbe.residentBytes(pid: pid) ?? 0
        let lost = generator.counters.disconnected.load(ordering: .relaxed) - disconnectedBefore
        let held = base.connected + rest.connected - lost
        let result = IdleResult(
            requested: options.idleConnections, held: held, failed: rest.failed, lost: lost,
            connectSeconds: rest.seconds, connectCPUSeconds: cpuAfter - cpuBefore, startRSSBytes: startRSS,
            baselineConnections: base.connected, baselineRSSBytes: baseRSS, rssBytes: rss,
            firstError: rest.firstError)
        progress("[\(name)] idle: \(held) held (\(rest.failed) failed, \(lost) lost), server RSS \(BenchReport.mib(rss)): "
            + String(format: "%.2f KiB", result.bytesPerConnection / 1024) + " per connection; "
            + String(format: "%.0f", result.connectionsPerSecond) + " connections/s")
        return result
    }

    // MARK: Room fan-out

    /// Waits (at most a minute) until the server uses less than 5 % of a CPU over half a second.
    func waitUntilQuiet(_ server: BenchServer) async {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            let before = ProcessProbe.cpuSeconds(pid: server.process.pid) ?? 0
            try? await Task.sleep(for: .milliseconds(500))
            if (ProcessProbe.cpuSeconds(pid: server.process.pid) ?? 0) - before < 0.025 { return }
        }
    }

    /// Connects ``Options/roomClients`` members, warms up, then times ``Options/runs`` rounds of `messages` events
    /// to all of them: from the trigger (the first Kafka produce, or the `bench:broadcast` emit) to the last delivery
    /// at any client.
    func fanout(_ server: BenchServer, messages: Int, generator: SocketIOLoadGenerator) async throws -> [FanoutResult] {
        let name = server.kind.rawValue
        let outcome = await generator.connect(
            count: options.roomClients, to: target(server), concurrency: options.connectConcurrency,
            timeout: .seconds(60)) { _, _ in }
        guard outcome.connected == options.roomClients else {
            throw BenchError("only \(outcome.connected) of \(options.roomClients) room members connected: "
                + (outcome.firstError ?? "no error"))
        }
        let members = outcome.connected
        if let kafka = server.kafka {
            // One delivery joins every socket of the bench user to the room.
            try await kafka.producer.send(
                Delivery.control(DeliveryControl(action: .join, room: BenchServer.benchRoom),
                                 to: .user(BenchServer.benchUser)),
                key: BenchServer.benchRoom)
        }
        progress("[\(name)] fan-out: \(members) members; warm-up (\(options.warmupMessages) events)")
        _ = try await round(server, messages: options.warmupMessages, members: members, generator: generator,
                            stallTimeout: .seconds(30))
        var results: [FanoutResult] = []
        for run in 1...options.runs {
            await waitUntilQuiet(server)
            progress("[\(name)] fan-out \(run)/\(options.runs): \(messages) events × \(members) members")
            results.append(try await round(server, messages: messages, members: members, generator: generator,
                                           stallTimeout: .seconds(15)))
        }
        return results
    }

    /// One fan-out round: trigger, wait for every delivery (or a stall), measure.
    private func round(_ server: BenchServer, messages: Int, members: Int, generator: SocketIOLoadGenerator,
                       stallTimeout: Duration) async throws -> FanoutResult {
        let name = server.kind.rawValue
        let pid = server.process.pid
        let counters = generator.counters
        let pad = String(repeating: "x", count: options.payloadBytes)
        // Encoded before the clock starts: the gateway's trigger, like the others', is then only the sending.
        let records = try server.kafka.map { kafka in
            try (0..<messages).map { index in
                let delivery = Delivery.event("bench", data: .object(["i": .number(Double(index)), "pad": .string(pad)]),
                                              to: .room(BenchServer.benchRoom))
                return OutgoingMessage(topic: Topics.gatewayDeliveries, key: BenchServer.benchRoom,
                                       value: Array(try delivery.encodedEnvelope(source: kafka.producer.source)))
            }
        }
        let expected = messages * members
        let eventsBefore = counters.events.load(ordering: .relaxed)
        let verifiedBefore = counters.verified.load(ordering: .relaxed)
        let malformedBefore = counters.malformed.load(ordering: .relaxed)
        let disconnectedBefore = counters.disconnected.load(ordering: .relaxed)
        counters.startRound(expecting: expected)
        let coresBefore = CoreSample.now()
        let serverCPUBefore = ProcessProbe.cpuSeconds(pid: pid) ?? 0
        let ownCPUBefore = CPUTime.ofThisProcess()
        let start = NIODeadline.now().uptimeNanoseconds
        if let kafka = server.kafka, let records {
            for record in records { try await kafka.producer.producer.enqueue(record) }
            try await kafka.producer.producer.flush(timeout: .seconds(30))
        } else {
            try await generator.emitFromFirst("bench:broadcast", [
                "count": .number(Double(messages)), "bytes": .number(Double(options.payloadBytes)),
            ])
        }
        var lastCount = eventsBefore
        var lastChange = ContinuousClock.now
        var lastReport = ContinuousClock.now
        while counters.completedAt.load(ordering: .sequentiallyConsistent) == 0 {
            try await Task.sleep(for: .milliseconds(10))
            let count = counters.events.load(ordering: .relaxed)
            let now = ContinuousClock.now
            if count != lastCount {
                lastCount = count
                lastChange = now
            } else if now - lastChange > stallTimeout {
                progress("[\(name)] fan-out stalled: nothing delivered for \(stallTimeout)")
                break
            }
            if now - lastReport >= .seconds(1), expected > 10_000 {
                lastReport = now
                let elapsed = Double(NIODeadline.now().uptimeNanoseconds - start) / 1e9
                progress("[\(name)] fan-out: \(count - eventsBefore)/\(expected) delivered, "
                    + String(format: "%.0f/s", Double(count - eventsBefore) / elapsed))
            }
        }
        let completed = counters.completedAt.load(ordering: .sequentiallyConsistent)
        let end = completed != 0 ? completed : NIODeadline.now().uptimeNanoseconds
        let first = counters.firstAt.load(ordering: .relaxed)
        let cores = CoreSample.now()
        let serverCPU = (ProcessProbe.cpuSeconds(pid: pid) ?? 0) - serverCPUBefore
        let ownCPU = CPUTime.ofThisProcess() - ownCPUBefore
        let result = FanoutResult(
            members: members, messages: messages, expected: expected,
            delivered: counters.events.load(ordering: .relaxed) - eventsBefore,
            seconds: Double(end - start) / 1e9, firstDeliveryMilliseconds: first > start ? Double(first - start) / 1e6 : 0,
            serverCPUSeconds: serverCPU, generatorCPUSeconds: ownCPU,
            verified: counters.verified.load(ordering: .relaxed) - verifiedBefore,
            malformed: counters.malformed.load(ordering: .relaxed) - malformedBefore,
            disconnected: counters.disconnected.load(ordering: .relaxed) - disconnectedBefore,
            serverCoreBusy: cores.busyShare(of: options.serverCPU, since: coresBefore),
            clientCoreBusy: cores.busyShare(of: options.clientCPU, since: coresBefore))
        if messages > options.warmupMessages || !result.complete {
            progress("[\(name)] fan-out: \(result.delivered)/\(expected) in "
                + String(format: "%.2f s = %.0f deliveries/s; server CPU %.2f µs/delivery (%.0f %% busy; its core "
                    + "%.0f %%), generator %.0f %% busy (its core %.0f %%)", result.seconds, result.deliveriesPerSecond,
                    result.serverMicrosecondsPerDelivery, result.serverUtilisation * 100, result.serverCoreBusy * 100,
                    result.generatorUtilisation * 100, result.clientCoreBusy * 100))
        }
        guard result.complete else {
            throw BenchError("fan-out incomplete: \(result.delivered) of \(expected) deliveries, "
                + "\(result.disconnected) members disconnected, \(result.malformed) malformed")
        }
        return result
    }

    // MARK: Emit → ack

    /// Sequential emit→ack round trips from one room member (one outstanding at a time).
    func latency(_ server: BenchServer, generator: SocketIOLoadGenerator) async throws -> LatencyResult {
        let pid = server.process.pid
        progress("[\(server.kind.rawValue)] emit→ack: \(options.latencySamples) round trips")
        let cpuBefore = ProcessProbe.cpuSeconds(pid: pid) ?? 0
        let samples = try await generator.ackLatency(
            event: Self.ackEvent, samples: options.latencySamples, warmup: options.latencyWarmup,
            timeout: .seconds(10))
        let result = LatencyResult(milliseconds: samples, cpuSeconds: (ProcessProbe.cpuSeconds(pid: pid) ?? 0) - cpuBefore)
        progress("[\(server.kind.rawValue)] emit→ack: "
            + String(format: "p50 %.3f ms, p99 %.3f ms", result.p50, result.p99))
        return result
    }
}
