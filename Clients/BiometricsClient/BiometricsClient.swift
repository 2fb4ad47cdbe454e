import Foundation
import Logging
import NIOCore
import NIOPosix
import SocketIO
import Synchronization

/// A Socket.IO client for the Biometrics gateway: connects with a token, reconnects with back-off, buffers emits
/// while offline, re-subscribes after a reconnect, and offers typed calls for every client event (see the
/// `BiometricsClient+…` files) and streams of what the server pushes.
///
/// ```swift
/// let client = BiometricsClient(configuration: .init(url: "http://127.0.0.1:3001") { try await tokens.current() })
/// client.start()
/// try await client.waitUntilConnected()
/// let result = try await client.verify(record: "rec-1", signingWith: key)
/// ```
public final class BiometricsClient: Sendable {
    /// The configuration given at creation.
    public let configuration: BiometricsClientConfiguration
    let logger: Logger
    private let group: any EventLoopGroup
    let state = Mutex(State())

    /// What needs the lock: the live transport, requests awaiting answers, the offline buffer, observers and what
    /// to restore after a reconnect.
    struct State: ~Copyable {
        var connection = ConnectionState.connecting
        var transport: ClientTransport?
        var nextAckID = 0
        /// Every request still waiting for its answer, sent or buffered.
        var requests: [UUID: PendingRequest] = [:]
        /// Ack id on the current transport → request.
        var ackToRequest: [Int: UUID] = [:]
        /// Emits made while disconnected, sent in order on the next connect.
        var offline: [OfflineEmit] = []
        var droppedOffline = 0
        var pushObservers: [UUID: PushObserver] = [:]
        var stateObservers: [UUID: AsyncStream<ConnectionState>.Continuation] = [:]
        var supervisor: Task<Void, Never>?
        var closed = false
        /// Re-sent after every reconnect that the gateway could not recover (a new socket has none of them).
        var restore = Subscriptions()
        /// The recovery id from the last CONNECT answer, and the last delivery position seen (Socket.IO's
        /// connection-state recovery `pid` and `offset`).
        var recoveryId: String?
        var lastPosition: String?
    }

    /// A caller waiting for an answer, and its timer.
    struct PendingRequest {
        let continuation: CheckedContinuation<SocketIOValue, any Error>
        let timeout: Task<Void, Never>
    }

    /// An emit waiting for a connection.
    struct OfflineEmit {
        let name: String
        let arguments: [SocketIOValue]
        /// For requests: the waiting caller (its timeout runs from the call).
        let request: UUID?
    }

    /// One ``pushes(named:limit:)`` stream.
    struct PushObserver {
        let names: Set<String>?
        let continuation: AsyncStream<ServerPush>.Continuation
    }

    /// Creates a client; nothing happens until ``start()``.
    public init(configuration: BiometricsClientConfiguration, logger: Logger = Logger(label: "biometrics-client"),
                eventLoopGroup: (any EventLoopGroup)? = nil) {
        self.configuration = configuration
        self.logger = logger
        group = eventLoopGroup ?? MultiThreadedEventLoopGroup.singleton
    }

    deinit {
        state.withLock { state in
            state.supervisor?.cancel()
            state.transport?.close()
        }
    }

    // MARK: Lifecycle

    /// Starts connecting (and reconnecting, as the policy allows) in the background.
    public func start() {
        state.withLock { state in
            guard state.supervisor == nil, !state.closed else { return }
            state.supervisor = Task { [self] in await supervise() }
        }
    }

