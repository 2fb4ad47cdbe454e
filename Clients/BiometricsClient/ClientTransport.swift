import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket
import SocketIO

/// One Socket.IO connection over a WebSocket (Engine.IO v4 `transport=websocket`): TCP (+TLS), the HTTP upgrade, the
/// Engine.IO open packet, the Socket.IO CONNECT with the auth object, then packets both ways until it closes.
///
/// The handler lives on its channel's event loop; this type is the thread-safe face of it. A new transport is made
/// for every (re)connect, so no state survives a broken connection by accident.
final class ClientTransport: Sendable {
    /// What the transport reports to its owner (called on the event loop; must not block).
    struct Callbacks: Sendable {
        /// The CONNECT answer's payload, before any event that follows it.
        var connected: @Sendable (SocketIOObject?) -> Void
        /// A Socket.IO packet after CONNECT (events and acks); for a recoverable socket an event's trailing delivery
        /// position is taken off its arguments and passed separately.
        var packet: @Sendable (SocketIOPacket, _ position: String?) -> Void
        /// The connection ended; the reason is for the state stream.
        var closed: @Sendable (String) -> Void
    }

    private let channel: any Channel
    private let handler: NIOLoopBound<ClientSocketHandler>
    /// The Socket.IO session id the server gave (its socket id).
    let socketID: String
    /// The CONNECT answer's payload (the server's `sid` and, where supported, recovery fields).
    let connectPayload: SocketIOObject?

    private init(channel: any Channel, handler: NIOLoopBound<ClientSocketHandler>, socketID: String,
                 connectPayload: SocketIOObject?) {
        self.channel = channel
        self.handler = handler
        self.socketID = socketID
        self.connectPayload = connectPayload
    }

    /// Connects and completes the Socket.IO CONNECT, or throws (refused token, HTTP error, timeout).
    static func connect(
        endpoint: ClientEndpoint, auth: SocketIOObject, group: any EventLoopGroup, tls: TLSConfiguration?,
        timeout: Duration, callbacks: Callbacks
    ) async throws -> ClientTransport {
        let eventLoop = group.next()
        let connected = eventLoop.makePromise(of: ConnectAnswer.self)
        let timer = eventLoop.scheduleTask(in: .nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000
                                                            + timeout.components.attoseconds / 1_000_000_000)) {
            connected.fail(BiometricsClientError(.timeout, "no Socket.IO CONNECT answer within \(timeout)"))
        }
        connected.futureResult.whenComplete { _ in timer.cancel() }
        let sslContext = try tls.map { try NIOSSLContext(configuration: $0) }
        var headers = HTTPHeaders([("Host", "\(endpoint.host):\(endpoint.port)"), ("Content-Length", "0")])
        if let origin = endpoint.origin { headers.add(name: "Origin", value: origin) }
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: endpoint.requestURI, headers: headers)
        let bootstrap = ClientBootstrap(group: eventLoop)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let sslContext {
                        let tlsHandler = try NIOSSLClientHandler(context: sslContext, serverHostname: endpoint.host)
                        try channel.pipeline.syncOperations.addHandler(tlsHandler)
                    }
                    let upgrader = NIOWebSocketClientUpgrader(maxFrameSize: endpoint.maxFrameSize,
                                                              automaticErrorHandling: true) { channel, _ in
                        channel.eventLoop.makeCompletedFuture {
                            let handler = ClientSocketHandler(auth: auth, connected: connected, callbacks: callbacks)
                            try channel.pipeline.syncOperations.addHandlers([
                                NIOWebSocketFrameAggregator(
                                    minNonFinalFragmentSize: 0, maxAccumulatedFrameCount: 64,
                                    maxAccumulatedFrameSize: endpoint.maxFrameSize),
                                handler,
                            ])
                        }
                    }
                    try channel.pipeline.syncOperations.addHTTPClientHandlers(
                        leftOverBytesStrategy: .forwardBytes,
                        withClientUpgrade: (upgraders: [upgrader], completionHandler: { context in
                            context.pipeline.syncOperations.removeHandler(
                                name: WebSocketUpgradeRequestHandler.name, promise: nil)
                        }))
                    try channel.pipeline.syncOperations.addHandler(
                        WebSocketUpgradeRequestHandler(head: head, refused: { connected.fail($0) }),
                        name: WebSocketUpgradeRequestHandler.name)
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: endpoint.host, port: endpoint.port).get()
        } catch {
            connected.fail(error)
            throw BiometricsClientError(.connectionFailed, "cannot reach \(endpoint.host):\(endpoint.port): \(error)")
        }
        do {
            let answer = try await connected.futureResult.get()
            return ClientTransport(channel: channel, handler: answer.handler, socketID: answer.socketID,
                                   connectPayload: answer.payload)
        } catch {
            channel.close(promise: nil)
            throw error
        }
    }

    /// Sends one Socket.IO packet (text plus binary attachments), in order with earlier sends.
    func send(_ packet: SocketIOPacket) {
        let handler = handler
        channel.eventLoop.execute { handler.value.send(packet) }
    }

    /// Closes the connection (a Socket.IO DISCONNECT first, so the server knows it was on purpose).
    func close() {
        let handler = handler
        channel.eventLoop.execute { handler.value.disconnect() }
    }
}

