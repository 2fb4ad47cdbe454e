import Foundation
import Gateway
import Kafka
import Messages
import Testing
import TestSupport

/// The gateway against the stock python-socketio client, on an embedded broker.
@Suite("Gateway with python-socketio", .timeLimit(.minutes(2)))
struct GatewayPeerTests {
    @Test("connects with a valid token over websocket, polling, and polling upgraded to websocket")
    func connectsOnEveryTransport() async throws {
        let fixture = try await GatewayFixture()
        let token = try await fixture.token("alice")
        let seen = try await fixture.runPeer(clients: [
            ["name": "ws", "token": token, "transports": ["websocket"]],
            ["name": "upgrade", "token": token, "transports": ["polling", "websocket"]],
            ["name": "polling", "token": token, "transports": ["polling"]],
            ["name": "header", "token": token, "transports": ["websocket"], "bearer": true],
        ])
        #expect(seen["ws"]?.connected == true && seen["ws"]?.transport == "websocket")
        #expect(seen["upgrade"]?.connected == true && seen["upgrade"]?.transport == "websocket")
        #expect(seen["polling"]?.connected == true && seen["polling"]?.transport == "polling")
        #expect(seen["header"]?.connected == true, "an Authorization: Bearer header works too")
        try await fixture.stop()
    }

