import ArgumentParser
import Auth
import BiometricsClient
import Foundation
import Kafka
import Logging
import Messages
import NIOPosix
import Runtime
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `biometricsctl bench reconnect`: a reconnect storm. N Swift SDK clients hold recoverable sockets on one gateway;
/// the gateway is killed (SIGKILL) while one delivery per user is produced, and another gateway starts on the same
/// address. Measured: time until 50/90/99/100 % of the clients are reconnected and recovered (the missed delivery
/// received, exactly once), reconnects over time (the back-off jitter spreading them), and the new gateway's CPU.
struct ReconnectBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconnect",
        abstract: "Reconnect storm: N SDK clients dropped at once by a gateway restart; time to reconnect and recover.")

    @Option(help: "Clients (recoverable sockets).")
    var clients = 10_000

    @Option(help: "Distinct users (clients are spread over them; one missed delivery per user).")
    var users = 1_000

    @Option(help: "CPU the gateway is pinned to.")
    var serverCPU = 0

    @Option(help: "CPU this process (the clients) and the broker are pinned to.")
    var clientCPU = 1

    @Option(help: "Seconds the gateway stays down before the new one starts.")
    var downSeconds = 0.0

    @Option(help: "Markdown report.")
    var output = "bench/results/reconnect.md"

    @Option(help: "PNG plot of reconnects over time (needs matplotlib in --python).")
    var plot = "bench/results/reconnect.png"

    @Option(help: "Python for the plot (default: $BIOMETRICS_PYTHON, else .venv/bin/python3).")
    var python: String?

    @Option(help: "The plot script (JSON in, PNG out).")
    var plotScript = "bench/plot_reconnect.py"

    @Option(help: "The gateways' LOG_LEVEL; with --keep-logs their logs stay in the scratch directory.")
    var gatewayLogLevel = "warning"

    @Flag(help: "Keep the scratch directory (gateway and broker logs) and print where it is.")
    var keepLogs = false

    func validate() throws {
        guard clients > 0, users > 0, users <= clients else { throw ValidationError("need 0 < --users <= --clients") }
        guard clients <= 19_000 else { throw ValidationError("--clients above 19000 exceeds this machine's open-files limit") }
    }

    func run() async throws {
        var logger = Logger(label: "bench-reconnect")
        logger.logLevel = .warning
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("bench-reconnect-\(getpid())")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer {
            if keepLogs { print("logs kept in \(scratch.path)") } else { try? FileManager.default.removeItem(at: scratch) }
        }
        let taskset = ProcessInfo.processInfo.activeProcessorCount > max(serverCPU, clientCPU)
            ? ChildProcess.findExecutable("taskset") : nil
        if let taskset {
            _ = try await KafkaBenchmark.runClient([taskset, "-a", "-p", "-c", "\(clientCPU)", "\(getpid())"],
                                                   scratch: scratch)
        }
        let storm = ReconnectStorm(
            clients: clients, users: users, downSeconds: downSeconds, scratch: scratch, logLevel: gatewayLogLevel,
            serverPrefix: taskset.map { [$0, "-c", "\(serverCPU)"] } ?? [],
            clientPrefix: taskset.map { [$0, "-c", "\(clientCPU)"] } ?? [], logger: logger
        ) { print($0) }
        let report = try await storm.run()
        let markdown = report.markdown(pinned: taskset != nil, serverCPU: serverCPU, clientCPU: clientCPU)
        try BenchReport.writeText(markdown, to: output)
        print(markdown)
        let json = scratch.appendingPathComponent("reconnect.json")
        try BenchReport.writeJSON(report, to: json.path)
        let python = python ?? ProcessInfo.processInfo.environment["BIOMETRICS_PYTHON"] ?? ".venv/bin/python3"
        let run = try? await KafkaBenchmark.runClient([python, plotScript, json.path, plot], scratch: scratch)
        print(run?.status.isSuccess == true ? "plot: \(plot)" : "note: no plot: \(run.map { "\($0.stderr)" } ?? "no python")")
    }
}

