/// The server side of one Engine.IO v4 session as a pure state machine (no I/O, no clock).
///
/// The driver (the gateway) reports what happened on the sockets and HTTP requests, passes the
/// current time in, and performs the returned actions in order. After every call it should sleep
/// until `nextDeadline` (if any) and then call `tick(now:)`.
///
/// Polling: at most one GET is pending and one POST in flight; a second one is refused and closes the
/// session. Outbound packets are buffered and flushed to the next GET, batched up to `maxPayload`.
/// Upgrade: a WebSocket opened with the session id sends `2probe`, gets `3probe` (and a pending GET
/// gets `6`), then sends `5`; from then on everything goes over the WebSocket.
public struct EngineIOSession: Sendable {
    /// The instant type used for all times passed in.
    public typealias Instant = ContinuousClock.Instant

    /// The session's transport.
    public enum Transport: String, Sendable, Hashable {
        /// HTTP long-polling.
        case polling
        /// WebSocket.
        case webSocket = "websocket"
    }

    /// Why a session closed (the Engine.IO reason strings).
    public enum CloseReason: String, Sendable, Hashable, CaseIterable {
        /// The client closed: a `1` packet or the WebSocket was closed.
        case transportClose = "transport close"
        /// The transport misbehaved: duplicate poll, aborted poll, oversized payload, client ping.
        case transportError = "transport error"
        /// No pong within `pingTimeout` after a ping.
        case pingTimeout = "ping timeout"
        /// A malformed Engine.IO packet.
        case parseError = "parse error"
        /// The server closed the session (`close(now:)`).
        case forcedClose = "forced close"
    }

    /// What the driver must do, in order.
    public enum Action: Sendable, Hashable {
        /// Write these packets on the session's WebSocket, one frame each (`EngineIOPacket.webSocketFrame`).
        case webSocketSend([EngineIOPacket])
        /// Close the session's WebSocket (the transport, or the probing one when an upgrade is abandoned).
        case closeWebSocket
        /// Answer the pending long-polling GET (or the GET being handled) with HTTP 200 and this body.
        case respondToGet(String)
        /// Answer the POST being handled with HTTP 200 and the body `ok`.
        case respondToPost
        /// Refuse the request or WebSocket that triggered this call (HTTP `error.httpStatus`, or close it).
        case rejectRequest(SocketIOError)
        /// Hand a received message (`.message` or `.binaryMessage`) to the Socket.IO layer.
        case deliver(EngineIOPacket)
        /// The session now uses the WebSocket transport.
        case upgraded
        /// The session is closed; forget it (its sid becomes unknown). Emitted exactly once.
        case closed(CloseReason)
    }

    /// Timings and limits (DESIGN §7 defaults).
    public struct Configuration: Sendable, Hashable {
        /// Interval between server pings (default 25 s).
        public var pingInterval: Duration
        /// Time allowed for the pong after a ping (default 20 s).
        public var pingTimeout: Duration
        /// Maximum bytes of a received payload or frame, and the batching bound for polling responses (default 1 000 000).
        public var maxPayload: Int
        /// Time allowed between the upgrade WebSocket opening and the `5` packet (default 10 s).
        public var upgradeTimeout: Duration
        /// How long a server-side close of a polling session waits for the next GET to deliver the rest (default 30 s).
        public var closeTimeout: Duration

        /// Creates a configuration with the documented defaults.
        public init(
            pingInterval: Duration = .milliseconds(25_000),
            pingTimeout: Duration = .milliseconds(20_000),
            maxPayload: Int = 1_000_000,
            upgradeTimeout: Duration = .seconds(10),
            closeTimeout: Duration = .seconds(30)
        ) {
            self.pingInterval = pingInterval
            self.pingTimeout = pingTimeout
            self.maxPayload = maxPayload
            self.upgradeTimeout = upgradeTimeout
            self.closeTimeout = closeTimeout
        }
    }

    private enum Phase: Sendable, Hashable {
        case open
        case closing(deadline: Instant)
        case closed(CloseReason)
    }

    private enum Upgrade: Sendable, Hashable {
        case none
        case awaitingProbe(deadline: Instant)
        case probed(deadline: Instant)

        var deadline: Instant? {
            switch self {
            case .none: nil
            case .awaitingProbe(let d), .probed(let d): d
            }
        }
    }

