/// The server side of one Socket.IO v5 connection (over one Engine.IO session) as a pure state machine.
///
/// Only the main namespace `/` is served: a CONNECT to any other namespace is answered with
/// CONNECT_ERROR "Invalid namespace". A CONNECT to `/` yields `.authenticate(auth)`; the driver decides
/// and calls `acceptConnection` or `rejectConnection`. If no namespace is connected within
/// `connectTimeout` the machine asks for the transport to be closed. Outgoing emits may ask for an ack
/// (ids allocated here, expiring after a timeout); binary packets are reassembled before delivery.
public struct SocketIOConnection: Sendable {
    /// The instant type used for all times passed in.
    public typealias Instant = ContinuousClock.Instant

    /// Timings and decoding limits.
    public struct Configuration: Sendable, Hashable {
        /// Time allowed from the Engine.IO open until the main namespace is connected (default 45 s).
        public var connectTimeout: Duration
        /// Default time a server emit waits for the client's ack (default 10 s).
        public var ackTimeout: Duration
        /// Bounds for decoding client packets.
        public var limits: SocketIODecoder.Limits

        /// Creates a configuration with the documented defaults.
        public init(
            connectTimeout: Duration = .milliseconds(45_000),
            ackTimeout: Duration = .seconds(10),
            limits: SocketIODecoder.Limits = SocketIODecoder.Limits()
        ) {
            self.connectTimeout = connectTimeout
            self.ackTimeout = ackTimeout
            self.limits = limits
        }
    }

    /// Why the socket left the main namespace or why the transport must close.
    public enum DisconnectReason: Sendable, Hashable {
        /// The client sent DISCONNECT ("client namespace disconnect").
        case clientDisconnect
        /// The server called `disconnect(now:)` ("server namespace disconnect").
        case serverDisconnect
        /// No namespace was connected within `connectTimeout`.
        case connectTimeout
        /// The client sent a malformed or forbidden packet.
        case parseError(SocketIOError)
        /// The Engine.IO session closed underneath.
        case transportClosed(EngineIOSession.CloseReason)
    }

    /// Why a pending server ack will never arrive.
    public enum AckFailure: String, Sendable, Hashable {
        /// No ack within its timeout.
        case timeout
        /// The socket disconnected first.
        case disconnected
    }

    /// What the driver must do, in order.
    public enum Action: Sendable, Hashable {
        /// Send this packet: `EngineIOSession.send(packet.engineIOPackets)`.
        case send(SocketIOEncodedPacket)
        /// Verify this CONNECT auth payload, then call `acceptConnection` or `rejectConnection`.
        case authenticate(SocketIOObject?)
        /// The client emitted an event; when `ackID` is set, answer with `acknowledge(_:with:)`.
        case event(name: String, arguments: [SocketIOValue], ackID: Int?)
        /// The client acknowledged a server emit.
        case ackReceived(id: Int, arguments: [SocketIOValue])
        /// A server emit's ack will never arrive.
        case ackFailed(id: Int, AckFailure)
        /// The socket left the main namespace (emitted once per accepted connection).
        case disconnected(DisconnectReason)
        /// Close the Engine.IO session (`EngineIOSession.close(now:)`), after sending what precedes.
        case closeTransport(DisconnectReason)
    }

    /// Where the connection stands.
    public enum State: Sendable, Hashable {
        /// Waiting for a CONNECT to `/`.
        case awaitingConnect
        /// CONNECT received; waiting for the driver's verdict.
        case authenticating
        /// Connected to `/` with this Socket.IO socket id.
        case connected(socketID: String)
        /// Finished; every call is ignored.
        case closed
    }

    /// The configuration.
    public let configuration: Configuration
    /// The current state.
    public private(set) var state: State = .awaitingConnect
    private var decoder: SocketIODecoder
    private var connectDeadline: Instant?
    private var everConnectRequested = false
    private var nextAckID = 0
    private var pendingAcks: [Int: Instant] = [:]

    /// Starts a connection when its Engine.IO session opens; the connect timeout runs from `now`.
    public init(configuration: Configuration = Configuration(), now: Instant) {
        self.configuration = configuration
        self.decoder = SocketIODecoder(limits: configuration.limits)
        self.connectDeadline = now + configuration.connectTimeout
    }

    /// True when connected to the main namespace.
    public var isConnected: Bool {
        if case .connected = state { return true }
        return false
    }

    /// Server emits still waiting for their ack.
    public var pendingAckCount: Int { pendingAcks.count }

    /// The earliest time at which `tick(now:)` must be called, if any.
    public var nextDeadline: Instant? {
        guard state != .closed else { return nil }
        return ([connectDeadline] + pendingAcks.values.map { Optional($0) }).compactMap { $0 }.min()
    }

    // MARK: - Input from the client

    /// An Engine.IO message (`.deliver` from the session) arrived.
    public mutating func receive(_ message: EngineIOPacket, now: Instant) -> [Action] {
        guard state != .closed else { return [] }
        let packet: SocketIOPacket?
        do {
            packet = try decoder.decode(message)
        } catch {
            return fail(.parseError(error))
        }
        guard let packet else { return [] }  // waiting for attachments
        return handle(packet, now: now)
    }