/// What one storm measured.
struct ReconnectReport: Codable, Sendable {
    var clients: Int
    var users: Int
    /// Seconds from the kill until the new gateway answered `/ready`.
    var gatewayReadySeconds: Double
    /// Seconds from the kill until the new gateway process was started (the missed deliveries were produced then).
    var gatewayStartedSeconds: Double
    /// Seconds from the kill until each client was connected again, sorted.
    var reconnectSeconds: [Double]
    /// Seconds from the kill until each client had its missed delivery, sorted.
    var recoverSeconds: [Double]
    /// Clients whose reconnect the gateway reported as recovered.
    var recovered: Int
    /// Missed deliveries received more than once.
    var duplicates: Int
    /// The new gateway's CPU seconds from its start until the storm was over.
    var gatewayCPUSeconds: Double
    /// Seconds the whole storm took (kill until every client recovered or the time limit).
    var stormSeconds: Double

    func percentile(_ values: [Double], _ share: Double) -> Double? {
        guard !values.isEmpty else { return nil }
        let needed = Int((Double(clients) * share).rounded(.up))
        return needed <= values.count ? values[needed - 1] : nil
    }

    func markdown(pinned: Bool, serverCPU: Int, clientCPU: Int) -> String {
        func format(_ value: Double?) -> String { value.map { String(format: "%.2f s", $0) } ?? "not reached" }
        let p99 = percentile(recoverSeconds, 0.99)
        return """
        # Reconnect storm (`biometricsctl bench reconnect`)

        \(clients) Swift SDK clients (\(users) users), each with a recoverable socket on one gateway (release build). \
        The gateway is killed with SIGKILL; while it is down one delivery per user is produced to `gateway.deliveries`; \
        a new gateway (another instance id) starts on the same address at once. Clients reconnect with the SDK's \
        default back-off (1 s doubling to 5 s, jitter 0.5) and present their recovery id and position. \
        \(pinned ? "Gateway pinned to CPU \(serverCPU); clients and broker to CPU \(clientCPU)." : "Not pinned.")

        | measure | value |
        |---|---|
        | new gateway started / ready after the kill | \(String(format: "%.2f s / %.2f s", gatewayStartedSeconds, gatewayReadySeconds)) |
        | reconnected: 50 % / 90 % / 99 % / 100 % | \(format(percentile(reconnectSeconds, 0.5))) / \(format(percentile(reconnectSeconds, 0.9))) / \(format(percentile(reconnectSeconds, 0.99))) / \(format(percentile(reconnectSeconds, 1))) |
        | recovered (missed delivery received): 50 % / 90 % / 99 % / 100 % | \(format(percentile(recoverSeconds, 0.5))) / \(format(percentile(recoverSeconds, 0.9))) / \(format(p99)) / \(format(percentile(recoverSeconds, 1))) |
        | reconnects the gateway reported `recovered: true` | \(recovered) of \(clients) |
        | missed deliveries received twice | \(duplicates) |
        | new gateway CPU during the storm | \(String(format: "%.2f s", gatewayCPUSeconds)) (\(String(format: "%.0f µs", gatewayCPUSeconds / Double(max(1, clients)) * 1e6)) per client) |

        Reconnects over time: `reconnect.png` (the jitter spreads each back-off step over ±50 %).

        """
    }
}

/// Runs one storm (see ``ReconnectBenchCommand``).
struct ReconnectStorm: Sendable {
    let clients: Int
    let users: Int
    let downSeconds: Double
    let scratch: URL
    let logLevel: String
    let serverPrefix: [String]
    let clientPrefix: [String]
    let logger: Logger
    let progress: @Sendable (String) -> Void

    /// Per-client observations, written by the clients' watcher tasks.
    final class Observations: Sendable {
        private struct State {
            var reconnectedAt: [Int: ContinuousClock.Instant] = [:]
            var recoveredAt: [Int: ContinuousClock.Instant] = [:]
            var recovered = 0
            var duplicates = 0
            var armed = false
        }

