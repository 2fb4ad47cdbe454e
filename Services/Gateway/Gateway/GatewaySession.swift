import Auth
import Foundation
import Kafka
import Logging
import Messages
import NIOCore
import NIOHTTP1
import NIOWebSocket
import SocketIO

/// One client: an Engine.IO session and the Socket.IO connection on top of it, driven on one event loop.
///
/// Transports report to it (`pollGet`, `pollPost`, `webSocketFrame` …), the hub and the delivery relay call `emit`
/// and the controls; every entry point hops to ``eventLoop`` first. The two protocol state machines decide; this
/// class performs their actions: writes, HTTP answers, timers, authentication, relaying events to Kafka.
///
/// `@unchecked Sendable`: every mutable property is read and written only on `eventLoop` (each public entry point
/// hops there); the rest is immutable after `init`.
final class GatewaySession: @unchecked Sendable {
    let sid: String
    let eventLoop: any EventLoop
    let remoteAddress: String
    /// Flushes what fan-out writes to this session's WebSocket (shared by the sessions of ``eventLoop``).
    let flusher: FanOutFlusher
    private let context: GatewayContext
    private let bearerToken: String?

    private var engine: EngineIOSession
    private var connection: SocketIOConnection
    private var webSocket: (any Channel)? {
        didSet {
            webSocketIsLocal = webSocket.map { $0.eventLoop === eventLoop } ?? false
            webSocketIsWritable = webSocket?.isWritable ?? true
        }
    }
    /// Whether ``webSocket`` runs on this session's event loop (always, unless an upgrade from polling landed on
    /// another loop): then NIO counts its unsent bytes and fan-out writes need no promise.
    private var webSocketIsLocal = false
    /// The WebSocket's writability as its handler last reported it (read on every fan-out write without touching
    /// the channel; exact for a WebSocket on this loop, which reports synchronously).
    private var webSocketIsWritable = true
    private var pendingGet: PollResponder?
    private var currentGet: PollResponder?
    private var currentPost: PollResponder?
    private var timer: Scheduled<Void>?
    private var timerDeadline: ContinuousClock.Instant?

    private(set) var principal: Principal?
    private var socketID: String?
    private var bucket: TokenBucket
    private var refusedInARow = 0
    private var streamGrants: Set<String> = []
    /// Whether this socket has a recovery id (its events carry the delivery position; its rooms are recorded).
    private var recoverable = false
    /// While a recovered socket's missed deliveries are read back, live ones wait here (then follow them in order).
    private var held: [(packet: OutboundPacket, droppable: Bool)]?
    private var awaitingAnswers: [Int: Scheduled<Void>] = [:]
    /// Bytes the session counts itself: buffered for the next polling GET, or written to a WebSocket on another
    /// event loop (an upgrade from polling may land on one) and not yet sent. NIO counts the rest.
    private var queuedBytes = 0
    /// Bytes written to the WebSocket by fan-out and not yet flushed (see ``emit(_:to:droppable:)``).
    private var unflushedBytes = 0
    private var finished = false
    private var openingActions: [EngineIOSession.Action]

    private init(sid: String, transport: EngineIOSession.Transport, eventLoop: any EventLoop, remoteAddress: String,
                 bearerToken: String?, context: GatewayContext, now: ContinuousClock.Instant) {
        self.sid = sid
        self.eventLoop = eventLoop
        self.remoteAddress = remoteAddress
        self.bearerToken = bearerToken
        self.context = context
        flusher = context.flusher(for: eventLoop)
        let configuration = context.configuration
        (engine, openingActions) = EngineIOSession.open(
            sid: sid, transport: transport,
            configuration: EngineIOSession.Configuration(
                pingInterval: configuration.pingInterval, pingTimeout: configuration.pingTimeout,
                maxPayload: configuration.maxPayload,
                // A server-closed polling session waits this long for the GET that takes its close packet: a live
                // client is back within pingTimeout (it always keeps a GET pending), an abandoned handshake is not.
                closeTimeout: configuration.pingTimeout),
            now: now)
        connection = SocketIOConnection(
            configuration: SocketIOConnection.Configuration(connectTimeout: configuration.connectTimeout,
                                                            ackTimeout: configuration.ackTimeout),
            now: now)
        bucket = TokenBucket(rate: configuration.eventsPerSecond, burst: configuration.eventBurst, now: now)
    }

    /// The gateway's logger with this session's ids. Built when something is logged: a logger copy with its own
    /// metadata in every idle session cost about half a kilobyte each.
    private var logger: Logger {
        var logger = context.logger
        logger[metadataKey: "engineio.sid"] = "\(sid)"
        if let socketID { logger[metadataKey: "socketio.sid"] = "\(socketID)" }
        if let principal { logger[metadataKey: "user.id"] = "\(principal.userId)" }
        return logger
    }

