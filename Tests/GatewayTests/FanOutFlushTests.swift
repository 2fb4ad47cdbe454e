import Auth
import Foundation
@testable import Gateway
import Kafka
import Logging
import Messages
import NIOCore
import NIOEmbedded
import NIOWebSocket
import Runtime
import SocketIO
import Synchronization
import Testing
import TestSupport

/// Fan-out's flush policy on in-memory channels: a burst is written and flushed once per socket, a lone event is
/// flushed by the next task of the loop, a socket is flushed early at the threshold, and acks and other direct
/// writes flush at once, after the fan-out bytes already written, in order.
@Suite("Gateway fan-out flushing", .timeLimit(.minutes(1)))
struct FanOutFlushTests {
    @Test("a lone event is written and flushed by the next task of the loop")
    func loneEvent() async throws {
        let harness = try await FlushHarness()
        let socket = try await harness.connect("alice")
        GatewaySession.emit(harness.event(1), to: harness.everyone, droppable: false)
        await harness.loop.run()
        #expect(socket.recorder.operations == [.write("bench 1"), .flush])
        await harness.stop()
    }

    @Test("a burst queued on the loop is flushed once per socket, after its last event")
    func burst() async throws {
        let harness = try await FlushHarness()
        let first = try await harness.connect("alice")
        let second = try await harness.connect("bob")
        let recipients = harness.everyone
        try await harness.loop.executeInContext {
            for index in 1...5 { GatewaySession.emit(harness.event(index), to: recipients, droppable: false) }
        }
        await harness.loop.run()
        let expected: [WriteRecorder.Operation] = (1...5).map { .write("bench \($0)") } + [.flush]
        #expect(first.recorder.operations == expected)
        #expect(second.recorder.operations == expected)
        await harness.stop()
    }

    @Test("a socket is flushed as soon as 4 KiB are unflushed, and the rest at the end of the burst")
    func threshold() async throws {
        let harness = try await FlushHarness()
        let socket = try await harness.connect("alice")
        let padding = String(repeating: "x", count: 1000)
        try await harness.loop.executeInContext {
            for index in 1...10 {
                GatewaySession.emit(harness.event(index, padding: padding), to: harness.everyone,
                                    droppable: false)
            }
        }
        await harness.loop.run()
        let operations = socket.recorder.operations
        #expect(operations.filter { $0 != .flush }.count == 10)
        // Each event is ~1 KiB: the fourth write crosses 4 KiB and is flushed at once, so are the eighth; the last
        // two wait for the end of the burst.
        #expect(operations.enumerated().filter { $0.element == .flush }.map(\.offset) == [4, 9, 12])
        await harness.stop()
    }

