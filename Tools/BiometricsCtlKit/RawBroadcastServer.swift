import ArgumentParser
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import SocketIO

/// `biometricsctl bench raw-server` (hidden): the fan-out limit of the gateway benchmark.
///
/// The least a Socket.IO server can do on the same SwiftNIO WebSocket stack: one event loop, every WebSocket
/// accepted, just enough Engine.IO/Socket.IO for the load generator (open packet, CONNECT answer, acks), and on
/// `bench:broadcast {count, bytes}` the `count` events arrive at once, as a burst from Kafka reaches the gateway:
/// each `bench {i, pad}` event is a task of the loop, encoded once, its one buffer written to every member, and
/// flushed as the gateway flushes (once the queued events are written, or at 4 KiB unflushed per socket). No
/// authentication, no heartbeat, no rooms, no Kafka, no per-socket bookkeeping: what the gateway does beyond this is
/// what it costs.
struct RawServerCommand: AsyncParsableCommand {
    /// Command description; hidden from help.
    static let configuration = CommandConfiguration(
        commandName: "raw-server",
        abstract: "Run the raw NIO WebSocket broadcast server of `bench gateway` until SIGTERM.",
        shouldDisplay: false)

    @Option(help: "Listen address.")
    var host = "127.0.0.1"

    @Option(help: "Listen port.")
    var port: Int

    @Option(help: "A file written once the server listens.")
    var readyFile: String?

    /// Listens until the process is terminated.
    func run() async throws {
        try await RawBroadcastServer().run(host: host, port: port, readyFile: readyFile)
    }
}

/// The raw broadcast server (see ``RawServerCommand``).
struct RawBroadcastServer: Sendable {
    /// Serves on one event loop until the listening channel closes (SIGTERM ends the process).
    func run(host: String, port: Int, readyFile: String?) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let members = try await loop.submit { NIOLoopBound(RawMembers(eventLoop: loop), eventLoop: loop) }.get()
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 1024)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                let upgrader = NIOWebSocketServerUpgrader(
                    maxFrameSize: 1 << 20,
                    shouldUpgrade: { channel, _ in channel.eventLoop.makeSucceededFuture(HTTPHeaders()) },
                    upgradePipelineHandler: { channel, _ in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(RawSocketIOHandler(members: members))
                        }
                    })
                return channel.pipeline.configureHTTPServerPipeline(
                    withServerUpgrade: (upgraders: [upgrader], completionHandler: { _ in }))
            }
            .bind(host: host, port: port).get()
        if let readyFile {
            try Data("\(host):\(port)\n".utf8).write(to: URL(fileURLWithPath: readyFile), options: .atomic)
        }
        try await channel.closeFuture.get()
        try await group.shutdownGracefully()
    }
}

/// The connected sockets and their unflushed bytes; touched only on the server's single event loop.
///
/// Flushes as the gateway does (`FanOutFlusher`): an event is written to every member without a flush; the members
/// written to are flushed by one task queued behind the events already on the loop (the rest of the burst), and a
/// member with ``flushThreshold`` bytes unflushed is flushed at once.
final class RawMembers {
    /// Unflushed bytes after which a socket is flushed at once (the gateway's `GatewaySession.flushThreshold`).
    static let flushThreshold = 4 * 1024

    /// One socket and what was written to it since its last flush.
    private final class Member {
        let channel: any Channel
        var unflushed = 0

        init(channel: any Channel) {
            self.channel = channel
        }
    }

    private let eventLoop: any EventLoop
    private var members: [ObjectIdentifier: Member] = [:]
    private var waiting: [Member] = []
    private var flushing: [Member] = []
    private var flushScheduled = false
    private var nextSid = 0

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func add(_ channel: any Channel) -> String {
        members[ObjectIdentifier(channel)] = Member(channel: channel)
        nextSid += 1
        return "raw\(nextSid)"
    }

    func remove(_ channel: any Channel) {
        members[ObjectIdentifier(channel)] = nil
    }

