import Foundation
import NIOCore
import NIOHTTP1
import Runtime

/// Answers one HTTP request of a long-polling session (or any plain HTTP request), from any thread.
struct PollResponder: Sendable {
    /// The request's connection.
    let channel: any Channel
    /// Whether the client keeps the connection open after the answer.
    let keepAlive: Bool
    /// CORS headers for an allowed browser origin.
    let corsHeaders: [(String, String)]

    /// Writes a complete response.
    func respond(status: HTTPResponseStatus, body: String, contentType: String = "text/plain; charset=UTF-8") {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: String(body.utf8.count))
        headers.add(name: "Cache-Control", value: "no-store")
        headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        for (name, value) in corsHeaders { headers.add(name: name, value: value) }
        let head = HTTPResponseHead(version: .http1_1, status: status, headers: headers)
        let buffer = channel.allocator.buffer(string: body)
        let channel = channel
        let keepAlive = keepAlive
        channel.eventLoop.execute {
            channel.write(HTTPServerResponsePart.head(head), promise: nil)
            channel.write(HTTPServerResponsePart.body(.byteBuffer(buffer)), promise: nil)
            channel.writeAndFlush(HTTPServerResponsePart.end(nil)).whenComplete { _ in
                if keepAlive {
                    channel.pipeline.fireUserInboundEventTriggered(ResponseSent())
                } else {
                    channel.close(promise: nil)
                }
            }
        }
    }
}

/// Tells the connection's ``GatewayHTTPHandler`` that a response went out and the connection stays open.
struct ResponseSent {}

/// The parts of an Engine.IO request URL the gateway looks at.
struct EngineIORequest {
    var path: String
    var query: [String: String]

    init(uri: String) {
        let parts = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        path = String(parts.first ?? "")
        var query: [String: String] = [:]
        if parts.count > 1 {
            for pair in parts[1].split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let key = String(kv[0]).removingPercentEncoding ?? String(kv[0])
                let value = kv.count > 1 ? (String(kv[1]).removingPercentEncoding ?? String(kv[1])) : ""
                query[key] = value
            }
        }
        self.query = query
    }

    /// Whether the path is the Engine.IO path, with or without a trailing slash.
    func isEngineIOPath(_ configured: String) -> Bool {
        path == configured || path == configured + "/"
    }
}

/// Why an Engine.IO request is refused before it reaches a session (the reference server's error codes).
enum HandshakeRefusal {
    static let unknownTransport = (code: 0, message: "Transport unknown")
    static let unknownSession = (code: 1, message: "Session ID unknown")
    static let badRequest = (code: 3, message: "Bad request")
    static let forbidden = (code: 4, message: "Forbidden")
    static let unsupportedVersion = (code: 5, message: "Unsupported protocol version")
}

