import CRdKafka
import Foundation
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// Producer settings.
public struct KafkaProducerConfiguration: Sendable {
    /// Brokers, client id and extra librdkafka properties.
    public var kafka: KafkaConfiguration
    /// Most messages waiting for a delivery report at once; `send`/`enqueue` wait for a slot beyond it, which is
    /// back-pressure instead of librdkafka's `QUEUE_FULL` error. Keep it below `queue.buffering.max.messages`.
    public var maxInFlight: Int
    /// How long `close()` waits for outstanding messages to be delivered.
    public var flushTimeout: Duration

    /// Creates a configuration.
    public init(kafka: KafkaConfiguration, maxInFlight: Int = 50_000, flushTimeout: Duration = .seconds(10)) {
        self.kafka = kafka
        self.maxInFlight = maxInFlight
        self.flushTimeout = flushTimeout
    }

    /// Defaults chosen for this project; any of them can be overridden through `kafka.properties`.
    static let defaults: [String: String] = [
        "enable.idempotence": "true",  // retries never duplicate or reorder
        "acks": "all",
        "linger.ms": "0",  // a lone event goes out at once; batches still form while requests are in flight
        "queue.buffering.max.messages": "100000",
        "message.max.bytes": "2000000",
        "socket.nagle.disable": "true",
    ]
}

/// An asynchronous Kafka producer over librdkafka.
///
/// Delivery reports are served by a dedicated thread blocked in `rd_kafka_poll`, which returns as soon as a
/// report arrives: a produce→report round trip costs the broker round trip, not a polling interval.
public final class KafkaProducer: Service, Sendable {
    private let client: RDKafkaClient
    private let pollThread: PollThread
    private let limiter: InFlightLimiter
    private let closed = Atomic<Bool>(false)
    private let configuration: KafkaProducerConfiguration
    private let logger: Logger

    /// Creates a producer and starts its delivery-report thread.
    public init(configuration: KafkaProducerConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        let limiter = InFlightLimiter(limit: configuration.maxInFlight)
        self.limiter = limiter
        let failures = Counter(label: "kafka_producer_delivery_failures_total",
                               dimensions: [("client_id", configuration.kafka.clientId)])
        let client = try RDKafkaClient(
            role: .producer,
            properties: configuration.kafka.librdkafkaProperties(roleDefaults: KafkaProducerConfiguration.defaults),
            logger: logger,
            onDelivery: { message in
                let report = KafkaProducer.result(of: message)
                if let opaque = message.pointee._private {
                    Unmanaged<DeliveryWaiter>.fromOpaque(opaque).takeRetainedValue().complete(report)
                } else if case .failure(let error) = report {
                    failures.increment()
                    logger.error("kafka delivery failed", metadata: ["kafka.error": "\(error)"])
                }
                limiter.release()
            })
        self.client = client
        // rd_kafka_yield only works from inside a callback; yielding the main queue wakes a blocked rd_kafka_poll.
        let mainQueue = RDKafkaQueue(rd_kafka_queue_get_main(client.handle), client: client)
        pollThread = PollThread(name: "kafka-producer-poll", wake: { rd_kafka_queue_yield(mainQueue.pointer) }) {
            _ = rd_kafka_poll(client.handle, 100)
        }
    }

    deinit {
        pollThread.stopAndJoin()
    }

    /// Produces a message and waits for the broker's acknowledgement.
    ///
    /// Cancelling the task stops the wait (throwing `CancellationError`), not the delivery: librdkafka may still
    /// deliver the message.
    @discardableResult
    public func send(_ message: OutgoingMessage) async throws -> DeliveryReport {
        try await send([message])[0]
    }

    /// Produces messages back to back, in order, then waits for every acknowledgement; returns the reports in order.
    @discardableResult
    ///
    /// Handed to librdkafka together, they usually travel in one produce request instead of one round trip each.
    /// If librdkafka refuses one, the rest are not produced (so a key's order holds) and the first error is thrown
    /// once the ones already produced are acknowledged or failed. Cancellation stops the wait, not the deliveries.
    public func send(_ messages: [OutgoingMessage]) async throws -> [DeliveryReport] {
        try checkOpen()
        var waiters: [DeliveryWaiter] = []
        waiters.reserveCapacity(messages.count)
        var refused: KafkaError?
        for message in messages {
            await limiter.acquire()
            let waiter = DeliveryWaiter()
            waiters.append(waiter)
            let opaque = Unmanaged.passRetained(waiter).toOpaque()
            if let error = produce(message, opaque: opaque) {
                Unmanaged<DeliveryWaiter>.fromOpaque(opaque).release()
                limiter.release()
                waiter.complete(.failure(error))
                refused = error
                break
            }
        }
        var reports: [DeliveryReport] = []
        reports.reserveCapacity(messages.count)
        var failure: (any Error)?
        for waiter in waiters {
            do {
                reports.append(try await waiter.wait())
            } catch {
                if failure == nil { failure = error }
            }
        }
        if let failure = refused ?? failure { throw failure }
        return reports
    }

