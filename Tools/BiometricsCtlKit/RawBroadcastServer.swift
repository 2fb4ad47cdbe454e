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
        let members = try await loop.submit { NIOLoopBound(RawMembers(), eventLoop: loop) }.get()
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
final class RawMembers {
    /// Unflushed bytes after which a socket is flushed at once (the gateway's `GatewaySession.flushThreshold`).
    static let flushThreshold = 4 * 1024

    private var channels: [ObjectIdentifier: (channel: any Channel, unflushed: Int)] = [:]
    private var nextSid = 0

    func add(_ channel: any Channel) -> String {
        channels[ObjectIdentifier(channel)] = (channel, 0)
        nextSid += 1
        return "raw\(nextSid)"
    }

    func remove(_ channel: any Channel) {
        channels[ObjectIdentifier(channel)] = nil
    }

    /// Writes `frame` to every member, flushing those that reached the threshold.
    func write(_ frame: WebSocketFrame) {
        let size = frame.data.readableBytes
        for (key, member) in channels {
            member.channel.write(frame, promise: nil)
            if member.unflushed + size >= Self.flushThreshold {
                member.channel.flush()
                channels[key]?.unflushed = 0
            } else {
                channels[key]?.unflushed = member.unflushed + size
            }
        }
    }

    /// Flushes every member with unflushed bytes.
    func flush() {
        for (key, member) in channels where member.unflushed > 0 {
            member.channel.flush()
            channels[key]?.unflushed = 0
        }
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
                    Self.broadcast(index: index, pad: pad, members: members, eventLoop: members.eventLoop)
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
    /// meanwhile (one task later), as the gateway does.
    private static func broadcast(index: Int, pad: String, members: NIOLoopBound<RawMembers>,
                                  eventLoop: any EventLoop) {
        let packet = SocketIOPacket.event(namespace: SocketIOPacket.defaultNamespace, name: "bench",
                                          arguments: [["i": .number(Double(index)), "pad": .string(pad)]], ackID: nil)
        guard case .text(let text) = EngineIOPacket.message(packet.encode().text).webSocketFrame else { return }
        members.value.write(WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(string: text)))
        eventLoop.execute { members.value.flush() }
    }

    private func send(_ packet: EngineIOPacket, context: ChannelHandlerContext) {
        guard case .text(let text) = packet.webSocketFrame else { return }
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .text,
                                                              data: context.channel.allocator.buffer(string: text))),
                              promise: nil)
    }
}
