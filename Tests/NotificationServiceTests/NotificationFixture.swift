import Auth
import Foundation
import GRDB
import Gateway
import Kafka
import Logging
import Messages
import NotificationService
import Runtime
import Synchronization
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// A gateway running in this process on its own embedded broker, the notification service (in this process, or the
/// built `notification-service` executable as a child), and the test's tools: tokens, the python-socketio peer, a
/// backend producer, a Kafka reader and a read-only look into the SQLite file.
final class NotificationFixture: Sendable {
    static let secret = "notification-tests-secret-0123456789abcdef"

    let broker: EmbeddedBroker
    let logger: Logger
    let directory: URL
    let gatewayPort: Int
    /// The SQLite file every service instance of this fixture uses.
    let databasePath: String
    /// A backend's producer (source `billing`), for `notification:create`.
    let backend: EnvelopeProducer
    private let serviceEnvironment: [String: String]
    private let gateway: RunningApplication<GatewayApplication>
    private let services = Mutex<[RunningApplication<NotificationServiceApplication>]>([])

    /// Starts the broker and gateway and, when `startsService`, one in-process notification service.
    init(serviceEnvironment: [String: String] = [:], startsService: Bool = true) async throws {
        MetricsBootstrap.bootstrap()
        var logger = Logger(label: "notification-test")
        logger.logLevel = .warning
        self.logger = logger
        broker = try await EmbeddedBroker.start(topics: Topics.all.map { NewTopic(name: $0.name, partitions: $0.partitions) },
                                    logger: logger)
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("notification-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        databasePath = directory.appendingPathComponent("notifications.sqlite").path
        self.serviceEnvironment = serviceEnvironment
        let configuration = try GatewayConfiguration(environment: EnvironmentReader([
            "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrapServers, "KAFKA_SESSION_TIMEOUT_MS": "6000",
            "JWT_HS256_SECRET": Self.secret, "GATEWAY_HOST": "127.0.0.1", "GATEWAY_PORT": "0",
            "INSTANCE_ID": "gw-\(UUID().uuidString.prefix(8).lowercased())", "STATS_INTERVAL_SECONDS": "60",
            "ACK_TIMEOUT_MS": "30000",
        ]))
        let application = try await GatewayApplication(configuration: configuration, logger: logger)
        gateway = RunningApplication(application, services: application.services, logger: logger)
        gatewayPort = try await application.server.boundPort()
        backend = EnvelopeProducer(
            producer: try KafkaProducer(configuration: KafkaProducerConfiguration(
                kafka: KafkaConfiguration(bootstrapServers: broker.bootstrapServers, statisticsInterval: nil)),
                logger: logger),
            source: Source(service: "billing", instance: "billing-1"))
        try await waitUntil("gateway ready", timeout: .seconds(30)) { application.isReady }
        if startsService { try await startService() }
    }

    /// The service's environment: this fixture's broker and file, a short session timeout, then `extra`.
    func environment(_ extra: [String: String] = [:]) -> [String: String] {
        var environment = [
            "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrapServers, "KAFKA_SESSION_TIMEOUT_MS": "6000",
            "NOTIFICATION_DB_PATH": databasePath, "HTTP_PORT": "0", "STATS_INTERVAL_SECONDS": "60",
            "INSTANCE_ID": "ns-\(UUID().uuidString.prefix(8).lowercased())",
        ]
        environment.merge(serviceEnvironment) { $1 }
        environment.merge(extra) { $1 }
        return environment
    }

    /// Starts a notification service in this process.
    @discardableResult
    func startService() async throws -> RunningApplication<NotificationServiceApplication> {
        let configuration = try NotificationServiceConfiguration(environment: EnvironmentReader(environment()))
        let application = try NotificationServiceApplication(configuration: configuration, logger: logger)
        let running = RunningApplication(application, services: application.services, logger: logger)
        services.withLock { $0.append(running) }
        return running
    }

    /// Stops an in-process service gracefully and closes its store.
    func stopService(_ service: RunningApplication<NotificationServiceApplication>) async {
        try? await service.stop()
        try? service.application.store.close()
        services.withLock { list in list.removeAll { $0 === service } }
    }

    /// The first in-process service.
    var firstService: RunningApplication<NotificationServiceApplication>? { services.withLock { $0.first } }

    func stop() async {
        for service in services.withLock({ $0 }) { await stopService(service) }
        try? await gateway.stop()
        await backend.producer.close()
        try? FileManager.default.removeItem(at: directory)
    }

    // MARK: The built executable

    /// Spawns the built `notification-service` with this fixture's environment and an ops port of its own; returns
    /// once it answers `/ready`.
    func spawnService(_ extra: [String: String] = [:]) async throws -> (process: ChildProcess, port: Int) {
        let port = try Loopback.freePort()
        let log = directory.appendingPathComponent("notification-service-\(UUID().uuidString.prefix(6)).log")
        let process = try ChildProcess(
            executable: try Self.executable().path, environment: environment(extra.merging(["HTTP_PORT": "\(port)"]) { $1 }),
            logFile: log)
        do {
            try await waitUntil("notification-service /ready", timeout: .seconds(60), interval: .milliseconds(100)) {
                if let status = process.exitStatus {
                    throw FixtureError("notification-service exited with \(status): \(process.logTail())")
                }
                return try await offThePool { Loopback.httpStatus(port: port, path: "/ready") } == 200
            }
        } catch {
            await process.terminate(grace: .seconds(5))
            throw error
        }
        return (process, port)
    }

    /// `GET /metrics` of a child service.
    func metricsText(port: Int) async throws -> String {
        try await offThePool {
            let data = try Data(contentsOf: URL(string: "http://127.0.0.1:\(port)/metrics")!)
            return String(decoding: data, as: UTF8.self)
        }
    }

    /// The built `notification-service` next to the test bundle (`swift build --build-tests` builds every product).
    static func executable() throws -> URL {
        var directories: [URL] = []
        if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            directories.append(URL(fileURLWithPath: path).deletingLastPathComponent())
        }
        directories += Bundle.allBundles.filter { $0.bundlePath.hasSuffix(".xctest") }
            .map { $0.bundleURL.resolvingSymlinksInPath().deletingLastPathComponent() }
        if let first = CommandLine.arguments.first {
            directories.append(URL(fileURLWithPath: first).resolvingSymlinksInPath().deletingLastPathComponent())
        }
        let candidates = directories.map { $0.appendingPathComponent("notification-service") }
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
            throw FixtureError("no built notification-service next to the tests (looked in "
                + "\(Set(candidates.map(\.path)).sorted().joined(separator: ", "))); build it: swift build --build-tests")
        }
        return found
    }

    // MARK: Store (read-only, from outside the service)

    /// Runs `body` on a read-only connection to the SQLite file (safe while a service writes it: WAL).
    func inspect<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        var configuration = Configuration()
        configuration.readonly = true
        let queue = try DatabaseQueue(path: databasePath, configuration: configuration)
        defer { try? queue.close() }
        return try await queue.read(body)
    }

    /// How many notifications the file holds (for `userId` when given).
    func notificationCount(userId: String? = nil) async throws -> Int {
        try await inspect { db in
            if let userId {
                return try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM notification WHERE user_id = ?", arguments: [userId]) ?? 0
            }
            return try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM notification") ?? 0
        }
    }

    /// The ids of `userId`'s notifications, oldest first.
    func notificationIds(userId: String) async throws -> [String] {
        try await inspect { db in
            try String.fetchAll(db, sql: "SELECT id FROM notification WHERE user_id = ? ORDER BY seq", arguments: [userId])
        }
    }

    // MARK: Clients and backends

    func token(_ user: String, roles: [String]? = nil, scope: String? = nil) async throws -> String {
        try await DevTokenIssuer(secret: Self.secret).token(for: AccessTokenClaims(
            subject: user, expiresAt: Date().addingTimeInterval(600), issuedAt: Date(), roles: roles, scope: scope))
    }

    func client(_ name: String, user: String, roles: [String]? = nil, scope: String? = nil) async throws -> [String: Any] {
        ["name": name, "token": try await token(user, roles: roles, scope: scope)]
    }

    /// Runs the scripted python-socketio peer and returns what each client saw.
    func runPeer(clients: [[String: Any]], steps: [[String: Any]], collectSeconds: Double = 0.5) async throws
        -> [String: PeerClient]
    {
        try await SocketIOPeer.run(url: "http://127.0.0.1:\(gatewayPort)", clients: clients, steps: steps,
                                   collectSeconds: collectSeconds)
    }

    /// A backend creates a notification (`notification:create` with a service principal); returns the envelope id.
    @discardableResult
    func create(
        for user: String, title: String = "Invoice ready", category: String = "general", id: UUID = UUID(),
        principal: Principal = Principal(userId: "billing", roles: ["SERVICE"], scopes: ["notifications:send"])
    ) async throws -> UUID {
        try await backend.send(
            NotificationCreate(targetUserId: user, type: "invoice", title: title, body: "body of \(title)",
                               data: ["n": 1], category: category),
            key: user, id: id, principal: principal)
        return id
    }

    /// Reads `topic` from the beginning until `count` records match `predicate` (or the timeout).
    func records(on topic: String, count: Int, timeout: Duration = .seconds(15),
                 where predicate: @Sendable @escaping (KafkaMessage) -> Bool = { _ in true }) async throws -> [KafkaMessage] {
        try await TopicReader(bootstrapServers: broker.bootstrapServers, logger: logger)
            .records(on: topic, count: count, timeout: timeout, where: predicate)
    }

    /// The `notification:new` deliveries to `user:<userId>` on `gateway.deliveries` (reads until `count` or timeout).
    func newDeliveries(to userId: String, count: Int, timeout: Duration = .seconds(15)) async throws -> [JSONValue] {
        try await records(on: Topics.gatewayDeliveries, count: count, timeout: timeout) { record in
            guard let decoded = try? MessageCoding.decodeMessage(from: Data(record.value), topic: Topics.gatewayDeliveries),
                  let delivery = decoded.payload as? Delivery, delivery.target == .user(userId),
                  case .event(let event) = delivery.content
            else { return false }
            return event.name == ServerEvent.notificationNew.rawValue
        }.compactMap { record in
            guard let delivery = (try? MessageCoding.decodeMessage(from: Data(record.value), topic: Topics.gatewayDeliveries))?
                .payload as? Delivery, case .event(let event) = delivery.content else { return nil }
            return event.data
        }
    }
}