    private mutating func handle(_ packet: SocketIOPacket, now: Instant) -> [Action] {
        if case .connect(let nsp, let auth) = packet {
            everConnectRequested = true
            guard nsp == SocketIOPacket.defaultNamespace else {
                let refusal = SocketIOPacket.connectError(namespace: nsp, message: "Invalid namespace", data: nil)
                return [.send(refusal.encode())]
            }
            guard state == .awaitingConnect else {
                return fail(.parseError(SocketIOError(.protocolViolation, "duplicate CONNECT to \"/\"")))
            }
            state = .authenticating
            return [.authenticate(auth)]
        }
        guard everConnectRequested else {
            return fail(.parseError(SocketIOError(.protocolViolation, "the first packet must be CONNECT")))
        }
        // Packets for a namespace the client is not connected to are ignored (as socket.io does).
        guard isConnected, packet.namespace == SocketIOPacket.defaultNamespace else { return [] }
        switch packet {
        case .event(_, let name, let arguments, let ackID):
            return [.event(name: name, arguments: arguments, ackID: ackID)]
        case .ack(_, let arguments, let id):
            guard pendingAcks.removeValue(forKey: id) != nil else { return [] }  // unknown or expired
            return [.ackReceived(id: id, arguments: arguments)]
        case .disconnect:
            // Back to waiting: the client may CONNECT again within a fresh connect timeout.
            connectDeadline = now + configuration.connectTimeout
            return leave(.clientDisconnect)
        case .connectError:
            return fail(.parseError(SocketIOError(.protocolViolation, "clients do not send CONNECT_ERROR")))
        case .connect:
            return []  // handled above
        }
    }

    // MARK: - Verdicts and server output

    /// Accepts the pending CONNECT: answers `0{"sid":…}`, plus the `extra` fields (a recovery id, `recovered`).
    public mutating func acceptConnection(socketID: String, extra: SocketIOObject = [:], now: Instant) -> [Action] {
        guard state == .authenticating else { return [] }
        state = .connected(socketID: socketID)
        connectDeadline = nil
        var payload: SocketIOObject = ["sid": .string(socketID)]
        for (key, value) in extra where key != "sid" { payload[key] = value }
        let packet = SocketIOPacket.connect(namespace: SocketIOPacket.defaultNamespace, payload: payload)
        return [.send(packet.encode())]
    }

    /// Refuses the pending CONNECT: answers `4{"message":…,"data":…}`; the client may try again until the connect timeout.
    public mutating func rejectConnection(message: String, data: SocketIOValue? = nil, now: Instant) -> [Action] {
        guard state == .authenticating else { return [] }
        state = .awaitingConnect
        let packet = SocketIOPacket.connectError(namespace: SocketIOPacket.defaultNamespace, message: message, data: data)
        return [.send(packet.encode())]
    }

    /// Emits an event to the client; with `expectingAck` the returned id identifies the later
    /// `.ackReceived` / `.ackFailed`. Does nothing (nil id) unless connected.
    public mutating func emit(
        _ name: String, _ arguments: [SocketIOValue], expectingAck: Bool = false, ackTimeout: Duration? = nil,
        now: Instant
    ) -> (ackID: Int?, actions: [Action]) {
        guard isConnected else { return (nil, []) }
        var ackID: Int? = nil
        if expectingAck {
            let id = nextAckID
            nextAckID = nextAckID == SocketIODecoder.maxAckID ? 0 : nextAckID + 1
            pendingAcks[id] = now + (ackTimeout ?? configuration.ackTimeout)
            ackID = id
        }
        let packet = SocketIOPacket.event(
            namespace: SocketIOPacket.defaultNamespace, name: name, arguments: arguments, ackID: ackID)
        return (ackID, [.send(packet.encode())])
    }

    /// Answers a client event's ack id (call at most once per id).
    public func acknowledge(_ ackID: Int, with arguments: [SocketIOValue]) -> [Action] {
        guard isConnected else { return [] }
        let packet = SocketIOPacket.ack(namespace: SocketIOPacket.defaultNamespace, arguments: arguments, ackID: ackID)
        return [.send(packet.encode())]
    }

    /// Disconnects the socket from the server: sends DISCONNECT, then asks to close the transport.
    public mutating func disconnect(now: Instant) -> [Action] {
        guard state != .closed else { return [] }
        var actions: [Action] = []
        if isConnected {
            actions.append(.send(SocketIOPacket.disconnect(namespace: SocketIOPacket.defaultNamespace).encode()))
            actions += leave(.serverDisconnect)
        }
        state = .closed
        actions.append(.closeTransport(.serverDisconnect))
        return actions
    }

    /// The Engine.IO session closed; the socket (if connected) is disconnected.
    public mutating func transportClosed(_ reason: EngineIOSession.CloseReason) -> [Action] {
        guard state != .closed else { return [] }
        let actions = leave(.transportClosed(reason))
        state = .closed
        return actions
    }

    /// Runs the timers: connect timeout and ack timeouts.
    public mutating func tick(now: Instant) -> [Action] {
        guard state != .closed else { return [] }
        if let deadline = connectDeadline, now >= deadline, !isConnected {
            return fail(.connectTimeout)
        }
        let expired = pendingAcks.filter { $0.value <= now }.keys.sorted()
        for id in expired { pendingAcks[id] = nil }
        return expired.map { .ackFailed(id: $0, .timeout) }
    }

    // MARK: - Internals

    /// Leaves the connected state (if connected): fails pending acks and reports the disconnect.
    private mutating func leave(_ reason: DisconnectReason) -> [Action] {
        guard isConnected else { return [] }
        var actions: [Action] = pendingAcks.keys.sorted().map { .ackFailed(id: $0, .disconnected) }
        pendingAcks = [:]
        decoder.reset()
        actions.append(.disconnected(reason))
        state = .awaitingConnect
        return actions
    }

    private mutating func fail(_ reason: DisconnectReason) -> [Action] {
        var actions = leave(reason)
        state = .closed
        connectDeadline = nil
        actions.append(.closeTransport(reason))
        return actions
    }
}
