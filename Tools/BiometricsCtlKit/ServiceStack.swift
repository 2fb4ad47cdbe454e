import Auth
import Crypto
import Foundation
import Kafka
import Logging
import Messages
import Runtime

#if canImport(Glibc)
import Glibc
#endif

/// A service executable a ``ServiceStack`` can run besides its gateways.
enum StackService: String, Sendable, Hashable, CaseIterable {
    case verificationWorker = "verification-worker"
    case presence = "presence-service"
    case notification = "notification-service"
}

/// Where the programs of a ``ServiceStack`` are and how they are pinned.
struct StackPrograms: Sendable {
    /// The directory holding `gateway`, `verification-worker`, `presence-service`, `notification-service`.
    var serviceDirectory: URL
    /// Paths that replace `<serviceDirectory>/<name>` for some executables (`--gateway`, `--worker` of `bench verify`).
    var overrides: [String: String] = [:]
    /// `redis-server`.
    var redisServer: String
    /// The `biometricsctl` that runs the broker (`bench broker-process`); `nil`: this process's own executable.
    var biometricsctl: String?
    /// `taskset -c N` for the server side (gateways, services, redis-server), or empty.
    var serverPrefix: [String] = []
    /// `taskset -c N` for the broker (on the load generator's CPU), or empty.
    var clientPrefix: [String] = []
    /// `taskset -c N` for redis-server when it is not to share the server side's CPU; nil: ``serverPrefix``.
    var redisPrefix: [String]? = nil
    /// Scratch directory for logs, ready files, the notification database and Redis's append-only file.
    var scratch: URL

    /// The path of executable `name`.
    func executable(_ name: String) -> String {
        overrides[name] ?? serviceDirectory.appendingPathComponent(name).path
    }
}

/// A user of a ``ServiceStack``: owns one enrolled ES256 record (same id) and holds a token.
struct StackUser: Sendable {
    /// User id and record id.
    let id: String
    /// The private key of the record.
    let key: P256.Signing.PrivateKey
    /// An HS256 token for the stack's gateways (24 h).
    let token: String
}

/// What a ``ServiceStack`` runs.
struct ServiceStackOptions: Sendable {
    /// Users to enrol and mint tokens for (`<userPrefix><i>`).
    var users: Int
    /// Prefix of user and record ids.
    var userPrefix = "stack-user-"
    /// Gateways (`gateway-a`, `gateway-b`, …), each on its own port, all in front of the same services.
    var gateways = 1
    /// Services behind the gateways.
    var services: [StackService] = [.verificationWorker]
    /// Redis with an append-only file (fsync every second): a restarted redis-server keeps its data.
    var redisAppendOnly = false
    /// Partitions per topic of the broker.
    var partitions = 12
    /// The token's `scope` and `rooms` claims.
    var tokenScope: String?
    var tokenRooms: [String]?
    /// Variables every service and gateway gets (e.g. `KAFKA_*`), before the more specific ones below.
    var commonEnvironment: [String: String] = [:]
    /// Variables the gateways get on top.
    var gatewayEnvironment: [String: String] = [:]
    /// Variables each service gets on top.
    var serviceEnvironment: [StackService: [String: String]] = [:]
    /// `LOG_LEVEL` of every process (`STACK_LOG_LEVEL` overrides it).
    var logLevel = ProcessInfo.processInfo.environment["STACK_LOG_LEVEL"] ?? "warning"
}

/// Real processes in front of a real broker: the embedded broker in its own process, redis-server, one or more
/// gateways and the chosen services, each ready when ``start(options:programs:logger:)`` returns, each killable
/// (`kill -9`) and restartable under its old configuration (``StackProcess``); the broker can be taken down and
/// back with its data (``BrokerProcess/setDown()``). What `bench verify`, `chaos` and `soak` run on.
final class ServiceStack: Sendable {
    /// The broker.
    let broker: BrokerProcess
    /// redis-server.
    let redis: StackProcess
    /// The gateways, `gateway-a` first.
    let gateways: [StackProcess]
    /// Each gateway's port (Socket.IO and `/ready`), in the order of ``gateways``.
    let gatewayPorts: [Int]
    /// The services, by kind.
    let services: [StackService: StackProcess]
    /// The Redis URL the services use.
    let redisURL: String
    /// The users, each with its record, key and token.
    let users: [StackUser]

    private init(broker: BrokerProcess, redis: StackProcess, gateways: [StackProcess], gatewayPorts: [Int],
                 services: [StackService: StackProcess], redisURL: String, users: [StackUser]) {
        self.broker = broker
        self.redis = redis
        self.gateways = gateways
        self.gatewayPorts = gatewayPorts
        self.services = services
        self.redisURL = redisURL
        self.users = users
    }

    /// Every process but the broker: gateways, services, redis-server.
    var processes: [StackProcess] {
        gateways + StackService.allCases.compactMap { services[$0] } + [redis]
    }

    /// Name and PID of every running process, the broker included (CPU, RSS and fd accounting).
    var runningProcesses: [(name: String, pid: pid_t)] {
        processes.compactMap { process in process.pid.map { (process.name, $0) } } + [("broker", broker.pid)]
    }

