import BiometricsClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import SocketIO
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Where and how the load generator's clients connect.
struct LoadTarget: Sendable {
    /// The server's address.
    var host = "127.0.0.1"
    /// The server's port.
    var port: Int
    /// The Engine.IO path (`/ws`).
    var path = "/ws"
    /// The Socket.IO CONNECT auth object (`{token}`), or nil.
    var auth: SocketIOObject?
    /// Per-client auth objects (client `i` sends `perClientAuth[i % count]`), overriding ``auth`` when set.
    var perClientAuth: [SocketIOObject]?
    /// Local addresses (127.0.0.x) the clients bind to, round-robin: each address has its own ~28k ephemeral ports.
    var sourceAddresses: [String]

    /// The WebSocket upgrade request's URI: Engine.IO v4 straight over WebSocket, no polling first.
    var uri: String { "\(path)/?EIO=4&transport=websocket" }
}

/// Counters every client updates on its event loop and the benchmark reads from anywhere (relaxed atomics: each is
/// a plain tally; `remaining` alone decides when a fan-out round is complete).
final class LoadCounters: Sendable {
    /// Clients whose Socket.IO CONNECT was accepted.
    let connected = Atomic<Int>(0)
    /// Clients that were connected and then lost their connection.
    let disconnected = Atomic<Int>(0)
    /// `bench` events received by all clients.
    let events = Atomic<Int>(0)
    /// Events fully decoded with the shared codec (a sample, see ``SocketIOLoadClientHandler``) and found correct.
    let verified = Atomic<Int>(0)
    /// Events or packets that failed decoding or did not match what the benchmark sends.
    let malformed = Atomic<Int>(0)
    /// Events still expected in the current fan-out round (may go negative on duplicates).
    let remaining = Atomic<Int>(0)
    /// Monotonic time (ns) of the delivery that took `remaining` to zero.
    let completedAt = Atomic<UInt64>(0)
    /// Monotonic time (ns) of the first delivery of the current round.
    let firstAt = Atomic<UInt64>(0)

    /// Starts a fan-out round expecting `deliveries` events.
    func startRound(expecting deliveries: Int) {
        completedAt.store(0, ordering: .relaxed)
        firstAt.store(0, ordering: .relaxed)
        remaining.store(deliveries, ordering: .sequentiallyConsistent)
    }

    /// Records one delivered `bench` event at monotonic time `now` (ns).
    @inline(__always)
    func delivered(now: UInt64) {
        events.add(1, ordering: .relaxed)
        if firstAt.load(ordering: .relaxed) == 0 {
            _ = firstAt.compareExchange(expected: 0, desired: now, ordering: .relaxed)
        }
        if remaining.subtract(1, ordering: .relaxed).newValue == 0 {
            completedAt.store(now, ordering: .sequentiallyConsistent)
        }
    }
}

/// What opening a batch of clients achieved.
struct ConnectOutcome: Sendable, Codable {
    /// Clients asked for.
    var requested: Int
    /// Clients whose Socket.IO CONNECT was accepted.
    var connected: Int
    /// Clients that failed (TCP, upgrade refused, CONNECT_ERROR, timeout).
    var failed: Int
    /// Wall time of the whole batch.
    var seconds: Double
    /// The first failure, to explain a shortfall.
    var firstError: String?
}

/// What answered an ``SocketIOLoadClientHandler/emitWithAck(_:_:)``: the ack's arguments and its arrival time.
struct AckAnswer: Sendable {
    /// The ack's arguments.
    var arguments: [SocketIOValue]
    /// Monotonic time (ns, `NIODeadline.uptimeNanoseconds`) the ack was read.
    var receivedAt: UInt64
}

/// One open client: its channel and its handler (touched only on the channel's loop).
struct LoadClient: Sendable {
    let channel: any Channel
    let handler: NIOLoopBound<SocketIOLoadClientHandler>
}

/// The benchmark's Socket.IO v4 client population over SwiftNIO: WebSocket clients that speak Engine.IO/Socket.IO
/// through the shared `SocketIO` codec, bound to several 127.0.0.x source addresses.
///
/// Callbacks are plain NIO channel handlers on a small event loop group (one thread by default; the benchmark pins
/// it to its own CPU): thousands of idle clients cost a few kilobytes each and no task, and a fan-out round costs
/// a read, a frame decode and a prefix check per delivery.
final class SocketIOLoadGenerator: Sendable {
    /// The event loops every client runs on.
    let group: MultiThreadedEventLoopGroup
    /// Tallies of all clients.
    let counters = LoadCounters()
    /// Fully decode one in this many `bench` events per client (and the first).
    let verifyEvery: Int
    private let clients = Mutex<[LoadClient]>([])

