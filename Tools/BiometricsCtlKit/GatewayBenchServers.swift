import Auth
import Foundation
import Kafka
import Logging
import Messages
import Runtime
import SocketIO
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The servers `bench gateway` measures side by side.
enum GatewayBenchServerKind: String, Sendable, Codable, CaseIterable {
    /// This project's gateway, with its broker.
    case gateway
    /// The raw NIO WebSocket broadcast server: the limit.
    case raw
    /// python-socketio on aiohttp: the peer.
    case python = "python-socketio"

    /// The column title in reports.
    var label: String {
        switch self {
        case .gateway: "our gateway"
        case .raw: "raw NIO limit"
        case .python: "python-socketio + aiohttp"
        }
    }
}

/// Where the programs under test are and how they are pinned.
struct GatewayBenchPrograms: Sendable {
    /// This executable (`bench raw-server`, `bench broker-process`).
    var biometricsctl: String
    /// The gateway executable.
    var gateway: String
    /// The Python interpreter with python-socketio and aiohttp.
    var python: String
    /// The python-socketio server script.
    var peerScript: String
    /// `taskset -c N` for the server under test, or empty.
    var serverPrefix: [String]
    /// `taskset -c N` for helpers on the load generator's CPU (the broker), or empty.
    var clientPrefix: [String]
    /// Scratch directory for logs and ready files.
    var scratch: URL
}

/// The Kafka side of a gateway run: the broker process, a delivery producer and the stand-in service that answers
/// acks.
struct GatewayBenchKafka: Sendable {
    let broker: BrokerProcess
    let producer: EnvelopeProducer
    let responder: AckResponder
}

/// A server under test, running as a child process pinned to the server CPU.
final class BenchServer: Sendable {
    /// Which server.
    let kind: GatewayBenchServerKind
    /// Its process (its PID is what CPU time and RSS are read from).
    let process: ChildProcess
    /// Its port on 127.0.0.1.
    let port: Int
    /// The CONNECT auth object its clients send.
    let auth: SocketIOObject?
    /// Gateway only: broker, producer, ack responder.
    let kafka: GatewayBenchKafka?
    /// Gateway only: signs tokens for other users.
    private let issuer: DevTokenIssuer?

    private init(kind: GatewayBenchServerKind, process: ChildProcess, port: Int, auth: SocketIOObject?,
                 kafka: GatewayBenchKafka? = nil, issuer: DevTokenIssuer? = nil) {
        self.kind = kind
        self.process = process
        self.port = port
        self.auth = auth
        self.kafka = kafka
        self.issuer = issuer
    }

    /// Auth objects for `count` distinct users (`bench-idle-<i>`), as a production gateway's connections mostly
    /// are: each user then has a `user:<id>` room and a socket count of its own. Nil when the server ignores auth.
    func distinctUserAuth(count: Int) async throws -> [SocketIOObject]? {
        guard let issuer else { return nil }
        let now = Date()
        var auth: [SocketIOObject] = []
        auth.reserveCapacity(count)
        for index in 0..<count {
            let token = try await issuer.token(for: AccessTokenClaims(
                subject: "bench-idle-\(index)", expiresAt: now.addingTimeInterval(24 * 3600), issuedAt: now))
            auth.append(["token": .string(token)])
        }
        return auth
    }

    /// The user every gateway bench client authenticates as: one `.user` target then names all of them, and the
    /// `join` control that puts them in the room is a single delivery.
    static let benchUser = "bench-user"
    /// The server room the gateway's clients join.
    static let benchRoom = "room:bench"

    /// Starts `kind` and waits until it accepts connections.
    static func start(_ kind: GatewayBenchServerKind, programs: GatewayBenchPrograms, logger: Logger) async throws
        -> BenchServer
    {
        let port = try Loopback.freePort()
        let log = programs.scratch.appendingPathComponent("\(kind.rawValue).log")
        let ready = programs.scratch.appendingPathComponent("\(kind.rawValue).ready").path
        unlink(ready)
        switch kind {
        case .raw:
            let process = try spawn(programs.serverPrefix + [
                programs.biometricsctl, "bench", "raw-server", "--port", "\(port)", "--ready-file", ready,
            ], environment: [:], log: log)
            try await waitForFile(ready, process: process)
            return BenchServer(kind: kind, process: process, port: port, auth: nil)
        case .python:
            let process = try spawn(programs.serverPrefix + [
                programs.python, programs.peerScript, "--port", "\(port)", "--ready-file", ready,
            ], environment: [:], log: log)
            try await waitForFile(ready, process: process)
            return BenchServer(kind: kind, process: process, port: port, auth: ["token": "unused"])
        case .gateway:
            return try await startGateway(port: port, programs: programs, log: log, logger: logger)
        }
    }

