import Auth
import Foundation
import Kafka
import Logging
import Messages
import Runtime
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A service executable the dev stack starts when it has been built next to `biometricsctl`.
struct DevService: Sendable, Hashable {
    /// Executable name, also the log file name (`<run-dir>/logs/<name>.log`).
    let name: String
    /// Port of its ops endpoint (`/health`, `/ready`, `/metrics`), passed as `HTTP_PORT`.
    let defaultPort: Int
    /// The DESIGN §6 variable that moves this service's port (and is passed to it too), if there is one.
    let portVariable: String?

    /// The edge: Socket.IO on `GATEWAY_PATH`, with `/ready` on the same port.
    static let gateway = DevService(name: "gateway", defaultPort: 3001, portVariable: "GATEWAY_PORT")
    /// The one Prometheus scrape target.
    static let metricsExporter = DevService(name: "metrics-exporter", defaultPort: 9464, portVariable: "METRICS_EXPORTER_PORT")

    /// Variables only this service reads, pointing into the run directory (state that outlives one `make run`).
    func environment(runDirectory: URL) -> [String: String] {
        switch name {
        case "notification-service":
            ["NOTIFICATION_DB_PATH": runDirectory.appendingPathComponent("notifications.sqlite").path]
        default:
            [:]
        }
    }

    /// Every service of the stack, in start order. The one list of service executables and their ops ports.
    static let all: [DevService] = [
        gateway,
        DevService(name: "verification-worker", defaultPort: 9101, portVariable: nil),
        DevService(name: "notification-service", defaultPort: 9102, portVariable: nil),
        DevService(name: "presence-service", defaultPort: 9103, portVariable: nil),
        metricsExporter,
    ]
}

/// What the dev stack runs and where, from `biometricsctl dev`'s options and the environment.
struct DevStackSettings: Sendable {
    /// `ALLOWED_ORIGINS` for the services when it is unset: the web app's dev server.
    static let defaultAllowedOrigins = "http://localhost:3000"
    /// The dev token's user, roles, scope, rooms and lifetime.
    static let tokenUser = "dev-user"
    static let tokenRoles = ["ADMIN"]
    static let tokenScope = "notifications:send"
    static let tokenRooms = ["team-1", "team-2"]
    static let tokenLifetime: Duration = .seconds(12 * 3600)

    /// Logs go to `<runDirectory>/logs`, the local Redis's files to `<runDirectory>/redis` (removed on exit).
    var runDirectory: URL
    /// Where service executables are looked for (the directory of `biometricsctl` itself).
    var serviceDirectory: URL
    /// `KAFKA_BOOTSTRAP_SERVERS`: a real cluster to use instead of the embedded broker.
    var kafkaBootstrapServers: String?
    /// `REDIS_URL`: a Redis to use instead of starting `redis-server`.
    var redisURL: String?
    /// Whether to start `redis-server` when `REDIS_URL` is unset.
    var startsRedis: Bool
    /// `JWT_HS256_SECRET` (≥ 32 bytes); `nil` makes the stack generate one.
    var jwtSecret: String?
    /// `JWT_ISSUER` / `JWT_AUDIENCE`, put into the dev token when set.
    var jwtIssuer: String?
    var jwtAudience: String?
    /// `ALLOWED_ORIGINS` passed to the services.
    var allowedOrigins: String
    /// `GATEWAY_PATH`, for the printed gateway URL.
    var gatewayPath: String
    /// The ops port of each service.
    var ports: [String: Int]
    /// The services to start if built.
    var services: [DevService] = DevService.all
    /// How long all services together may take to answer `/ready`.
    var readinessTimeout: Duration
    /// How long a child may take to exit after SIGTERM before it gets SIGKILL.
    var stopGrace: Duration = .seconds(10)