        private let state = Mutex(State())

        func arm() { state.withLock { $0.armed = true } }

        func connected(_ client: Int, recovered: Bool) {
            state.withLock { state in
                guard state.armed, state.reconnectedAt[client] == nil else { return }
                state.reconnectedAt[client] = .now
                if recovered { state.recovered += 1 }
            }
        }

        func missed(_ client: Int) {
            state.withLock { state in
                if state.recoveredAt[client] != nil { state.duplicates += 1 } else { state.recoveredAt[client] = .now }
            }
        }

        var counts: (reconnected: Int, recovered: Int) {
            state.withLock { ($0.reconnectedAt.count, $0.recoveredAt.count) }
        }

        func report(since start: ContinuousClock.Instant) -> (reconnect: [Double], recover: [Double], recovered: Int,
                                                             duplicates: Int) {
            state.withLock { state in
                (state.reconnectedAt.values.map { ($0 - start).seconds }.sorted(),
                 state.recoveredAt.values.map { ($0 - start).seconds }.sorted(), state.recovered, state.duplicates)
            }
        }
    }

    func run() async throws -> ReconnectReport {
        let broker = try await BrokerProcess.start(topics: Topics.all.map(\.name), partitions: 12,
                                                   directory: scratch.path, prefix: clientPrefix)
        defer { broker.stop() }
        let secret = DevTokenIssuer.generateSecret()
        let port = try Loopback.freePort()
        let gatewayPath = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("gateway").path
        func startGateway(_ name: String) async throws -> ChildProcess {
            let process = try ChildProcess(
                executable: (serverPrefix + [gatewayPath])[0], arguments: Array((serverPrefix + [gatewayPath]).dropFirst()),
                environment: [
                    "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrapServers, "JWT_HS256_SECRET": secret,
                    "GATEWAY_HOST": "127.0.0.1", "GATEWAY_PORT": "\(port)", "INSTANCE_ID": name, "LOG_LEVEL": logLevel,
                    "MAX_SOCKETS_PER_USER": "100000", "MAX_CONNECTIONS_PER_IP_PER_MINUTE": "10000000",
                    "STATS_INTERVAL_SECONDS": "3600",
                ],
                standardOutput: .file(scratch.appendingPathComponent("\(name).log"), append: false))
            let deadline = ContinuousClock.now + .seconds(60)
            while Loopback.httpStatus(port: port, path: "/ready") != 200 {
                if let status = process.exitStatus { throw BenchError("\(name) exited (\(status)): \(process.logTail())") }
                guard ContinuousClock.now < deadline else { throw BenchError("\(name) not ready within 60 s") }
                try await Task.sleep(for: .milliseconds(20))
            }
            return process
        }
        let first = try await startGateway("storm-gateway-1")
        progress("gateway 1 ready on 127.0.0.1:\(port); connecting \(clients) clients")

        let issuer = try DevTokenIssuer(secret: secret)
        let now = Date()
        var tokens: [String] = []
        for user in 0..<users {
            tokens.append(try await issuer.token(for: AccessTokenClaims(
                subject: "storm-\(user)", expiresAt: now.addingTimeInterval(3600), issuedAt: now)))
        }
        let observations = Observations()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var sdkClients: [BiometricsClient] = []
        var watchers: [Task<Void, Never>] = []
        for index in 0..<clients {
            let token = tokens[index % users]
            var configuration = BiometricsClientConfiguration(url: "http://127.0.0.1:\(port)") { token }
            configuration.connectTimeout = .seconds(30)
            let client = BiometricsClient(configuration: configuration, logger: logger, eventLoopGroup: group)
            sdkClients.append(client)
            let states = client.states()
            let pushes = client.pushes(named: ["storm:missed"])
            watchers.append(Task {
                for await state in states {
                    if case .connected(_, let recovered) = state { observations.connected(index, recovered: recovered) }
                }
            })
            watchers.append(Task { for await _ in pushes { observations.missed(index) } })
            client.start()
            if index % 500 == 499 {
                for pending in sdkClients[(index - 499)...index] { try await pending.waitUntilConnected(timeout: .seconds(60)) }
                progress("  \(index + 1) connected")
            }
        }
        for pending in sdkClients { try await pending.waitUntilConnected(timeout: .seconds(60)) }
        // Each socket's `connection:connected` (its recovery record: it is in no room yet) is on the topic before
        // the kill: records a crash loses make their sockets unrecoverable (`recovered: false`), which is not what
        // this measures.
        let admin = try KafkaAdmin(
            configuration: KafkaConfiguration(bootstrapServers: broker.bootstrapServers, statisticsInterval: nil),
            logger: logger)
        let waitDeadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < waitDeadline {
            var records: Int64 = 0
            for partition in 0..<Int32(12) {
                records += try await admin.watermarks(
                    TopicPartition(topic: Topics.gatewayConnections, partition: partition)).high
            }
            if records >= Int64(clients) { print("records on gateway.connections: \(records)"); break }
            try await Task.sleep(for: .milliseconds(200))
        }

        let kafka = KafkaConfiguration(bootstrapServers: broker.bootstrapServers, statisticsInterval: nil)
        let producer = EnvelopeProducer(
            producer: try KafkaProducer(configuration: KafkaProducerConfiguration(kafka: kafka), logger: logger),
            source: Source(service: "bench", instance: "storm"))
        // Connected before the kill, so the storm's clock does not include the producer's own start.
        _ = try await producer.producer.partitions(of: Topics.gatewayDeliveries)
        observations.arm()
        let killedAt = ContinuousClock.now
        first.signal(SIGKILL)
        _ = await first.waitForExit(timeout: .seconds(10))
        progress("gateway 1 killed; producing \(users) deliveries (one per user) while it is down")
        for user in 0..<users {
            try await producer.enqueue(Delivery.event("storm:missed", data: ["user": .number(Double(user))],
                                                      to: .user("storm-\(user)")), key: "storm-\(user)")
        }
        try await producer.producer.flush(timeout: .seconds(10))
        if downSeconds > 0 { try await Task.sleep(for: .milliseconds(Int(downSeconds * 1000))) }
        let startedAfter = (ContinuousClock.now - killedAt).seconds
        let second = try await startGateway("storm-gateway-2")
        let readyAfter = (ContinuousClock.now - killedAt).seconds
        progress(String(format: "gateway 2 started %.2f s and ready %.2f s after the kill; waiting for the clients",
                        startedAfter, readyAfter))
        let deadline = ContinuousClock.now + .seconds(120)
        var lastReport = ContinuousClock.now
        while observations.counts.recovered < clients, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
            if ContinuousClock.now - lastReport > .seconds(1) {
                lastReport = .now
                let counts = observations.counts
                progress(String(format: "  %.1f s: %d reconnected, %d recovered", (ContinuousClock.now - killedAt).seconds,
                                counts.reconnected, counts.recovered))
            }
        }
        let stormSeconds = (ContinuousClock.now - killedAt).seconds
        try await Task.sleep(for: .milliseconds(500))  // late duplicates would show now
        let cpu = ProcessProbe.cpuSeconds(pid: second.pid) ?? 0
        let (reconnect, recover, recovered, duplicates) = observations.report(since: killedAt)
        for client in sdkClients { await client.close() }
        for watcher in watchers { watcher.cancel() }
        await producer.producer.close()
        await second.terminate(grace: .seconds(10))
        try? await group.shutdownGracefully()
        return ReconnectReport(
            clients: clients, users: users, gatewayReadySeconds: readyAfter, gatewayStartedSeconds: startedAfter,
            reconnectSeconds: reconnect,
            recoverSeconds: recover, recovered: recovered, duplicates: duplicates, gatewayCPUSeconds: cpu,
            stormSeconds: stormSeconds)
    }
}