    /// Creates a generator with `threads` event loops.
    init(threads: Int = 1, verifyEvery: Int = 64) {
        group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        self.verifyEvery = verifyEvery
    }

    /// Stops the event loops (close the clients first).
    func shutdown() async {
        try? await group.shutdownGracefully()
    }

    /// Clients currently held.
    var clientCount: Int { clients.withLock { $0.count } }

    /// Opens `count` clients, numbered from `firstIndex` (which source address and auth object each uses), with at
    /// most `concurrency` handshakes in flight; each must finish its Socket.IO CONNECT within `timeout`. `progress`
    /// gets (connected so far, failed so far) about once a second.
    func connect(count: Int, firstIndex: Int = 0, to target: LoadTarget, concurrency: Int, timeout: Duration,
                 progress: @escaping @Sendable (Int, Int) -> Void) async -> ConnectOutcome {
        let start = ContinuousClock.now
        var connected = 0
        var failed = 0
        var firstError: String?
        var lastReport = start
        await withTaskGroup(of: Result<LoadClient, any Error>.self) { group in
            var started = 0
            func startOne() {
                let index = firstIndex + started
                started += 1
                group.addTask { await self.open(index: index, target: target, timeout: timeout) }
            }
            for _ in 0..<min(concurrency, count) { startOne() }
            for await result in group {
                switch result {
                case .success(let client):
                    connected += 1
                    clients.withLock { $0.append(client) }
                case .failure(let error):
                    failed += 1
                    if firstError == nil { firstError = "\(error)" }
                }
                if started < count { startOne() }
                if ContinuousClock.now - lastReport >= .seconds(1) {
                    lastReport = ContinuousClock.now
                    progress(connected, failed)
                }
            }
        }
        return ConnectOutcome(requested: count, connected: connected, failed: failed,
                              seconds: (ContinuousClock.now - start).seconds, firstError: firstError)
    }

    /// Closes every client and waits until their channels are closed.
    func closeAll() async {
        let all = clients.withLock { clients in
            defer { clients.removeAll() }
            return clients
        }
        for batch in stride(from: 0, to: all.count, by: 1000) {
            let futures = all[batch..<min(batch + 1000, all.count)].map { $0.channel.close() }
            for future in futures { try? await future.get() }
        }
    }

    /// Runs `samples` sequential emit→ack round trips (after `warmup` untimed ones) on the first client and returns
    /// the timed ones in milliseconds. One emit is outstanding at a time; each ack must come within `timeout`.
    func ackLatency(event: String, samples: Int, warmup: Int, timeout: Duration) async throws -> [Double] {
        guard let client = clients.withLock({ $0.first }) else { throw BenchError("no client for the ack latency") }
        return try await client.channel.eventLoop.flatSubmit {
            client.handler.value.startAckSeries(event: event, samples: samples, warmup: warmup, timeout: timeout)
        }.get()
    }

    /// Emits `event` with `payload` from the first client, without an ack (the fan-out trigger for servers that
    /// broadcast on a client's request).
    func emitFromFirst(_ event: String, _ payload: SocketIOValue) async throws {
        guard let client = clients.withLock({ $0.first }) else { throw BenchError("no client to emit from") }
        try await client.channel.eventLoop.submit {
            client.handler.value.emit(event, payload)
        }.get()
    }

    /// The clients currently held, in the order they connected.
    var heldClients: [LoadClient] { clients.withLock { $0 } }

    // MARK: Opening one client

