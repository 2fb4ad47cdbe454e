import Auth
import BiometricsCtlKit
import Crypto
import Foundation
import Gateway
import Kafka
import Logging
import Messages
import Redis
import Runtime
import ServiceLifecycle
import Synchronization
import Testing
import TestSupport
import VerificationWorker

/// A gateway and verification workers running in this process on one embedded broker and one real redis-server,
/// plus the test's tools: enrolment with Swift-generated P-256 keys, tokens, the python-socketio peer (which signs
/// challenges with OpenSSL) and a Kafka reader.
final class WorkerFixture: Sendable {
    static let secret = "verification-tests-secret-0123456789abcdef"

    let broker: EmbeddedBroker
    let redisServer: RedisServerProcess
    let logger: Logger
    let directory: URL
    private let workerEnvironment: [String: String]
    private let gateway: RunningApplication<GatewayApplication>
    private let workers = Mutex<[RunningApplication<VerificationWorkerApplication>]>([])
    let gatewayPort: Int

    init(workerEnvironment: [String: String] = [:]) async throws {
        MetricsBootstrap.bootstrap()
        var logger = Logger(label: "verification-test")
        logger.logLevel = .warning
        self.logger = logger
        broker = try await EmbeddedBroker.start(topics: Topics.all.map { NewTopic(name: $0.name, partitions: $0.partitions) },
                                    logger: logger)
        redisServer = try await RedisServerProcess.start()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("verification-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        self.workerEnvironment = workerEnvironment
        let configuration = try GatewayConfiguration(environment: EnvironmentReader([
            "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrapServers, "KAFKA_SESSION_TIMEOUT_MS": "6000",
            "JWT_HS256_SECRET": Self.secret, "GATEWAY_HOST": "127.0.0.1", "GATEWAY_PORT": "0",
            "INSTANCE_ID": "gw-\(UUID().uuidString.prefix(8).lowercased())", "STATS_INTERVAL_SECONDS": "60",
            "ACK_TIMEOUT_MS": "30000",
        ]))
        let application = try await GatewayApplication(configuration: configuration, logger: logger)
        gateway = RunningApplication(application, services: application.services, logger: logger)
        gatewayPort = try await application.server.boundPort()
        let deadline = ContinuousClock.now + .seconds(30)
        while !application.isReady {
            guard ContinuousClock.now < deadline else { throw FixtureError("gateway not ready within 30 s") }
            try await Task.sleep(for: .milliseconds(50))
        }
        try await startWorker()
    }

    /// Starts another worker instance in the shared group; returns once its registry has caught up.
    @discardableResult
    func startWorker() async throws -> RunningApplication<VerificationWorkerApplication> {
        var environment = [
            "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrapServers, "KAFKA_SESSION_TIMEOUT_MS": "6000",
            "REDIS_URL": redisServer.url, "HTTP_PORT": "0", "STATS_INTERVAL_SECONDS": "60",
            "INSTANCE_ID": "vw-\(UUID().uuidString.prefix(8).lowercased())",
        ]
        environment.merge(workerEnvironment) { $1 }
        let configuration = try VerificationWorkerConfiguration(environment: EnvironmentReader(environment))
        let application = try VerificationWorkerApplication(configuration: configuration, logger: logger)
        let running = RunningApplication(application, services: application.services, logger: logger)
        workers.withLock { $0.append(running) }
        let deadline = ContinuousClock.now + .seconds(30)
        while !application.registry.isCaughtUp {
            guard ContinuousClock.now < deadline else { throw FixtureError("worker registry not caught up within 30 s") }
            try await Task.sleep(for: .milliseconds(20))
        }
        return running
    }

    /// Stops a worker: gracefully (drain, commit) or by cancelling its whole service group (no drain).
    func stopWorker(_ worker: RunningApplication<VerificationWorkerApplication>, graceful: Bool) async {
        if graceful { try? await worker.stop() } else { await worker.cancel() }
        await worker.application.redis.close()
        workers.withLock { list in list.removeAll { $0 === worker } }
    }

    /// The first worker started.
    var firstWorker: RunningApplication<VerificationWorkerApplication>? { workers.withLock { $0.first } }

    func stop() async {
        for worker in workers.withLock({ $0 }) { await stopWorker(worker, graceful: true) }
        try? await gateway.stop()
        try? await redisServer.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    // MARK: Records

    /// Enrolls `record` for `user` with a fresh P-256 key; returns the PEM file of its private key.
    @discardableResult
    func enroll(_ record: String, user: String, devices: [String] = [], roles: [String] = [],
                status: RecordStatus = .active) async throws -> String {
        let key = P256.Signing.PrivateKey()
        let file = directory.appendingPathComponent("\(record).pem")
        try Data(key.pemRepresentation.utf8).write(to: file)
        try await publisher.publish(BiometricRecord(
            recordId: record, ownerUserId: user, deviceIds: devices, publicKey: RecordPublisher.jwk(key.publicKey),
            status: status, grantedRoles: roles))
        return file.path
    }

    /// Revokes a record the way `biometricsctl revoke` does.
    func revoke(_ record: String) async throws {
        guard var entry = try await publisher.current(record) else { throw FixtureError("no record \(record)") }
        entry.status = .revoked
        try await publisher.publish(entry)
    }

    /// Waits until every running worker's registry shows `record` with `status`.
    func waitForRecord(_ record: String, status: RecordStatus) async throws {
        let deadline = ContinuousClock.now + .seconds(20)
        while workers.withLock({ $0 }).contains(where: { $0.application.registry.record(record)?.status != status }) {
            guard ContinuousClock.now < deadline else { throw FixtureError("record \(record) not \(status) in time") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    private var publisher: RecordPublisher {
        RecordPublisher(kafka: KafkaConfiguration(bootstrapServers: broker.bootstrapServers, statisticsInterval: nil),
                        logger: logger)
    }

    // MARK: Clients

    func token(_ user: String, roles: [String]? = nil) async throws -> String {
        try await DevTokenIssuer(secret: Self.secret).token(for: AccessTokenClaims(
            subject: user, expiresAt: Date().addingTimeInterval(600), issuedAt: Date(), roles: roles))
    }

    /// Runs the scripted python-socketio peer against the gateway and returns what each client saw.
    func runPeer(clients: [[String: Any]], steps: [[String: Any]], collectSeconds: Double = 0.5) async throws
        -> [String: PeerClient]
    {
        try await SocketIOPeer.run(url: "http://127.0.0.1:\(gatewayPort)", clients: clients, steps: steps,
                                   collectSeconds: collectSeconds)
    }

    // MARK: Kafka

    /// Reads `topic` from the beginning until `count` records arrive (or `timeout` passes).
    func records(on topic: String, count: Int, timeout: Duration = .seconds(15)) async throws -> [KafkaMessage] {
        try await TopicReader(bootstrapServers: broker.bootstrapServers, logger: logger)
            .records(on: topic, count: count, timeout: timeout)
    }

    /// Produces raw records (the test's own producer, closed after): e.g. a command again, as a redelivery would.
    func produce(_ messages: [OutgoingMessage]) async throws {
        let producer = try KafkaProducer(
            configuration: KafkaProducerConfiguration(
                kafka: KafkaConfiguration(bootstrapServers: broker.bootstrapServers, statisticsInterval: nil)),
            logger: logger)
        for message in messages { try await producer.send(message) }
        await producer.close()
    }

    /// Produces `delivery` to `gateway.deliveries` under envelope id `id`, `copies` times, keyed by `key`.
    func deliver(_ delivery: Delivery, id: UUID, key: String, copies: Int = 1) async throws {
        let envelope = Envelope(id: id, source: Source(service: "verification-tests", instance: "t"), payload: delivery)
        let value = Array(try MessageCoding.encode(envelope))
        try await produce(Array(repeating: OutgoingMessage(
            topic: Topics.gatewayDeliveries, key: Array(key.utf8), value: value), count: copies))
    }

    /// A Redis client on the fixture's server (close it when done).
    func redisClient() throws -> RedisClient {
        try RedisClient(configuration: RedisConfiguration(url: redisServer.url), logger: logger)
    }

    /// The audit records on `biometric.verifications` (reads until `count` or the timeout).
    func audits(count: Int, timeout: Duration = .seconds(15)) async throws -> [(id: UUID, audit: BiometricVerification, raw: String)] {
        try await records(on: Topics.biometricVerifications, count: count, timeout: timeout).map { record in
            let decoded = try MessageCoding.decodeMessage(from: Data(record.value), topic: Topics.biometricVerifications)
            guard let audit = decoded.payload as? BiometricVerification else { throw FixtureError("not an audit") }
            return (decoded.header.id, audit, String(decoding: record.value, as: UTF8.self))
        }
    }
}