    /// Waits until the client is connected; throws if it ends up disconnected for good, or after `timeout`.
    public func waitUntilConnected(timeout: Duration = .seconds(30)) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await current in self.states() {
                    switch current {
                    case .connected: return
                    case .disconnected(let reason): throw BiometricsClientError(.connectionFailed, reason)
                    case .connecting, .reconnecting: continue
                    }
                }
                throw BiometricsClientError(.closed, "client closed")
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw BiometricsClientError(.timeout, "not connected within \(timeout)")
            }
            try await group.next()
            group.cancelAll()
        }
    }

    /// Disconnects for good: waiting requests fail with `closed`, streams finish.
    public func close() async {
        let supervisor = state.withLock { state -> Task<Void, Never>? in
            state.closed = true
            return state.supervisor
        }
        supervisor?.cancel()
        await supervisor?.value
        let (requests, pushObservers, stateObservers) = state.withLock { state in
            state.transport?.close()
            state.transport = nil
            let result = (state.requests, state.pushObservers, state.stateObservers)
            state.requests = [:]
            state.ackToRequest = [:]
            state.offline = []
            state.pushObservers = [:]
            state.stateObservers = [:]
            state.connection = .disconnected(reason: "closed by the client")
            return result
        }
        for request in requests.values {
            request.timeout.cancel()
            request.continuation.resume(throwing: BiometricsClientError(.closed, "client closed"))
        }
        for observer in stateObservers.values {
            observer.yield(.disconnected(reason: "closed by the client"))
            observer.finish()
        }
        for observer in pushObservers.values { observer.continuation.finish() }
    }

    // MARK: Observing

    /// The connection state now and every change after it.
    public func states() -> AsyncStream<ConnectionState> {
        let (stream, continuation) = AsyncStream.makeStream(of: ConnectionState.self, bufferingPolicy: .bufferingNewest(64))
        let id = UUID()
        let current = state.withLock { state -> ConnectionState in
            if !state.closed { state.stateObservers[id] = continuation }
            return state.connection
        }
        continuation.yield(current)
        if case .disconnected = current, state.withLock({ $0.closed }) { continuation.finish() }
        continuation.onTermination = { [weak self] _ in
            self?.state.withLock { _ = $0.stateObservers.removeValue(forKey: id) }
        }
        return stream
    }

    /// Every event the server pushes from now on (all, or those named in `names`); up to `limit` buffered, newest
    /// kept.
    public func pushes(named names: Set<String>? = nil, limit: Int = 1024) -> AsyncStream<ServerPush> {
        let (stream, continuation) = AsyncStream.makeStream(of: ServerPush.self, bufferingPolicy: .bufferingNewest(limit))
        let id = UUID()
        let closed = state.withLock { state -> Bool in
            if !state.closed { state.pushObservers[id] = PushObserver(names: names, continuation: continuation) }
            return state.closed
        }
        if closed { continuation.finish() }
        continuation.onTermination = { [weak self] _ in
            self?.state.withLock { _ = $0.pushObservers.removeValue(forKey: id) }
        }
        return stream
    }

    /// Emits dropped from the offline buffer because it was full.
    public var droppedOfflineEmits: Int { state.withLock { $0.droppedOffline } }

    // MARK: Emitting

    /// Emits `name` without waiting for an answer; buffered while disconnected.
    public func emit(_ name: String, _ arguments: SocketIOValue...) throws {
        try emit(name, arguments: arguments)
    }

    /// ``emit(_:_:)`` with an argument array.
    public func emit(_ name: String, arguments: [SocketIOValue]) throws {
        try send(OfflineEmit(name: name, arguments: arguments, request: nil))
    }

    /// Emits `name` with an ack and returns the answer's first argument; a refusal by the gateway throws `rejected`,
    /// no answer within the timeout throws `timeout`, a connection lost after sending throws `connectionLost`.
    ///
    /// While disconnected the request waits in the offline buffer; the timeout counts from this call.
    public func request(_ name: String, _ arguments: SocketIOValue..., timeout: Duration? = nil) async throws
        -> SocketIOValue
    {
        try await request(name, arguments: arguments, timeout: timeout)
    }

    /// ``request(_:_:timeout:)`` with an argument array.
    public func request(_ name: String, arguments: [SocketIOValue], timeout: Duration? = nil) async throws
        -> SocketIOValue
    {
        let limit = timeout ?? configuration.ackTimeout
        let id = UUID()
        let answer = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<SocketIOValue, any Error>) in
            let timer = Task { [weak self] in
                guard (try? await Task.sleep(for: limit)) != nil else { return }
                self?.finish(request: id, with: .failure(BiometricsClientError(.timeout, "no answer to \(name) within \(limit)")))
            }
            state.withLock { $0.requests[id] = PendingRequest(continuation: continuation, timeout: timer) }
            do {
                try send(OfflineEmit(name: name, arguments: arguments, request: id))
            } catch {
                finish(request: id, with: .failure(error))
            }
        }
        return try Self.checked(answer)
    }

    /// Sends now when connected; otherwise buffers, dropping the oldest beyond the limit.
    private func send(_ emit: OfflineEmit) throws {
        let (closed, dropped) = state.withLock { state -> (Bool, OfflineEmit?) in
            if state.closed { return (true, nil) }
            if let transport = state.transport {
                Self.transmit(emit, on: transport, state: &state)
                return (false, nil)
            }
            state.offline.append(emit)
            guard state.offline.count > max(0, configuration.offlineBufferLimit) else { return (false, nil) }
            state.droppedOffline += 1
            return (false, state.offline.removeFirst())
        }
        if closed { throw BiometricsClientError(.closed, "client closed") }
        if let dropped {
            logger.warning("offline buffer full; oldest emit dropped", metadata: ["socketio.event": "\(dropped.name)"])
            if let id = dropped.request {
                finish(request: id, with: .failure(BiometricsClientError(.dropped, "offline buffer full; \(dropped.name) dropped")))
            }
        }
    }

    /// Writes one event; a request gets the next ack id on this transport.
    private static func transmit(_ emit: OfflineEmit, on transport: ClientTransport, state: inout State) {
        var ackID: Int?
        if let request = emit.request {
            guard state.requests[request] != nil else { return }  // timed out while buffered
            state.nextAckID += 1
            ackID = state.nextAckID
            state.ackToRequest[state.nextAckID] = request
        }
        transport.send(.event(namespace: SocketIOPacket.defaultNamespace, name: emit.name, arguments: emit.arguments,
                              ackID: ackID))
    }

    /// Resumes a waiting caller once (answer, timeout, drop or loss, whichever comes first).
    private func finish(request: UUID, with result: Result<SocketIOValue, any Error>) {
        let waiting = state.withLock { state -> PendingRequest? in
            state.offline.removeAll { $0.request == request }
            if let ackID = state.ackToRequest.first(where: { $0.value == request })?.key {
                state.ackToRequest.removeValue(forKey: ackID)
            }
            return state.requests.removeValue(forKey: request)
        }
        guard let waiting else { return }
        waiting.timeout.cancel()
        waiting.continuation.resume(with: result)
    }

    /// Turns the gateway's refusal shape (`{error: {code, message}}`) into an error.
    static func checked(_ answer: SocketIOValue) throws -> SocketIOValue {
        if let error = answer["error"]?.objectValue {
            throw BiometricsClientError(
                .rejected, error["message"]?.stringValue ?? "rejected by the gateway", reason: error["code"]?.stringValue)
        }
        return answer
    }

    // MARK: Connection supervision

    /// Connects, waits for the connection to end, backs off, reconnects — until closed, refused or out of attempts.
    private func supervise() async {
        let endpoint: ClientEndpoint
        do {
            endpoint = try ClientEndpoint(url: configuration.url, path: configuration.path, origin: configuration.origin,
                                          maxFrameSize: configuration.maxMessageBytes)
        } catch {
            setConnection(.disconnected(reason: "\(error)"))
            return
        }
        var attempt = 0
        while !Task.isCancelled {
            if attempt > 0 {
                if let limit = configuration.reconnect.maxAttempts, attempt > limit {
                    setConnection(.disconnected(reason: "gave up after \(attempt - 1) reconnect attempts"))
                    return
                }
                setConnection(.reconnecting(attempt: attempt))
                let delay = configuration.reconnect.delay(beforeAttempt: attempt, random: Double.random(in: 0..<1))
                guard (try? await Task.sleep(for: delay)) != nil else { return }
            }
            let ended = AsyncStream.makeStream(of: String.self)
            do {
                let token = try await configuration.token()
                var auth: SocketIOObject = ["token": .string(token), "recover": true]
                let (recoveryId, position) = state.withLock { ($0.recoveryId, $0.lastPosition) }
                if let recoveryId, let position {
                    auth["pid"] = .string(recoveryId)
                    auth["offset"] = .string(position)
                }
                let transport = try await ClientTransport.connect(
                    endpoint: endpoint, auth: auth, group: group,
                    tls: endpoint.useTLS ? configuration.tls : nil,
                    timeout: configuration.connectTimeout,
                    callbacks: .init(
                        connected: { [weak self] payload in
                            // On the event loop, before the events that follow the answer (a recovery's replay).
                            self?.state.withLock { state in
                                state.recoveryId = payload?["pid"]?.stringValue
                                state.lastPosition = payload?["offset"]?.stringValue
                            }
                        },
                        packet: { [weak self] packet, position in self?.received(packet, position: position) },
                        closed: { reason in
                            ended.continuation.yield(reason)
                            ended.continuation.finish()
                        }))
                attempt = 0
                guard attached(transport) else {
                    transport.close()
                    return
                }
            } catch let error as BiometricsClientError where error.code == .refused {
                logger.warning("connection refused; not retrying", metadata: ["error.message": "\(error.message)"])
                setConnection(.disconnected(reason: error.description))
                return
            } catch {
                if Task.isCancelled { return }
                logger.info("connect failed", metadata: ["error.message": "\(error)", "attempt": "\(attempt)"])
                attempt += 1
                continue
            }
            // Connected: wait for the connection to end (or for close()).
            let reason = await withTaskCancellationHandler {
                var iterator = ended.stream.makeAsyncIterator()
                return await iterator.next() ?? "closed"
            } onCancel: {
                ended.continuation.finish()
            }
            // Closed here too: when close() cancelled the wait, the transport is still open, and close() finds it
            // detached already — left alone, its connection (answering pings) would outlive the client.
            detached(reason: reason)?.close()
            if Task.isCancelled { return }
            attempt = 1
        }
    }

    /// Makes `transport` current: re-sends subscriptions (only the room-bound ones when the gateway recovered the
    /// socket), then the offline buffer, then reports `connected`.
    private func attached(_ transport: ClientTransport) -> Bool {
        let recovered = transport.connectPayload?["recovered"]?.boolValue == true
        let restored = state.withLock { state -> Subscriptions? in
            guard !state.closed else { return nil }
            state.transport = transport
            return state.restore
        }
        guard let restored else { return false }
        // Subscriptions first, so buffered emits that depend on them (a stream frame after stream-start) follow them.
        for emit in restored.emits(recovered: recovered) {
            transport.send(.event(namespace: SocketIOPacket.defaultNamespace, name: emit.name, arguments: [emit.payload],
                                  ackID: nil))
        }
        state.withLock { state in
            let buffered = state.offline
            state.offline = []
            for emit in buffered { Self.transmit(emit, on: transport, state: &state) }
        }
        setConnection(.connected(socketID: transport.socketID, recovered: recovered))
        return true
    }

    /// The transport ended (or the client is closing): requests sent on it cannot be answered any more. Returns the
    /// transport it detached, for the caller to close.
    @discardableResult
    private func detached(reason: String) -> ClientTransport? {
        let (transport, lost) = state.withLock { state -> (ClientTransport?, [PendingRequest]) in
            let transport = state.transport
            state.transport = nil
            let lost = state.ackToRequest.values.compactMap { state.requests.removeValue(forKey: $0) }
            state.ackToRequest = [:]
            return (transport, lost)
        }
        logger.info("connection ended", metadata: ["reason": "\(reason)", "requests.lost": "\(lost.count)"])
        for request in lost {
            request.timeout.cancel()
            request.continuation.resume(throwing: BiometricsClientError(
                .connectionLost, "connection lost before the answer (\(reason)); the server may have acted on it"))
        }
        return transport
    }

    private func setConnection(_ connection: ConnectionState) {
        let observers = state.withLock { state -> [AsyncStream<ConnectionState>.Continuation] in
            guard !state.closed else { return [] }
            state.connection = connection
            return Array(state.stateObservers.values)
        }
        for observer in observers { observer.yield(connection) }
    }

    /// An event or ack from the server (on the event loop: no waiting here).
    private func received(_ packet: SocketIOPacket, position: String?) {
        switch packet {
        case .ack(_, let arguments, let ackID):
            let request = state.withLock { $0.ackToRequest[ackID] }
            if let request { finish(request: request, with: .success(arguments.first ?? .null)) }
        case .event(_, let name, let arguments, _):
            let observers = state.withLock { state in
                // Kept for the next reconnect: where to resume.
                if let position { state.lastPosition = position }
                return state.pushObservers.values.filter { $0.names?.contains(name) ?? true }.map(\.continuation)
            }
            let push = ServerPush(name: name, arguments: arguments)
            for observer in observers { observer.yield(push) }
        case .connect, .disconnect, .connectError:
            break
        }
    }
}
