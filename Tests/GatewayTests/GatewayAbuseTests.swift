import Foundation
import Gateway
import Kafka
import Messages
import Runtime
import Synchronization
import Testing
import TestSupport

/// Bad input, limits and lifecycle: each refused as documented, and the gateway keeps serving.
@Suite("Gateway limits and lifecycle", .timeLimit(.minutes(2)))
struct GatewayAbuseTests {
    @Test("handshake refusals: unknown sid, wrong protocol version, foreign Origin; allowed Origin gets CORS")
    func handshakeRefusals() async throws {
        let fixture = try await GatewayFixture(environment: ["ALLOWED_ORIGINS": "http://localhost:3000"])
        let unknown = try await fixture.httpGet("/ws/?EIO=4&transport=polling&sid=nope")
        #expect(unknown.status == 400)
        #expect(unknown.body == #"{"code":1,"message":"Session ID unknown"}"#)
        let version = try await fixture.httpGet("/ws/?EIO=3&transport=polling")
        #expect(version.status == 400)
        #expect(version.body.contains("Unsupported protocol version"))
        let foreign = try await fixture.httpGet("/ws/?EIO=4&transport=polling", headers: ["Origin": "http://evil.example"])
        #expect(foreign.status == 403)
        let allowed = try await fixture.rawHTTP(
            "GET /ws/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nOrigin: http://localhost:3000\r\nConnection: close\r\n\r\n")
        #expect(allowed.hasPrefix("HTTP/1.1 200"))
        #expect(allowed.contains("Access-Control-Allow-Origin: http://localhost:3000"))
        #expect(allowed.contains(#""upgrades":["websocket"]"#))
        let noSlash = try await fixture.httpGet("/ws?EIO=4&transport=polling")
        #expect(noSlash.status == 200, "the path works with and without the trailing slash")
        try await fixture.stop()
    }

