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
        let broker = try existing ?? EmbeddedBroker(topics: Topics.all.map {
            NewTopic(name: $0.name, partitions: $0.partitions)
        }, logger: logger)
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

    /// Sends raw bytes on a new TCP connection and returns everything the server answers before closing.
    func rawHTTP(_ request: String) async throws -> String {
        let port = port
        return try await offThePool {
            let connection = try LoopbackSocket(port: port)
            try connection.write(Array(request.utf8))
            var received: [UInt8] = []
            while let chunk = try connection.read() { received += chunk }
            return String(decoding: received, as: UTF8.self)
        }
    }

    /// A token signed with the gateway's secret.
    func token(_ user: String, roles: [String]? = nil, rooms: [String]? = nil, expiresIn: TimeInterval = 600) async throws
        -> String
    {
        try await DevTokenIssuer(secret: Self.secret).token(for: AccessTokenClaims(
            subject: user, expiresAt: Date().addingTimeInterval(expiresIn), issuedAt: Date(), roles: roles, rooms: rooms))
    }

    // MARK: The python-socketio peer

    /// Runs the scripted python-socketio peer (see Peers/sio_peer.py) and returns what each client saw.
    func runPeer(clients: [[String: Any]], steps: [[String: Any]] = [], collectSeconds: Double = 1,
                 trustedCertificate: String? = nil) async throws -> [String: PeerClient]
    {
        var plan: [String: Any] = ["url": url, "path": "/ws", "clients": clients, "steps": steps,
                                   "collect_seconds": collectSeconds]
        if let trustedCertificate { plan["ca_file"] = trustedCertificate }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sio-peer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let planFile = directory.appendingPathComponent("plan.json")
        try JSONSerialization.data(withJSONObject: plan).write(to: planFile)
        let output = directory.appendingPathComponent("out.json")
        let errors = directory.appendingPathComponent("err.txt")
        let script = RepoPaths.root.appendingPathComponent("Tests/GatewayTests/Peers/sio_peer.py")
        let peer = try ChildProcess(
            executable: try RepoPaths.python().path, arguments: [script.path, planFile.path],
            standardOutput: .file(output, append: false), standardError: .file(errors, append: false))
        let status = await peer.waitForExit()
        let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        guard status.isSuccess, let data = text.data(using: .utf8),
              let json = (try? JSONDecoder().decode(JSONValue.self, from: data))?.objectValue
        else {
            let stderr = (try? String(contentsOf: errors, encoding: .utf8)) ?? ""
            throw FixtureError("python-socketio peer failed (\(status)): \(stderr.suffix(2000))")
        }
        return json.mapValues(PeerClient.init)
    }

    // MARK: Kafka

    /// Reads `topic` from the beginning until `count` records match `predicate` (or the timeout passes).
    func records(on topic: String, count: Int, timeout: Duration = .seconds(15),
                 where predicate: @Sendable (KafkaMessage) -> Bool = { _ in true }) async throws -> [KafkaMessage] {
        let partitions = Topics.spec(named: topic)?.partitions ?? 1
        var assignment: [TopicPartition: KafkaOffset] = [:]
        for partition in 0..<partitions { assignment[TopicPartition(topic: topic, partition: Int32(partition))] = .beginning }
        let consumer = try KafkaConsumer(
            configuration: KafkaConsumerConfiguration(
                kafka: KafkaConfiguration(bootstrapServers: broker.bootstrapServers, statisticsInterval: nil),
                mode: .assign(assignment)),
            logger: logger)
        var found: [KafkaMessage] = []
        let deadline = ContinuousClock.now + timeout
        while found.count < count, ContinuousClock.now < deadline {
            guard let record = await consumer.nextMessage(timeout: deadline - ContinuousClock.now) else { break }
            if predicate(record) { found.append(record) }
        }
        await consumer.close()
        return found
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

/// What one python-socketio client saw (bytes arrive as `{"$bytes": base64}`).
struct PeerClient: Sendable {
    var connected: Bool
    var sid: String?
    var transport: String?
    var connectError: String?
    var events: [(name: String, args: [JSONValue])]
    var acks: [(event: String, args: [JSONValue])]
    var stillConnected: Bool
    var disconnected: Bool

    init(_ json: JSONValue) {
        let object = json.objectValue ?? [:]
        connected = object["connected"]?.boolValue ?? false
        sid = object["sid"]?.stringValue
        transport = object["transport"]?.stringValue
        connectError = object["connect_error"]?.objectValue?["message"]?.stringValue ?? object["connect_error"]?.stringValue
        func entries(_ key: String) -> [(String, [JSONValue])] {
            (object[key]?.arrayValue ?? []).map { entry in
                let items = entry.arrayValue ?? []
                return (items.first?.stringValue ?? "", items.dropFirst().first?.arrayValue ?? [])
            }
        }
        events = entries("events")
        acks = entries("acks")
        stillConnected = object["still_connected"]?.boolValue ?? false
        disconnected = object["disconnected"]?.boolValue ?? false
    }

    /// The arguments of every event with this name.
    func events(named name: String) -> [[JSONValue]] { events.filter { $0.name == name }.map(\.args) }
}

extension JSONValue {
    /// The bytes of a `{"$bytes": base64}` value from the peer.
    var peerBytes: Data? { objectValue?["$bytes"]?.stringValue.flatMap { Data(base64Encoded: $0) } }
}

struct FixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A blocking TCP connection to 127.0.0.1, for tests that play a raw or misbehaving peer.
final class LoopbackSocket: @unchecked Sendable {
    // @unchecked Sendable: used from one task at a time; the descriptor is closed once, in deinit.
    private let fd: Int32

    /// Connects; `receiveBuffer` shrinks SO_RCVBUF (a slow reader), reads time out after `timeout` seconds.
    init(port: Int, receiveBuffer: Int32? = nil, timeout: Int = 30) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw FixtureError("socket failed") }
        if var size = receiveBuffer {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var interval = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &interval, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            close(fd)
            throw FixtureError("connect to 127.0.0.1:\(port) failed")
        }
    }

    deinit { close(fd) }

    /// Writes all bytes.
    func write(_ bytes: [UInt8]) throws {
        let sent = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        guard sent == bytes.count else { throw FixtureError("short write") }
    }

    /// The next bytes, or nil when the peer closed the connection; throws ``ReadTimedOut`` when nothing came in time.
    func read() throws -> [UInt8]? {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = recv(fd, &chunk, chunk.count, 0)
        if count > 0 { return Array(chunk[0..<count]) }
        if count == 0 || errno == ECONNRESET { return nil }
        throw ReadTimedOut()
    }

    /// No byte arrived within the read timeout (the peer kept the connection open).
    struct ReadTimedOut: Error {}
}

/// Runs blocking socket work on a Dispatch thread: blocking a cooperative-pool thread (two on this machine) would
/// stall every other test running in parallel.
func offThePool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
    }
}