    private func open(index: Int, target: LoadTarget, timeout: Duration) async -> Result<LoadClient, any Error> {
        let eventLoop = group.next()
        let connected = eventLoop.makePromise(of: NIOLoopBound<SocketIOLoadClientHandler>.self)
        let timer = eventLoop.scheduleTask(in: .nanoseconds(Int64(timeout.seconds * 1e9))) {
            connected.fail(BenchError("no Socket.IO CONNECT within \(timeout)"))
        }
        connected.futureResult.whenComplete { _ in timer.cancel() }
        let source = target.sourceAddresses[index % target.sourceAddresses.count]
        let auth = target.perClientAuth.map { $0[index % $0.count] } ?? target.auth
        do {
            let channel = try await bootstrap(eventLoop: eventLoop, source: source, auth: auth, target: target,
                                              connected: connected)
                .connect(host: target.host, port: target.port).get()
            do {
                let handler = try await connected.futureResult.get()
                return .success(LoadClient(channel: channel, handler: handler))
            } catch {
                channel.close(promise: nil)
                throw error
            }
        } catch {
            connected.fail(error)  // the TCP connect failed: stop the timer
            return .failure(error)
        }
    }

    private func bootstrap(eventLoop: any EventLoop, source: String, auth: SocketIOObject?, target: LoadTarget,
                           connected: EventLoopPromise<NIOLoopBound<SocketIOLoadClientHandler>>) throws -> ClientBootstrap {
        let counters = counters
        let verifyEvery = verifyEvery
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: target.uri,
                                   headers: ["Host": "\(target.host):\(target.port)", "Content-Length": "0"])
        return ClientBootstrap(group: eventLoop)
            .channelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            // IP_BIND_ADDRESS_NO_PORT: bind(127.0.0.x:0) picks the port at connect time, per destination, so a source
            // address is not limited to one set of ephemeral ports shared by every server of the run.
            .channelOption(ChannelOptions.Types.SocketOption(level: .ip, name: NIOBSDSocket.Option(rawValue: 24)),
                           value: 1)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(10))
            .bind(to: try SocketAddress(ipAddress: source, port: 0))
            .channelInitializer { channel in
                let upgrader = NIOWebSocketClientUpgrader(maxFrameSize: 1 << 20, automaticErrorHandling: true) {
                    channel, _ in
                    channel.eventLoop.makeCompletedFuture {
                        let handler = SocketIOLoadClientHandler(eventLoop: channel.eventLoop, auth: auth, counters: counters,
                                                                verifyEvery: verifyEvery, connected: connected)
                        try channel.pipeline.syncOperations.addHandler(handler)
                    }
                }
                return channel.eventLoop.makeCompletedFuture {
                    // The server's first WebSocket frame (the Engine.IO open packet) often shares a read with the
                    // 101 response: forward those bytes, never drop them.
                    try channel.pipeline.syncOperations.addHTTPClientHandlers(
                        leftOverBytesStrategy: .forwardBytes,
                        withClientUpgrade: (upgraders: [upgrader], completionHandler: { context in
                            // The request handler reads HTTP parts; WebSocket frames must not reach it.
                            context.pipeline.syncOperations.removeHandler(
                                name: WebSocketUpgradeRequestHandler.name, promise: nil)
                        }))
                    try channel.pipeline.syncOperations.addHandler(
                        WebSocketUpgradeRequestHandler(head: head, refused: { connected.fail($0) }),
                        name: WebSocketUpgradeRequestHandler.name)
                }
            }
    }
}