    /// Starts everything: broker, redis-server, enrolment of the users' records (before any worker starts, so its
    /// start-up read has them), gateways and services, and waits until each is ready. Stops what it started on failure.
    static func start(options: ServiceStackOptions, programs: StackPrograms, logger: Logger) async throws
        -> ServiceStack
    {
        let broker = try await BrokerProcess.start(
            topics: Topics.all.map(\.name), partitions: options.partitions, directory: programs.scratch.path,
            prefix: programs.clientPrefix, executable: programs.biometricsctl)
        var started: [StackProcess] = []
        do {
            let redisPort = try Loopback.freePort()
            var redisArguments = [
                programs.redisServer, "--port", "\(redisPort)", "--bind", "127.0.0.1", "--save", "",
                "--dir", programs.scratch.path, "--daemonize", "no",
            ]
            redisArguments += options.redisAppendOnly
                ? ["--appendonly", "yes", "--appendfsync", "everysec", "--appendfilename", "stack.aof"]
                : ["--appendonly", "no"]
            let redis = StackProcess(
                name: "redis-server", command: (programs.redisPrefix ?? programs.serverPrefix) + redisArguments, environment: [:],
                log: programs.scratch.appendingPathComponent("redis-server.log"), readiness: .redisPing(port: redisPort))
            started.append(redis)
            try await redis.start()
            let redisURL = "redis://127.0.0.1:\(redisPort)"

            let users = try await enrol(options: options, bootstrapServers: broker.bootstrapServers, logger: logger)
            let secret = users.secret

            var common = options.commonEnvironment.merging([
                "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrapServers,
                "KAFKA_SESSION_TIMEOUT_MS": "6000",  // the mock broker's rebalance lasts session.timeout.ms − 1 s
                "LOG_LEVEL": options.logLevel,
            ]) { old, _ in old }
            common["KAFKA_BOOTSTRAP_SERVERS"] = broker.bootstrapServers

            var gateways: [StackProcess] = []
            var gatewayPorts: [Int] = []
            for index in 0..<options.gateways {
                let name = "gateway-" + String(UnicodeScalar(UInt8(ascii: "a") + UInt8(index)))
                let port = try Loopback.freePort()
                let environment = common.merging(options.gatewayEnvironment) { $1 }.merging([
                    "JWT_HS256_SECRET": secret, "GATEWAY_HOST": "127.0.0.1", "GATEWAY_PORT": "\(port)",
                    "INSTANCE_ID": name,
                ]) { $1 }
                let gateway = StackProcess(
                    name: name, command: programs.serverPrefix + [programs.executable("gateway")],
                    environment: environment, log: programs.scratch.appendingPathComponent("\(name).log"),
                    readiness: .http(port: port))
                gateways.append(gateway)
                gatewayPorts.append(port)
            }
            var services: [StackService: StackProcess] = [:]
            for service in options.services {
                let port = try Loopback.freePort()
                var environment = common.merging([
                    "REDIS_URL": redisURL, "HTTP_PORT": "\(port)", "INSTANCE_ID": service.rawValue,
                ]) { $1 }
                if service == .notification {
                    environment["NOTIFICATION_DB_PATH"] =
                        programs.scratch.appendingPathComponent("notifications.sqlite").path
                }
                environment.merge(options.serviceEnvironment[service] ?? [:]) { $1 }
                services[service] = StackProcess(
                    name: service.rawValue, command: programs.serverPrefix + [programs.executable(service.rawValue)],
                    environment: environment, log: programs.scratch.appendingPathComponent("\(service.rawValue).log"),
                    readiness: .http(port: port))
            }
            // Spawn all, then wait for each: they start in parallel.
            let all = gateways + StackService.allCases.compactMap { services[$0] }
            started += all
            try await withThrowingTaskGroup(of: Void.self) { group in
                for process in all { group.addTask { try await process.start() } }
                try await group.waitForAll()
            }
            return ServiceStack(broker: broker, redis: redis, gateways: gateways, gatewayPorts: gatewayPorts,
                                services: services, redisURL: redisURL, users: users.users)
        } catch {
            for process in started.reversed() { await process.stop(grace: .seconds(5)) }
            broker.stop()
            throw error
        }
    }

    /// Stops the gateways, the services and redis-server (SIGTERM, SIGKILL after 10 s), then the broker.
    func stop() async {
        await withTaskGroup(of: Void.self) { group in
            for process in gateways + StackService.allCases.compactMap({ services[$0] }) {
                group.addTask { await process.stop(grace: .seconds(10)) }
            }
        }
        await redis.stop(grace: .seconds(10))
        broker.stop()
    }

    /// The process called `name` (`gateway-a`, `presence-service`, `redis-server`, …).
    func process(named name: String) -> StackProcess? {
        processes.first { $0.name == name }
    }

    /// The device of user `id`'s record (it may stream frames for it).
    static func device(of id: String) -> String { id + "-device" }

    /// Publishes one ES256 record per user (id = user id) and mints each user a token with a fresh secret.
    private static func enrol(options: ServiceStackOptions, bootstrapServers: String, logger: Logger) async throws
        -> (users: [StackUser], secret: String)
    {
        let publisher = RecordPublisher(
            kafka: KafkaConfiguration(bootstrapServers: bootstrapServers, clientId: "service-stack",
                                      statisticsInterval: nil),
            logger: logger)
        let secret = DevTokenIssuer.generateSecret()
        let issuer = try DevTokenIssuer(secret: secret)
        let now = Date()
        var users: [StackUser] = []
        for index in 0..<options.users {
            let id = options.userPrefix + "\(index)"
            let key = P256.Signing.PrivateKey()
            try await publisher.publish(BiometricRecord(
                recordId: id, ownerUserId: id, deviceIds: [device(of: id)], publicKey: RecordPublisher.jwk(key.publicKey),
                status: .active, grantedRoles: []))
            let token = try await issuer.token(for: AccessTokenClaims(
                subject: id, expiresAt: now.addingTimeInterval(24 * 3600), issuedAt: now, scope: options.tokenScope,
                rooms: options.tokenRooms))
            users.append(StackUser(id: id, key: key, token: token))
        }
        return (users, secret)
    }
}