    @Test("a malformed packet closes that connection; an oversize message too; the gateway and others carry on")
    func malformedAndOversize() async throws {
        let fixture = try await GatewayFixture(environment: ["MAX_PAYLOAD_BYTES": "65536"])
        let token = try await fixture.token("alice")
        let seen = try await fixture.runPeer(
            clients: [
                ["name": "broken", "token": token], ["name": "huge", "token": token], ["name": "calm", "token": token],
            ],
            steps: [
                ["client": "broken", "raw": #"2["presence:update",{"status":"#],
                ["client": "huge", "emit": "session:create", "data": ["deviceInfo": String(repeating: "x", count: 100_000)]],
                ["sleep": 1.0],
                ["client": "calm", "emit": "presence:update", "data": ["status": "away"]],
            ],
            collectSeconds: 1)
        #expect(seen["broken"]?.stillConnected == false)
        #expect(seen["huge"]?.stillConnected == false)
        #expect(seen["calm"]?.stillConnected == true)
        #expect(seen["calm"]?.events(named: "error").isEmpty == true)
        #expect(try await fixture.httpGet("/health").status == 200)
        let relayed = try await fixture.commands(on: Topics.presenceCommands, type: "presence:update", count: 1)
        #expect(relayed.count == 1, "only the calm client's event was relayed")
        #expect(try await fixture.commands(on: Topics.presenceCommands, type: "session:create", count: 1).isEmpty)
        try await fixture.stop()
    }

    @Test("a user beyond MAX_SOCKETS_PER_USER is refused at CONNECT")
    func socketsPerUser() async throws {
        let fixture = try await GatewayFixture(environment: ["MAX_SOCKETS_PER_USER": "2"])
        let token = try await fixture.token("alice")
        let other = try await fixture.token("bob")
        let seen = try await fixture.runPeer(clients: [
            ["name": "a1", "token": token], ["name": "a2", "token": token], ["name": "a3", "token": token],
            ["name": "b", "token": other],
        ])
        #expect([seen["a1"], seen["a2"], seen["a3"]].filter { $0?.connected == true }.count == 2)
        let refused = [seen["a1"], seen["a2"], seen["a3"]].compactMap { $0 }.first { !$0.connected }
        #expect(refused?.connectError == "too many connections for this user (at most 2)")
        #expect(seen["b"]?.connected == true)
        try await fixture.stop()
    }

    @Test("connections are published: connected, disconnected and the gateway's liveness with its sockets")
    func connectionEvents() async throws {
        let fixture = try await GatewayFixture(environment: ["LIVENESS_INTERVAL_SECONDS": "0.3"])
        let token = try await fixture.token("alice")
        // The client stays until a liveness record has counted it (a fixed window missed it on a loaded machine).
        let counted = FileManager.default.temporaryDirectory.appendingPathComponent("counted-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: counted) }
        let peer = Task {
            try await fixture.runPeer(clients: [["name": "a", "token": token]],
                                      steps: [["wait_file": counted.path, "timeout": 60]], collectSeconds: 0.2)
        }
        _ = try await fixture.records(on: Topics.gatewayConnections, count: 1, timeout: .seconds(60)) { record in
            guard let envelope = try? MessageCoding.decode(RawEnvelope.self, from: Data(record.value)) else { return false }
            return envelope.type == "gateway:liveness" && envelope.payload.objectValue?["socketCount"] == .number(1)
        }
        FileManager.default.createFile(atPath: counted.path, contents: Data())
        let seen = try await peer.value
        let sid = try #require(seen["a"]?.sid)
        let seenTypes = Mutex<Set<String>>([])
        let records = try await fixture.records(on: Topics.gatewayConnections, count: 3) { record in
            guard let envelope = try? MessageCoding.decode(RawEnvelope.self, from: Data(record.value)) else { return false }
            let relevant: Bool
            switch envelope.type {
            case "connection:connected", "connection:disconnected":
                relevant = envelope.payload.objectValue?["socketId"]?.stringValue == sid
            case "gateway:liveness":
                relevant = envelope.payload.objectValue?["socketCount"] == .number(1)
            default:
                relevant = false
            }
            // The first record of each kind (liveness repeats every interval).
            return relevant && seenTypes.withLock { $0.insert(envelope.type).inserted }
        }
        let types = try records.map { try MessageCoding.decode(RawEnvelope.self, from: Data($0.value)).type }
        #expect(Set(types) == ["connection:connected", "connection:disconnected", "gateway:liveness"])
        #expect(records.allSatisfy { $0.keyString == records.first?.keyString }, "keyed by gateway id")
        try await fixture.stop()
    }

    @Test("SIGTERM-style shutdown: clients see the transport close (and would reconnect); disconnects are published")
    func gracefulShutdown() async throws {
        let fixture = try await GatewayFixture()
        let token = try await fixture.token("alice")
        let peer = Task {
            try await fixture.runPeer(clients: [["name": "a", "token": token]],
                                      steps: [["client": "a", "emit": "session:heartbeat"],
                                              ["client": "a", "wait_disconnected": true, "timeout": 60]],
                                      collectSeconds: 0.2)
        }
        let beats = try await fixture.commands(on: Topics.presenceCommands, type: "session:heartbeat", count: 1)
        let socket = try #require(beats.first?.0.principal?.socketId)
        try await fixture.stop()
        let seen = try await peer.value
        #expect(seen["a"]?.disconnected == true)
        let disconnects = try await fixture.records(on: Topics.gatewayConnections, count: 1) { record in
            let envelope = try? MessageCoding.decode(RawEnvelope.self, from: Data(record.value))
            return envelope?.type == "connection:disconnected"
                && envelope?.payload.objectValue?["socketId"]?.stringValue == socket
        }
        #expect(disconnects.count == 1)
    }
}

/// WSS: with a certificate and key configured the same port speaks TLS.
@Suite("Gateway over TLS", .timeLimit(.minutes(2)))
struct GatewayTLSTests {
    @Test("python-socketio connects over wss:// and https polling, verifying the configured certificate")
    func connectsOverTLS() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gw-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let key = directory.appendingPathComponent("key.pem").path
        let certificate = directory.appendingPathComponent("cert.pem").path
        let openssl = try ChildProcess(
            executable: "openssl",
            arguments: ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
                        "-out", certificate, "-days", "1", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"],
            standardOutput: .discard)
        #expect(await openssl.waitForExit().isSuccess, "openssl could not make a test certificate")
        let fixture = try await GatewayFixture(environment: ["TLS_CERT_FILE": certificate, "TLS_KEY_FILE": key])
        #expect(fixture.url.hasPrefix("https://"))
        let token = try await fixture.token("alice")
        let seen = try await fixture.runPeer(
            clients: [
                ["name": "wss", "token": token, "transports": ["websocket"]],
                ["name": "https", "token": token, "transports": ["polling", "websocket"]],
            ],
            trustedCertificate: certificate)
        #expect(seen["wss"]?.connected == true && seen["wss"]?.transport == "websocket")
        #expect(seen["https"]?.connected == true && seen["https"]?.transport == "websocket")
        try await fixture.stop()
    }
}