    // MARK: Opening

    /// A session whose first transport is a WebSocket; sends the open packet on it. Call on the channel's loop.
    static func openWebSocket(channel: any Channel, remoteAddress: String, bearerToken: String?,
                              context: GatewayContext) -> GatewaySession {
        let now = ContinuousClock.now
        let session = GatewaySession(sid: makeSessionID(), transport: .webSocket, eventLoop: channel.eventLoop,
                                     remoteAddress: remoteAddress, bearerToken: bearerToken, context: context, now: now)
        session.webSocket = channel
        context.hub.addSession(session)
        session.performOpening(now: now)
        return session
    }

    /// A session opened by a polling GET; answers it with the open packet. Call on the request channel's loop.
    static func openPolling(responder: PollResponder, remoteAddress: String, bearerToken: String?,
                            context: GatewayContext) -> GatewaySession {
        let now = ContinuousClock.now
        let session = GatewaySession(sid: makeSessionID(), transport: .polling, eventLoop: responder.channel.eventLoop,
                                     remoteAddress: remoteAddress, bearerToken: bearerToken, context: context, now: now)
        context.hub.addSession(session)
        session.currentGet = responder
        session.performOpening(now: now)
        session.finishRequestHandling()
        return session
    }

    /// Performs the handshake actions `EngineIOSession.open` returned in `init`.
    private func performOpening(now: ContinuousClock.Instant) {
        GatewayMetrics.connections.increment()
        let actions = openingActions
        openingActions = []
        perform(actions, now: now)
    }

