import Foundation
import NIOCore
import SocketIO

/// Sends a list of emit-with-ack requests from the load generator's clients and collects every ack, on the clients'
/// one event loop (no task hop per request): open loop at a fixed rate, or closed loop with a fixed number
/// outstanding.
///
/// Open loop measures each latency from the request's *scheduled* time, so a stalled server (or a late generator)
/// shows up in the latency instead of silently lowering the offered load (no coordinated omission).
final class AckDriver {
    /// One request: which client emits which event with which argument.
    struct Request: Sendable {
        /// Index into the clients.
        var client: Int
        /// The event name.
        var event: String
        /// Its one argument.
        var argument: SocketIOValue
    }

    /// How requests are paced.
    enum Pacing: Sendable {
        /// `perSecond` requests a second, evenly spaced, whatever the answers do.
        case rate(perSecond: Double)
        /// Keep `count` requests outstanding; the next goes when one is answered.
        case outstanding(Int)
    }

    /// One answered request.
    struct Outcome: Sendable {
        /// From the scheduled (open loop) or actual (closed loop) send to the ack, in milliseconds.
        var latencyMs: Double
        /// The ack's first argument.
        var answer: SocketIOValue?
    }

    /// What a run produced: one outcome per request (nil when it failed or timed out) and the wall time.
    struct Run: Sendable {
        /// Outcomes, in request order.
        var outcomes: [Outcome?]
        /// From the first send to the last answer, seconds.
        var seconds: Double
        /// How far behind its schedule the generator sent at worst (open loop), milliseconds.
        var worstSendLagMs: Double
    }

    private let clients: [LoadClient]
    private let requests: [Request]
    private let pacing: Pacing
    private let loop: any EventLoop
    private let promise: EventLoopPromise<Run>
    private var outcomes: [Outcome?]
    private var next = 0
    private var finished = 0
    private var start: UInt64 = 0
    private var last: UInt64 = 0
    private var worstLag: UInt64 = 0
    private var done = false

    private init(clients: [LoadClient], requests: [Request], pacing: Pacing, loop: any EventLoop) {
        self.clients = clients
        self.requests = requests
        self.pacing = pacing
        self.loop = loop
        promise = loop.makePromise(of: Run.self)
        outcomes = Array(repeating: nil, count: requests.count)
    }

    /// Runs `requests` on `clients` (which must all be on one event loop) and returns when every one is answered or
    /// failed, or `timeout` has passed (the unanswered ones are then nil).
    static func run(_ requests: [Request], on clients: [LoadClient], pacing: Pacing, timeout: Duration)
        async throws -> Run
    {
        guard let loop = clients.first?.channel.eventLoop else { throw BenchError("no clients to drive") }
        guard clients.allSatisfy({ $0.channel.eventLoop === loop }) else {
            throw BenchError("the driver needs every client on one event loop")
        }
        guard !requests.isEmpty else { return Run(outcomes: [], seconds: 0, worstSendLagMs: 0) }
        return try await loop.flatSubmit { () -> EventLoopFuture<Run> in
            let driver = AckDriver(clients: clients, requests: requests, pacing: pacing, loop: loop)
            loop.assumeIsolated().scheduleTask(in: .nanoseconds(Int64(timeout.seconds * 1e9))) { driver.finish() }
            driver.begin()
            return driver.promise.futureResult
        }.get()
    }

    private func begin() {
        start = NIODeadline.now().uptimeNanoseconds
        switch pacing {
        case .rate:
            tick()
        case .outstanding(let count):
            for _ in 0..<min(max(1, count), requests.count) { send(scheduledAt: NIODeadline.now().uptimeNanoseconds) }
        }
    }

    /// Open loop: sends everything that is due, then sleeps until the next one is.
    private func tick() {
        guard !done, case .rate(let perSecond) = pacing else { return }
        let interval = 1e9 / perSecond
        let now = NIODeadline.now().uptimeNanoseconds
        while next < requests.count {
            let due = start + UInt64(Double(next) * interval)
            guard due <= now else {
                loop.assumeIsolated().scheduleTask(deadline: .uptimeNanoseconds(due)) { self.tick() }
                return
            }
            worstLag = max(worstLag, now - due)
            send(scheduledAt: due)
        }
    }

    private func send(scheduledAt: UInt64) {
        let index = next
        next += 1
        let request = requests[index]
        let client = clients[request.client % clients.count]
        client.handler.value.emitWithAck(request.event, request.argument).assumeIsolated().whenComplete { result in
            self.answered(index, scheduledAt: scheduledAt, result: result)
        }
    }

    private func answered(_ index: Int, scheduledAt: UInt64, result: Result<AckAnswer, any Error>) {
        guard !done else { return }
        if case .success(let answer) = result {
            outcomes[index] = Outcome(latencyMs: Double(answer.receivedAt &- scheduledAt) / 1e6,
                                      answer: answer.arguments.first)
            last = max(last, answer.receivedAt)
        }
        finished += 1
        if finished == requests.count {
            finish()
        } else if case .outstanding = pacing, next < requests.count {
            send(scheduledAt: NIODeadline.now().uptimeNanoseconds)
        }
    }

    private func finish() {
        guard !done else { return }
        done = true
        let end = last > start ? last : NIODeadline.now().uptimeNanoseconds
        promise.succeed(Run(outcomes: outcomes, seconds: Double(end - start) / 1e9,
                            worstSendLagMs: Double(worstLag) / 1e6))
    }
}