/// Where the client connects: host, port, TLS, path and the Engine.IO query.
struct ClientEndpoint: Sendable {
    var host: String
    var port: Int
    var useTLS: Bool
    var path: String
    var origin: String?
    var maxFrameSize: Int

    /// Parses `http(s)://` or `ws(s)://host[:port]`.
    init(url: String, path: String, origin: String?, maxFrameSize: Int) throws {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
              let host = components.host, !host.isEmpty
        else { throw BiometricsClientError(.invalidConfiguration, "not a URL: \(url)") }
        switch scheme {
        case "http", "ws": useTLS = false
        case "https", "wss": useTLS = true
        default: throw BiometricsClientError(.invalidConfiguration, "unsupported scheme \(scheme) in \(url)")
        }
        self.host = host
        port = components.port ?? (useTLS ? 443 : 80)
        self.path = path.hasSuffix("/") ? path : path + "/"
        self.origin = origin
        self.maxFrameSize = maxFrameSize
    }

    /// `/ws/?EIO=4&transport=websocket`.
    var requestURI: String { path + "?EIO=4&transport=websocket" }
}

/// The CONNECT answer: the handler (for sending) and the server's payload.
struct ConnectAnswer: Sendable {
    let handler: NIOLoopBound<ClientSocketHandler>
    let socketID: String
    let payload: SocketIOObject?
}

/// Sends the WebSocket upgrade request once connected (`NIOWebSocketClientUpgrader` adds the upgrade headers) and
/// reports an answer that is not an upgrade (a 400/429 refusal) as a failure. Remove it by ``name`` when the upgrade
/// completes: WebSocket frames must not reach it. Shared with the load generators of `biometricsctl bench`.
package final class WebSocketUpgradeRequestHandler: ChannelInboundHandler, RemovableChannelHandler {
    package typealias InboundIn = HTTPClientResponsePart
    package typealias OutboundOut = HTTPClientRequestPart

    /// The handler's name in the pipeline.
    package static let name = "websocket-upgrade-request"
    private let head: HTTPRequestHead
    private let refused: (any Error) -> Void

    /// A handler sending `head`; `refused` gets a `BiometricsClientError` for a refusal or the pipeline's error.
    package init(head: HTTPRequestHead, refused: @escaping (any Error) -> Void) {
        self.head = head
        self.refused = refused
    }

    package func channelActive(context: ChannelHandlerContext) {
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        context.fireChannelActive()
    }

    package func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let response) = unwrapInboundIn(data) {
            refused(BiometricsClientError(.connectionFailed, "WebSocket upgrade refused: HTTP \(response.status.code)"))
            context.close(promise: nil)
        }
    }

    package func errorCaught(context: ChannelHandlerContext, error: any Error) {
        refused(BiometricsClientError(.connectionFailed, "\(error)"))
        context.close(promise: nil)
    }
}

