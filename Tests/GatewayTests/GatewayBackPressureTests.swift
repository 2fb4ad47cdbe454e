import Foundation
import Gateway
import Kafka
import Messages
import Testing
import TestSupport

/// A client that stops reading must not make the gateway's memory grow: its queue is bounded, then it is dropped.
@Suite("Gateway back-pressure", .timeLimit(.minutes(2)))
struct GatewayBackPressureTests {
    @Test("a WebSocket client that never reads is disconnected once its outbound queue stays full")
    func slowReaderIsDisconnected() async throws {
        let fixture = try await GatewayFixture(environment: ["OUTBOUND_QUEUE_BYTES": "262144"])
        let token = try await fixture.token("slow")
        let client = try RawWebSocketClient(port: fixture.port, receiveBuffer: 4096)
        let connected = try await client.connect(token: token)
        #expect(connected.hasPrefix(#"40{"sid":"#))
        // From here on the client reads nothing. 250 deliveries of 16 kB, 4 MB in all: more than the socket buffers
        // take, and less than the ~5 MiB the embedded broker keeps per partition.
        let chunk = String(repeating: "x", count: 16_000)
        for index in 0..<250 {
            try await fixture.producer.enqueue(
                Delivery.event("test:big", data: ["i": .number(Double(index)), "blob": .string(chunk)], to: .user("slow")),
                key: "slow")
        }
        let disconnects = try await fixture.records(on: Topics.gatewayConnections, count: 1, timeout: .seconds(30)) {
            let envelope = try? MessageCoding.decode(RawEnvelope.self, from: Data($0.value))
            return envelope?.type == "connection:disconnected" && envelope?.payload.objectValue?["userId"] == .string("slow")
        }
        #expect(disconnects.count == 1)
        let metrics = try await fixture.httpGet("/metrics").body
        #expect(metrics.contains(#"gateway_disconnects_total{reason="slow_consumer"} 1"#),
                "\(metrics.split(separator: "\n").filter { $0.hasPrefix("gateway_") })")
        withExtendedLifetime(client) {}  // the socket stays open (and unread) until here
        try await fixture.stop()
    }

    @Test("for a client that never reads, stream frames are dropped (counted) before anything else; it stays connected")
    func framesAreDroppedFirst() async throws {
        let fixture = try await GatewayFixture(environment: ["OUTBOUND_QUEUE_BYTES": "262144"])
        let token = try await fixture.token("viewer")
        let client = try RawWebSocketClient(port: fixture.port, receiveBuffer: 4096)
        let connected = try await client.connect(token: token)
        let socketId = try #require(connected.split(separator: "\"").dropFirst(3).first.map(String.init))
        try await fixture.deliver(.control(DeliveryControl(action: .join, room: "stream:dev-1"), to: .socket(socketId)))
        // Frames come on another topic, in no order with the join: wait until the join is applied, which an event to
        // the room (after the join on the same partition) proves by arriving. From then on the client reads nothing.
        try await fixture.deliver(.event("probe", data: ["n": 1], to: .room("stream:dev-1")))
        try await offThePool { while try !client.readText().contains(#""probe""#) {} }
        let headers = FrameHeaders(deviceId: "dev-1", userId: "camera", gatewayId: "elsewhere").headers
            .map { KafkaHeader(name: $0.name, string: $0.value) }
        let frame = [UInt8](repeating: 7, count: 16_000)
        for _ in 0..<250 {  // 4 MB: more than socket buffers and the queue take, less than the broker keeps
            try await fixture.producer.producer.enqueue(
                OutgoingMessage(topic: Topics.biometricFrames, key: "dev-1", value: frame, headers: headers))
        }
        try await fixture.producer.producer.flush(timeout: .seconds(10))
        // Frames beyond half the outbound queue are dropped and counted.
        try await waitUntil("a dropped frame counted", timeout: .seconds(30), interval: .milliseconds(200)) {
            try await fixture.httpGet("/metrics").body.split(separator: "\n").contains {
                $0.hasPrefix("gateway_stream_frames_dropped_total ") && !$0.hasSuffix(" 0")
            }
        }
        let disconnects = try await fixture.records(on: Topics.gatewayConnections, count: 1, timeout: .seconds(2)) {
            let envelope = try? MessageCoding.decode(RawEnvelope.self, from: Data($0.value))
            return envelope?.type == "connection:disconnected"
        }
        #expect(disconnects.isEmpty, "dropping frames keeps the socket connected")
        withExtendedLifetime(client) {}  // the socket stays open (and unread) until here
        try await fixture.stop()
    }
}

/// Just enough of a WebSocket client over a blocking socket to play a misbehaving peer.
final class RawWebSocketClient: @unchecked Sendable {
    // @unchecked Sendable: used from one test task at a time.
    private let connection: LoopbackSocket
    private var buffer: [UInt8] = []

    init(port: Int, receiveBuffer: Int32? = nil) throws {
        connection = try LoopbackSocket(port: port, receiveBuffer: receiveBuffer)
    }

    /// Opens the WebSocket and completes the Socket.IO CONNECT; returns the CONNECT answer. Off the cooperative pool.
    func connect(token: String) async throws -> String {
        try await offThePool {
            try self.handshake(path: "/ws/?EIO=4&transport=websocket")
            guard try self.readText().hasPrefix("0{") else { throw FixtureError("no Engine.IO open packet") }
            try self.sendText(#"40{"token":"\#(token)"}"#)
            return try self.readText()
        }
    }

    func handshake(path: String) throws {
        let request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        try write(Array(request.utf8))
        while !buffer.contains(sequence: Array("\r\n\r\n".utf8)) { try fill() }
        let end = buffer.firstRange(of: Array("\r\n\r\n".utf8))!.upperBound
        let head = String(decoding: buffer[..<end], as: UTF8.self)
        buffer.removeFirst(end)
        guard head.hasPrefix("HTTP/1.1 101") else { throw FixtureError("no upgrade: \(head)") }
    }

    func sendText(_ text: String) throws {
        try sendFrame(opcode: 1, payload: Array(text.utf8))
    }

    /// Sends one masked frame (`fin` false: a fragment; opcode 0 continues a message).
    func sendFrame(opcode: UInt8, fin: Bool = true, payload: [UInt8]) throws {
        try write(Self.frameHeader(opcode: opcode, fin: fin, length: payload.count)
            + payload.enumerated().map { $0.element ^ Self.mask[$0.offset % 4] })
    }

    /// The masked header of a frame of `length` payload bytes (the payload must follow masked with ``mask``).
    static func frameHeader(opcode: UInt8, fin: Bool = true, length: Int) -> [UInt8] {
        var frame: [UInt8] = [(fin ? 0x80 : 0) | opcode]
        if length < 126 {
            frame.append(0x80 | UInt8(length))
        } else if length < 65536 {
            frame.append(0x80 | 126)
            frame += [UInt8(length >> 8), UInt8(length & 0xff)]
        } else {
            frame.append(0x80 | 127)
            frame += (0..<8).reversed().map { UInt8(truncatingIfNeeded: length >> ($0 * 8)) }
        }
        return frame + mask
    }

    static let mask: [UInt8] = [1, 2, 3, 4]

    /// Sends raw bytes (a frame header announcing more than will ever come, say).
    func sendRaw(_ bytes: [UInt8]) throws {
        try write(bytes)
    }

    /// Closes the TCP connection (no WebSocket close handshake: as a client that vanished).
    func close() {
        connection.shutdown()
    }

    /// The next text frame's payload.
    func readText() throws -> String {
        while true {
            while buffer.count < 2 { try fill() }
            var length = Int(buffer[1] & 0x7f)
            var offset = 2
            if length == 126 {
                while buffer.count < 4 { try fill() }
                length = Int(buffer[2]) << 8 | Int(buffer[3])
                offset = 4
            } else if length == 127 {
                while buffer.count < 10 { try fill() }
                length = buffer[2..<10].reduce(0) { $0 << 8 | Int($1) }
                offset = 10
            }
            while buffer.count < offset + length { try fill() }
            let opcode = buffer[0] & 0x0f
            let payload = Array(buffer[offset..<offset + length])
            buffer.removeFirst(offset + length)
            if opcode == 1 { return String(decoding: payload, as: UTF8.self) }
        }
    }

    private func write(_ bytes: [UInt8]) throws {
        try connection.write(bytes)
    }

    private func fill() throws {
        guard let chunk = try connection.read() else { throw ConnectionClosed() }
        buffer += chunk
    }

    /// The server closed the connection.
    struct ConnectionClosed: Error {}

    /// Reads text frames until the server closes the connection; throws if it stays open past the read timeout.
    func readUntilClosed() throws -> [String] {
        var texts: [String] = []
        while true {
            do { texts.append(try readText()) } catch is ConnectionClosed { return texts }
        }
    }
}

extension Array where Element == UInt8 {
    func contains(sequence: [UInt8]) -> Bool { firstRange(of: sequence) != nil }
}

/// Engine.IO timers and per-address limits, with raw peers that misbehave on purpose.
@Suite("Gateway timers and address limits", .timeLimit(.minutes(2)))
struct GatewayTimerTests {
    @Test("a client that never answers pings is closed after pingInterval + pingTimeout")
    func missedPongCloses() async throws {
        let fixture = try await GatewayFixture(environment: ["PING_INTERVAL_MS": "300", "PING_TIMEOUT_MS": "300"])
        let token = try await fixture.token("alice")
        let client = try RawWebSocketClient(port: fixture.port)
        // On a loaded machine the first ping can come before the CONNECT answer, so both reads count.
        let first = try await client.connect(token: token)
        // Read (and never answer) until the server gives up on us; a read timeout instead fails the test.
        let seen = try await offThePool { try client.readUntilClosed() }
        #expect(([first] + seen).contains("2"), "the server pinged")
        try await fixture.stop()
    }

    @Test("a client that opens Engine.IO but never sends CONNECT is closed after connectTimeout")
    func connectTimeout() async throws {
        let fixture = try await GatewayFixture(environment: ["CONNECT_TIMEOUT_MS": "300"])
        let client = try RawWebSocketClient(port: fixture.port)
        let seen = try await offThePool { () -> [String] in
            try client.handshake(path: "/ws/?EIO=4&transport=websocket")
            return try client.readUntilClosed()  // a read timeout (connection left open) fails the test
        }
        #expect(seen.first?.hasPrefix("0{") == true, "the open packet, then the close")
        try await fixture.stop()
    }

    @Test("polling: a second concurrent GET is refused with 400; MAX_CONNECTIONS_PER_IP_PER_MINUTE gives 429")
    func pollingLimits() async throws {
        let fixture = try await GatewayFixture(environment: ["MAX_CONNECTIONS_PER_IP_PER_MINUTE": "3"])
        let open = try await fixture.httpGet("/ws/?EIO=4&transport=polling")
        let sid = try #require(open.body.split(separator: "\"").dropFirst(3).first.map(String.init))
        let first = Task { try await fixture.httpGet("/ws/?EIO=4&transport=polling&sid=\(sid)") }
        try await Task.sleep(for: .milliseconds(300))
        let second = try await fixture.httpGet("/ws/?EIO=4&transport=polling&sid=\(sid)")
        // Whichever arrived second is refused (on a loaded machine the "first" may be sent later).
        let answers = try await [first.value, second].sorted { $0.status < $1.status }
        #expect(answers.map(\.status) == [200, 400])
        #expect(answers.first?.body == "1", "the pending GET is answered with close")
        #expect(try await fixture.httpGet("/ws/?EIO=4&transport=polling").status == 200)
        #expect(try await fixture.httpGet("/ws/?EIO=4&transport=polling").status == 200)
        let limited = try await fixture.httpGet("/ws/?EIO=4&transport=polling")
        #expect(limited.status == 429, "the fourth handshake within a minute from one address")
        try await fixture.stop()
    }
}