/// Plain HTTP on the gateway port: Engine.IO long-polling, CORS preflight, `/health`, `/ready` and `/metrics`.
/// WebSocket upgrades are taken by the upgrader before this handler sees them.
///
/// A connection that is not waiting for an answer must bring a complete request (head and body) within
/// `HTTP_REQUEST_TIMEOUT_MS`, counted from the moment it is ready for one (accepted, or its last answer sent): a
/// client that dribbles its headers (slowloris), never sends a request, or keeps an idle connection open is closed
/// then. A parked long-polling GET is waiting for an answer, not sending, and is governed by the Engine.IO timers.
final class GatewayHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let context: GatewayContext
    private var head: HTTPRequestHead?
    private var body: ByteBuffer?
    private var bodyTooLarge = false
    private var pendingPoll: (session: GatewaySession, responder: PollResponder)?
    /// Requests received in full and not answered yet; the request deadline runs only while this is 0.
    private var awaitingAnswers = 0
    /// Closes the connection unless a complete request arrives in time.
    private var requestDeadline: Scheduled<Void>?

    init(context: GatewayContext) {
        self.context = context
    }

    func handlerAdded(context channelContext: ChannelHandlerContext) {
        if channelContext.channel.isActive { armRequestDeadline(channelContext) }
    }

    func handlerRemoved(context channelContext: ChannelHandlerContext) {
        requestDeadline?.cancel()  // upgraded to a WebSocket: the Engine.IO timers take over
        requestDeadline = nil
    }

    func channelActive(context channelContext: ChannelHandlerContext) {
        armRequestDeadline(channelContext)
        channelContext.fireChannelActive()
    }

    func userInboundEventTriggered(context channelContext: ChannelHandlerContext, event: Any) {
        guard event is ResponseSent else {
            channelContext.fireUserInboundEventTriggered(event)
            return
        }
        awaitingAnswers = max(0, awaitingAnswers - 1)
        if awaitingAnswers == 0 { armRequestDeadline(channelContext) }
    }

    private func armRequestDeadline(_ channelContext: ChannelHandlerContext) {
        guard requestDeadline == nil else { return }
        let channel = channelContext.channel
        requestDeadline = channel.eventLoop.scheduleTask(in: TimeAmount(context.configuration.httpRequestTimeout)) {
            GatewayMetrics.refusedConnections("request_timeout").increment()
            channel.close(promise: nil)
        }
    }

    func channelRead(context channelContext: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = nil
            bodyTooLarge = false
        case .body(var chunk):
            guard !bodyTooLarge else { return }
            if (body?.readableBytes ?? 0) + chunk.readableBytes > context.configuration.maxPayload {
                bodyTooLarge = true
                body = nil
            } else if body == nil {
                body = chunk
            } else {
                body!.writeBuffer(&chunk)
            }
        case .end:
            guard let head else { return }
            self.head = nil
            awaitingAnswers += 1
            requestDeadline?.cancel()
            requestDeadline = nil
            handle(head, body: body ?? channelContext.channel.allocator.buffer(capacity: 0), channel: channelContext.channel)
        }
    }

    func channelInactive(context channelContext: ChannelHandlerContext) {
        requestDeadline?.cancel()
        requestDeadline = nil
        if let (session, responder) = pendingPoll {
            session.pollGetClosed(responder)
            pendingPoll = nil
        }
        channelContext.fireChannelInactive()
    }

    private func handle(_ head: HTTPRequestHead, body: ByteBuffer, channel: any Channel) {
        let request = EngineIORequest(uri: head.uri)
        let origin = head.headers.first(name: "Origin")
        let cors = corsHeaders(origin: origin)
        let responder = PollResponder(channel: channel, keepAlive: head.isKeepAlive, corsHeaders: cors)
        pendingPoll = nil

        switch (head.method, request.path) {
        case (.GET, "/health"):
            responder.respond(status: .ok, body: #"{"status":"ok"}"#, contentType: "application/json")
            return
        case (.GET, "/ready"):
            if context.isReady {
                responder.respond(status: .ok, body: #"{"status":"ready"}"#, contentType: "application/json")
            } else {
                responder.respond(status: .serviceUnavailable, body: #"{"status":"not_ready"}"#,
                                  contentType: "application/json")
            }
            return
        case (.GET, "/metrics"):
            responder.respond(status: .ok, body: MetricsBootstrap.prometheusText(),
                              contentType: "text/plain; version=0.0.4; charset=utf-8")
            return
        default:
            break
        }
        guard request.isEngineIOPath(context.configuration.path) else {
            responder.respond(status: .notFound, body: "not found")
            return
        }
        if let origin, !isAllowed(origin: origin, host: head.headers.first(name: "Host")) {
            GatewayMetrics.refusedConnections("origin").increment()
            refuse(responder, status: .forbidden, HandshakeRefusal.forbidden)
            return
        }
        if head.method == .OPTIONS {
            responder.respond(status: .noContent, body: "")
            return
        }
        guard request.query["EIO"] == "4" else {
            refuse(responder, status: .badRequest, HandshakeRefusal.unsupportedVersion)
            return
        }
        guard request.query["transport"] == "polling" else {
            // A websocket request that reaches this handler did not carry valid upgrade headers.
            refuse(responder, status: .badRequest,
                   request.query["transport"] == "websocket" ? HandshakeRefusal.badRequest : HandshakeRefusal.unknownTransport)
            return
        }
        if let sid = request.query["sid"] {
            guard let session = context.hub.session(sid: sid) else {
                refuse(responder, status: .badRequest, HandshakeRefusal.unknownSession)
                return
            }
            switch head.method {
            case .GET:
                pendingPoll = (session, responder)
                session.pollGet(responder)
            case .POST:
                guard !bodyTooLarge else {
                    responder.respond(status: .payloadTooLarge, body: #"{"code":"payload_too_large","message":"payload too large"}"#,
                                      contentType: "application/json")
                    return
                }
                session.pollPost(body, responder: responder)
            default:
                refuse(responder, status: .badRequest, HandshakeRefusal.badRequest)
            }
            return
        }
        guard head.method == .GET else {
            refuse(responder, status: .badRequest, HandshakeRefusal.badRequest)
            return
        }
        guard context.acceptsConnections else {
            responder.respond(status: .serviceUnavailable, body: #"{"code":"unavailable","message":"gateway not ready"}"#,
                              contentType: "application/json")
            return
        }
        let address = channel.remoteAddress?.ipAddress ?? "unknown"
        guard context.hub.admitConnection(from: address, now: .now) else {
            GatewayMetrics.refusedConnections("ip_rate").increment()
            responder.respond(status: .tooManyRequests, body: #"{"code":"rate_limited","message":"too many connections"}"#,
                              contentType: "application/json")
            return
        }
        let session = GatewaySession.openPolling(
            responder: responder, remoteAddress: address, bearerToken: Self.bearerToken(head.headers), context: context)
        _ = session
    }

    private func refuse(_ responder: PollResponder, status: HTTPResponseStatus, _ refusal: (code: Int, message: String)) {
        responder.respond(status: status, body: #"{"code":\#(refusal.code),"message":"\#(refusal.message)"}"#,
                          contentType: "application/json")
    }

    private func corsHeaders(origin: String?) -> [(String, String)] {
        guard let origin, context.configuration.allowedOrigins.contains(origin) else { return [] }
        return [("Access-Control-Allow-Origin", origin), ("Access-Control-Allow-Credentials", "true"),
                ("Access-Control-Allow-Headers", "Authorization, Content-Type"), ("Vary", "Origin")]
    }

    /// An `Origin` is allowed when listed in `ALLOWED_ORIGINS` or when it is the gateway's own origin.
    private func isAllowed(origin: String, host: String?) -> Bool {
        Self.isAllowed(origin: origin, host: host, allowed: context.configuration.allowedOrigins)
    }

    static func isAllowed(origin: String, host: String?, allowed: Set<String>) -> Bool {
        if allowed.contains(origin) { return true }
        guard let host, let url = URL(string: origin), let originHost = url.host else { return false }
        let originAuthority = url.port.map { "\(originHost):\($0)" } ?? originHost
        return originAuthority == host
    }

    static func bearerToken(_ headers: HTTPHeaders) -> String? {
        guard let value = headers.first(name: "Authorization"), value.lowercased().hasPrefix("bearer ") else { return nil }
        return String(value.dropFirst(7)).trimmingCharacters(in: .whitespaces)
    }
}
