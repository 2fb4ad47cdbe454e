import Auth
import Foundation
import Kafka
import Logging
import Redis
import Runtime
import TestSupport
import Testing

@testable import BiometricsCtlKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite("biometricsctl dev", .serialized)
struct DevStackTests {
    // MARK: Pure parts

    @Test("every service is listed once with its default ops port")
    func serviceCatalog() {
        let ports = Dictionary(uniqueKeysWithValues: DevService.all.map { ($0.name, $0.defaultPort) })
        #expect(ports == [
            "gateway": 3001, "verification-worker": 9101, "notification-service": 9102, "presence-service": 9103,
            "metrics-exporter": 9464,
        ])
    }

    @Test("the notification service keeps its SQLite file in the run directory; other services get no extra variables")
    func serviceEnvironment() throws {
        let run = URL(fileURLWithPath: "/tmp/run")
        let notification = try #require(DevService.all.first { $0.name == "notification-service" })
        #expect(notification.environment(runDirectory: run) == ["NOTIFICATION_DB_PATH": "/tmp/run/notifications.sqlite"])
        #expect(DevService.gateway.environment(runDirectory: run).isEmpty)
    }

    @Test("READY prints `none` for what is not running, then the token and the hints")
    func announcement() {
        var endpoints = DevStackEndpoints(
            gateway: nil, broker: "127.0.0.1:40000", metrics: nil, redis: "redis://127.0.0.1:6390",
            jwtSecret: String(repeating: "s", count: 40), jwtSecretGenerated: true, token: "a.b.c",
            missingServices: ["gateway"])
        #expect(endpoints.readyLine == "READY gateway=none broker=127.0.0.1:40000 metrics=none redis=redis://127.0.0.1:6390")
        let lines = endpoints.announcement(command: "biometricsctl", logDirectory: ".run/logs")
        #expect(lines.prefix(3) == [
            "JWT_HS256_SECRET=\(endpoints.jwtSecret)", endpoints.readyLine, "TOKEN a.b.c",
        ])

        endpoints.gateway = "ws://127.0.0.1:3001/ws"
        endpoints.metrics = "http://127.0.0.1:9464/metrics"
        endpoints.redis = nil
        endpoints.jwtSecretGenerated = false
        #expect(endpoints.readyLine
            == "READY gateway=ws://127.0.0.1:3001/ws broker=127.0.0.1:40000 metrics=http://127.0.0.1:9464/metrics redis=none")
        let withGateway = endpoints.announcement(command: "biometricsctl", logDirectory: ".run/logs")
        #expect(withGateway.first == endpoints.readyLine, "a secret from the environment is not printed")
        #expect(withGateway.contains { $0.contains("io('http://127.0.0.1:3001', { path: '/ws'") })
    }

    @Test("settings: defaults, port variables, and a short JWT_HS256_SECRET refused naming the variable")
    func settings() throws {
        let directory = URL(fileURLWithPath: "/tmp")
        let defaults = try DevStackSettings(
            environment: EnvironmentReader(["GATEWAY_PORT": "4001"]), runDirectory: directory,
            serviceDirectory: directory, startsRedis: true, readinessTimeout: .seconds(1))
        #expect(defaults.allowedOrigins == "http://localhost:3000")
        #expect(defaults.jwtSecret == nil && defaults.kafkaBootstrapServers == nil && defaults.redisURL == nil)
        #expect(defaults.port(of: .gateway) == 4001)
        #expect(defaults.port(of: .metricsExporter) == 9464)
        #expect(defaults.gatewayPath == "/ws")

        #expect {
            _ = try DevStackSettings(
                environment: EnvironmentReader(["JWT_HS256_SECRET": "too-short"]), runDirectory: directory,
                serviceDirectory: directory, startsRedis: true, readinessTimeout: .seconds(1))
        } throws: { error in
            (error as? ConfigurationError)?.variable == "JWT_HS256_SECRET"
        }
    }

    // MARK: The built executable

    @Test("a short JWT_HS256_SECRET stops `biometricsctl dev` at once with exit 78 and the variable's name",
          .timeLimit(.minutes(1)))
    func shortSecretRefused() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let output = directory.appendingPathComponent("dev-output.log")
        let dev = try ChildProcess(
            executable: try biometricsctlPath(),
            arguments: ["dev", "--run-dir", directory.appendingPathComponent("run").path],
            environment: ["JWT_HS256_SECRET": "short"], logFile: output)
        let status = await dev.waitForExit(timeout: .seconds(30))
        #expect(status == .exited(78), "output: \(dev.logTail())")
        #expect(dev.logTail().contains("JWT_HS256_SECRET"), "output: \(dev.logTail())")
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("run/redis").path))
    }

    @Test("`biometricsctl dev` brings up broker, Redis and token, then stops cleanly on SIGTERM",
          .timeLimit(.minutes(5)))
    func endToEnd() async throws {
        let executable = try biometricsctlPath()
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let runDirectory = directory.appendingPathComponent("run")
        let output = directory.appendingPathComponent("dev-output.log")
        let dev = try ChildProcess(
            executable: executable, arguments: ["dev", "--run-dir", runDirectory.path],
            removingEnvironment: ["KAFKA_BOOTSTRAP_SERVERS", "REDIS_URL", "JWT_HS256_SECRET", "ALLOWED_ORIGINS"],
            logFile: output)
        // Whatever happens below, the dev stack (and so its redis-server) does not outlive the test.
        defer { dev.terminateBlocking(grace: .seconds(20)) }

        let lines = try await waitForLine(startingWith: "TOKEN ", in: output, of: dev, timeout: .seconds(180))
        let ready = try #require(
            lines.first { $0.hasPrefix("READY ") }, "no READY line before TOKEN; output:\n\(dev.logTail(lines: 40))")
        #expect(lines.filter { $0.hasPrefix("READY ") }.count == 1, "exactly one READY line")
        let fields = try readyFields(ready)
        #expect(fields.map(\.key) == ["gateway", "broker", "metrics", "redis"], "READY line: \(ready)")
        let values = Dictionary(uniqueKeysWithValues: fields.map { ($0.key, $0.value) })

        // Services that are not built are reported as `none`; built ones with their URL.
        let productsDirectory = URL(fileURLWithPath: executable).deletingLastPathComponent()
        let built = { (name: String) in
            FileManager.default.isExecutableFile(atPath: productsDirectory.appendingPathComponent(name).path)
        }
        #expect(values["gateway"] == (built("gateway") ? "ws://127.0.0.1:3001/ws" : "none"), "READY line: \(ready)")
        #expect(values["metrics"] == (built("metrics-exporter") ? "http://127.0.0.1:9464/metrics" : "none"),
                "READY line: \(ready)")

        let broker = try #require(values["broker"].flatMap { $0 == "none" ? nil : $0 }, "no broker in \(ready)")
        let redisURL = try #require(values["redis"].flatMap { $0 == "none" ? nil : $0 }, "no redis in \(ready)")
        let redisLine = try #require(
            lines.first { $0.hasPrefix("redis-server pid=") },
            "no `redis-server pid=` line; output:\n\(lines.joined(separator: "\n"))")
        let redisPID = try #require(
            redisLine.split(separator: " ").first { $0.hasPrefix("pid=") }.flatMap { pid_t($0.dropFirst(4)) },
            "cannot parse the PID in \(redisLine)")
        let secret = try #require(
            lines.first { $0.hasPrefix("JWT_HS256_SECRET=") }.map { String($0.dropFirst("JWT_HS256_SECRET=".count)) },
            "the generated secret was not printed")
        let token = try #require(lines.last.map { String($0.dropFirst("TOKEN ".count)) })

        try await roundTripThroughKafka(broker)
        try await pingRedis(redisURL)

        let claims = try await DevTokenIssuer(secret: secret).verify(token)
        #expect(claims.sub.value == "dev-user")
        #expect(claims.roles == ["ADMIN"])
        #expect(claims.scopes == ["notifications:send"])
        #expect(claims.rooms == ["team-1", "team-2"])
        let lifetime = claims.exp.value.timeIntervalSinceNow
        #expect(lifetime > 11 * 3600 && lifetime <= 12 * 3600, "token lifetime \(lifetime) s, expected 12 h")

        #expect(kill(redisPID, 0) == 0, "redis-server pid \(redisPID) from the dev stack is not running")
        #expect(dev.signal(SIGTERM), "the dev stack exited before SIGTERM; output:\n\(dev.logTail(lines: 40))")
        let status = await dev.waitForExit(timeout: .seconds(20))
        let outcome = status.map { "\($0)" } ?? "still running after 20 s"
        #expect(status == .exited(0), "after SIGTERM: \(outcome); output:\n\(dev.logTail(lines: 40))")
        #expect(kill(redisPID, 0) == -1 && errno == ESRCH, "redis-server pid \(redisPID) survived the dev stack")
        #expect(!FileManager.default.fileExists(atPath: runDirectory.appendingPathComponent("redis").path),
                "<run-dir>/redis was not removed")
    }

    @Test("services found in --service-dir get the stack's settings, must be ready, and a dying one stops the stack",
          .timeLimit(.minutes(3)))
    func servicesStartedWatchedAndStopped() async throws {
        let executable = try biometricsctlPath()
        let python = try RepoPaths.python()
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let serviceDirectory = directory.appendingPathComponent("services", isDirectory: true)
        try FileManager.default.createDirectory(at: serviceDirectory, withIntermediateDirectories: true)
        // Stand-ins for two services (the two whose ports DESIGN §6 lets us move, so the test takes free ports).
        for name in ["gateway", "metrics-exporter"] {
            let path = serviceDirectory.appendingPathComponent(name).path
            try Data(("#!" + python.path + "\n" + Self.fakeService).utf8).write(to: URL(fileURLWithPath: path))
            chmod(path, 0o755)
        }
        let gatewayPort = try Loopback.freePort()
        let metricsPort = try Loopback.freePort()
        let exitFile = directory.appendingPathComponent("metrics-exporter.exit")
        let secret = String(repeating: "k", count: 40)
        let runDirectory = directory.appendingPathComponent("run")
        let output = directory.appendingPathComponent("dev-output.log")
        let dev = try ChildProcess(
            executable: executable,
            arguments: ["dev", "--run-dir", runDirectory.path, "--service-dir", serviceDirectory.path, "--no-redis"],
            environment: [
                "JWT_HS256_SECRET": secret, "GATEWAY_PORT": String(gatewayPort),
                "METRICS_EXPORTER_PORT": String(metricsPort), "FAKE_EXIT_FILE": exitFile.path,
            ],
            removingEnvironment: ["KAFKA_BOOTSTRAP_SERVERS", "REDIS_URL", "ALLOWED_ORIGINS", "GATEWAY_PATH"],
            logFile: output)
        defer { dev.terminateBlocking(grace: .seconds(20)) }

        let lines = try await waitForLine(startingWith: "TOKEN ", in: output, of: dev, timeout: .seconds(120))
        #expect(!lines.contains { $0.hasPrefix("JWT_HS256_SECRET=") }, "a secret from the environment is not printed")
        let ready = try #require(lines.first { $0.hasPrefix("READY ") }, "no READY line; output:\n\(dev.logTail(lines: 40))")
        let values = Dictionary(uniqueKeysWithValues: try readyFields(ready).map { ($0.key, $0.value) })
        #expect(values["gateway"] == "ws://127.0.0.1:\(gatewayPort)/ws", "READY line: \(ready)")
        #expect(values["metrics"] == "http://127.0.0.1:\(metricsPort)/metrics", "READY line: \(ready)")
        #expect(values["redis"] == "none", "READY line: \(ready)")
        let token = try #require(lines.last.map { String($0.dropFirst("TOKEN ".count)) })
        #expect(try await DevTokenIssuer(secret: secret).verify(token).sub.value == "dev-user")

        // What the gateway was started with.
        let gatewayLog = runDirectory.appendingPathComponent("logs/gateway.log")
        let gatewayLines = try String(contentsOf: gatewayLog, encoding: .utf8).split(separator: "\n")
        let environmentLine = try #require(gatewayLines.first { $0.hasPrefix("ENV ") }, "no ENV line in \(gatewayLog.path)")
        let environment = try JSONDecoder().decode(
            [String: String?].self, from: Data(environmentLine.dropFirst(4).utf8))
        #expect(environment["KAFKA_BOOTSTRAP_SERVERS"] == values["broker"])
        #expect(environment["JWT_HS256_SECRET"] == secret)
        #expect(environment["ALLOWED_ORIGINS"] == "http://localhost:3000")
        #expect(environment["HTTP_PORT"] == String(gatewayPort))
        #expect(environment["GATEWAY_PORT"] == String(gatewayPort))
        #expect(environment["REDIS_URL"] == .some(nil), "--no-redis without REDIS_URL passes no REDIS_URL")
        let gatewayPID = try #require(
            gatewayLines.first { $0.hasPrefix("PID ") }.flatMap { pid_t($0.dropFirst(4)) }, "no PID line in \(gatewayLog.path)")

        // The metrics exporter dies: the stack reports it with its log tail, stops the gateway and fails.
        #expect(FileManager.default.createFile(atPath: exitFile.path, contents: Data()))
        let status = await dev.waitForExit(timeout: .seconds(30))
        let text = dev.logTail(lines: 60)
        let outcome = status.map { "\($0)" } ?? "still running after 30 s"
        #expect(status != nil && status != .exited(0), "after a service died: \(outcome); output:\n\(text)")
        #expect(text.contains("metrics-exporter") && text.contains("exited unexpectedly with exit status 3"), "output:\n\(text)")
        #expect(text.contains("fake metrics-exporter: exit file found"), "the log tail is missing; output:\n\(text)")
        #expect(kill(gatewayPID, 0) == -1 && errno == ESRCH, "the gateway (pid \(gatewayPID)) survived the dev stack")
    }

    /// A stand-in service: prints its settings, answers `GET /ready` on `HTTP_PORT`, exits 3 once `FAKE_EXIT_FILE`
    /// exists (only as `metrics-exporter`).
    private static let fakeService = """
        import http.server, json, os, sys, threading, time
        name = os.path.basename(sys.argv[0])
        keys = ["KAFKA_BOOTSTRAP_SERVERS", "REDIS_URL", "JWT_HS256_SECRET", "ALLOWED_ORIGINS", "HTTP_PORT", "GATEWAY_PORT"]
        print("ENV " + json.dumps({key: os.environ.get(key) for key in keys}), flush=True)
        print("PID %d" % os.getpid(), flush=True)
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200 if self.path == "/ready" else 404)
                self.end_headers()
            def log_message(self, *args):
                pass
        def watch():
            while not os.path.exists(os.environ["FAKE_EXIT_FILE"]):
                time.sleep(0.05)
            print("fake %s: exit file found" % name, flush=True)
            os._exit(3)
        if name == "metrics-exporter":
            threading.Thread(target=watch, daemon=True).start()
        http.server.HTTPServer(("127.0.0.1", int(os.environ["HTTP_PORT"])), Handler).serve_forever()

        """

    // MARK: Helpers

    /// Produces a message with a unique value to `deadletter` and reads it back from the beginning of its partition.
    private func roundTripThroughKafka(_ bootstrapServers: String) async throws {
        var logger = Logger(label: "dev-stack-tests")
        logger.logLevel = .warning
        let kafka = KafkaConfiguration(bootstrapServers: bootstrapServers, clientId: "dev-stack-tests", statisticsInterval: nil)
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(kafka: kafka), logger: logger)
        let value = Array("dev-stack-test-\(UUID().uuidString)".utf8)
        let report = try await producer.send(OutgoingMessage(topic: "deadletter", partition: 0, key: "dev-stack-test", value: value))
        await producer.close()

        let consumer = try KafkaConsumer(
            configuration: KafkaConsumerConfiguration(
                kafka: kafka, mode: .assign([TopicPartition(topic: "deadletter", partition: 0): .beginning])),
            logger: logger)
        let deadline = ContinuousClock.now + .seconds(30)
        var found = false
        while !found, ContinuousClock.now < deadline {
            if let message = await consumer.nextMessage(timeout: deadline - ContinuousClock.now) {
                found = message.value == value && message.offset == report.offset
            }
        }
        await consumer.close()
        #expect(found, "the message produced to deadletter on \(bootstrapServers) was not consumed within 30 s")
    }

    private func pingRedis(_ url: String) async throws {
        var logger = Logger(label: "dev-stack-tests")
        logger.logLevel = .warning
        let client = try RedisClient(configuration: RedisConfiguration(url: url, poolSize: 1), logger: logger)
        do {
            try await client.ping()
        } catch {
            await client.close()
            throw error
        }
        await client.close()
    }

    /// Polls the dev stack's output until a line starts with `prefix`; returns every line up to it. Fails with the
    /// output when the process exits or `timeout` passes first.
    private func waitForLine(
        startingWith prefix: String, in file: URL, of process: ChildProcess, timeout: Duration
    ) async throws -> [String] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let text = (try? String(contentsOf: file, encoding: .utf8)) ?? ""
            let lines = text.split(separator: "\n").map(String.init)
            if let index = lines.firstIndex(where: { $0.hasPrefix(prefix) }) { return Array(lines[...index]) }
            if let status = process.exitStatus {
                throw TestFailure(
                    "biometricsctl dev exited (\(status)) before printing `\(prefix)…`; output:\n\(process.logTail(lines: 40))")
            }
            if ContinuousClock.now >= deadline {
                throw TestFailure(
                    "biometricsctl dev printed no `\(prefix)…` line within \(timeout); output:\n\(process.logTail(lines: 40))")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// `READY a=x b=y` as ordered key/value pairs.
    private func readyFields(_ line: String) throws -> [(key: String, value: String)] {
        try line.split(separator: " ").dropFirst().map { field in
            guard let equals = field.firstIndex(of: "=") else { throw TestFailure("malformed READY field `\(field)` in \(line)") }
            return (String(field[..<equals]), String(field[field.index(after: equals)...]))
        }
    }

    private func temporaryDirectory() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dev-stack-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    /// The built `biometricsctl`, next to this test bundle in the build products directory (any scratch path).
    private func biometricsctlPath() throws -> String {
        try RepoPaths.builtExecutable("biometricsctl")
    }
}

/// A precondition of a test is not met; the description says what is missing.
struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