    /// Writes `frame` to every member, flushing those that reached the threshold; the rest are flushed by the flush
    /// task (queued if none is).
    func write(_ frame: WebSocketFrame) {
        let size = frame.data.readableBytes
        for member in members.values {
            if member.unflushed == 0 { waiting.append(member) }
            member.channel.write(frame, promise: nil)
            member.unflushed += size
            if member.unflushed >= Self.flushThreshold {
                member.unflushed = 0
                member.channel.flush()
            }
        }
        guard !flushScheduled, !waiting.isEmpty else { return }
        flushScheduled = true
        let this = NIOLoopBound(self, eventLoop: eventLoop)
        eventLoop.execute { this.value.flushWaiting() }
    }

    /// Flushes every member written to since the last flush task.
    private func flushWaiting() {
        flushScheduled = false
        swap(&waiting, &flushing)
        for member in flushing where member.unflushed > 0 {
            member.unflushed = 0
            member.channel.flush()
        }
        flushing.removeAll(keepingCapacity: true)
    }
}

/// One WebSocket of the raw server.
private final class RawSocketIOHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private static let openPacket = EngineIOPacket.open(EngineIOHandshake(
        sid: "raw", upgrades: [], pingInterval: 25_000, pingTimeout: 20_000, maxPayload: 1_000_000))
    private static let ackAnswer: [SocketIOValue] = [["ok": true]]

    private let members: NIOLoopBound<RawMembers>
    private var decoder = SocketIODecoder()

    init(members: NIOLoopBound<RawMembers>) {
        self.members = members
    }

    func handlerAdded(context: ChannelHandlerContext) {
        send(Self.openPacket, context: context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text:
            handle(String(buffer: frame.unmaskedData), context: context)
        case .connectionClose:
            context.close(promise: nil)
        default:
            break
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        members.value.remove(context.channel)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func handle(_ text: String, context: ChannelHandlerContext) {
        guard case .message(let message)? = try? EngineIOPacket(webSocketFrame: .text(text)),
              let packet = try? decoder.decode(text: message)
        else { return }
        switch packet {
        case .connect:
            let sid = members.value.add(context.channel)
            send(.message(SocketIOPacket.connect(namespace: SocketIOPacket.defaultNamespace,
                                                 payload: ["sid": .string(sid)]).encode().text), context: context)
        case .event(_, "bench:broadcast", let arguments, _):
            let count = arguments.first?["count"]?.intValue ?? 0
            let pad = String(repeating: "x", count: arguments.first?["bytes"]?.intValue ?? 0)
            let members = members
            for index in 0..<count {
                context.eventLoop.execute {
                    Self.broadcast(index: index, pad: pad, members: members)
                }
            }
        case .event(_, _, _, let ackID?):
            send(.message(SocketIOPacket.ack(namespace: SocketIOPacket.defaultNamespace, arguments: Self.ackAnswer,
                                             ackID: ackID).encode().text), context: context)
        case .disconnect:
            context.close(promise: nil)
        case .event, .ack, .connectError:
            break
        }
    }

    /// Event `index`: encoded once, the same buffer written to every member; flushed after the events queued
    /// meanwhile, as the gateway does.
    private static func broadcast(index: Int, pad: String, members: NIOLoopBound<RawMembers>) {
        let packet = SocketIOPacket.event(namespace: SocketIOPacket.defaultNamespace, name: "bench",
                                          arguments: [["i": .number(Double(index)), "pad": .string(pad)]], ackID: nil)
        guard case .text(let text) = EngineIOPacket.message(packet.encode().text).webSocketFrame else { return }
        members.value.write(WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(string: text)))
    }

    private func send(_ packet: EngineIOPacket, context: ChannelHandlerContext) {
        guard case .text(let text) = packet.webSocketFrame else { return }
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .text,
                                                              data: context.channel.allocator.buffer(string: text))),
                              promise: nil)
    }
}
