import Auth
import Foundation
import Gateway
import Kafka
import Logging
import Messages
import Runtime
import ServiceLifecycle
import Testing
import TestSupport

/// A running gateway (in this process, on a free port) on its own embedded broker, plus the test's tools: tokens,
/// the python-socketio peer, a Kafka reader and a delivery producer.
final class GatewayFixture: Sendable {
    static let secret = "gateway-tests-secret-0123456789abcdefghij"

    let broker: EmbeddedBroker
    let port: Int
    let logger: Logger
    private let group: ServiceGroup
    private let running: Task<Void, any Error>
    let producer: EnvelopeProducer
    private let application: GatewayApplication
    /// `https` when the gateway serves TLS.
    let scheme: String

    /// Starts a gateway with `environment` on top of the test defaults; `broker` lets two gateways share one.
    init(environment extra: [String: String] = [:], broker existing: EmbeddedBroker? = nil) async throws {
        MetricsBootstrap.bootstrap()  // once per process; /metrics then shows the gateway's counters
        var logger = Logger(label: "gateway-test")
        logger.logLevel = .warning
        self.logger = logger
        let broker = if let existing { existing } else {
            try await EmbeddedBroker.start(topics: Topics.all.map { NewTopic(name: $0.name, partitions: $0.partitions) },
                                           logger: logger)
        }
        self.broker = broker
        var environment = [
            "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrapServers,
            "KAFKA_SESSION_TIMEOUT_MS": "6000",
            "JWT_HS256_SECRET": Self.secret,
            "GATEWAY_HOST": "127.0.0.1",
            "GATEWAY_PORT": "0",
            "INSTANCE_ID": "gw-\(UUID().uuidString.prefix(8).lowercased())",
            "STATS_INTERVAL_SECONDS": "60",
            "LIVENESS_INTERVAL_SECONDS": "1",
            "ACK_TIMEOUT_MS": "1500",
        ]
        environment.merge(extra) { $1 }
        let configuration = try GatewayConfiguration(environment: EnvironmentReader(environment))
        let application = try await GatewayApplication(configuration: configuration, logger: logger)
        self.application = application
        scheme = configuration.tlsCertificateFile == nil ? "http" : "https"
        let group = ServiceRunner.makeServiceGroup(services: application.services, logger: logger, handlesSignals: false)
        self.group = group
        running = Task { try await group.run() }
        port = try await application.server.boundPort()
        producer = EnvelopeProducer(
            producer: try KafkaProducer(configuration: KafkaProducerConfiguration(
                kafka: KafkaConfiguration(bootstrapServers: broker.bootstrapServers, statisticsInterval: nil)),
                logger: logger),
            source: Source(service: "gateway-tests", instance: "t1"))
        try await waitUntilReady()
    }

    var url: String { "\(scheme)://127.0.0.1:\(port)" }

    /// Stops the gateway gracefully and the test producer.
    func stop() async throws {
        await group.triggerGracefulShutdown()
        try await running.value
        await producer.producer.close()
    }

    private func waitUntilReady() async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if application.isReady { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw FixtureError("gateway not ready within 30 s")
    }

    /// A plain HTTP GET on the gateway port (status and body).
    func httpGet(_ path: String, headers: [String: String] = [:]) async throws -> (status: Int, body: String) {
        var request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        for (name, value) in headers { request += "\(name): \(value)\r\n" }
        let response = try await rawHTTP(request + "\r\n")
        let status = Int(response.split(separator: " ").dropFirst().first ?? "") ?? 0
        let body = response.components(separatedBy: "\r\n\r\n").dropFirst().joined(separator: "\r\n\r\n")
        return (status, body)
    }

    /// Sends raw bytes on a new TCP connection and returns everything the server answers before closing (or, with
    /// `marker`, up to the first chunk that completes it: for answers that keep the connection open).
    func rawHTTP(_ request: String, until marker: String? = nil) async throws -> String {
        let port = port
        return try await offThePool {
            let connection = try LoopbackSocket(port: port)
            try connection.write(Array(request.utf8))
            var received: [UInt8] = []
            while let chunk = try connection.read() {
                received += chunk
                if let marker, String(decoding: received, as: UTF8.self).contains(marker) { break }
            }
            return String(decoding: received, as: UTF8.self)
        }
    }

    /// A token signed with the gateway's secret.
    func token(_ user: String, roles: [String]? = nil, rooms: [String]? = nil, expiresIn: TimeInterval = 600) async throws
        -> String
    {
        try await Self.token(user, roles: roles, rooms: rooms, expiresIn: expiresIn)
    }

    /// A token signed with the secret every gateway of these tests uses.
    static func token(_ user: String, roles: [String]? = nil, rooms: [String]? = nil, expiresIn: TimeInterval = 600)
        async throws -> String
    {
        try await DevTokenIssuer(secret: secret).token(for: AccessTokenClaims(
            subject: user, expiresAt: Date().addingTimeInterval(expiresIn), issuedAt: Date(), roles: roles, rooms: rooms))
    }

    // MARK: The python-socketio peer

    /// Runs the scripted python-socketio peer against this gateway and returns what each client saw.
    func runPeer(clients: [[String: Any]], steps: [[String: Any]] = [], collectSeconds: Double = 1,
                 trustedCertificate: String? = nil) async throws -> [String: PeerClient]
    {
        try await SocketIOPeer.run(url: url, clients: clients, steps: steps, collectSeconds: collectSeconds,
                                   trustedCertificate: trustedCertificate)
    }

    // MARK: Kafka

    /// Reads `topic` from the beginning until `count` records match `predicate` (or the timeout passes).
    func records(on topic: String, count: Int, timeout: Duration = .seconds(15),
                 where predicate: @Sendable (KafkaMessage) -> Bool = { _ in true }) async throws -> [KafkaMessage] {
        try await TopicReader(bootstrapServers: broker.bootstrapServers, logger: logger)
            .records(on: topic, count: count, timeout: timeout, where: predicate)
    }

    /// Client commands of `type` on `topic`, decoded.
    func commands(on topic: String, type: String, count: Int) async throws -> [(RawEnvelope, KafkaMessage)] {
        let records = try await records(on: topic, count: count) { record in
            (try? MessageCoding.decode(RawEnvelope.self, from: Data(record.value)))?.type == type
        }
        return try records.map { (try MessageCoding.decode(RawEnvelope.self, from: Data($0.value)), $0) }
    }

    /// Produces a delivery to `gateway.deliveries`.
    func deliver(_ delivery: Delivery) async throws {
        try await producer.send(delivery, key: "test")
    }
}