    @Test("an ack is flushed at once, after the fan-out event written before it")
    func ackAfterEvent() async throws {
        let harness = try await FlushHarness()
        let socket = try await harness.connect("alice")
        // The client asks for an ack (id 7); the answer comes later, as a delivery would bring it.
        socket.session.webSocketFrame(.text(#"427["session:heartbeat"]"#))
        await harness.loop.run()
        socket.recorder.clear()
        try await harness.loop.executeInContext {
            GatewaySession.emit(harness.event(1), to: harness.everyone, droppable: false)
            socket.session.answerAck(7, data: ["ok": true])
        }
        await harness.loop.run()
        #expect(socket.recorder.operations == [.write("bench 1"), .write(#"437[{"ok":true}]"#), .flush])
        await harness.stop()
    }

    @Test("nothing is written to a socket once its WebSocket closed")
    func afterClose() async throws {
        let harness = try await FlushHarness()
        let socket = try await harness.connect("alice")
        let recipients = harness.everyone  // as a delivery resolved just before the close
        // What the WebSocket's handler reports when the connection goes (the channel itself stays open here, so a
        // wrong write would still be recorded).
        socket.session.webSocketClosed(socket.channel)
        await harness.loop.run()
        socket.recorder.clear()
        #expect(harness.everyone.isEmpty, "the hub forgot the socket")
        GatewaySession.emit(harness.event(1), to: recipients, droppable: false)
        await harness.loop.run()
        #expect(socket.recorder.operations.isEmpty)
        await harness.stop()
    }
}

/// Records the text of every WebSocket frame written and every flush, in order (outbound, next to the channel's tail).
final class WriteRecorder: ChannelOutboundHandler, Sendable {
    typealias OutboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    /// A write (the frame's text) or a flush.
    enum Operation: Equatable, CustomStringConvertible {
        case write(String)
        case flush

        var description: String {
            switch self {
            case .write(let text): "write \(text)"
            case .flush: "flush"
            }
        }
    }

    private let recorded = Mutex<[Operation]>([])

    /// What was written and flushed so far.
    var operations: [Operation] { recorded.withLock { $0 } }

    /// Forgets what was recorded.
    func clear() { recorded.withLock { $0.removeAll() } }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let frame = unwrapOutboundIn(data)
        var text = String(buffer: frame.data)
        // `42["bench",{"i":3,…}]` is recorded as `bench 3`.
        var decoder = SocketIODecoder()
        if text.hasPrefix(#"42["bench""#), let event = try? decoder.decode(text: String(text.dropFirst())),
           case .event(_, _, let arguments, _) = event, let index = arguments.first?["i"]?.intValue {
            text = "bench \(index)"
        }
        recorded.withLock { $0.append(.write(text)) }
        context.write(data, promise: promise)
    }

    func flush(context: ChannelHandlerContext) {
        recorded.withLock { $0.append(.flush) }
        context.flush()
    }
}

/// One gateway context and event loop; sessions on in-memory WebSockets authenticated with real tokens.
struct FlushHarness {
    static let secret = "fan-out-flush-tests-secret-0123456789abcdef"

    /// A connected socket: its session, its channel and what was written to it.
    struct Socket {
        let session: GatewaySession
        let channel: NIOAsyncTestingChannel
        let recorder: WriteRecorder
    }

    let loop = NIOAsyncTestingEventLoop()
    let context: GatewayContext
    private let broker: EmbeddedBroker
    private let producer: KafkaProducer

    init() async throws {
        var logger = Logger(label: "fan-out-flush-tests")
        // The producer only takes connection records here; its reconnect complaints after the broker stops are noise.
        logger.logLevel = .critical
        broker = try await EmbeddedBroker.start(topics: Topics.all.map { NewTopic(name: $0.name, partitions: $0.partitions) },
                                    logger: logger)
        let configuration = try GatewayConfiguration(environment: EnvironmentReader([
            "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrapServers, "JWT_HS256_SECRET": Self.secret,
            "INSTANCE_ID": "gw-flush",
        ]))
        producer = try KafkaProducer(
            configuration: KafkaProducerConfiguration(kafka: KafkaConfiguration(
                bootstrapServers: broker.bootstrapServers, statisticsInterval: nil)),
            logger: logger)
        context = try GatewayContext(
            configuration: configuration, verifier: try await TokenVerifier(configuration: configuration.tokens),
            outbound: KafkaOutbound(producer: producer, logger: logger), partitions: .defaults, logger: logger)
    }

    /// A session on a new in-memory WebSocket, past its CONNECT; the recorder is cleared.
    func connect(_ user: String) async throws -> Socket {
        let recorder = WriteRecorder()
        let channel = NIOAsyncTestingChannel(loop: loop)
        try await channel.pipeline.addHandler(recorder)
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1))
        let session = try await loop.executeInContext { [context] in
            GatewaySession.openWebSocket(channel: channel, remoteAddress: "127.0.0.1", bearerToken: nil,
                                         context: context)
        }
        let token = try await DevTokenIssuer(secret: Self.secret).token(for: AccessTokenClaims(
            subject: user, expiresAt: Date().addingTimeInterval(600), issuedAt: Date()))
        session.webSocketFrame(.text(#"40{"token":"\#(token)"}"#))
        // The token is verified off the loop; the CONNECT answer (`40{"sid":…}`) is then written and flushed.
        try await waitUntil("the CONNECT answer", interval: .milliseconds(5)) {
            recorder.operations.contains { if case .write(let text) = $0 { text.hasPrefix("40") } else { false } }
        }
        await loop.run()
        recorder.clear()
        return Socket(session: session, channel: channel, recorder: recorder)
    }

    /// Every connected socket of this harness, as the hub hands them to fan-out.
    var everyone: [Recipients.Group] { context.hub.recipients(for: .all()).all }

    /// `bench {i, pad}` as fan-out sends it.
    func event(_ index: Int, padding: String = "") -> OutboundPacket {
        OutboundPacket(SocketIOPacket.event(
            namespace: SocketIOPacket.defaultNamespace, name: "bench",
            arguments: [["i": .number(Double(index)), "pad": .string(padding)]], ackID: nil
        ).encode())
    }

    /// Stops the producer (the broker stops with the harness).
    func stop() async {
        await producer.close()
        await loop.shutdownGracefully()
    }
}