    /// The session id.
    public let sid: String
    /// The configuration.
    public let configuration: Configuration
    /// The current transport.
    public private(set) var transport: Transport
    private var phase: Phase = .open
    private var upgrade: Upgrade = .none
    private var getPending = false
    private var postPending = false
    private var outbound: [EngineIOPacket] = []
    private var nextPingAt: Instant?
    private var pongDeadline: Instant?

    private init(sid: String, transport: Transport, configuration: Configuration, now: Instant) {
        self.sid = sid
        self.transport = transport
        self.configuration = configuration
        self.nextPingAt = now + configuration.pingInterval
    }

    /// Opens a session for an accepted handshake request; the actions send the OPEN packet
    /// (as the response to the handshake GET, or as the first WebSocket frame).
    public static func open(
        sid: String, transport: Transport, configuration: Configuration = Configuration(), now: Instant
    ) -> (session: EngineIOSession, actions: [Action]) {
        let session = EngineIOSession(sid: sid, transport: transport, configuration: configuration, now: now)
        let open = EngineIOPacket.open(session.handshake)
        switch transport {
        case .polling: return (session, [.respondToGet(EngineIOPayload.encode([open]))])
        case .webSocket: return (session, [.webSocketSend([open])])
        }
    }

    /// The OPEN payload: upgrades `["websocket"]` on polling, `[]` on WebSocket.
    public var handshake: EngineIOHandshake {
        EngineIOHandshake(
            sid: sid, upgrades: transport == .polling ? ["websocket"] : [],
            pingInterval: Self.milliseconds(configuration.pingInterval),
            pingTimeout: Self.milliseconds(configuration.pingTimeout),
            maxPayload: configuration.maxPayload)
    }

    /// True once the session is closed.
    public var isClosed: Bool { closeReason != nil }

    /// Why the session closed, once closed.
    public var closeReason: CloseReason? {
        if case .closed(let reason) = phase { return reason }
        return nil
    }

    /// True while a WebSocket upgrade is in progress.
    public var isUpgrading: Bool { upgrade != .none }

    /// True while a long-polling GET is parked waiting for packets.
    public var isPollPending: Bool { getPending }

    /// Packets waiting for the next GET (polling only).
    public var bufferedPacketCount: Int { outbound.count }

    /// The earliest time at which `tick(now:)` must be called, if any.
    public var nextDeadline: Instant? {
        switch phase {
        case .closed: return nil
        case .closing(let deadline): return deadline
        case .open: return [nextPingAt, pongDeadline, upgrade.deadline].compactMap { $0 }.min()
        }
    }

    // MARK: - Server side

    /// Sends packets to the client: directly on WebSocket, else buffered until a GET takes them.
    public mutating func send(_ packets: [EngineIOPacket]) -> [Action] {
        guard phase == .open, !packets.isEmpty else { return [] }
        return enqueue(packets)
    }

    /// Closes the session from the server ("forced close"), after flushing what is buffered.
    /// A polling session without a pending GET waits up to `closeTimeout` for the next one.
    public mutating func close(now: Instant) -> [Action] {
        guard phase == .open else { return [] }
        switch transport {
        case .webSocket:
            return closeNow(.forcedClose)
        case .polling:
            var actions: [Action] = []
            if upgrade != .none {
                upgrade = .none
                actions.append(.closeWebSocket)
            }
            nextPingAt = nil
            pongDeadline = nil
            if getPending {
                getPending = false
                actions.append(.respondToGet(EngineIOPayload.encode(outbound + [.close])))
                outbound = []
                phase = .closed(.forcedClose)
                actions.append(.closed(.forcedClose))
            } else {
                phase = .closing(deadline: now + configuration.closeTimeout)
            }
            return actions
        }
    }

    /// Runs the timers: ping, pong timeout, upgrade timeout, close timeout.
    public mutating func tick(now: Instant) -> [Action] {
        switch phase {
        case .closed:
            return []
        case .closing(let deadline):
            guard now >= deadline else { return [] }
            outbound = []
            phase = .closed(.forcedClose)
            return [.closed(.forcedClose)]
        case .open:
            break
        }
        var actions: [Action] = []
        if let deadline = upgrade.deadline, now >= deadline {
            upgrade = .none
            actions.append(.closeWebSocket)
        }
        if let deadline = pongDeadline, now >= deadline {
            return actions + closeNow(.pingTimeout)
        }
        if let at = nextPingAt, now >= at {
            nextPingAt = nil
            pongDeadline = now + configuration.pingTimeout
            actions += enqueue([.ping(nil)])
        }
        return actions
    }

