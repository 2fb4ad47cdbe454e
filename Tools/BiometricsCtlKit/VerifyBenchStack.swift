import Auth
import Crypto
import Foundation
import Kafka
import Logging
import Messages
import Runtime
import SocketIO

#if canImport(Glibc)
import Glibc
#endif

/// Where the programs of `bench verify` are and how they are pinned.
struct VerifyBenchPrograms: Sendable {
    /// The gateway executable.
    var gateway: String
    /// The verification worker executable.
    var worker: String
    /// `redis-server`.
    var redisServer: String
    /// `taskset -c N` for the server side (gateway, worker, redis-server), or empty.
    var serverPrefix: [String]
    /// `taskset -c N` for the broker (on the load generator's CPU), or empty.
    var clientPrefix: [String]
    /// Scratch directory for logs and ready files.
    var scratch: URL
}

/// The path `bench verify` measures, each part its own process: embedded broker, redis-server, gateway and one
/// verification worker, with `clients` users who each own one enrolled ES256 record (`bench-verify-<i>`).
final class VerifyBenchStack: Sendable {
    /// The broker (on the client CPU, like the gateway benchmark's).
    let broker: BrokerProcess
    /// redis-server.
    let redis: ChildProcess
    /// The gateway.
    let gateway: ChildProcess
    /// The verification worker.
    let worker: ChildProcess
    /// The gateway's port.
    let port: Int
    /// One CONNECT auth object per user.
    let auth: [SocketIOObject]
    /// One private key per user (signs that user's challenges).
    let keys: [P256.Signing.PrivateKey]

    private init(broker: BrokerProcess, redis: ChildProcess, gateway: ChildProcess, worker: ChildProcess, port: Int,
                 auth: [SocketIOObject], keys: [P256.Signing.PrivateKey]) {
        self.broker = broker
        self.redis = redis
        self.gateway = gateway
        self.worker = worker
        self.port = port
        self.auth = auth
        self.keys = keys
    }

    /// The user of client `index`.
    static func user(_ index: Int) -> String { "bench-verify-\(index)" }
    /// The record of client `index`.
    static func record(_ index: Int) -> String { "bench-verify-\(index)" }

    /// The server-side processes, for CPU accounting.
    var serverProcesses: [(name: String, pid: pid_t)] {
        [("gateway", gateway.pid), ("verification-worker", worker.pid), ("redis-server", redis.pid),
         ("broker", broker.pid)]
    }