    private static func makeSessionID() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<15).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
    }

    // MARK: Transport events (from any loop)

    /// A long-polling GET for this session.
    func pollGet(_ responder: PollResponder) {
        onLoop { now in
            self.currentGet = responder
            self.perform(self.engine.receivedPollGet(now: now), now: now)
            self.finishRequestHandling()
        }
    }

    /// A long-polling POST body for this session.
    func pollPost(_ body: ByteBuffer, responder: PollResponder) {
        onLoop { now in
            self.currentPost = responder
            self.perform(self.engine.receivedPollPost(now: now), now: now)
            if self.currentPost != nil {
                self.perform(self.engine.receivedPollPostBody(body.readableBytesView, now: now), now: now)
            }
            self.currentPost = nil
        }
    }

    /// A polling GET's connection closed before it was answered.
    func pollGetClosed(_ responder: PollResponder) {
        onLoop { now in
            guard let pending = self.pendingGet, pending.channel === responder.channel else { return }
            self.pendingGet = nil
            self.perform(self.engine.pollGetAborted(now: now), now: now)
        }
    }

    /// A WebSocket opened with this session's sid: the upgrade from polling begins.
    func attachUpgradeWebSocket(_ channel: any Channel) {
        onLoop { now in
            guard self.webSocket == nil, !self.finished else {
                channel.close(promise: nil)
                return
            }
            self.webSocket = channel
            self.perform(self.engine.receivedUpgradeWebSocket(now: now), now: now)
        }
    }

    /// A frame arrived on the session's WebSocket.
    func webSocketFrame(_ frame: EngineIOFrame) {
        onLoop { now in
            self.perform(self.engine.receivedWebSocketFrame(frame, now: now), now: now)
        }
    }

    /// The session's WebSocket became writable or not (NIO's write buffer watermarks).
    func webSocketWritabilityChanged(_ channel: any Channel, isWritable: Bool) {
        onLoop { _ in
            guard let webSocket = self.webSocket, webSocket === channel else { return }
            self.webSocketIsWritable = isWritable
        }
    }

    /// The session's WebSocket closed.
    func webSocketClosed(_ channel: any Channel) {
        onLoop { now in
            guard let webSocket = self.webSocket, webSocket === channel else { return }
            self.webSocket = nil
            self.perform(self.engine.webSocketClosed(now: now), now: now)
        }
    }

    // MARK: From the delivery relay and the hub

    /// Sends one packet to many sessions (a room, a user's sockets): encoded once, its WebSocket frames built once,
    /// and one task per event loop for all of its sessions instead of one per session. Droppable packets (stream
    /// frames) are dropped first when a client reads slowly; a socket whose queue stays full is disconnected.
    static func emit(_ packet: OutboundPacket, to groups: [Recipients.Group], droppable: Bool) {
        for group in groups {
            emit(packet, to: group.sessions, droppable: droppable, flusher: group.flusher)
        }
    }

    /// Writes on the flusher's loop without flushing; the flusher flushes in a later task of the loop, so a burst of
    /// events gets one write syscall per socket. A socket with ``flushThreshold`` bytes unflushed is flushed at
    /// once, which bounds the delay and the memory.
    private static func emit(_ packet: OutboundPacket, to sessions: [GatewaySession], droppable: Bool,
                             flusher: FanOutFlusher) {
        @Sendable func send() {
            let now = ContinuousClock.now
            var sent = 0
            for session in sessions where session.emitOnLoop(packet, droppable: droppable, now: now) { sent += 1 }
            GatewayMetrics.eventsOut.increment(by: Int64(sent))
        }
        if flusher.eventLoop.inEventLoop { send() } else { flusher.eventLoop.execute(send) }
    }

    /// Unflushed fan-out bytes after which a socket is flushed without waiting for the end of the burst.
    static let flushThreshold = 4 * 1024

    /// Flushes what fan-out wrote and left unflushed. On the loop.
    func flushFanOut() {
        guard unflushedBytes > 0 else { return }
        unflushedBytes = 0
        webSocket?.flush()
    }

    /// Writes `packet` unless the socket is gone or its outbound queue is full; returns whether it was sent.
    private func emitOnLoop(_ packet: OutboundPacket, droppable: Bool, now: ContinuousClock.Instant) -> Bool {
        guard socketID != nil else { return false }
        if held != nil {
            held?.append((packet, droppable))
            return true
        }
        let limit = context.configuration.outboundQueueBytes
        let queued = outboundBytes(threshold: droppable ? limit / 2 : limit)
        if droppable && queued > limit / 2 {
            GatewayMetrics.framesDropped.increment()
            return false
        }
        if queued > limit {
            logger.warning("slow client: outbound queue full, disconnecting",
                           metadata: ["socketio.queued_bytes": "\(queued)"])
            GatewayMetrics.disconnects("slow_consumer").increment()
            perform(engine.close(now: now), now: now)
            return false
        }
        // `finished` is `engine.isClosed` between tasks (the session performs the `closed` action as soon as the engine
        // answers it) and, unlike that getter from another module, costs no copy of the engine per delivery.
        if engine.transport == .webSocket, !finished, let webSocket {
            // What `engine.send` answers on an open WebSocket (`webSocketSend` of these packets), written from the
            // shared frames; sending moves no deadline, so there is no timer to reschedule.
            if unflushedBytes == 0 { flusher.flushLater(self) }
            for frame in packet.webSocketFrames {
                if webSocketIsLocal { webSocket.write(frame, promise: nil) } else { write(frame, to: webSocket) }
                unflushedBytes += frame.data.readableBytes
            }
            if unflushedBytes >= Self.flushThreshold { flushFanOut() }
            return true
        }
        if engine.transport == .polling {
            // Buffered in the session until the next GET.
            queuedBytes += packet.encoded.text.utf8.count + packet.encoded.attachments.reduce(0) { $0 + $1.count }
        }
        perform(engine.send(packet.encoded.engineIOPackets), now: now)
        return true
    }

    /// Bytes not yet handed to the kernel. On a WebSocket of this event loop, NIO's buffered writes, read exactly only
    /// when they may exceed `threshold` (a writable channel holds at most its high watermark); otherwise what the
    /// session counted itself.
    private func outboundBytes(threshold: Int) -> Int {
        guard engine.transport == .webSocket, webSocketIsLocal, let webSocket else { return queuedBytes }
        if webSocketIsWritable, threshold >= GatewayServer.writeBufferWaterMark.high { return 0 }
        return (try? webSocket.syncOptions?.getOption(ChannelOptions.bufferedWritableBytes)) ?? queuedBytes
    }

    /// Answers the client's pending ack `ackID` with the service's data (a late answer after the timeout is dropped).
    func answerAck(_ ackID: Int, data: JSONValue) {
        onLoop { now in
            guard let timeout = self.awaitingAnswers.removeValue(forKey: ackID) else { return }
            timeout.cancel()
            self.perform(socket: self.connection.acknowledge(ackID, with: [JSONBridge.socketIO(data)]), now: now)
        }
    }

    /// Lets this socket publish frames for `deviceId` (or stops it).
    func setStreamGrant(_ deviceId: String, granted: Bool) {
        onLoop { _ in
            if granted { self.streamGrants.insert(deviceId) } else { self.streamGrants.remove(deviceId) }
        }
    }

    /// Disconnects the Socket.IO socket (the client will not reconnect on its own) and closes the session.
    func disconnect() {
        onLoop { now in
            self.perform(socket: self.connection.disconnect(now: now), now: now)
        }
    }

    /// Closes the transport only: clients reconnect (to another gateway). Used at shutdown.
    func closeTransport() {
        onLoop { now in
            self.perform(self.engine.close(now: now), now: now)
        }
    }

    // MARK: Driving the machines (on the loop)

    private func onLoop(_ body: @escaping @Sendable (ContinuousClock.Instant) -> Void) {
        if eventLoop.inEventLoop {
            body(.now)
        } else {
            eventLoop.execute { body(.now) }
        }
    }

    /// A polling request that was neither answered nor refused becomes the pending GET.
    private func finishRequestHandling() {
        if let get = currentGet {
            pendingGet = get
            currentGet = nil
        }
    }

    private func perform(_ actions: [EngineIOSession.Action], now: ContinuousClock.Instant) {
        for action in actions {
            switch action {
            case .webSocketSend(let packets):
                guard let webSocket else { continue }
                for packet in packets { write(packet.webSocketFrame, to: webSocket) }
                webSocket.flush()
                unflushedBytes = 0
            case .closeWebSocket:
                webSocket?.close(mode: .all, promise: nil)
                webSocket = nil
            case .respondToGet(let body):
                if let get = pendingGet ?? currentGet {
                    if pendingGet != nil { pendingGet = nil } else { currentGet = nil }
                    get.respond(status: .ok, body: body)
                    queuedBytes = max(0, queuedBytes - body.utf8.count)  // polling: what this answer carried
                }
            case .respondToPost:
                currentPost?.respond(status: .ok, body: "ok")
                currentPost = nil
            case .rejectRequest(let error):
                let body = #"{"code":"\#(error.code.rawValue)","message":"\#(error.message.jsonEscaped)"}"#
                let status = HTTPResponseStatus(statusCode: error.httpStatus)
                if let post = currentPost {
                    post.respond(status: status, body: body, contentType: "application/json")
                    currentPost = nil
                } else if let get = currentGet {
                    get.respond(status: status, body: body, contentType: "application/json")
                    currentGet = nil
                } else {
                    webSocket?.close(mode: .all, promise: nil)
                }
            case .deliver(let packet):
                perform(socket: connection.receive(packet, now: now), now: now)
            case .upgraded:
                logger.debug("upgraded to websocket")
            case .closed(let reason):
                close(reason, now: now)
            }
        }
        rescheduleTimer(now: now)
    }

    private func perform(socket actions: [SocketIOConnection.Action], now: ContinuousClock.Instant) {
        for action in actions {
            switch action {
            case .send(let encoded):
                perform(engine.send(encoded.engineIOPackets), now: now)
            case .authenticate(let auth):
                authenticate(auth)
            case .event(let name, let arguments, let ackID):
                relay(event: name, arguments: arguments, ackID: ackID, now: now)
            case .ackReceived, .ackFailed:
                break  // the gateway never asks clients for acks
            case .disconnected(let reason):
                socketDisconnected(reason: "\(reason)")
            case .closeTransport:
                perform(engine.close(now: now), now: now)
            }
        }
        rescheduleTimer(now: now)
    }

    private func write(_ frame: EngineIOFrame, to channel: any Channel) {
        let buffer: ByteBuffer
        let opcode: WebSocketOpcode
        switch frame {
        case .text(let text):
            buffer = channel.allocator.buffer(string: text)
            opcode = .text
        case .binary(let data):
            buffer = channel.allocator.buffer(bytes: data)
            opcode = .binary
        }
        write(WebSocketFrame(fin: true, opcode: opcode, data: buffer), to: channel)
    }

    /// Writes a frame (no flush). On this session's event loop NIO counts what is not yet sent (`outboundBytes`),
    /// so no promise per write; a WebSocket on another loop is counted here until each write completes.
    private func write(_ frame: WebSocketFrame, to channel: any Channel) {
        guard channel.eventLoop !== eventLoop else {
            channel.write(frame, promise: nil)
            return
        }
        let size = frame.data.readableBytes
        queuedBytes += size
        let promise = channel.eventLoop.makePromise(of: Void.self)
        promise.futureResult.whenComplete { _ in
            self.onLoop { _ in self.queuedBytes -= size }
        }
        channel.write(frame, promise: promise)
    }

    private func rescheduleTimer(now: ContinuousClock.Instant) {
        guard !finished else { return }
        let deadline = switch (engine.nextDeadline, connection.nextDeadline) {
        case (let a?, let b?): min(a, b)
        case (let a, let b): a ?? b
        }
        guard deadline != timerDeadline else { return }
        timer?.cancel()
        timerDeadline = deadline
        guard let deadline else {
            timer = nil
            return
        }
        let delay = max(deadline - now, .zero)
        timer = eventLoop.scheduleTask(in: .nanoseconds(Int64(delay.components.seconds) * 1_000_000_000
                                                         + delay.components.attoseconds / 1_000_000_000)) {
            let now = ContinuousClock.now
            self.timerDeadline = nil
            self.perform(socket: self.connection.tick(now: now), now: now)
            self.perform(self.engine.tick(now: now), now: now)
        }
    }

    // MARK: Authentication

    private func authenticate(_ auth: SocketIOObject?) {
        let token = auth?["token"]?.stringValue ?? bearerToken ?? ""
        let recovery = RecoveryRequest(auth: auth, mode: context.configuration.recoveryMode,
                                       enabled: context.recovery != nil)
        let verifier = context.verifier
        let gatewayId = context.gatewayId
        Task {
            let verdict: Result<Principal, ConnectRefusal>
            do {
                let claims = try await verifier.verify(token)
                let principal = Principal(
                    userId: claims.sub.value, roles: claims.roles ?? [], scopes: claims.scopes, rooms: claims.rooms,
                    socketId: nil, gatewayId: gatewayId, remoteAddress: self.remoteAddress)
                try principal.validate()
                verdict = .success(principal)
            } catch let error as AuthError {
                verdict = .failure(ConnectRefusal(message: error.message))
            } catch {
                verdict = .failure(ConnectRefusal(message: "invalid token claims: \(error)"))
            }
            self.onLoop { now in self.finishAuthentication(verdict, recovery: recovery, now: now) }
        }
    }

    private func finishAuthentication(_ verdict: Result<Principal, ConnectRefusal>, recovery: RecoveryRequest,
                                      now: ContinuousClock.Instant) {
        guard !finished else { return }
        switch verdict {
        case .failure(let refusal):
            GatewayMetrics.refusedConnections("unauthorized").increment()
            perform(socket: connection.rejectConnection(message: refusal.message, now: now), now: now)
            perform(engine.close(now: now), now: now)
        case .success(let principal):
            if let recoveryId = recovery.recoveryId, let sessionRecovery = context.recovery {
                recover(principal, recoveryId: recoveryId, offset: recovery.offset, using: sessionRecovery)
            } else {
                acceptFresh(principal, recoverable: recovery.wanted, recovered: nil, now: now)
            }
        }
    }

    /// The rooms every socket of `principal` starts in.
    private static func baseRooms(_ principal: Principal) -> [String] {
        var rooms = [Rooms.user(principal.userId)]
        if principal.roles.contains("ADMIN") { rooms.append(Rooms.admin) }
        return rooms
    }

    /// Registers a new socket and answers CONNECT; `recovered: false` tells a client whose recovery failed.
    private func acceptFresh(_ principal: Principal, recoverable: Bool, recovered: Bool?, now: ContinuousClock.Instant) {
        guard !finished else { return }
        var principal = principal
        let socketID = Self.makeSessionID()
        principal.socketId = socketID
        var registered = false
        // A recoverable socket registers between two deliveries: the position there is where its history starts.
        let position = context.deliveryCut.register {
            registered = context.hub.addSocket(socketID, userId: principal.userId, rooms: Self.baseRooms(principal),
                                               recoverable: recoverable, session: self)
        }
        guard registered else {
            GatewayMetrics.refusedConnections("too_many_sockets").increment()
            perform(socket: connection.rejectConnection(
                message: "too many connections for this user (at most \(context.configuration.maxSocketsPerUser))",
                now: now), now: now)
            perform(engine.close(now: now), now: now)
            return
        }
        self.principal = principal
        self.socketID = socketID
        self.recoverable = recoverable
        accepted(recovered: recovered, position: position, now: now)
    }

    /// Answers CONNECT for the registered socket and announces it. A recoverable socket also gets its recovery id
    /// and the delivery position it starts at (so it can recover even before its first event).
    private func accepted(recovered: Bool?, position: DeliveryPosition, recoveryId: String? = nil,
                          now: ContinuousClock.Instant) {
        guard let principal, let socketID else { return }
        var extra: SocketIOObject = [:]
        if recoverable, let recovery = context.recovery {
            extra["pid"] = .string(recoveryId ?? recovery.issue(socketId: socketID, userId: principal.userId,
                                                                gatewayId: context.gatewayId, position: position))
            extra["offset"] = .string(position.description)
        }
        if let recovered { extra["recovered"] = .bool(recovered) }
        perform(socket: connection.acceptConnection(socketID: socketID, extra: extra, now: now), now: now)
        publish(ConnectionConnected(gatewayId: context.gatewayId, socketId: socketID, userId: principal.userId,
                                    sessionId: principal.sessionId, remoteAddress: remoteAddress, connectedAt: Date()),
                key: context.gatewayId)
        // A fresh socket is in no rooms yet: its `connection:connected` is its recovery record. A recovered one
        // publishes its restored rooms at once (the presence service restores its presence rooms from them).
        if recoverable, recovered == true { recordRooms(disconnected: false) }
    }

    // MARK: Recovery

    /// Restores a socket that reconnects with its recovery id and last delivery position: same socket id, its
    /// rooms and stream grants, then every delivery it missed, then live traffic. Any failure gives a fresh socket
    /// and `recovered: false`, never a silent partial recovery.
    private func recover(_ principal: Principal, recoveryId: String, offset: String?, using recovery: SessionRecovery) {
        Task {
            do {
                let restored = try await recovery.restore(recoveryId: recoveryId, offset: offset, userId: principal.userId)
                self.onLoop { now in self.register(principal, restored, using: recovery, now: now) }
            } catch {
                self.recoveryFailed(principal, reason: "\(error)")
            }
        }
    }

    /// Registers the old socket id between two deliveries, holding live ones, then reads back the missed ones.
    private func register(_ principal: Principal, _ restored: SessionRecovery.Restored, using recovery: SessionRecovery,
                          now: ContinuousClock.Instant) {
        let from = restored.from
        guard !finished else { return }
        var principal = principal
        let socketID = restored.token.socketId
        principal.socketId = socketID
        held = []
        var registered = false
        let cut = context.deliveryCut.register {
            registered = context.hub.addSocket(socketID, userId: principal.userId,
                                               rooms: Self.baseRooms(principal) + restored.rooms, recoverable: true,
                                               session: self)
        }
        guard registered else {
            held = nil
            recoveryFailed(principal, reason: "socket \(socketID) is still connected here, or too many sockets")
            return
        }
        self.principal = principal
        self.socketID = socketID
        recoverable = true
        streamGrants = Set(restored.streams)
        let isAdmin = principal.roles.contains("ADMIN")
        Task {
            var replay = RecoveryReplay(socketId: socketID, userId: principal.userId, isAdmin: isAdmin,
                                        rooms: restored.rooms, streams: restored.streams, from: from)
            let outcome: Result<RecoveryReplay, any Error>
            do {
                try await recovery.replay(&replay, from: from, to: cut)
                outcome = replay.disconnected
                    ? .failure(SessionRecovery.Failure(description: "the socket was disconnected by a service meanwhile"))
                    : .success(replay)
            } catch {
                outcome = .failure(error)
            }
            self.onLoop { now in
                // The CONNECT answer's offset is where the replay starts: a client that drops again before the
                // replayed events arrive resumes from there, not past them.
                self.finishRecovery(outcome, restoredRooms: restored.rooms, recoveryId: restored.recoveryId,
                                    start: from, now: now)
            }
        }
    }

    /// Sends CONNECT (`recovered: true`), the missed events, then what arrived live meanwhile.
    private func finishRecovery(_ outcome: Result<RecoveryReplay, any Error>, restoredRooms: [String],
                                recoveryId: String, start: DeliveryPosition, now: ContinuousClock.Instant) {
        guard !finished, let principal, let socketID else { return }
        switch outcome {
        case .failure(let error):
            held = nil
            context.hub.removeSocket(socketID, userId: principal.userId)
            self.socketID = nil
            streamGrants = []
            recoveryFailed(principal, reason: "\(error)")
        case .success(let replay):
            for room in Set(restoredRooms).subtracting(replay.rooms) { context.hub.leave(socketID, room) }
            for room in replay.rooms.subtracting(restoredRooms) { context.hub.join(socketID, room) }
            streamGrants = replay.streams
            GatewayMetrics.recoveries("recovered").increment()
            accepted(recovered: true, position: start, recoveryId: recoveryId, now: now)
            for missed in replay.events {
                let packet = OutboundPacket(SocketIOPacket.event(
                    namespace: SocketIOPacket.defaultNamespace, name: missed.event.name,
                    arguments: [JSONBridge.socketIO(missed.event.data), .string(missed.position.description)],
                    ackID: nil
                ).encode())
                perform(engine.send(packet.encoded.engineIOPackets), now: now)
            }
            let live = held ?? []
            held = nil
            for item in live { _ = emitOnLoop(item.packet, droppable: item.droppable, now: now) }
        }
    }

    /// A recovery that cannot complete: a fresh socket, told `recovered: false`.
    private func recoveryFailed(_ principal: Principal, reason: String) {
        logger.info("socket recovery failed; connecting a fresh socket", metadata: ["recovery.reason": "\(reason)"])
        GatewayMetrics.recoveries("failed").increment()
        onLoop { now in self.acceptFresh(principal, recoverable: true, recovered: false, now: now) }
    }

    /// Publishes this socket's rooms and stream grants (`connection:rooms`), so another gateway can restore them.
    func recordRooms(disconnected: Bool) {
        onLoop { _ in
            guard self.recoverable, let socketID = self.socketID, let principal = self.principal else { return }
            let base = Set(Self.baseRooms(principal))
            let rooms = self.context.hub.rooms(of: socketID).subtracting(base).sorted()
            self.publish(ConnectionRooms(gatewayId: self.context.gatewayId, socketId: socketID, userId: principal.userId,
                                         rooms: Array(rooms.prefix(MessageLimits.maxSocketRooms)),
                                         streams: Array(self.streamGrants.sorted().prefix(MessageLimits.maxSocketRooms)),
                                         disconnected: disconnected),
                         key: self.context.gatewayId)
        }
    }

    // MARK: Inbound events

    private func relay(event name: String, arguments: [SocketIOValue], ackID: Int?, now: ContinuousClock.Instant) {
        guard let principal else { return }
        guard bucket.take(now: now) else {
            refusedInARow += 1
            GatewayMetrics.rejected("rate_limited").increment()
            refuse(name, code: "rate_limited", message: "too many events; slow down", ackID: ackID, now: now)
            if refusedInARow >= context.configuration.rateLimitDisconnectAfter {
                logger.warning("disconnecting a socket that keeps exceeding its event rate")
                GatewayMetrics.disconnects("rate_limited").increment()
                perform(socket: connection.disconnect(now: now), now: now)
            }
            return
        }
        refusedInARow = 0
        let started = ContinuousClock.now
        do throws(MessageError) {
            let event = try ClientEvent(name: name)
            GatewayMetrics.eventsIn(event.rawValue).increment()
            guard arguments.count <= 1 else {
                throw MessageError(.invalidValue, field: "arguments", "an event takes at most one argument")
            }
            let message: OutgoingMessage
            if event == .biometricStreamData {
                message = try frameMessage(arguments.first, principal: principal)
            } else {
                let json: JSONValue?
                do { json = try arguments.first.map(JSONBridge.json) } catch {
                    throw MessageError(.invalidValue, field: "payload", "binary data is only accepted in stream frames")
                }
                let payload = try event.decodePayload(from: json)
                let reply = ackID.map { ReplyTo(gatewayId: context.gatewayId, socketId: principal.socketId!, ackId: $0) }
                guard let messagePayload = payload as? any MessagePayload else {
                    throw MessageError(.unknownType, field: "event", "\(name) cannot be relayed")
                }
                let value = try messagePayload.encodedEnvelope(source: context.source, principal: principal, reply: reply)
                message = OutgoingMessage(topic: event.topic, key: principal.userId, value: Array(value))
            }
            guard context.outbound.submit(message) else {
                GatewayMetrics.rejected("unavailable").increment()
                refuse(name, code: "unavailable", message: "the service is overloaded; try again", ackID: ackID, now: now)
                return
            }
            let elapsed = ContinuousClock.now - started
            GatewayMetrics.relayLatency.recordNanoseconds(elapsed.components.seconds * 1_000_000_000
                                                          + elapsed.components.attoseconds / 1_000_000_000)
            if let ackID {
                if event == .biometricStreamData {
                    // Frames go to viewers, not to a service that could answer: the gateway acks the hand-off.
                    perform(socket: connection.acknowledge(ackID, with: [["accepted": true]]), now: now)
                } else {
                    awaitAnswer(ackID)
                }
            }
        } catch {
            GatewayMetrics.rejected(error.code.rawValue).increment()
            refuse(name, code: error.code.rawValue, message: error.message, ackID: ackID, now: now)
        }
    }

    /// `biometric:stream-data {deviceId, frame: <binary>}` from a socket holding a grant for the device: the raw frame
    /// goes to `biometric.frames` with its metadata in headers.
    private func frameMessage(_ argument: SocketIOValue?, principal: Principal) throws(MessageError) -> OutgoingMessage {
        guard var object = argument?.objectValue else {
            throw MessageError(.invalidValue, field: "payload", "must be an object {deviceId, frame}")
        }
        guard let frame = object["frame"]?.binaryValue else {
            throw MessageError(.missingField, field: "payload.frame", "must be binary")
        }
        object["frame"] = nil
        let json: JSONValue
        do { json = try JSONBridge.json(.object(object)) } catch {
            throw MessageError(.invalidValue, field: "payload", "only frame may be binary")
        }
        let payload = try MessageCoding.decode(BiometricStreamData.self, from: json)
        guard streamGrants.contains(payload.deviceId) else {
            throw MessageError(.invalidValue, field: "payload.deviceId", "no stream grant for this device; send biometric:stream-start first")
        }
        guard frame.count <= context.configuration.maxFrameBytes else {
            throw MessageError(.tooLarge, field: "payload.frame",
                               "frame is \(frame.count) bytes, at most \(context.configuration.maxFrameBytes)")
        }
        let headers = FrameHeaders(deviceId: payload.deviceId, userId: principal.userId, gatewayId: context.gatewayId)
        return OutgoingMessage(topic: Topics.biometricFrames, key: payload.deviceId, value: Array(frame),
                               headers: headers.headers.map { KafkaHeader(name: $0.name, string: $0.value) })
    }

    /// The answer to the client's ack comes through Kafka; if none comes in time, the ack gets a timeout error.
    private func awaitAnswer(_ ackID: Int) {
        awaitingAnswers[ackID]?.cancel()
        let timeout = context.configuration.ackTimeout
        let milliseconds = timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000
        awaitingAnswers[ackID] = eventLoop.scheduleTask(in: .milliseconds(milliseconds)) {
            guard self.awaitingAnswers.removeValue(forKey: ackID) != nil else { return }
            let error: SocketIOValue = ["error": ["code": "timeout", "message": .string("no answer within \(milliseconds) ms")]]
            self.perform(socket: self.connection.acknowledge(ackID, with: [error]), now: .now)
        }
    }

    /// An `error {code, message, event}` event, and the same as the ack's answer when the client asked for one.
    private func refuse(_ event: String, code: String, message: String, ackID: Int?, now: ContinuousClock.Instant) {
        let data: SocketIOValue = ["code": .string(code), "message": .string(message), "event": .string(event)]
        let (_, actions) = connection.emit("error", [data], expectingAck: false, now: now)
        perform(socket: actions, now: now)
        if let ackID {
            perform(socket: connection.acknowledge(ackID, with: [["error": data]]), now: now)
        }
    }

    // MARK: Closing

    private func socketDisconnected(reason: String) {
        guard let socketID, let principal else { return }
        if recoverable {
            // Synchronously, before the rooms are gone: the last record any gateway will restore from.
            let rooms = context.hub.rooms(of: socketID).subtracting(Self.baseRooms(principal)).sorted()
            publish(ConnectionRooms(gatewayId: context.gatewayId, socketId: socketID, userId: principal.userId,
                                    rooms: Array(rooms.prefix(MessageLimits.maxSocketRooms)),
                                    streams: Array(streamGrants.sorted().prefix(MessageLimits.maxSocketRooms)),
                                    disconnected: true),
                    key: context.gatewayId)
        }
        self.socketID = nil
        context.hub.removeSocket(socketID, userId: principal.userId)
        for (_, timeout) in awaitingAnswers { timeout.cancel() }
        awaitingAnswers.removeAll()
        publish(ConnectionDisconnected(gatewayId: context.gatewayId, socketId: socketID, userId: principal.userId,
                                       reason: String(reason.prefix(200))),
                key: context.gatewayId)
    }

    private func close(_ reason: EngineIOSession.CloseReason, now: ContinuousClock.Instant) {
        guard !finished else { return }
        perform(socket: connection.transportClosed(reason), now: now)
        finished = true
        timer?.cancel()
        timer = nil
        context.hub.removeSession(sid: sid)
        GatewayMetrics.connections.decrement()
        GatewayMetrics.disconnects(reason.rawValue.replacingOccurrences(of: " ", with: "_")).increment()
        pendingGet?.respond(status: .badRequest, body: #"{"code":"closed","message":"session closed"}"#,
                            contentType: "application/json")
        pendingGet = nil
        webSocket?.close(mode: .all, promise: nil)
        webSocket = nil
    }

    private func publish<P: MessagePayload>(_ payload: P, key: String) {
        do {
            let value = try payload.encodedEnvelope(source: context.source)
            if !context.outbound.submit(OutgoingMessage(topic: P.topic, key: key, value: Array(value))) {
                logger.warning("connection event dropped: outbound queue full", metadata: ["envelope.type": "\(P.messageType)"])
            }
        } catch {
            logger.error("connection event not encodable", metadata: ["error.message": "\(error)"])
        }
    }
}

extension String {
    /// Escapes quotes, backslashes and control characters for embedding in a JSON string.
    var jsonEscaped: String {
        var result = ""
        for scalar in unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where scalar.value < 0x20: result += String(format: "\\u%04x", scalar.value)
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }
}

/// Why a CONNECT was refused; the message goes to the client in CONNECT_ERROR.
struct ConnectRefusal: Error {
    let message: String
}

/// What a CONNECT's auth object asks about recovery: `pid` and `offset` (a reconnect, as socket.io-client sends
/// them), or `recover: true` (the Swift SDK's first connect).
struct RecoveryRequest: Sendable {
    /// Whether the socket gets a recovery id.
    var wanted: Bool
    /// The recovery id presented, to restore that socket.
    var recoveryId: String?
    /// The last delivery position the client saw.
    var offset: String?

    init(auth: SocketIOObject?, mode: RecoveryMode, enabled: Bool) {
        recoveryId = enabled ? auth?["pid"]?.stringValue : nil
        offset = auth?["offset"]?.stringValue
        wanted = enabled && (mode == .all || auth?["recover"]?.boolValue == true || recoveryId != nil)
    }
}