    /// Reads the settings; throws a ``ConfigurationError`` naming the variable for a bad value.
    init(
        environment: EnvironmentReader, runDirectory: URL, serviceDirectory: URL, startsRedis: Bool,
        readinessTimeout: Duration
    ) throws {
        self.runDirectory = runDirectory
        self.serviceDirectory = serviceDirectory
        self.startsRedis = startsRedis
        self.readinessTimeout = readinessTimeout
        kafkaBootstrapServers = environment.optionalString("KAFKA_BOOTSTRAP_SERVERS")
        redisURL = environment.optionalString("REDIS_URL")
        if let secret = environment.variables["JWT_HS256_SECRET"], !secret.isEmpty {
            guard secret.utf8.count >= DevTokenIssuer.minimumSecretLength else {
                throw ConfigurationError(
                    code: .invalid, variable: "JWT_HS256_SECRET",
                    reason: "is \(secret.utf8.count) bytes; an HS256 secret must be at least "
                        + "\(DevTokenIssuer.minimumSecretLength) bytes (unset it to have the dev stack generate one)")
            }
            jwtSecret = secret
        }
        jwtIssuer = environment.optionalString("JWT_ISSUER")
        jwtAudience = environment.optionalString("JWT_AUDIENCE")
        // Set but empty is meaningful for ALLOWED_ORIGINS (no browser origin allowed), so only unset gets the default.
        allowedOrigins = environment.variables["ALLOWED_ORIGINS"] ?? Self.defaultAllowedOrigins
        let path = environment.string("GATEWAY_PATH", default: "/ws")
        gatewayPath = path.hasPrefix("/") ? path : "/" + path
        var ports: [String: Int] = [:]
        for service in DevService.all {
            ports[service.name] = try service.portVariable.map { try environment.port($0, default: service.defaultPort) }
                ?? service.defaultPort
        }
        self.ports = ports
    }

    /// The ops port of `service`.
    func port(of service: DevService) -> Int { ports[service.name] ?? service.defaultPort }
}

/// Where the running stack can be reached, and the dev credentials; printed once everything is ready.
struct DevStackEndpoints: Sendable, Equatable {
    /// `ws://127.0.0.1:3001/ws`, or `nil` when no gateway is built.
    var gateway: String?
    /// Kafka bootstrap servers.
    var broker: String
    /// `http://127.0.0.1:9464/metrics`, or `nil` when no metrics exporter is built.
    var metrics: String?
    /// The Redis URL the services got, or `nil` (`--no-redis`).
    var redis: String?
    /// The HS256 secret the services verify tokens with.
    var jwtSecret: String
    /// Whether the secret was generated (and so must be printed for the developer).
    var jwtSecretGenerated: Bool
    /// The dev token.
    var token: String
    /// Services that are not built and so were not started.
    var missingServices: [String]

    /// `READY gateway=… broker=… metrics=… redis=…` (`none` for what is not running): the line tools wait for.
    var readyLine: String {
        "READY gateway=\(gateway ?? "none") broker=\(broker) metrics=\(metrics ?? "none") redis=\(redis ?? "none")"
    }

    /// Everything printed once the stack is ready: the secret (if generated), READY, TOKEN and a short hint.
    func announcement(command: String, logDirectory: String) -> [String] {
        var lines: [String] = []
        if jwtSecretGenerated { lines.append("JWT_HS256_SECRET=\(jwtSecret)") }
        lines.append(readyLine)
        lines.append("TOKEN \(token)")
        if let gateway, let url = URL(string: gateway), let host = url.host, let port = url.port {
            lines.append(
                "# connect: io('http://\(host):\(port)', { path: '\(url.path)', auth: { token: '<TOKEN>' }, "
                    + "transports: ['websocket', 'polling'] })  (socket.io-client v4)")
        } else {
            lines.append("# no gateway built yet: broker and Redis are up; `swift build` builds the services")
        }
        if !missingServices.isEmpty {
            lines.append("# not built, not started: \(missingServices.joined(separator: ", "))")
        }
        let secretPrefix = jwtSecretGenerated ? "JWT_HS256_SECRET=\(jwtSecret) " : ""
        lines.append(
            "# another token: \(secretPrefix)\(command) token --user alice --roles ADMIN "
                + "--scope notifications:send --rooms team-1,team-2 --ttl 3600")
        lines.append("# logs: \(logDirectory)/<service>.log; Ctrl-C stops everything")
        return lines
    }
}

/// A child of the stack ended or the stack could not start; the description says which and why.
struct DevStackError: Error, CustomStringConvertible {
    let description: String

    /// `name` exited while the stack was running (or starting); includes the tail of its log.
    static func exited(_ name: String, _ status: ChildProcess.ExitStatus, process: ChildProcess) -> DevStackError {
        DevStackError(
            description: "\(name) (pid \(process.pid)) exited unexpectedly with \(status); last lines of "
                + "\(process.logFile?.path ?? "its output"):\n\(process.logTail(lines: 20))")
    }
}

