import Auth
import BiometricsClient
import BiometricsCtlKit
import Crypto
import Foundation
import Kafka
import Logging
import Messages
import Runtime
import Synchronization
import TestSupport
import NotificationService
import PresenceService
import VerificationWorker

/// A real stack for the SDK: an embedded broker and a real redis-server in this process, the verification worker
/// in this process, and the gateway as a real process on a fixed port (so a test can SIGKILL it and start another
/// on the same address, as a deploy or a crash would).
final class ClientFixture: Sendable {
    static let secret = "client-tests-secret-0123456789abcdefghijkl"

    let broker: EmbeddedBroker
    let redisServer: RedisServerProcess
    let logger: Logger
    let directory: URL
    let gatewayPort: Int
    private let worker: RunningApplication<VerificationWorkerApplication>
    /// The presence and notification services, when the test asked for them.
    private let presence: RunningApplication<PresenceServiceApplication>?
    private let notifications: RunningApplication<NotificationServiceApplication>?
    private let gateway = Mutex<ChildProcess?>(nil)
    /// Every client made by ``client(_:roles:scope:rooms:reconnect:)``, closed by ``stop()``.
    private let clients = Mutex<[BiometricsClient]>([])

    /// Starts the stack; `allServices` adds the presence and notification services (in this process).
    init(allServices: Bool = false) async throws {
        MetricsBootstrap.bootstrap()
        var logger = Logger(label: "client-test")
        logger.logLevel = .warning
        self.logger = logger
        broker = try await EmbeddedBroker.start(topics: Topics.all.map { NewTopic(name: $0.name, partitions: $0.partitions) },
                                    logger: logger)
        redisServer = try await RedisServerProcess.start()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("client-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let configuration = try VerificationWorkerConfiguration(environment: EnvironmentReader([
            "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrapServers, "KAFKA_SESSION_TIMEOUT_MS": "6000",
            "REDIS_URL": redisServer.url, "HTTP_PORT": "0", "STATS_INTERVAL_SECONDS": "60",
            "INSTANCE_ID": "vw-client-tests",
        ]))
        let application = try VerificationWorkerApplication(configuration: configuration, logger: logger)
        worker = RunningApplication(application, services: application.services, logger: logger)
        try await waitUntil("worker registry caught up", timeout: .seconds(30)) { application.registry.isCaughtUp }
        if allServices {
            let presenceService = try PresenceServiceApplication(
                configuration: PresenceServiceConfiguration(environment: EnvironmentReader([
                    "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrapServers, "KAFKA_SESSION_TIMEOUT_MS": "6000",
                    "REDIS_URL": redisServer.url, "HTTP_PORT": "0", "STATS_INTERVAL_SECONDS": "60",
                    "INSTANCE_ID": "presence-client-tests",
                ])), logger: logger)
            presence = RunningApplication(presenceService, services: presenceService.services, logger: logger)
            let notificationService = try NotificationServiceApplication(
                configuration: NotificationServiceConfiguration(environment: EnvironmentReader([
                    "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrapServers, "KAFKA_SESSION_TIMEOUT_MS": "6000",
                    "NOTIFICATION_DB_PATH": directory.appendingPathComponent("notifications.sqlite").path,
                    "HTTP_PORT": "0", "STATS_INTERVAL_SECONDS": "60", "INSTANCE_ID": "notifications-client-tests",
                ])), logger: logger)
            notifications = RunningApplication(notificationService, services: notificationService.services,
                                               logger: logger)
        } else {
            presence = nil
            notifications = nil
        }
        gatewayPort = try Loopback.freePort()
        try await startGateway()
    }

    var url: String { "http://127.0.0.1:\(gatewayPort)" }

    /// Starts the gateway executable on the fixture's port (a new instance id each time: another gateway, as a
    /// load balancer would pick) and waits for `/ready`.
    func startGateway(environment extra: [String: String] = [:], replacing: Bool = false) async throws {
        if replacing, let running = gateway.withLock({ $0.take() }) { await running.terminate(grace: .seconds(10)) }
        let process = try ChildProcess(
            executable: try RepoPaths.builtExecutable("gateway"),
            environment: [
                "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrapServers, "JWT_HS256_SECRET": Self.secret,
                "GATEWAY_HOST": "127.0.0.1", "GATEWAY_PORT": String(gatewayPort), "LOG_LEVEL": "info",
                "INSTANCE_ID": "gw-\(UUID().uuidString.prefix(8).lowercased())", "STATS_INTERVAL_SECONDS": "60",
            ].merging(extra) { $1 },
            logFile: directory.appendingPathComponent("gateway.log"))
        gateway.withLock { $0 = process }
        let port = gatewayPort
        try await waitUntil("gateway /ready on \(port)", timeout: .seconds(60), interval: .milliseconds(100)) {
            if let status = process.exitStatus {
                throw FixtureError("gateway exited (\(status)): \(process.logTail(lines: 200))")
            }
            return try await offThePool { Loopback.httpStatus(port: port, path: "/ready") == 200 }
        }
    }

    /// The last lines of every gateway log of this fixture (for failure messages).
    func gatewayLog(lines: Int = 30) -> String {
        let text = (try? String(contentsOf: directory.appendingPathComponent("gateway.log"), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(lines).joined(separator: "\n")
    }

    /// SIGKILLs the gateway process (no goodbye to clients, no drain).
    func killGateway() async {
        guard let process = gateway.withLock({ $0.take() }) else { return }
        process.signal(SIGKILL)
        _ = await process.waitForExit(timeout: .seconds(10))
    }

    /// Runs `body` with a new fixture and stops it (and every client it made) however `body` ends.
    static func with(allServices: Bool = false, _ body: (ClientFixture) async throws -> Void) async throws {
        let fixture = try await ClientFixture(allServices: allServices)
        do {
            try await body(fixture)
        } catch {
            await fixture.stop()
            throw error
        }
        await fixture.stop()
    }

    func stop() async {
        for client in clients.withLock({ $0 }) { await client.close() }
        if let process = gateway.withLock({ $0.take() }) { await process.terminate(grace: .seconds(10)) }
        try? await worker.stop()
        if let presence { try? await presence.stop() }
        if let notifications {
            try? await notifications.stop()
            try? notifications.application.store.close()
        }
        await worker.application.redis.close()
        try? await redisServer.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// A client of the fixture's gateway for `user` (tokens minted on every connect).
    func client(_ user: String, roles: [String]? = nil, scope: String? = nil, rooms: [String]? = nil, reconnect: ReconnectPolicy = ReconnectPolicy(
        initialDelay: .milliseconds(200), maxDelay: .seconds(1))) -> BiometricsClient
    {
        var configuration = BiometricsClientConfiguration(url: url) {
            try await Self.token(user, roles: roles, scope: scope, rooms: rooms)
        }
        configuration.reconnect = reconnect
        configuration.ackTimeout = .seconds(20)
        let client = BiometricsClient(configuration: configuration, logger: logger)
        clients.withLock { $0.append(client) }
        return client
    }

    /// A token for `user` signed with the gateway's secret.
    static func token(_ user: String, roles: [String]? = nil, scope: String? = nil, rooms: [String]? = nil)
        async throws -> String
    {
        try await DevTokenIssuer(secret: secret).token(for: AccessTokenClaims(
            subject: user, expiresAt: Date().addingTimeInterval(600), issuedAt: Date(), roles: roles, scope: scope,
            rooms: rooms))
    }

    /// Enrolls `record` for `user` with a fresh P-256 key and waits until the worker knows it.
    func enroll(_ record: String, user: String, devices: [String] = []) async throws -> P256.Signing.PrivateKey {
        let key = P256.Signing.PrivateKey()
        try await RecordPublisher(
            kafka: KafkaConfiguration(bootstrapServers: broker.bootstrapServers, statisticsInterval: nil), logger: logger
        ).publish(BiometricRecord(recordId: record, ownerUserId: user, deviceIds: devices,
                                  publicKey: RecordPublisher.jwk(key.publicKey), status: .active, grantedRoles: []))
        let registry = worker.application.registry
        try await waitUntil("record \(record) known") { registry.record(record)?.status == .active }
        return key
    }

    /// Produces deliveries to `gateway.deliveries` (one key: one partition, so they keep their order).
    func deliver(_ deliveries: [Delivery]) async throws {
        let producer = EnvelopeProducer(
            producer: try KafkaProducer(configuration: KafkaProducerConfiguration(
                kafka: KafkaConfiguration(bootstrapServers: broker.bootstrapServers, statisticsInterval: nil)),
                logger: logger),
            source: Source(service: "client-tests", instance: "t1"))
        for delivery in deliveries { try await producer.send(delivery, key: "client-tests") }
        await producer.producer.close()
    }

    /// Client commands of `type` the gateway relayed (read back from `topic`).
    func commands(on topic: String, type: String, expected: Int, timeout: Duration = .seconds(10)) async throws -> Int {
        try await TopicReader(bootstrapServers: broker.bootstrapServers, logger: logger)
            .records(on: topic, count: expected + 1, timeout: timeout) { record in
                (try? MessageCoding.decode(RawEnvelope.self, from: Data(record.value)))?.type == type
            }.count
    }

    /// Waits until the gateway's `connection:rooms` record of `socketId` listing `room` is on `gateway.connections`:
    /// what a gateway killed with -9 had not yet handed to Kafka is lost, and recovery then (rightly) fails.
    func waitForRoomsRecord(socketId: String, room: String, timeout: Duration = .seconds(20)) async throws {
        let found = try await TopicReader(bootstrapServers: broker.bootstrapServers, logger: logger)
            .records(on: Topics.gatewayConnections, count: 1, timeout: timeout) { record in
                guard let rooms = (try? MessageCoding.decodeMessage(from: Data(record.value), topic: record.topic))?
                    .payload as? ConnectionRooms else { return false }
                return rooms.socketId == socketId && rooms.rooms.contains(room)
            }
        if found.isEmpty { throw FixtureError("no connection:rooms record of \(socketId) with \(room) within \(timeout)") }
    }

    /// Whether `client` is in `record`'s room: verifies (with a wrong signature) until `verification-started`, which
    /// goes to the room, reaches it (a subscribe re-sent after a reconnect travels through Kafka first).
    func roomDelivers(to client: BiometricsClient, record: String, challenge: String) async throws -> Bool {
        let seen = SeenFlag()
        let pushes = client.pushes(named: ["biometric:verification-started"])
        let watcher = Task {
            for await push in pushes where push.payload["recordId"]?.stringValue == record {
                seen.value.withLock { $0 = true }
                break
            }
        }
        defer { watcher.cancel() }
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline, !seen.value.withLock({ $0 }) {
            _ = try await client.verify(record: record, challenge: challenge, signature: "AAAA")
            try await Task.sleep(for: .milliseconds(200))
        }
        return seen.value.withLock { $0 }
    }
}

/// Set once by a watcher task.
private final class SeenFlag: Sendable {
    let value = Mutex(false)
}
