import Auth
import Foundation
import Gateway
import Kafka
import Logging
import Messages
import PresenceService
import Redis
import Runtime
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Two gateways on one embedded broker — gateway A in this process, gateway B the built `gateway` executable as a
/// child process (so it can be killed with SIGKILL) — a real redis-server, and the presence service in this process,
/// all with short intervals (liveness 1 s, a gateway's grace 3 s, sweep 1 s, health 1 s).
final class PresenceFixture: Sendable {
    static let secret = "presence-tests-secret-0123456789abcdef"

    let broker: EmbeddedBroker
    let redisServer: RedisServerProcess
    let logger: Logger
    let directory: URL
    let gatewayA: RunningApplication<GatewayApplication>
    let gatewayAURL: String
    let gatewayAId: String
    let gatewayB: ChildProcess
    let gatewayBId: String
    let gatewayBURL: String
    let gatewayBPort: Int
    let presence: RunningApplication<PresenceServiceApplication>
    /// A client of the same redis-server, to look at the registry.
    let redis: RedisClient

    /// Starts everything; `gatewayEnvironment` adds to (or overrides) both gateways' variables.
    init(gatewayEnvironment extra: [String: String] = [:]) async throws {
        MetricsBootstrap.bootstrap()
        var logger = Logger(label: "presence-test")
        logger.logLevel = .warning
        self.logger = logger
        broker = try await EmbeddedBroker.start(topics: Topics.all.map { NewTopic(name: $0.name, partitions: $0.partitions) },
                                    logger: logger)
        redisServer = try await RedisServerProcess.start()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("presence-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let gatewayEnvironment = [
            "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrapServers, "KAFKA_SESSION_TIMEOUT_MS": "6000",
            "JWT_HS256_SECRET": Self.secret, "GATEWAY_HOST": "127.0.0.1", "STATS_INTERVAL_SECONDS": "60",
            "ACK_TIMEOUT_MS": "30000", "LIVENESS_INTERVAL_SECONDS": "1",
            // The gateway's own per-gateway health report would mix with the presence service's in these tests.
            "HEALTH_INTERVAL_SECONDS": "3600",
        ].merging(extra) { $1 }

        var environmentA = gatewayEnvironment
        environmentA["GATEWAY_PORT"] = "0"
        gatewayAId = "gw-a-\(UUID().uuidString.prefix(8).lowercased())"
        environmentA["INSTANCE_ID"] = gatewayAId
        let application = try await GatewayApplication(
            configuration: try GatewayConfiguration(environment: EnvironmentReader(environmentA)), logger: logger)
        gatewayA = RunningApplication(application, services: application.services, logger: logger)
        gatewayAURL = "http://127.0.0.1:\(try await application.server.boundPort())"

        let service = try PresenceServiceApplication(
            configuration: Self.presenceConfiguration(broker: broker, redis: redisServer), logger: logger)
        presence = RunningApplication(service, services: service.services, logger: logger)
        redis = try RedisClient(configuration: RedisConfiguration(url: redisServer.url, poolSize: 1), logger: logger)

        let portB = try Loopback.freePort()
        var environmentB = gatewayEnvironment
        environmentB["GATEWAY_PORT"] = String(portB)
        gatewayBId = "gw-b-\(UUID().uuidString.prefix(8).lowercased())"
        environmentB["INSTANCE_ID"] = gatewayBId
        environmentB["LOG_LEVEL"] = "warning"
        gatewayB = try ChildProcess(
            executable: try RepoPaths.builtExecutable("gateway"), environment: environmentB,
            removingEnvironment: ["REDIS_URL"], logFile: directory.appendingPathComponent("gateway-b.log"))
        gatewayBURL = "http://127.0.0.1:\(portB)"
        gatewayBPort = portB
    }

    /// The presence service's configuration in these tests (another instance differs only in its id).
    static func presenceConfiguration(broker: EmbeddedBroker, redis: RedisServerProcess) throws
        -> PresenceServiceConfiguration
    {
        try PresenceServiceConfiguration(environment: EnvironmentReader([
            "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrapServers, "KAFKA_SESSION_TIMEOUT_MS": "6000",
            "REDIS_URL": redis.url, "HTTP_PORT": "0", "STATS_INTERVAL_SECONDS": "60",
            "INSTANCE_ID": "presence-\(UUID().uuidString.prefix(8).lowercased())",
            // Gateways report every second: a grace of 3 s (also the sweeper's start delay).
            "GATEWAY_GRACE_SECONDS": "3",
            "SWEEP_INTERVAL_SECONDS": "1", "HEALTH_INTERVAL_SECONDS": "1", "PRESENCE_TTL_SECONDS": "60",
            "REDIS_RETRY_SECONDS": "60",
        ]))
    }