/// The whole dev stack: broker, Redis, every built service; started, watched and stopped as one.
///
/// ``start()`` brings everything up and returns once each service answers `GET /ready` with 200;
/// ``waitForUnexpectedExit()`` returns when a child dies; ``stop()`` ends every child by PID (SIGTERM, then SIGKILL
/// after the grace period), drops the broker and removes `<run-dir>/redis`. `stop()` is safe after a failed or
/// cancelled `start()`.
actor DevStack {
    let settings: DevStackSettings
    private let logger: Logger
    private let output: @Sendable (String) -> Void

    private var broker: EmbeddedBroker?
    private var redis: ChildProcess?
    private var services: [(service: DevService, process: ChildProcess)] = []
    private var isStopping = false

    /// Creates the stack; nothing runs before ``start()``. `output` prints a line to standard output.
    init(settings: DevStackSettings, logger: Logger, output: @escaping @Sendable (String) -> Void) {
        self.settings = settings
        self.logger = logger
        self.output = output
    }

    /// `<run-dir>/logs`.
    nonisolated var logDirectory: URL { settings.runDirectory.appendingPathComponent("logs", isDirectory: true) }
    /// `<run-dir>/redis`, the local Redis's working directory.
    nonisolated var redisDirectory: URL { settings.runDirectory.appendingPathComponent("redis", isDirectory: true) }

    /// The PID of the local `redis-server`, if the stack started one.
    var redisPID: pid_t? { redis?.pid }

    /// Starts the broker, Redis and every built service, waits until each is ready and mints the dev token.
    func start() async throws -> DevStackEndpoints {
        try FileManager.default.createDirectory(at: logDirectory, withIntermediateDirectories: true)

        let bootstrapServers = try await startBroker()
        let redisURL = try await startRedis()
        let secret = settings.jwtSecret ?? DevTokenIssuer.generateSecret()

        let built = settings.services.filter { executable(of: $0) != nil }
        let missing = settings.services.filter { executable(of: $0) == nil }.map(\.name)
        if !missing.isEmpty {
            logger.notice(
                "services not built, not started",
                metadata: ["dev.services": .string(missing.joined(separator: ",")),
                           "dev.service_directory": .string(settings.serviceDirectory.path)])
        }
        for service in built {
            try startService(service, bootstrapServers: bootstrapServers, redisURL: redisURL, secret: secret)
        }
        let deadline = ContinuousClock.now + settings.readinessTimeout
        if !services.isEmpty {
            logger.info(
                "waiting for GET /ready",
                metadata: ["dev.services": .string(services.map(\.service.name).joined(separator: ",")),
                           "dev.timeout": .stringConvertible(settings.readinessTimeout)])
        }
        for (service, process) in services {
            try await waitUntilReady(service, process, deadline: deadline)
        }

        let isBuilt = { (service: DevService) in built.contains(service) }
        return DevStackEndpoints(
            gateway: isBuilt(.gateway)
                ? "ws://127.0.0.1:\(settings.port(of: .gateway))\(settings.gatewayPath)" : nil,
            broker: bootstrapServers,
            metrics: isBuilt(.metricsExporter)
                ? "http://127.0.0.1:\(settings.port(of: .metricsExporter))/metrics" : nil,
            redis: redisURL,
            jwtSecret: secret,
            jwtSecretGenerated: settings.jwtSecret == nil,
            token: try await mintToken(secret: secret),
            missingServices: missing)
    }

    /// Returns (as an error value) when a child exits while the stack runs; throws `CancellationError` when the
    /// calling task is cancelled.
    func waitForUnexpectedExit() async throws -> DevStackError {
        while true {
            try await Task.sleep(for: .milliseconds(200))
            guard !isStopping else { continue }
            if let redis, let status = redis.exitStatus {
                return .exited("redis-server", status, process: redis)
            }
            for (service, process) in services {
                if let status = process.exitStatus { return .exited(service.name, status, process: process) }
            }
        }
    }

    /// Stops every child (services together, then Redis), drops the broker and removes `<run-dir>/redis`.
    func stop() async {
        isStopping = true
        let grace = settings.stopGrace
        let logger = self.logger
        await withTaskGroup(of: Void.self) { group in
            for (service, process) in services {
                group.addTask {
                    let status = await process.terminate(grace: grace)
                    logger.info(
                        "stopped",
                        metadata: ["dev.service": .string(service.name), "process.pid": .stringConvertible(process.pid),
                                   "process.exit": .string(status.map { "\($0)" } ?? "still running after SIGKILL")])
                }
            }
        }
        services = []
        if let redis {
            let status = await redis.terminate(grace: grace)
            logger.info(
                "stopped",
                metadata: ["dev.service": "redis-server", "process.pid": .stringConvertible(redis.pid),
                           "process.exit": .string(status.map { "\($0)" } ?? "still running after SIGKILL")])
            self.redis = nil
        }
        if FileManager.default.fileExists(atPath: redisDirectory.path) {
            try? FileManager.default.removeItem(at: redisDirectory)
        }
        broker = nil
    }

    // MARK: Parts

    private func startBroker() async throws -> String {
        if let external = settings.kafkaBootstrapServers {
            logger.info("using the Kafka cluster from KAFKA_BOOTSTRAP_SERVERS", metadata: ["kafka.bootstrap": .string(external)])
            return external
        }
        // The mock cluster's host client warns that it has no bootstrap.servers of its own: noise below debug.
        var brokerLogger = logger
        if brokerLogger.logLevel > .debug { brokerLogger.logLevel = max(brokerLogger.logLevel, .warning) }
        let broker = try await EmbeddedBroker.start(topics: Topics.all.map(NewTopic.init), logger: brokerLogger)
        self.broker = broker
        logger.info("embedded broker up", metadata: ["kafka.bootstrap": .string(broker.bootstrapServers),
                                                     "kafka.topics": .stringConvertible(Topics.all.count)])
        return broker.bootstrapServers
    }

    /// The Redis URL for the services: `REDIS_URL`, a fresh local `redis-server`, or `nil` with `--no-redis`.
    private func startRedis() async throws -> String? {
        if let url = settings.redisURL { return url }
        guard settings.startsRedis else { return nil }
        guard let executable = ChildProcess.findExecutable("redis-server") else {
            throw DevStackError(
                description: "redis-server not found on PATH or in /usr/local/bin, /usr/bin, /usr/sbin; install it "
                    + "(make deps, or apt-get install redis-server), set REDIS_URL, or pass --no-redis")
        }
        try? FileManager.default.removeItem(at: redisDirectory)
        try FileManager.default.createDirectory(at: redisDirectory, withIntermediateDirectories: true)
        let logFile = logDirectory.appendingPathComponent("redis-server.log")
        try? FileManager.default.removeItem(at: logFile)

        var lastError: (any Error)?
        // A free port can be taken before redis binds it; a few attempts make that harmless.
        for _ in 0..<5 {
            let port = try Loopback.freePort()
            let process = try ChildProcess(
                executable: executable,
                arguments: [
                    "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                    "--dir", redisDirectory.path, "--pidfile", redisDirectory.appendingPathComponent("redis.pid").path,
                    "--daemonize", "no", "--logfile", "",
                ],
                logFile: logFile, newProcessGroup: true)
            redis = process
            let deadline = ContinuousClock.now + .seconds(10)
            while ContinuousClock.now < deadline {
                if let status = process.exitStatus {
                    lastError = DevStackError.exited("redis-server", status, process: process)
                    break
                }
                if Loopback.redisAnswersPing(port: port) {
                    let url = "redis://127.0.0.1:\(port)"
                    output("redis-server pid=\(process.pid) url=\(url) dir=\(redisDirectory.path)")
                    return url
                }
                try await Task.sleep(for: .milliseconds(20))
            }
            if process.isRunning {
                await process.terminate(grace: .seconds(2))
                lastError = DevStackError(
                    description: "redis-server did not answer PING on 127.0.0.1:\(port) within 10 s; last lines of "
                        + "\(logFile.path):\n\(process.logTail())")
            }
            redis = nil
        }
        throw lastError ?? DevStackError(description: "could not start redis-server")
    }

    private func executable(of service: DevService) -> String? {
        let path = settings.serviceDirectory.appendingPathComponent(service.name).path
        return FileManager.default.isExecutableFile(atPath: path) ? path : nil
    }

    private func startService(_ service: DevService, bootstrapServers: String, redisURL: String?, secret: String) throws {
        guard let executable = executable(of: service) else { return }
        let port = settings.port(of: service)
        var environment = [
            "KAFKA_BOOTSTRAP_SERVERS": bootstrapServers,
            "JWT_HS256_SECRET": secret,
            "ALLOWED_ORIGINS": settings.allowedOrigins,
            "HTTP_PORT": String(port),
            "GATEWAY_PATH": settings.gatewayPath,
            // The dev stack is for this machine: listen on loopback unless told otherwise.
            "GATEWAY_HOST": ProcessInfo.processInfo.environment["GATEWAY_HOST"] ?? "127.0.0.1",
        ]
        if let portVariable = service.portVariable { environment[portVariable] = String(port) }
        environment.merge(service.environment(runDirectory: settings.runDirectory)) { $1 }
        if let redisURL { environment["REDIS_URL"] = redisURL }
        if let level = ProcessInfo.processInfo.environment["LOG_LEVEL"] { environment["LOG_LEVEL"] = level }
        let logFile = logDirectory.appendingPathComponent("\(service.name).log")
        try? FileManager.default.removeItem(at: logFile)
        let process = try ChildProcess(
            executable: executable, environment: environment, removingEnvironment: redisURL == nil ? ["REDIS_URL"] : [],
            logFile: logFile, newProcessGroup: true)
        services.append((service, process))
        logger.info(
            "started",
            metadata: ["dev.service": .string(service.name), "process.pid": .stringConvertible(process.pid),
                       "http.port": .stringConvertible(port), "log.file": .string(logFile.path)])
    }

    private func waitUntilReady(_ service: DevService, _ process: ChildProcess, deadline: ContinuousClock.Instant) async throws {
        let port = settings.port(of: service)
        while true {
            if let status = process.exitStatus { throw DevStackError.exited(service.name, status, process: process) }
            if Loopback.httpStatus(port: port, path: "/ready") == 200 {
                logger.info("ready", metadata: ["dev.service": .string(service.name), "http.port": .stringConvertible(port)])
                return
            }
            if ContinuousClock.now >= deadline {
                throw DevStackError(
                    description: "\(service.name) did not answer GET http://127.0.0.1:\(port)/ready with 200 within "
                        + "\(settings.readinessTimeout); last lines of \(process.logFile?.path ?? "its output"):\n"
                        + process.logTail(lines: 20))
            }
            try await Task.sleep(for: .milliseconds(250))
        }
    }

    private func mintToken(secret: String) async throws -> String {
        let issuer = try DevTokenIssuer(secret: secret)
        let now = Date()
        let lifetime = Double(DevStackSettings.tokenLifetime.components.seconds)
        return try await issuer.token(for: AccessTokenClaims(
            subject: DevStackSettings.tokenUser, expiresAt: now.addingTimeInterval(lifetime), issuedAt: now,
            issuer: settings.jwtIssuer, audience: settings.jwtAudience.map { [$0] },
            roles: DevStackSettings.tokenRoles, scope: DevStackSettings.tokenScope, rooms: DevStackSettings.tokenRooms))
    }
}

/// Runs the dev stack as a `Service`: start, announce, watch; on graceful shutdown (SIGTERM/SIGINT) or a child's
/// death, stop everything. Throws when a child died or the stack could not start.
struct DevStackService: Service, CustomStringConvertible {
    let stack: DevStack
    /// How `biometricsctl` was invoked, for the "another token" hint.
    let command: String
    let output: @Sendable (String) -> Void

    var description: String { "DevStack" }

    func run() async throws {
        var failure: (any Error)?
        do {
            try await cancelWhenGracefulShutdown {
                let endpoints = try await stack.start()
                for line in endpoints.announcement(command: command, logDirectory: stack.logDirectory.path) {
                    output(line)
                }
                throw try await stack.waitForUnexpectedExit()
            }
        } catch {
            // A shutdown request while starting or running is the normal way out, whatever it interrupted.
            if !Task.isShuttingDownGracefully { failure = error }
        }
        // Not cancelled even if this task is, so every child is stopped and reaped.
        await Task { [stack = self.stack] in await stack.stop() }.value
        if let failure { throw failure }
    }
}