    /// Starts everything: broker, redis-server, enrolment of `users` records (before the worker starts, so its
    /// start-up read has them), gateway and worker, each ready; both services get `kafkaProperties` as `KAFKA_*`.
    static func start(users: Int, kafkaEnvironment: [String: String], programs: VerifyBenchPrograms, logger: Logger)
        async throws -> VerifyBenchStack
    {
        let broker = try await BrokerProcess.start(
            topics: Topics.all.map(\.name), partitions: 12, directory: programs.scratch.path,
            prefix: programs.clientPrefix)
        var started: [ChildProcess] = []
        do {
            let redisPort = try Loopback.freePort()
            let redis = try spawn(programs.serverPrefix + [
                programs.redisServer, "--port", "\(redisPort)", "--bind", "127.0.0.1", "--save", "", "--appendonly",
                "no", "--dir", programs.scratch.path, "--daemonize", "no",
            ], environment: [:], log: programs.scratch.appendingPathComponent("redis.log"))
            started.append(redis)
            try await waitUntil("redis-server answers PING", process: redis) { Loopback.redisAnswersPing(port: redisPort) }

            var keys: [P256.Signing.PrivateKey] = []
            let publisher = RecordPublisher(
                kafka: KafkaConfiguration(bootstrapServers: broker.bootstrapServers, clientId: "bench-verify",
                                          statisticsInterval: nil),
                logger: logger)
            for index in 0..<users {
                let key = P256.Signing.PrivateKey()
                keys.append(key)
                try await publisher.publish(BiometricRecord(
                    recordId: record(index), ownerUserId: user(index), deviceIds: [],
                    publicKey: RecordPublisher.jwk(key.publicKey), status: .active, grantedRoles: []))
            }

            let secret = DevTokenIssuer.generateSecret()
            let issuer = try DevTokenIssuer(secret: secret)
            var auth: [SocketIOObject] = []
            let now = Date()
            for index in 0..<users {
                let token = try await issuer.token(for: AccessTokenClaims(
                    subject: user(index), expiresAt: now.addingTimeInterval(24 * 3600), issuedAt: now))
                auth.append(["token": .string(token)])
            }

            let port = try Loopback.freePort()
            var gatewayEnvironment = kafkaEnvironment.merging([
                "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrapServers,
                "KAFKA_SESSION_TIMEOUT_MS": "6000",  // the mock broker's rebalance lasts session.timeout.ms − 1 s
                "JWT_HS256_SECRET": secret, "GATEWAY_HOST": "127.0.0.1", "GATEWAY_PORT": "\(port)",
                "INSTANCE_ID": "bench-gateway", "LOG_LEVEL": "warning",
                // A benchmark client sends far more than a person would: lift the per-socket rate limit.
                "RATE_LIMIT_EVENTS_PER_SECOND": "100000", "RATE_LIMIT_BURST": "100000",
            ]) { $1 }
            gatewayEnvironment["ACK_TIMEOUT_MS"] = "30000"
            let gateway = try spawn(programs.serverPrefix + [programs.gateway], environment: gatewayEnvironment,
                                    log: programs.scratch.appendingPathComponent("gateway.log"))
            started.append(gateway)

            let workerPort = try Loopback.freePort()
            let workerEnvironment = kafkaEnvironment.merging([
                "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrapServers, "KAFKA_SESSION_TIMEOUT_MS": "6000",
                "REDIS_URL": "redis://127.0.0.1:\(redisPort)", "HTTP_PORT": "\(workerPort)",
                "INSTANCE_ID": "bench-worker", "LOG_LEVEL": "warning",
                // Challenges are issued in bulk before a phase and used during it.
                "CHALLENGE_TTL_SECONDS": "900",
            ]) { $1 }
            let worker = try spawn(programs.serverPrefix + [programs.worker], environment: workerEnvironment,
                                   log: programs.scratch.appendingPathComponent("worker.log"))
            started.append(worker)
            try await waitUntil("the gateway is ready", process: gateway) {
                Loopback.httpStatus(port: port, path: "/ready") == 200
            }
            try await waitUntil("the worker is ready", process: worker) {
                Loopback.httpStatus(port: workerPort, path: "/ready") == 200
            }
            return VerifyBenchStack(broker: broker, redis: redis, gateway: gateway, worker: worker, port: port,
                                    auth: auth, keys: keys)
        } catch {
            for process in started.reversed() { await process.terminate(grace: .seconds(5)) }
            broker.stop()
            throw error
        }
    }

    /// Stops worker, gateway, redis-server and broker (SIGTERM, then SIGKILL after 10 s).
    func stop() async {
        for process in [worker, gateway, redis] { await process.terminate(grace: .seconds(10)) }
        broker.stop()
    }

    private static func spawn(_ command: [String], environment: [String: String], log: URL) throws -> ChildProcess {
        try ChildProcess(executable: command[0], arguments: Array(command.dropFirst()), environment: environment,
                         standardOutput: .file(log, append: false))
    }

    private static func waitUntil(_ what: String, process: ChildProcess, _ condition: @Sendable () -> Bool)
        async throws
    {
        let deadline = ContinuousClock.now + .seconds(60)
        while !condition() {
            if let status = process.exitStatus {
                throw BenchError("\(process.executable) exited (\(status)): \(process.logTail(lines: 30))")
            }
            guard ContinuousClock.now < deadline else {
                throw BenchError("not so within 60 s: \(what); \(process.logTail(lines: 30))")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}