/// The Engine.IO/Socket.IO client on an upgraded WebSocket, confined to its event loop.
final class ClientSocketHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private enum Phase { case awaitingOpen, awaitingConnect, connected, closed }

    private let auth: SocketIOObject
    private let callbacks: ClientTransport.Callbacks
    private var connected: EventLoopPromise<ConnectAnswer>?
    private var phase = Phase.awaitingOpen
    private var decoder = SocketIODecoder()
    private var context: ChannelHandlerContext?
    private var pingTimeout: TimeAmount = .seconds(45)
    private var heartbeatCheck: Scheduled<Void>?
    private var closeReason = "transport closed"
    /// The CONNECT answer carried a recovery id: events end with their delivery position.
    private var recoverable = false

    init(auth: SocketIOObject, connected: EventLoopPromise<ConnectAnswer>, callbacks: ClientTransport.Callbacks) {
        self.auth = auth
        self.connected = connected
        self.callbacks = callbacks
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text:
            receive(.text(String(buffer: frame.unmaskedData)), context: context)
        case .binary:
            var data = frame.unmaskedData
            receive(.binary(Data(data.readBytes(length: data.readableBytes) ?? [])), context: context)
        case .ping:
            let pong = WebSocketFrame(fin: true, opcode: .pong, maskKey: .random(), data: frame.unmaskedData)
            context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
        case .connectionClose:
            closeReason = "server closed the WebSocket"
            context.close(promise: nil)
        default:
            break
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        heartbeatCheck?.cancel()
        let wasConnected = phase == .connected
        phase = .closed
        connected?.fail(BiometricsClientError(.connectionFailed, "connection closed before CONNECT: \(closeReason)"))
        connected = nil
        if wasConnected { callbacks.closed(closeReason) }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        closeReason = "\(error)"
        connected?.fail(BiometricsClientError(.connectionFailed, "\(error)"))
        connected = nil
        context.close(promise: nil)
    }

    /// Sends a Socket.IO packet: the text packet, then each binary attachment as a binary frame.
    func send(_ packet: SocketIOPacket) {
        guard phase == .connected else { return }
        let encoded = packet.encode()
        for engineIOPacket in encoded.engineIOPackets { write(engineIOPacket) }
        flush()
    }

    /// Sends DISCONNECT and closes.
    func disconnect() {
        guard let context, phase != .closed else { return }
        if phase == .connected {
            send(.disconnect(namespace: SocketIOPacket.defaultNamespace))
        }
        closeReason = "client closed"
        context.close(promise: nil)
    }

    private func receive(_ frame: EngineIOFrame, context: ChannelHandlerContext) {
        let packet: EngineIOPacket
        do {
            packet = try EngineIOPacket(webSocketFrame: frame)
        } catch {
            fail("malformed Engine.IO packet: \(error)", context: context)
            return
        }
        switch packet {
        case .open(let handshake):
            guard phase == .awaitingOpen else { return }
            phase = .awaitingConnect
            pingTimeout = .milliseconds(Int64(handshake.pingInterval + handshake.pingTimeout))
            armHeartbeatCheck()
            write(.message(SocketIOPacket.connect(namespace: SocketIOPacket.defaultNamespace, payload: auth)
                .encode().text))
            flush()
        case .ping(let data):
            armHeartbeatCheck()
            write(.pong(data))
            flush()
        case .message, .binaryMessage:
            let decoded: SocketIOPacket?
            do {
                decoded = try decoder.decode(packet)
            } catch {
                fail("malformed Socket.IO packet: \(error)", context: context)
                return
            }
            guard let decoded else { return }  // waiting for binary attachments
            handle(decoded, context: context)
        case .close:
            closeReason = "server closed the session"
            context.close(promise: nil)
        case .pong, .upgrade, .noop:
            break
        }
    }

    private func handle(_ packet: SocketIOPacket, context: ChannelHandlerContext) {
        switch packet {
        case .connect(_, let payload):
            guard phase == .awaitingConnect else { return }
            phase = .connected
            recoverable = payload?["pid"]?.stringValue != nil
            callbacks.connected(payload)
            let sid = payload?["sid"]?.stringValue ?? ""
            connected?.succeed(ConnectAnswer(handler: NIOLoopBound(self, eventLoop: context.eventLoop), socketID: sid,
                                             payload: payload))
            connected = nil
        case .connectError(_, let message, _):
            connected?.fail(BiometricsClientError(.refused, message))
            connected = nil
            closeReason = "CONNECT_ERROR: \(message)"
            context.close(promise: nil)
        case .disconnect:
            closeReason = "server disconnected the socket"
            context.close(promise: nil)
        case .event(let namespace, let name, var arguments, let ackID):
            guard phase == .connected else { return }
            var position: String?
            if recoverable, arguments.count >= 2, let last = arguments.last?.stringValue {
                position = last
                arguments.removeLast()
            }
            callbacks.packet(.event(namespace: namespace, name: name, arguments: arguments, ackID: ackID), position)
        case .ack:
            if phase == .connected { callbacks.packet(packet, nil) }
        }
    }

    /// The server pings every `pingInterval`; silence for `pingInterval + pingTimeout` means the link is dead.
    private func armHeartbeatCheck() {
        heartbeatCheck?.cancel()
        guard let context else { return }
        heartbeatCheck = context.eventLoop.assumeIsolated().scheduleTask(in: pingTimeout) { [self] in
            closeReason = "no ping from the server (heartbeat timeout)"
            self.context?.close(promise: nil)
        }
    }

    private func fail(_ reason: String, context: ChannelHandlerContext) {
        closeReason = reason
        connected?.fail(BiometricsClientError(.protocolError, reason))
        connected = nil
        context.close(promise: nil)
    }

    private func write(_ packet: EngineIOPacket) {
        guard let context else { return }
        let frame: WebSocketFrame
        switch packet.webSocketFrame {
        case .text(let text):
            frame = WebSocketFrame(fin: true, opcode: .text, maskKey: .random(),
                                   data: context.channel.allocator.buffer(string: text))
        case .binary(let data):
            frame = WebSocketFrame(fin: true, opcode: .binary, maskKey: .random(),
                                   data: context.channel.allocator.buffer(bytes: data))
        }
        context.write(wrapOutboundOut(frame), promise: nil)
    }

    private func flush() { context?.flush() }
}
