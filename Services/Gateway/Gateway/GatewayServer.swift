import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket
import ServiceLifecycle
import Synchronization

/// The listening socket: HTTP (long-polling, health) and WebSocket upgrades on one port, over SwiftNIO.
///
/// On graceful shutdown it stops accepting, refuses new handshakes, closes every session's transport (Socket.IO
/// clients then reconnect, to another gateway) and waits briefly for the disconnects to be published.
public final class GatewayServer: Service, Sendable {
    /// Every connection's write buffer watermarks (NIO's defaults, made explicit): a session whose WebSocket is
    /// writable has at most `high` bytes waiting, which spares it counting bytes on every write.
    static let writeBufferWaterMark = ChannelOptions.Types.WriteBufferWaterMark(low: 32 * 1024, high: 64 * 1024)

    private let context: GatewayContext
    private let group: any EventLoopGroup
    private let boundPortPromise = Mutex<(port: Int?, waiters: [CheckedContinuation<Int, any Error>])>((nil, []))

    init(context: GatewayContext, group: any EventLoopGroup) {
        self.context = context
        self.group = group
    }

    /// The port the server listens on (useful with `GATEWAY_PORT=0`); waits until it is bound.
    public func boundPort() async throws -> Int {
        try await withCheckedThrowingContinuation { continuation in
            let port = boundPortPromise.withLock { state -> Int? in
                if let port = state.port { return port }
                state.waiters.append(continuation)
                return nil
            }
            if let port { continuation.resume(returning: port) }
        }
    }

    /// Serves until graceful shutdown.
    public func run() async throws {
        let configuration = context.configuration
        let tls = try Self.tlsContext(configuration)
        let channel = try await bootstrap(tls: tls).bind(host: configuration.host, port: configuration.port).get()
        let port = channel.localAddress?.port ?? configuration.port
        let waiters = boundPortPromise.withLock { state in
            state.port = port
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(returning: port) }
        context.logger.info("gateway listening", metadata: [
            "http.port": "\(port)", "gateway.path": "\(configuration.path)", "gateway.id": "\(context.gatewayId)",
            "gateway.tls": "\(tls != nil)",
        ])

        try? await gracefulShutdown()
        context.markDraining()
        try? await channel.close()
        let sessions = context.hub.allSessions
        context.logger.info("gateway draining", metadata: ["gateway.sessions": "\(sessions.count)"])
        for session in sessions { session.closeTransport() }
        // Give the close frames and the disconnect records a moment to leave.
        let deadline = ContinuousClock.now + .seconds(5)
        while context.hub.sessionCount > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// The TLS context when `TLS_CERT_FILE` and `TLS_KEY_FILE` are set (WSS and HTTPS on the same port).
    static func tlsContext(_ configuration: GatewayConfiguration) throws -> NIOSSLContext? {
        guard let certificateFile = configuration.tlsCertificateFile, let keyFile = configuration.tlsKeyFile else {
            return nil
        }
        let chain = try NIOSSLCertificate.fromPEMFile(certificateFile).map { NIOSSLCertificateSource.certificate($0) }
        let key = try NIOSSLPrivateKey(file: keyFile, format: .pem)
        let tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
        return try NIOSSLContext(configuration: tls)
    }

    private func bootstrap(tls: NIOSSLContext?) -> ServerBootstrap {
        let context = context
        return ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 1024)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(ChannelOptions.writeBufferWaterMark, value: Self.writeBufferWaterMark)
            .childChannelInitializer { channel in
                if let tls {
                    do {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
                    } catch {
                        return channel.eventLoop.makeFailedFuture(error)
                    }
                }
                let upgrader = Self.webSocketUpgrader(context: context)
                return channel.pipeline.configureHTTPServerPipeline(
                    withServerUpgrade: (upgraders: [upgrader], completionHandler: { handlerContext in
                        handlerContext.pipeline.removeHandler(name: "gateway-http", promise: nil)
                    })
                ).flatMapThrowing {
                    try channel.pipeline.syncOperations.addHandler(GatewayHTTPHandler(context: context), name: "gateway-http")
                }
            }
    }

    /// Accepts `GET <path>/?EIO=4&transport=websocket[&sid=…]` from an allowed origin.
    static func webSocketUpgrader(context: GatewayContext) -> NIOWebSocketServerUpgrader {
        let configuration = context.configuration
        return NIOWebSocketServerUpgrader(
            maxFrameSize: configuration.maxPayload,
            shouldUpgrade: { channel, head in
                let request = EngineIORequest(uri: head.uri)
                guard request.isEngineIOPath(configuration.path), request.query["EIO"] == "4",
                      request.query["transport"] == "websocket"
                else { return channel.eventLoop.makeSucceededFuture(nil) }
                if let origin = head.headers.first(name: "Origin"),
                   !GatewayHTTPHandler.isAllowed(origin: origin, host: head.headers.first(name: "Host"),
                                                 allowed: configuration.allowedOrigins) {
                    // Not upgraded: the HTTP handler then answers 403 (and counts the refusal, once).
                    return channel.eventLoop.makeSucceededFuture(nil)
                }
                if let sid = request.query["sid"] {
                    return channel.eventLoop.makeSucceededFuture(context.hub.session(sid: sid) == nil ? nil : HTTPHeaders())
                }
                guard context.acceptsConnections,
                      context.hub.admitConnection(from: channel.remoteAddress?.ipAddress ?? "unknown", now: .now)
                else {
                    GatewayMetrics.refusedConnections(context.acceptsConnections ? "ip_rate" : "not_ready").increment()
                    return channel.eventLoop.makeSucceededFuture(nil)
                }
                return channel.eventLoop.makeSucceededFuture(HTTPHeaders())
            },
            upgradePipelineHandler: { channel, head in
                let request = EngineIORequest(uri: head.uri)
                let role: GatewayWebSocketHandler.Role
                if let sid = request.query["sid"], let session = context.hub.session(sid: sid) {
                    role = .upgrade(session)
                } else {
                    role = .new(remoteAddress: channel.remoteAddress?.ipAddress ?? "unknown",
                                bearerToken: GatewayHTTPHandler.bearerToken(head.headers))
                }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers(
                        NIOWebSocketFrameAggregator(minNonFinalFragmentSize: 0, maxAccumulatedFrameCount: 256,
                                                    maxAccumulatedFrameSize: configuration.maxPayload),
                        GatewayWebSocketHandler(context: context, role: role))
                }
            })
    }
}