    private static func startGateway(port: Int, programs: GatewayBenchPrograms, log: URL, logger: Logger)
        async throws -> BenchServer
    {
        let broker = try await BrokerProcess.start(
            topics: Topics.all.map(\.name), partitions: 12, directory: programs.scratch.path,
            prefix: programs.clientPrefix)
        do {
            let secret = DevTokenIssuer.generateSecret()
            let now = Date()
            let issuer = try DevTokenIssuer(secret: secret)
            let token = try await issuer.token(for: AccessTokenClaims(
                subject: benchUser, expiresAt: now.addingTimeInterval(24 * 3600), issuedAt: now))
            let environment = [
                "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrapServers,
                "KAFKA_SESSION_TIMEOUT_MS": "6000",  // the mock broker's rebalance lasts session.timeout.ms − 1 s
                "JWT_HS256_SECRET": secret,
                "GATEWAY_HOST": "127.0.0.1",
                "GATEWAY_PORT": "\(port)",
                "INSTANCE_ID": "bench-gateway",
                "LOG_LEVEL": "warning",
                // The benchmark's clients are one user on a few addresses, sending as fast as acks come back:
                // lift the per-user, per-address and per-socket limits (every other setting is the default).
                "MAX_SOCKETS_PER_USER": "100000",
                "MAX_CONNECTIONS_PER_IP_PER_MINUTE": "10000000",
                "RATE_LIMIT_EVENTS_PER_SECOND": "100000",
                "RATE_LIMIT_BURST": "100000",
            ]
            let process = try spawn(programs.serverPrefix + [programs.gateway], environment: environment, log: log)
            let deadline = ContinuousClock.now + .seconds(60)
            while Loopback.httpStatus(port: port, path: "/ready") != 200 {
                if let status = process.exitStatus {
                    throw BenchError("the gateway exited (\(status)): \(process.logTail(lines: 30))")
                }
                guard ContinuousClock.now < deadline else {
                    await process.terminate(grace: .seconds(3))
                    throw BenchError("the gateway was not ready within 60 s: \(process.logTail(lines: 30))")
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            let kafka = KafkaConfiguration(bootstrapServers: broker.bootstrapServers, clientId: "bench-gateway",
                                           statisticsInterval: nil)
            let producer = EnvelopeProducer(
                producer: try KafkaProducer(configuration: KafkaProducerConfiguration(kafka: kafka), logger: logger),
                source: Source(service: "bench", instance: "bench-\(getpid())"))
            let responder = try AckResponder(kafka: kafka, producer: producer, logger: logger)
            return BenchServer(kind: .gateway, process: process, port: port, auth: ["token": .string(token)],
                               kafka: GatewayBenchKafka(broker: broker, producer: producer, responder: responder),
                               issuer: issuer)
        } catch {
            broker.stop()
            throw error
        }
    }

    /// Stops the server (SIGTERM, SIGKILL after 10 s) and, for the gateway, the responder, producer and broker;
    /// returns how the server ended.
    func stop() async -> String {
        let status = await process.terminate(grace: .seconds(10))
        if let kafka {
            await kafka.responder.stop()
            await kafka.producer.producer.close()
            kafka.broker.stop()
        }
        return status.map { "\($0)" } ?? "did not exit"
    }

    private static func spawn(_ command: [String], environment: [String: String], log: URL) throws -> ChildProcess {
        try ChildProcess(executable: command[0], arguments: Array(command.dropFirst()), environment: environment,
                         standardOutput: .file(log, append: false))
    }

    private static func waitForFile(_ path: String, process: ChildProcess) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while !FileManager.default.fileExists(atPath: path) {
            if let status = process.exitStatus {
                throw BenchError("\(process.executable) exited (\(status)): \(process.logTail(lines: 30))")
            }
            guard ContinuousClock.now < deadline else {
                await process.terminate(grace: .seconds(3))
                throw BenchError("\(process.executable) did not listen within 30 s: \(process.logTail(lines: 30))")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}

/// The stand-in for the presence service in the emit→ack measurement: reads `presence.commands` and answers every
/// command that asks for a reply with an `ack` delivery to its socket, as a real service would. The gateway's
/// emit→ack time is therefore a full Kafka round trip (gateway → broker → service → broker → gateway).
final class AckResponder: Sendable {
    private let consumer: KafkaConsumer
    private let task: Task<Void, Never>

    /// Starts reading from the beginning of `presence.commands` (empty before the benchmark's first emit).
    init(kafka: KafkaConfiguration, producer: EnvelopeProducer, logger: Logger) throws {
        let partitions = (0..<Int32(12)).map { TopicPartition(topic: Topics.presenceCommands, partition: $0) }
        let consumer = try KafkaConsumer(
            configuration: KafkaConsumerConfiguration(
                kafka: kafka, mode: .assign(Dictionary(uniqueKeysWithValues: partitions.map { ($0, .beginning) }))),
            logger: logger)
        self.consumer = consumer
        task = Task {
            for await record in consumer.messages {
                guard let envelope = try? MessageCoding.decode(RawEnvelope.self, from: Data(record.value)),
                      let reply = envelope.reply
                else { continue }
                let answer = Delivery.control(
                    DeliveryControl(action: .ack, ackId: reply.ackId, data: .object(["ok": .bool(true)])),
                    to: .socket(reply.socketId), gatewayId: reply.gatewayId)
                do {
                    try await producer.enqueue(answer, key: reply.socketId)
                } catch {
                    logger.warning("ack answer not produced", metadata: ["error.message": "\(error)"])
                }
            }
        }
    }

    /// Closes the consumer and waits for the reading task.
    func stop() async {
        await consumer.close()
        await task.value
    }
}

/// CPU time and memory of another process, from `/proc` (Linux).
enum ProcessProbe {
    /// Resident set size in bytes (`VmRSS` of `/proc/<pid>/status`).
    static func residentBytes(pid: pid_t) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kib = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        else { return nil }
        return kib * 1024
    }

    /// User + system CPU seconds of every thread so far (`utime` + `stime` of `/proc/<pid>/stat`, 10 ms ticks).
    static func cpuSeconds(pid: pid_t) -> Double? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")")
        else { return nil }
        // After "pid (comm) ": state is field 3, utime field 14, stime field 15.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// The machine's 1-minute load average (first field of `/proc/loadavg`).
    static func loadAverage() -> Double? {
        (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))
            .flatMap { $0.split(separator: " ").first }.flatMap { Double($0) }
    }
}

/// Busy shares of single CPUs from `/proc/stat`: whether a pinned process had its core to itself.
struct CoreSample: Sendable {
    /// Jiffies per CPU: (busy, total); busy counts user, nice, system, irq, softirq and steal.
    let cores: [Int: (busy: Double, total: Double)]

    /// Reads `/proc/stat` now.
    static func now() -> CoreSample {
        var cores: [Int: (busy: Double, total: Double)] = [:]
        let stat = (try? String(contentsOfFile: "/proc/stat", encoding: .utf8)) ?? ""
        for line in stat.split(separator: "\n") where line.hasPrefix("cpu") && !line.hasPrefix("cpu ") {
            let fields = line.split(separator: " ")
            guard let cpu = Int(fields[0].dropFirst(3)) else { continue }
            let values = fields.dropFirst().compactMap { Double($0) }
            guard values.count >= 8 else { continue }
            // user nice system idle iowait irq softirq steal
            let busy = values[0] + values[1] + values[2] + values[5] + values[6] + values[7]
            cores[cpu] = (busy, busy + values[3] + values[4])
        }
        return CoreSample(cores: cores)
    }

    /// The share of `cpu` that was busy between `earlier` and this sample (0 when unknown).
    func busyShare(of cpu: Int?, since earlier: CoreSample) -> Double {
        guard let cpu, let now = cores[cpu], let then = earlier.cores[cpu], now.total > then.total else { return 0 }
        return (now.busy - then.busy) / (now.total - then.total)
    }
}