    @Test("bad, expired, alg-none and missing tokens are refused with CONNECT_ERROR and a reason")
    func refusesBadTokens() async throws {
        let fixture = try await GatewayFixture()
        let expired = try await fixture.token("alice", expiresIn: -3600)
        let header = Data(#"{"alg":"none","typ":"JWT"}"#.utf8).base64EncodedString()
            .replacingOccurrences(of: "=", with: "")
        let claims = Data(#"{"sub":"alice","exp":4102444800}"#.utf8).base64EncodedString()
            .replacingOccurrences(of: "=", with: "")
        let seen = try await fixture.runPeer(clients: [
            ["name": "expired", "token": expired],
            ["name": "none", "token": "\(header).\(claims)."],
            ["name": "garbage", "token": "not-a-token"],
            ["name": "empty", "token": ""],
        ])
        #expect(seen["expired"]?.connected == false)
        #expect(seen["expired"]?.connectError == "token expired")
        #expect(seen["none"]?.connectError == "unsigned tokens (alg none) are not accepted")
        #expect(seen["garbage"]?.connectError == "malformed token")
        #expect(seen["empty"]?.connectError == "missing token")
        try await fixture.stop()
    }

    @Test("a valid event is relayed to its topic with the verified principal, keyed by user; bad ones get error")
    func relaysEventsWithPrincipal() async throws {
        let fixture = try await GatewayFixture()
        let token = try await fixture.token("alice", roles: ["OPS"], rooms: ["team-1"])
        let seen = try await fixture.runPeer(
            clients: [["name": "a", "token": token]],
            steps: [
                ["client": "a", "emit": "presence:update", "data": ["status": "away"]],
                // A forged principal inside the payload is refused, never relayed.
                ["client": "a", "emit": "presence:update", "data": ["status": "away", "principal": ["userId": "bob"]]],
                ["client": "a", "emit": "no:such-event", "data": [:]],
                ["client": "a", "emit": "presence:join-room", "data": ["roomId": "user:bob"]],
            ],
            collectSeconds: 1)
        let client = try #require(seen["a"])
        let errors = client.events(named: "error").compactMap { $0.first?.objectValue }
        #expect(errors.map { $0["event"]?.stringValue } == ["presence:update", "no:such-event", "presence:join-room"])
        #expect(errors.map { $0["code"]?.stringValue } == ["unknown_field", "unknown_type", "invalid_value"])

        let relayed = try await fixture.commands(on: Topics.presenceCommands, type: "presence:update", count: 1)
        let (envelope, record) = try #require(relayed.first)
        #expect(record.keyString == "alice")
        #expect(envelope.principal?.userId == "alice")
        #expect(envelope.principal?.roles == ["OPS"])
        #expect(envelope.principal?.rooms == ["team-1"])
        #expect(envelope.principal?.socketId == client.sid)
        #expect(envelope.principal?.remoteAddress == "127.0.0.1")
        #expect(envelope.payload == .object(["status": .string("away")]))
        #expect(envelope.source.service == "gateway")
        let metrics = try await fixture.httpGet("/metrics").body
        #expect(metrics.contains(#"gateway_events_received_total{event="presence:update"}"#))
        #expect(metrics.contains(#"gateway_events_rejected_total{reason="unknown_type"}"#))
        #expect(metrics.contains("gateway_relay_duration_seconds"))
        try await fixture.stop()
    }

    @Test("deliveries reach exactly their targets: a user, a room, one socket, everyone")
    func deliveriesReachTheirTargets() async throws {
        let fixture = try await GatewayFixture()
        let alice = try await fixture.token("alice")
        let bob = try await fixture.token("bob")
        // Each client announces itself with a heartbeat; the test learns socket ids from the relayed commands,
        // sends the deliveries while the clients listen, then reads what each one got.
        let peer = Task {
            try await fixture.runPeer(
                clients: [["name": "a1", "token": alice], ["name": "a2", "token": alice], ["name": "b", "token": bob]],
                steps: [
                    ["client": "a1", "emit": "session:heartbeat"], ["client": "a2", "emit": "session:heartbeat"],
                    ["client": "b", "emit": "session:heartbeat"],
                    // Until the last delivery reached each client (bounded), then a second for anything extra:
                    // a fixed window missed deliveries on a loaded CI machine.
                    ["client": "a2", "wait_for": "test:others", "timeout": 60],
                    ["client": "a1", "wait_for": "test:all", "timeout": 10],
                    ["client": "b", "wait_for": "test:all", "timeout": 10],
                ],
                collectSeconds: 1)
        }
        let beats = try await fixture.commands(on: Topics.presenceCommands, type: "session:heartbeat", count: 3)
        try #require(beats.count == 3)
        let socketOf = Dictionary(grouping: beats, by: { $0.0.principal?.userId ?? "" })
        let bobSocket = try #require(socketOf["bob"]?.first?.0.principal?.socketId)
        let aliceSockets = (socketOf["alice"] ?? []).compactMap { $0.0.principal?.socketId }

        try await fixture.deliver(.event("test:user", data: ["n": 1], to: .user("alice")))
        try await fixture.deliver(.control(DeliveryControl(action: .join, room: "room:team-1"), to: .socket(bobSocket)))
        try await fixture.deliver(.control(DeliveryControl(action: .join, room: "room:team-1"), to: .socket(aliceSockets[0])))
        try await fixture.deliver(.event("test:room", data: ["n": 2], to: .room("room:team-1")))
        try await fixture.deliver(.event("test:socket", data: ["n": 3], to: .socket(bobSocket)))
        try await fixture.deliver(.event("test:all", data: ["n": 4], to: .all()))
        try await fixture.deliver(.event("test:others", data: ["n": 5], to: .user("alice", except: aliceSockets[0])))
        let seen = try await peer.value

        let bySid = Dictionary(uniqueKeysWithValues: seen.values.compactMap { client in client.sid.map { ($0, client) } })
        let a1 = try #require(bySid[aliceSockets[0]])
        let a2 = try #require(bySid[aliceSockets[1]])
        let b = try #require(bySid[bobSocket])
        func names(_ client: PeerClient) -> [String] { client.events.map(\.name).filter { $0.hasPrefix("test:") } }
        #expect(names(a1) == ["test:user", "test:room", "test:all"])
        #expect(names(a2) == ["test:user", "test:all", "test:others"])
        #expect(names(b) == ["test:room", "test:socket", "test:all"])
        #expect(b.events(named: "test:socket").first?.first == .object(["n": .number(3)]))
        try await fixture.stop()
    }

    @Test("an ack is answered through Kafka, and times out with an error when no service answers")
    func acksEndToEnd() async throws {
        // Generous: the answer makes a round trip through Kafka and this test, on a machine running every suite at once.
        let fixture = try await GatewayFixture(environment: ["ACK_TIMEOUT_MS": "5000"])
        let token = try await fixture.token("alice")
        let peer = Task {
            try await fixture.runPeer(
                clients: [["name": "a", "token": token]],
                steps: [
                    ["client": "a", "emit": "session:list", "data": [:], "ack": true],
                    ["client": "a", "emit": "notification:get-unread", "ack": true],
                    ["client": "a", "wait_ack": "session:list", "timeout": 60],
                    ["client": "a", "wait_ack": "notification:get-unread", "timeout": 30],
                ],
                collectSeconds: 0.2)
        }
        let listed = try await fixture.commands(on: Topics.presenceCommands, type: "session:list", count: 1)
        let reply = try #require(listed.first?.0.reply)
        #expect(reply.socketId == listed.first?.0.principal?.socketId)
        try await fixture.deliver(.control(
            DeliveryControl(action: .ack, ackId: reply.ackId, data: ["sessions": []]), to: .socket(reply.socketId)))
        let seen = try await peer.value
        let acks = try #require(seen["a"]?.acks)
        #expect(acks.first { $0.event == "session:list" }?.args == [.object(["sessions": .array([])])])
        let timedOut = acks.first { $0.event == "notification:get-unread" }?.args.first
        #expect(timedOut?.objectValue?["error"]?.objectValue?["code"] == .string("timeout"))
        try await fixture.stop()
    }

    @Test("binary stream frames round-trip byte-exact, only from a socket holding a grant")
    func framesRoundTrip() async throws {
        let fixture = try await GatewayFixture()
        let token = try await fixture.token("alice")
        let frame = Data((0..<3000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        let framePayload: [String: Any] = ["deviceId": "dev-1", "frame": ["$bytes": frame.base64EncodedString()]]
        let peer = Task {
            try await fixture.runPeer(
                clients: [["name": "a", "token": token]],
                steps: [
                    ["client": "a", "emit": "biometric:stream-data", "data": framePayload],  // no grant yet: refused
                    ["client": "a", "emit": "biometric:stream-start", "data": ["deviceId": "dev-1"]],
                    ["client": "a", "wait_for": "test:granted"],
                    ["client": "a", "emit": "biometric:stream-data", "data": framePayload],
                    ["client": "a", "wait_for": "biometric:stream-frame", "timeout": 30],
                ],
                collectSeconds: 0.5)
        }
        let started = try await fixture.commands(on: Topics.verificationCommands, type: "biometric:stream-start", count: 1)
        let socket = try #require(started.first?.0.principal?.socketId)
        try await fixture.deliver(.control(DeliveryControl(action: .grantStream, deviceId: "dev-1"), to: .socket(socket)))
        try await fixture.deliver(.event("test:granted", data: [:], to: .socket(socket)))  // deliveries keep their order
        let seen = try await peer.value
        let client = try #require(seen["a"])
        let refusal = client.events(named: "error").first?.first?.objectValue
        #expect(refusal?["event"] == .string("biometric:stream-data"))
        #expect(refusal?["message"]?.stringValue?.contains("no stream grant") == true)

        let records = try await fixture.records(on: Topics.biometricFrames, count: 1)
        let record = try #require(records.first)
        #expect(Data(record.value) == frame, "the frame travels as raw bytes, not base64")
        #expect(record.headers.string("device-id") == "dev-1")
        #expect(record.headers.string("user-id") == "alice")

        let echoed = try #require(client.events(named: "biometric:stream-frame").first?.first?.objectValue)
        #expect(echoed["frame"]?.peerBytes == frame)
        #expect(echoed["deviceId"] == .string("dev-1"))
        #expect(echoed["userId"] == .string("alice"))
        try await fixture.stop()
    }

    @Test("a flood beyond the rate limit gets rate_limited errors, then the socket is disconnected; others are fine")
    func floodIsLimited() async throws {
        let fixture = try await GatewayFixture(environment: [
            "RATE_LIMIT_EVENTS_PER_SECOND": "5", "RATE_LIMIT_BURST": "5", "RATE_LIMIT_DISCONNECT_AFTER": "20",
        ])
        let token = try await fixture.token("alice")
        let flood = (0..<40).map { _ in ["client": "flooder", "emit": "session:heartbeat"] as [String: Any] }
        let seen = try await fixture.runPeer(
            clients: [["name": "flooder", "token": token], ["name": "calm", "token": token]],
            steps: flood + [["sleep": 0.5], ["client": "calm", "emit": "no:such-event"]],
            collectSeconds: 1)
        let flooder = try #require(seen["flooder"])
        let limited = flooder.events(named: "error").filter { $0.first?.objectValue?["code"] == .string("rate_limited") }
        #expect(limited.count >= 10)
        #expect(flooder.stillConnected == false, "sustained abuse disconnects the socket")
        #expect(seen["calm"]?.stillConnected == true)
        #expect(seen["calm"]?.events(named: "error").count == 1)
        #expect(try await fixture.httpGet("/health").status == 200)
        try await fixture.stop()
    }

    @Test("a room delivery reaches members on two gateways sharing one broker")
    func twoGateways() async throws {
        let first = try await GatewayFixture()
        let second = try await GatewayFixture(broker: first.broker)
        let alice = try await first.token("alice")
        let bob = try await first.token("bob")
        let onFirst = Task {
            try await first.runPeer(clients: [["name": "a", "token": alice]],
                                    steps: [["client": "a", "emit": "session:heartbeat"],
                                            ["client": "a", "wait_for": "test:room", "timeout": 60]],
                                    collectSeconds: 0.5)
        }
        let onSecond = Task {
            try await second.runPeer(clients: [["name": "b", "token": bob]],
                                     steps: [["client": "b", "emit": "session:heartbeat"],
                                             ["client": "b", "wait_for": "test:room", "timeout": 60]],
                                     collectSeconds: 0.5)
        }
        let beats = try await first.commands(on: Topics.presenceCommands, type: "session:heartbeat", count: 2)
        try #require(beats.count == 2)
        for (envelope, _) in beats {
            try await first.deliver(.control(DeliveryControl(action: .join, room: "room:x"),
                                             to: .socket(envelope.principal!.socketId!)))
        }
        try await first.deliver(.event("test:room", data: ["hello": "both"], to: .room("room:x")))
        let (a, b) = try await (onFirst.value, onSecond.value)
        #expect(a["a"]?.events(named: "test:room").count == 1)
        #expect(b["b"]?.events(named: "test:room").count == 1)
        try await second.stop()
        try await first.stop()
    }
}