    // MARK: - Long-polling

    /// A long-polling GET arrived for this session.
    public mutating func receivedPollGet(now: Instant) -> [Action] {
        switch phase {
        case .closed:
            return [.rejectRequest(SocketIOError(.sessionClosed, "session \(sid) is closed"))]
        case .closing:
            let body = EngineIOPayload.encode(outbound + [.close])
            outbound = []
            phase = .closed(.forcedClose)
            return [.respondToGet(body), .closed(.forcedClose)]
        case .open:
            break
        }
        guard transport == .polling else {
            return [.rejectRequest(SocketIOError(.transportMismatch, "session \(sid) was upgraded to websocket"))]
        }
        guard !getPending else {
            return [.rejectRequest(SocketIOError(.concurrentPoll, "overlapping GET requests"))]
                + closeNow(.transportError)
        }
        getPending = true
        if !outbound.isEmpty { return flushToPendingGet() }
        if case .probed = upgrade {
            getPending = false
            return [.respondToGet(EngineIOPayload.encode([.noop]))]
        }
        return []
    }

    /// The pending GET's connection went away before it was answered.
    public mutating func pollGetAborted(now: Instant) -> [Action] {
        guard phase == .open, getPending else { return [] }
        getPending = false
        return closeNow(.transportError)
    }

    /// A long-polling POST arrived (headers only; report the body with `receivedPollPostBody`).
    public mutating func receivedPollPost(now: Instant) -> [Action] {
        switch phase {
        case .closed:
            return [.rejectRequest(SocketIOError(.sessionClosed, "session \(sid) is closed"))]
        case .closing:
            postPending = true
            return []
        case .open:
            break
        }
        guard transport == .polling else {
            return [.rejectRequest(SocketIOError(.transportMismatch, "session \(sid) was upgraded to websocket"))]
        }
        guard !postPending else {
            return [.rejectRequest(SocketIOError(.concurrentPost, "overlapping POST requests"))]
                + closeNow(.transportError)
        }
        postPending = true
        return []
    }

    /// The body of the POST in flight: decoded, delivered, answered with `ok`.
    /// A body over `maxPayload` or malformed is refused and closes the session.
    public mutating func receivedPollPostBody(_ body: some Collection<UInt8>, now: Instant) -> [Action] {
        postPending = false
        switch phase {
        case .closed:
            return [.rejectRequest(SocketIOError(.sessionClosed, "session \(sid) is closed"))]
        case .closing:
            return [.respondToPost]
        case .open:
            break
        }
        guard transport == .polling else {
            return [.rejectRequest(SocketIOError(.transportMismatch, "session \(sid) was upgraded to websocket"))]
        }
        let packets: [EngineIOPacket]
        do {
            packets = try EngineIOPayload.decode(bytes: body, maxPayload: configuration.maxPayload)
        } catch {
            return [.rejectRequest(error)] + closeNow(error.code == .payloadTooLarge ? .transportError : .parseError)
        }
        var actions: [Action] = [.respondToPost]
        for packet in packets {
            actions += handleIncoming(packet, now: now)
            if isClosed { break }
        }
        return actions
    }

    /// The POST in flight failed before its body was read (aborted, or over `maxPayload`); closes the session.
    public mutating func pollPostFailed(_ error: SocketIOError, now: Instant) -> [Action] {
        postPending = false
        guard phase == .open else { return [] }
        return [.rejectRequest(error)] + closeNow(.transportError)
    }

    // MARK: - WebSocket

    /// A WebSocket carrying this session's sid opened (an upgrade attempt from polling).
    public mutating func receivedUpgradeWebSocket(now: Instant) -> [Action] {
        guard phase == .open else {
            return [.rejectRequest(SocketIOError(.sessionClosed, "session \(sid) is closed"))]
        }
        guard transport == .polling else {
            return [.rejectRequest(SocketIOError(.transportMismatch, "session \(sid) already uses a websocket"))]
        }
        guard upgrade == .none else {
            return [.rejectRequest(SocketIOError(.transportMismatch, "an upgrade is already in progress"))]
        }
        upgrade = .awaitingProbe(deadline: now + configuration.upgradeTimeout)
        return []
    }