    /// Produces a message without waiting for its acknowledgement; waits only while `maxInFlight` messages are
    /// outstanding. Delivery failures are logged and counted (`kafka_producer_delivery_failures_total`).
    public func enqueue(_ message: OutgoingMessage) async throws {
        try checkOpen()
        await limiter.acquire()
        if let error = produce(message, opaque: nil) {
            limiter.release()
            throw error
        }
    }

    /// Produces a message at once when one of the `maxInFlight` slots is free and nobody waits for one, never
    /// suspending (an event loop can call it): false when the message was not produced (no free slot), the caller
    /// queues it instead. Delivery failures are logged and counted like ``enqueue(_:)``'s.
    public func tryEnqueue(_ message: OutgoingMessage) throws -> Bool {
        try checkOpen()
        guard limiter.tryAcquire() else { return false }
        if let error = produce(message, opaque: nil) {
            limiter.release()
            throw error
        }
        return true
    }

    /// Waits until every message produced so far has a delivery report, or the timeout passes.
    public func flush(timeout: Duration) async throws {
        let ms = Int32(clamping: timeout.components.seconds * 1000)
        let client = client
        try await BlockingCalls.run { () throws(KafkaError) in
            let err = rd_kafka_flush(client.handle, ms)
            if err != RD_KAFKA_RESP_ERR_NO_ERROR {
                throw KafkaError(code: "timeout", context: "flush", rdError: err)
            }
        }
    }

    /// Flushes outstanding messages (up to `flushTimeout`) and stops the delivery thread. Idempotent.
    /// Messages still undelivered after the flush timeout are purged: their senders get a delivery error (nobody
    /// waits forever on a broker that is gone), and the count is logged.
    public func close() async {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        do {
            try await flush(timeout: configuration.flushTimeout)
        } catch {
            let client = client
            let undelivered = rd_kafka_outq_len(client.handle)
            logger.error("kafka producer closing with undelivered messages; purging them",
                         metadata: ["kafka.error": "\(error)", "kafka.undelivered": "\(undelivered)"])
            // Purged messages get their delivery reports (with a purge error) on the next poll, which resumes senders.
            _ = rd_kafka_purge(client.handle, Int32(RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT))
            try? await flush(timeout: .seconds(1))
        }
        let pollThread = pollThread
        try? await BlockingCalls.run { pollThread.stopAndJoin() }
    }

    /// Runs until graceful shutdown, then flushes and closes.
    public func run() async throws {
        try? await gracefulShutdown()
        await close()
    }

    /// Partitions of a topic, from cluster metadata.
    public func partitions(of topic: String, timeout: Duration = .seconds(5)) async throws -> [Int32] {
        let client = client
        let ms = Int32(clamping: timeout.components.seconds * 1000)
        return try await BlockingCalls.run { () throws(KafkaError) in
            try client.metadata(topic: topic, timeoutMs: ms).first?.partitions ?? []
        }
    }

    private func checkOpen() throws {
        if closed.load(ordering: .acquiring) { throw KafkaError.closed("producer") }
    }

    /// Hands one message to librdkafka (which copies it); returns the error if it refused.
    private func produce(_ message: OutgoingMessage, opaque: UnsafeMutableRawPointer?) -> KafkaError? {
        var headers: OpaquePointer?
        if !message.headers.isEmpty {
            headers = rd_kafka_headers_new(message.headers.count)
            for header in message.headers {
                if let value = header.value {
                    value.withUnsafeBytes { _ = rd_kafka_header_add(headers, header.name, -1, $0.baseAddress, $0.count) }
                } else {
                    _ = rd_kafka_header_add(headers, header.name, -1, nil, 0)
                }
            }
        }
        let timestampMs = message.timestamp.map { Int64($0.timeIntervalSince1970 * 1000) } ?? 0
        let err: rd_kafka_resp_err_t = message.value.withUnsafeBytes { value in
            func produce(key: UnsafeRawBufferPointer?) -> rd_kafka_resp_err_t {
                crdkafka_produce(client.handle, message.topic, message.partition ?? RD_KAFKA_PARTITION_UA,
                                 key?.baseAddress, key?.count ?? 0, value.baseAddress, value.count,
                                 headers, timestampMs, opaque)
            }
            if let key = message.key { return key.withUnsafeBytes { produce(key: $0) } }
            return produce(key: nil)
        }
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            if let headers { rd_kafka_headers_destroy(headers) }
            return KafkaError(code: "produce", context: "produce to \(message.topic)", rdError: err)
        }
        return nil
    }

    private static func result(of message: UnsafePointer<rd_kafka_message_t>) -> Result<DeliveryReport, KafkaError> {
        let m = message.pointee
        let topic = m.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? ""
        if m.err != RD_KAFKA_RESP_ERR_NO_ERROR {
            return .failure(KafkaError(code: "delivery", context: "delivery to \(topic)", rdError: m.err))
        }
        return .success(DeliveryReport(topicPartition: TopicPartition(topic: topic, partition: m.partition),
                                       offset: m.offset))
    }
}