/// One Socket.IO client over an upgraded WebSocket: Engine.IO open → Socket.IO CONNECT (with the auth object) →
/// connected; answers pings; counts `bench` events; runs emit→ack series.
///
/// Counting uses a fast path: an Engine.IO message carrying a Socket.IO EVENT named `bench` is recognised by its
/// prefix `42["bench",` without building a `String`, and one in ``SocketIOLoadGenerator/verifyEvery`` (and the
/// first of each client) is fully decoded with `SocketIODecoder` and checked. The load generator is then cheaper per
/// delivery than any server it measures, and the shared codec still proves the traffic is what it claims. Everything
/// else (open, CONNECT answers, pings, acks, other events) goes through the codec.
final class SocketIOLoadClientHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private enum Phase { case awaitingOpen, awaitingConnect, connected, closed }

    /// What an EVENT named `bench` starts with on the wire (Engine.IO message `4`, Socket.IO EVENT `2`).
    private static let eventPrefix = Array(#"42["bench","#.utf8)

    private struct AckSeries {
        var event: String
        var warmup: Int
        var samples: Int
        var timeout: Duration
        var results: [Double] = []
        var ackID = 0
        var sentAt: UInt64 = 0
        var timer: Scheduled<Void>?
        let promise: EventLoopPromise<[Double]>
    }

    /// Ack ids of ``emitWithAck(_:_:)`` start here, apart from the ack series' small ids.
    private static let firstPendingAckID = 1_000_000

    private let eventLoop: any EventLoop
    private var pendingAcks: [Int: EventLoopPromise<AckAnswer>] = [:]
    private var nextPendingAckID = firstPendingAckID
    private let auth: SocketIOObject?
    private let counters: LoadCounters
    private let verifyEvery: Int
    private var connectedPromise: EventLoopPromise<NIOLoopBound<SocketIOLoadClientHandler>>?
    private var phase = Phase.awaitingOpen
    private var decoder = SocketIODecoder()
    private var events = 0
    private var context: ChannelHandlerContext?
    private var ackSeries: AckSeries?

    init(eventLoop: any EventLoop, auth: SocketIOObject?, counters: LoadCounters, verifyEvery: Int,
         connected: EventLoopPromise<NIOLoopBound<SocketIOLoadClientHandler>>) {
        self.eventLoop = eventLoop
        self.auth = auth
        self.counters = counters
        self.verifyEvery = max(1, verifyEvery)
        connectedPromise = connected
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text:
            let payload = frame.data  // server frames are not masked
            if phase == .connected, Self.hasEventPrefix(payload) {
                events += 1
                if events % verifyEvery == 1 || verifyEvery == 1 { verify(payload) }
                counters.delivered(now: NIODeadline.now().uptimeNanoseconds)
            } else {
                handle(String(buffer: payload), context: context)
            }
        case .ping:
            var data = frame.data
            let bytes = data.readBytes(length: data.readableBytes) ?? []
            let pong = WebSocketFrame(fin: true, opcode: .pong, maskKey: .random(),
                                      data: context.channel.allocator.buffer(bytes: bytes))
            context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
        case .connectionClose:
            context.close(promise: nil)
        default:
            break
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if phase == .connected { counters.disconnected.add(1, ordering: .relaxed) }
        phase = .closed
        connectedPromise?.fail(BenchError("connection closed before Socket.IO CONNECT"))
        connectedPromise = nil
        if let series = ackSeries {
            series.timer?.cancel()
            series.promise.fail(BenchError("connection closed during the ack series"))
            ackSeries = nil
        }
        let pending = pendingAcks
        pendingAcks = [:]
        for promise in pending.values { promise.fail(BenchError("connection closed while an ack was pending")) }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        connectedPromise?.fail(error)
        connectedPromise = nil
        context.close(promise: nil)
    }

    // MARK: Emitting (on the loop)

    /// Emits `event` with one argument, no ack.
    func emit(_ event: String, _ argument: SocketIOValue) {
        send(.message(SocketIOPacket.event(namespace: SocketIOPacket.defaultNamespace, name: event,
                                           arguments: [argument], ackID: nil).encode().text))
    }

    /// Emits `event` with one argument asking for an ack; the future gets the ack's arguments and when it arrived.
    /// Any number may be outstanding; they fail only if the connection closes.
    func emitWithAck(_ event: String, _ argument: SocketIOValue) -> EventLoopFuture<AckAnswer> {
        guard context != nil, phase == .connected else {
            return eventLoop.makeFailedFuture(BenchError("client not connected"))
        }
        let ackID = nextPendingAckID
        nextPendingAckID = nextPendingAckID >= Int(Int32.max) ? Self.firstPendingAckID : nextPendingAckID + 1
        let promise = eventLoop.makePromise(of: AckAnswer.self)
        pendingAcks[ackID] = promise
        send(.message(SocketIOPacket.event(namespace: SocketIOPacket.defaultNamespace, name: event,
                                           arguments: [argument], ackID: ackID).encode().text))
        return promise.futureResult
    }

    /// Starts `warmup + samples` sequential emits of `event` asking for an ack; the future gets the timed ones (ms).
    func startAckSeries(event: String, samples: Int, warmup: Int, timeout: Duration) -> EventLoopFuture<[Double]> {
        guard context != nil, phase == .connected, ackSeries == nil else {
            return eventLoop.makeFailedFuture(BenchError("client not connected, or a series is running"))
        }
        let promise = eventLoop.makePromise(of: [Double].self)
        ackSeries = AckSeries(event: event, warmup: warmup, samples: samples, timeout: timeout, promise: promise)
        emitNextAck()
        return promise.futureResult
    }

    private func emitNextAck() {
        guard var series = ackSeries else { return }
        series.ackID += 1
        series.sentAt = NIODeadline.now().uptimeNanoseconds
        let ackID = series.ackID
        let delay = TimeAmount.nanoseconds(Int64(series.timeout.seconds * 1e9))
        series.timer = eventLoop.assumeIsolated().scheduleTask(in: delay) { [self] in
            guard let current = ackSeries, current.ackID == ackID else { return }
            ackSeries = nil
            current.promise.fail(BenchError("no ack within \(current.timeout) (ack \(ackID))"))
        }
        ackSeries = series
        send(.message(SocketIOPacket.event(namespace: SocketIOPacket.defaultNamespace, name: series.event,
                                           arguments: [], ackID: ackID).encode().text))
    }

    private func received(ackID: Int) {
        let now = NIODeadline.now().uptimeNanoseconds
        guard var series = ackSeries, series.ackID == ackID else { return }
        series.timer?.cancel()
        if series.warmup > 0 {
            series.warmup -= 1
        } else {
            series.results.append(Double(now - series.sentAt) / 1e6)
        }
        if series.results.count >= series.samples {
            ackSeries = nil
            series.promise.succeed(series.results)
        } else {
            ackSeries = series
            emitNextAck()
        }
    }

    // MARK: Receiving

    private static func hasEventPrefix(_ buffer: ByteBuffer) -> Bool {
        guard buffer.readableBytes > eventPrefix.count else { return false }
        return buffer.withUnsafeReadableBytes { bytes in
            for index in 0..<eventPrefix.count where bytes[index] != eventPrefix[index] { return false }
            return true
        }
    }

    /// Decodes a `bench` event with the shared codec and checks it carries `{i: <number>, …}`.
    private func verify(_ payload: ByteBuffer) {
        let text = String(buffer: payload)
        var decoder = SocketIODecoder()
        guard case .message(let message)? = try? EngineIOPacket(webSocketFrame: .text(text)),
              case .event(_, "bench", let arguments, nil)? = try? decoder.decode(text: message),
              arguments.first?["i"]?.numberValue != nil
        else {
            counters.malformed.add(1, ordering: .relaxed)
            return
        }
        counters.verified.add(1, ordering: .relaxed)
    }

    private func handle(_ text: String, context: ChannelHandlerContext) {
        let packet: EngineIOPacket
        do {
            packet = try EngineIOPacket(webSocketFrame: .text(text))
        } catch {
            counters.malformed.add(1, ordering: .relaxed)
            return
        }
        switch packet {
        case .open:
            guard phase == .awaitingOpen else { return }
            phase = .awaitingConnect
            send(.message(SocketIOPacket.connect(namespace: SocketIOPacket.defaultNamespace, payload: auth).encode().text))
        case .ping(let data):
            send(.pong(data))
        case .message(let message):
            let decoded: SocketIOPacket?
            do {
                decoded = try decoder.decode(text: message)
            } catch {
                counters.malformed.add(1, ordering: .relaxed)
                return
            }
            switch decoded {
            case .connect?:
                guard phase == .awaitingConnect else { return }
                phase = .connected
                counters.connected.add(1, ordering: .relaxed)
                connectedPromise?.succeed(NIOLoopBound(self, eventLoop: context.eventLoop))
                connectedPromise = nil
            case .connectError(_, let reason, _)?:
                connectedPromise?.fail(BenchError("CONNECT_ERROR: \(reason)"))
                connectedPromise = nil
                context.close(promise: nil)
            case .ack(_, let arguments, let ackID)?:
                if let promise = pendingAcks.removeValue(forKey: ackID) {
                    promise.succeed(AckAnswer(arguments: arguments, receivedAt: NIODeadline.now().uptimeNanoseconds))
                } else {
                    received(ackID: ackID)
                }
            case .disconnect?:
                context.close(promise: nil)
            case .event?, nil:
                break  // other events (e.g. `error`) are not part of the measurement
            }
        case .close:
            context.close(promise: nil)
        case .pong, .upgrade, .noop, .binaryMessage:
            break
        }
    }

    private func send(_ packet: EngineIOPacket) {
        guard let context, case .text(let text) = packet.webSocketFrame else { return }
        let frame = WebSocketFrame(fin: true, opcode: .text, maskKey: .random(),
                                   data: context.channel.allocator.buffer(string: text))
        context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
    }
}