    /// A frame arrived on the session's WebSocket (the transport, or the probing one during an upgrade).
    public mutating func receivedWebSocketFrame(_ frame: EngineIOFrame, now: Instant) -> [Action] {
        guard phase == .open else { return [] }
        let probing = transport == .polling
        if probing, upgrade == .none { return [] }
        guard frame.byteCount <= configuration.maxPayload else {
            return probing ? abandonUpgrade() : closeNow(.transportError)
        }
        let packet: EngineIOPacket
        do {
            packet = try EngineIOPacket(webSocketFrame: frame)
        } catch {
            return probing ? abandonUpgrade() : closeNow(.parseError)
        }
        guard probing else { return handleIncoming(packet, now: now) }
        switch packet {
        case .ping("probe"):
            if let deadline = upgrade.deadline { upgrade = .probed(deadline: deadline) }
            var actions: [Action] = [.webSocketSend([.pong("probe")])]
            if getPending {
                getPending = false
                actions.append(.respondToGet(EngineIOPayload.encode([.noop])))
            }
            return actions
        case .upgrade:
            transport = .webSocket
            upgrade = .none
            var actions: [Action] = []
            if getPending {
                getPending = false
                actions.append(.respondToGet(EngineIOPayload.encode([.noop])))
            }
            actions.append(.upgraded)
            if !outbound.isEmpty {
                actions.append(.webSocketSend(outbound))
                outbound = []
            }
            return actions
        default:
            return abandonUpgrade()
        }
    }

    /// The session's WebSocket closed (from the client or the network).
    public mutating func webSocketClosed(now: Instant) -> [Action] {
        guard phase == .open else { return [] }
        if transport == .polling {
            upgrade = .none  // an abandoned upgrade; polling goes on
            return []
        }
        return closeNow(.transportClose, closeWebSocket: false)
    }

    // MARK: - Internals

    private mutating func handleIncoming(_ packet: EngineIOPacket, now: Instant) -> [Action] {
        switch packet {
        case .pong:
            if pongDeadline != nil {
                pongDeadline = nil
                nextPingAt = now + configuration.pingInterval
            }
            return []
        case .message, .binaryMessage:
            return [.deliver(packet)]
        case .close:
            // The client closes; a pending poll ends with a noop (engine.io's polling transport does so).
            return closeNow(.transportClose, pendingGetPacket: .noop)
        case .ping:
            // Engine.IO v4: only the server pings ("invalid heartbeat direction").
            return closeNow(.transportError)
        case .open, .upgrade, .noop:
            return []
        }
    }

    private mutating func enqueue(_ packets: [EngineIOPacket]) -> [Action] {
        switch transport {
        case .webSocket:
            return [.webSocketSend(packets)]
        case .polling:
            outbound += packets
            return flushToPendingGet()
        }
    }

    /// Answers the pending GET with as many buffered packets as fit in `maxPayload` (at least one).
    private mutating func flushToPendingGet() -> [Action] {
        guard getPending, !outbound.isEmpty else { return [] }
        var size = 0
        var count = 0
        for packet in outbound {
            let packetSize = packet.pollingByteCount + (count > 0 ? 1 : 0)
            if count > 0, size + packetSize > configuration.maxPayload { break }
            size += packetSize
            count += 1
        }
        let batch = Array(outbound.prefix(count))
        outbound.removeFirst(count)
        getPending = false
        return [.respondToGet(EngineIOPayload.encode(batch))]
    }

    private mutating func abandonUpgrade() -> [Action] {
        upgrade = .none
        return [.closeWebSocket]
    }

    private mutating func closeNow(
        _ reason: CloseReason, pendingGetPacket: EngineIOPacket = .close, closeWebSocket: Bool = true
    ) -> [Action] {
        var actions: [Action] = []
        if getPending {
            getPending = false
            actions.append(.respondToGet(EngineIOPayload.encode([pendingGetPacket])))
        }
        if closeWebSocket, transport == .webSocket || upgrade != .none {
            actions.append(.closeWebSocket)
        }
        upgrade = .none
        outbound = []
        nextPingAt = nil
        pongDeadline = nil
        phase = .closed(reason)
        actions.append(.closed(reason))
        return actions
    }

    private static func milliseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        return Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
    }
}