/// Resumes one awaiting `send` when its delivery report arrives, or when the sender is cancelled — whichever
/// comes first; the delivery callback releases the reference the message opaque held.
/// One message's wait for its delivery report, which may arrive before anyone waits (batched sends).
private final class DeliveryWaiter: Sendable {
    private enum State {
        case pending
        case waiting(CheckedContinuation<DeliveryReport, any Error>)
        case reported(Result<DeliveryReport, KafkaError>)
        case finished
    }
    private let state = Mutex(State.pending)

    /// Waits for the report (at once if it came already); cancellation stops the wait and drops a later report.
    func wait() async throws -> DeliveryReport {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<DeliveryReport, any Error>) in
                let ready = state.withLock { state -> Result<DeliveryReport, any Error>? in
                    switch state {
                    case .pending:
                        state = .waiting(continuation)
                        return nil
                    case .reported(let result):
                        state = .finished
                        return result.mapError { $0 as any Error }
                    case .waiting, .finished:
                        return .failure(CancellationError())
                    }
                }
                if let ready { continuation.resume(with: ready) }
            }
        } onCancel: {
            cancel()
        }
    }

    /// Hands over the delivery report (kept until ``wait()`` when nobody waits yet; at most once).
    func complete(_ result: Result<DeliveryReport, KafkaError>) {
        let waiting = state.withLock { state -> CheckedContinuation<DeliveryReport, any Error>? in
            switch state {
            case .pending:
                state = .reported(result)
                return nil
            case .waiting(let continuation):
                state = .finished
                return continuation
            case .reported, .finished:
                return nil
            }
        }
        waiting?.resume(with: result.mapError { $0 as any Error })
    }

    /// Stops the wait; a later report is dropped.
    func cancel() {
        let waiting = state.withLock { state -> CheckedContinuation<DeliveryReport, any Error>? in
            defer { state = .finished }
            if case .waiting(let continuation) = state { return continuation }
            return nil
        }
        waiting?.resume(throwing: CancellationError())
    }
}

/// Counts work in flight and suspends callers beyond the limit (FIFO): messages awaiting delivery reports here,
/// records being handled in `TopicProcessor`.
public final class InFlightLimiter: Sendable {
    private struct State {
        var inFlight = 0
        var waiters: [CheckedContinuation<Void, Never>] = []
        var head = 0
    }
    private let limit: Int
    private let state = Mutex(State())

    /// A limiter admitting `limit` (at least 1) at a time.
    public init(limit: Int) {
        self.limit = max(1, limit)
    }

    /// Takes a slot if one is free and nobody is waiting for one (no overtaking); false otherwise.
    public func tryAcquire() -> Bool {
        state.withLock { state in
            guard state.inFlight < limit, state.head == state.waiters.count else { return false }
            state.inFlight += 1
            return true
        }
    }

    /// Takes a slot, waiting for one if all are taken.
    public func acquire() async {
        let acquired = state.withLock { state -> Bool in
            guard state.inFlight < limit else { return false }
            state.inFlight += 1
            return true
        }
        if acquired { return }
        await withCheckedContinuation { continuation in
            let granted = state.withLock { state -> Bool in
                if state.inFlight < limit {
                    state.inFlight += 1
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if granted { continuation.resume() }
        }
    }

    /// Frees a slot, handing it straight to the oldest waiter if there is one.
    public func release() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.head < state.waiters.count {
                let waiter = state.waiters[state.head]
                state.head += 1
                if state.head == state.waiters.count {
                    state.waiters.removeAll(keepingCapacity: true)
                    state.head = 0
                }
                return waiter  // the slot passes on: inFlight stays the same
            }
            state.inFlight -= 1
            return nil
        }
        next?.resume()
    }
}