    /// Starts another presence instance in the same consumer groups (the caller stops it and closes its Redis).
    func startPresenceInstance() throws -> RunningApplication<PresenceServiceApplication> {
        let service = try PresenceServiceApplication(
            configuration: Self.presenceConfiguration(broker: broker, redis: redisServer), logger: logger)
        return RunningApplication(service, services: service.services, logger: logger)
    }

    /// Waits until both gateways are ready and the presence service has seen both report.
    func waitUntilReady() async throws {
        let gatewayB = self.gatewayB
        let application = gatewayA.application
        let portB = gatewayBPort
        try await waitUntil("both gateways ready", timeout: .seconds(60), interval: .milliseconds(50)) {
            if let status = gatewayB.exitStatus {
                throw FixtureError("gateway B exited (\(status)): \(gatewayB.logTail(lines: 20))")
            }
            guard application.isReady else { return false }
            return try await offThePool { Loopback.httpStatus(port: portB, path: "/ready") == 200 }
        }
        // Both gateways have reported: the presence service reads gateway.connections.
        let store = presence.application.store
        try await waitUntil("the presence service sees both gateways", timeout: .seconds(60)) {
            try await store.counts().gateways >= 2
        }
    }

    /// Stops everything this fixture started, by PID for the child gateway.
    func stop() async {
        try? await presence.stop()
        await presence.application.redis.close()
        await redis.close()
        if gatewayB.isRunning { _ = await gatewayB.terminate(grace: .seconds(10)) }
        try? await gatewayA.stop()
        try? await redisServer.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// Runs `body` with a fresh fixture and always stops it.
    static func with(gatewayEnvironment: [String: String] = [:], _ body: (PresenceFixture) async throws -> Void)
        async throws
    {
        let fixture = try await PresenceFixture(gatewayEnvironment: gatewayEnvironment)
        do {
            try await fixture.waitUntilReady()
            try await body(fixture)
        } catch {
            await fixture.stop()
            throw error
        }
        await fixture.stop()
    }

    // MARK: Clients

    /// A token for `user` with `rooms` in its claim and `roles`.
    func token(_ user: String, rooms: [String]? = nil, roles: [String]? = nil) async throws -> String {
        try await DevTokenIssuer(secret: Self.secret).token(for: AccessTokenClaims(
            subject: user, expiresAt: Date().addingTimeInterval(600), issuedAt: Date(), roles: roles, rooms: rooms))
    }

    /// A peer client spec on gateway A or B.
    func client(_ name: String, user: String, on gateway: Gateway, rooms: [String]? = nil, roles: [String]? = nil)
        async throws -> [String: Any]
    {
        ["name": name, "token": try await token(user, rooms: rooms, roles: roles),
         "url": gateway == .a ? gatewayAURL : gatewayBURL]
    }

    enum Gateway { case a, b }

    /// Runs a python-socketio plan (each client names its gateway).
    func run(clients: [[String: Any]], steps: [[String: Any]], collectSeconds: Double = 0.5) async throws
        -> [String: PeerClient]
    {
        try await SocketIOPeer.run(url: gatewayAURL, clients: clients, steps: steps, collectSeconds: collectSeconds)
    }

    /// A file path in the fixture's directory for `touch` / `wait_file` steps.
    func syncFile(_ name: String) -> String { directory.appendingPathComponent("sync-\(name)").path }

    /// Waits until the peer created `path`.
    func waitForFile(_ path: String, timeout: Duration = .seconds(60)) async throws {
        try await waitUntil("peer reached \(URL(fileURLWithPath: path).lastPathComponent)", timeout: timeout) {
            FileManager.default.fileExists(atPath: path)
        }
    }

    /// Creates `path` (with `data` as JSON for a `data_file` step) so a waiting peer goes on.
    func release(_ path: String, data: [String: Any] = [:]) throws {
        try JSONSerialization.data(withJSONObject: data).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    /// What every client had seen when the peer passed its `touch` step for `path`.
    func snapshot(_ path: String) throws -> [String: PeerClient] {
        let json = try JSONDecoder().decode(JSONValue.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        return (json.objectValue ?? [:]).mapValues(PeerClient.init)
    }

    // MARK: Registry

    /// The sockets the registry holds for `user`.
    func sockets(of user: String) async throws -> Set<String> {
        try await redis.smembers("presence:user-sockets:\(user)")
    }

    /// The status the registry holds for `user` (nil: offline).
    func status(of user: String) async throws -> String? {
        try await redis.get("presence:status:\(user)")
    }

    /// The members of presence room `room`.
    func members(of room: String) async throws -> Set<String> {
        try await redis.smembers("presence:room:\(room)")
    }

}

extension Array where Element == JSONValue {
    /// The elements that are objects containing every member of `members`.
    func matching(_ members: [String: JSONValue]) -> [JSONValue] {
        filter { value in members.allSatisfy { value[$0.key] == $0.value } }
    }
}
