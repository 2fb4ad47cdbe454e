import CRdKafka
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Where a consumer starts reading a partition.
public enum KafkaOffset: Sendable, Hashable {
    /// The oldest retained message.
    case beginning
    /// Only messages produced from now on.
    case end
    /// An exact offset.
    case offset(Int64)

    var rawValue: Int64 {
        switch self {
        case .beginning: return Int64(RD_KAFKA_OFFSET_BEGINNING)
        case .end: return Int64(RD_KAFKA_OFFSET_END)
        case .offset(let offset): return offset
        }
    }
}

/// Consumer settings.
public struct KafkaConsumerConfiguration: Sendable {
    /// How partitions are given to this consumer.
    public enum Mode: Sendable {
        /// A shared consumer group: instances with the same id split the partitions; offsets are committed.
        case group(id: String)
        /// Every instance sees every message: a unique group per instance (`prefix-UUID`) that starts at the
        /// end and commits nothing, like a pub/sub adapter.
        case broadcast(groupPrefix: String)
        /// Explicit partitions and offsets, no group membership and no commits (replay, tail, tools).
        case assign([TopicPartition: KafkaOffset])
    }

    /// How soon a consumer must see a new message.
    public enum Latency: Sendable {
        /// On a client's path (commands, deliveries): `fetch.wait.max.ms` as configured (default 10 ms).
        case realtime
        /// Off it (record registry, recovery index, grant cleanup): `fetch.wait.max.ms` at least
        /// ``KafkaConsumerConfiguration/backgroundFetchWaitMs``, whatever `KAFKA_FETCH_WAIT_MAX_MS` says. A broker with
        /// long polling answers as soon as data arrives, so this costs nothing there; the embedded broker answers an
        /// empty fetch only after the full wait, and a 1 ms loop cost each idle consumer ~2.5 % of a core.
        case background
    }

    /// The least `fetch.wait.max.ms` of a ``Latency/background`` consumer.
    public static let backgroundFetchWaitMs = 100

    /// Brokers, client id and extra librdkafka properties.
    public var kafka: KafkaConfiguration
    /// Group, broadcast or explicit assignment.
    public var mode: Mode
    /// Topics to subscribe to (group and broadcast modes).
    public var topics: [String]
    /// Where a group without committed offsets starts (`auto.offset.reset`); broadcast mode always starts at the end.
    public var startFromBeginning: Bool
    /// Messages held in Swift between librdkafka and the reader; beyond it the poll thread waits, and
    /// librdkafka's own prefetch limits (`queued.max.messages.kbytes`) stop fetching: that is the back-pressure.
    public var bufferCapacity: Int
    /// How long ``KafkaConsumer/close()`` waits for librdkafka's close (commit, leave the group). With the broker
    /// unreachable that close blocks for up to `session.timeout.ms` (45 s): a service with several consumers took
    /// minutes to stop. Past it the consumer is left behind (its offsets uncommitted: the group redelivers).
    public var closeTimeout: Duration
    /// Whether a client waits on what this consumer reads.
    public var latency: Latency

    /// Creates a configuration.
    public init(kafka: KafkaConfiguration, mode: Mode, topics: [String] = [], startFromBeginning: Bool = true,
                bufferCapacity: Int = 2048, closeTimeout: Duration = .seconds(5), latency: Latency = .realtime) {
        self.kafka = kafka
        self.latency = latency
        self.closeTimeout = closeTimeout
        self.mode = mode
        self.topics = topics
        self.startFromBeginning = startFromBeginning
        self.bufferCapacity = bufferCapacity
    }

    func librdkafkaProperties() -> [String: String] {
        var defaults: [String: String] = [
            "enable.auto.offset.store": "false",  // offsets are stored only after the app handled the message
            "auto.commit.interval.ms": "1000",
            "fetch.wait.max.ms": "10",  // realtime: a broker answers a fetch within 10 ms even when idle
            "fetch.error.backoff.ms": "50",
            "session.timeout.ms": "10000",
            "heartbeat.interval.ms": "1000",
            "queued.max.messages.kbytes": "16384",
            "socket.nagle.disable": "true",
        ]
        switch mode {
        case .group(let id):
            defaults["group.id"] = id
            defaults["enable.auto.commit"] = "true"
            defaults["auto.offset.reset"] = startFromBeginning ? "earliest" : "latest"
        case .broadcast(let prefix):
            defaults["group.id"] = "\(prefix)-\(UUID().uuidString.lowercased())"
            defaults["enable.auto.commit"] = "false"
            defaults["auto.offset.reset"] = "latest"
        case .assign:
            defaults["group.id"] = "assign-\(UUID().uuidString.lowercased())"
            defaults["enable.auto.commit"] = "false"
            defaults["auto.offset.reset"] = "earliest"
        }
        var properties = kafka.librdkafkaProperties(roleDefaults: defaults)
        if latency == .background {
            let configured = properties["fetch.wait.max.ms"].flatMap { Int($0) } ?? 0
            properties["fetch.wait.max.ms"] = String(max(configured, Self.backgroundFetchWaitMs))
        }
        return properties
    }
}

/// A Kafka consumer over librdkafka's high-level consumer; read it through ``messages``.
///
/// A dedicated thread blocks in `rd_kafka_consumer_poll`, drains what is ready in one go and hands batches to a
/// bounded buffer that the async ``messages`` sequence reads. Offsets are stored only through ``commit(_:)``, after
/// the application has handled a message, so processing is at-least-once.
public final class KafkaConsumer: Service, Sendable {
    private let client: RDKafkaClient
    private let queue: RDKafkaQueue
    private let buffer: MessageBuffer
    private let commands: PollThreadCommands
    private let pollThread: PollThread
    private let closed = Atomic<Bool>(false)
    private let logger: Logger
    private let commits: Bool
    private let closeTimeout: Duration

    /// Creates a consumer, joins its group (or takes its assignment) and starts fetching.
    public init(configuration: KafkaConsumerConfiguration, logger: Logger) throws {
        self.logger = logger
        closeTimeout = configuration.closeTimeout
        let client = try RDKafkaClient(role: .consumer, properties: configuration.librdkafkaProperties(), logger: logger)
        self.client = client
        rd_kafka_poll_set_consumer(client.handle)
        queue = RDKafkaQueue(rd_kafka_queue_get_consumer(client.handle), client: client)
        if case .assign = configuration.mode { commits = false } else if case .broadcast = configuration.mode {
            commits = false
        } else {
            commits = true
        }
        switch configuration.mode {
        case .group, .broadcast:
            guard !configuration.topics.isEmpty else {
                throw KafkaError(code: "configuration", message: "a group or broadcast consumer needs topics")
            }
            let list = TopicPartitionList(configuration.topics.map { ($0, RD_KAFKA_PARTITION_UA, nil) })
            let err = rd_kafka_subscribe(client.handle, list.pointer)
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
                throw KafkaError(code: "consume", context: "subscribe to \(configuration.topics)", rdError: err)
            }
        case .assign:
            break  // on the poll thread, below: it first waits for the partitions' leaders
        }
        let buffer = MessageBuffer(capacity: configuration.bufferCapacity)
        self.buffer = buffer
        let commands = PollThreadCommands()
        self.commands = commands
        if case .assign(let assignment) = configuration.mode {
            commands.append {
                KafkaConsumer.assign(assignment, client: client, logger: logger)
            }
        }
        let queue = queue
        pollThread = PollThread(name: "kafka-consumer-poll", wake: {
            rd_kafka_queue_yield(queue.pointer)
            buffer.wakePollThread()
        }) {
            commands.runPending()
            guard buffer.waitForSpace(timeoutMs: 100) else { return }
            guard let first = rd_kafka_consumer_poll(client.handle, 100) else { return }
            var batch: [KafkaMessage] = []
            var next: UnsafeMutablePointer<rd_kafka_message_t>? = first
            while let message = next, batch.count < 512 {
                if let converted = KafkaConsumer.convert(message, logger: logger) { batch.append(converted) }
                rd_kafka_message_destroy(message)
                next = batch.count < 512 ? rd_kafka_consumer_poll(client.handle, 0) : nil
            }
            if let message = next { rd_kafka_message_destroy(message) }  // unreachable by construction; defensive
            buffer.append(batch)
        }
    }

    deinit {
        pollThread.stopAndJoin()
    }

    /// Takes an explicit assignment once the partitions' leaders are known. librdkafka looks up a logical start
    /// offset (`.beginning`, `.end`) as soon as a partition is assigned; without a leader yet it retries only after
    /// 500 ms, so assigning before the first metadata reply delays the first message by half a second. Runs on the
    /// poll thread; waits at most 1 s for metadata, then assigns anyway (librdkafka retries on its own).
    private static func assign(_ assignment: [TopicPartition: KafkaOffset], client: RDKafkaClient, logger: Logger) {
        for topic in Set(assignment.keys.map(\.topic)).sorted() {
            do {
                _ = try client.metadata(topic: topic, timeoutMs: 1000)
            } catch {
                logger.debug("no metadata before assign", metadata: ["kafka.topic": "\(topic)", "kafka.error": "\(error)"])
            }
        }
        let list = TopicPartitionList(assignment.map { ($0.key.topic, $0.key.partition, $0.value.rawValue) })
        let err = rd_kafka_assign(client.handle, list.pointer)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            logger.error("kafka assign failed", metadata: ["kafka.error": "\(String(cString: rd_kafka_err2name(err)))"])
        }
    }

    /// The consumed messages, in partition order. One reader at a time; it ends after ``close()``.
    public var messages: KafkaMessageSequence { KafkaMessageSequence(buffer: buffer) }

    /// The next message, or nil if none arrives within `timeout` (or the consumer is closed). For tools and tests
    /// that read a bounded slice; services iterate ``messages``.
    public func nextMessage(timeout: Duration) async -> KafkaMessage? {
        await buffer.next(timeout: timeout)
    }

    /// Marks a message as handled: its offset + 1 is stored and committed with the next (auto) commit.
    public func commit(_ message: KafkaMessage) {
        guard commits else { return }
        let list = TopicPartitionList([(message.topic, message.partition, message.offset + 1)])
        let err = rd_kafka_offsets_store(client.handle, list.pointer)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            // After a rebalance the partition may belong to another member; it will redeliver: at-least-once.
            logger.debug("offset not stored", metadata: [
                "kafka.topic": "\(message.topic)", "kafka.partition": "\(message.partition)",
                "kafka.error": "\(String(cString: rd_kafka_err2name(err)))",
            ])
        }
    }

    /// Commits every stored offset now and waits for the broker's answer.
    public func commitNow() async throws {
        guard commits else { return }
        let client = client
        try await BlockingCalls.run { () throws(KafkaError) in
            let err = rd_kafka_commit(client.handle, nil, 0)
            if err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET {
                throw KafkaError(code: "consume", context: "commit", rdError: err)
            }
        }
    }

    /// The committed offsets of this consumer's group for the given partitions (nil where none is committed).
    public func committed(_ partitions: [TopicPartition], timeout: Duration = .seconds(5)) async throws
        -> [TopicPartition: Int64?]
    {
        let client = client
        let ms = Int32(clamping: timeout.components.seconds * 1000)
        return try await BlockingCalls.run { () throws(KafkaError) in
            let list = TopicPartitionList(partitions.map { ($0.topic, $0.partition, nil) })
            let err = rd_kafka_committed(client.handle, list.pointer, ms)
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
                throw KafkaError(code: "consume", context: "committed offsets", rdError: err)
            }
            return list.entries().reduce(into: [:]) { result, entry in
                result[entry.topicPartition] = entry.offset >= 0 ? entry.offset : nil
            }
        }
    }

    /// Partitions currently assigned to this consumer. In assign mode the assignment takes effect on the poll thread
    /// shortly after `init` (once the partitions' leaders are known); until then this is empty.
    public func assignment() throws -> [TopicPartition] {
        try KafkaConsumer.assignment(of: client)
    }

    private static func assignment(of client: RDKafkaClient) throws(KafkaError) -> [TopicPartition] {
        var list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
        let err = rd_kafka_assignment(client.handle, &list)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let list else {
            throw KafkaError(code: "consume", context: "assignment", rdError: err)
        }
        return TopicPartitionList(owning: list).entries().map(\.topicPartition)
    }

    /// Waits until the group has given this consumer at least one partition (or the timeout passes).
    public func waitForAssignment(timeout: Duration = .seconds(20)) async throws -> [TopicPartition] {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let current = try assignment()
            if !current.isEmpty { return current }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw KafkaError(code: "timeout", message: "no partition assigned within \(timeout)", isRetriable: true)
    }

    /// Moves the read position of assigned partitions; buffered messages of those partitions are dropped.
    ///
    /// The wait is for librdkafka's broker thread to take the new position, not for a network round trip; on a
    /// loaded machine that took more than 5 s (a CI run), hence a generous default.
    public func seek(_ positions: [TopicPartition: KafkaOffset], timeout: Duration = .seconds(30)) async throws {
        let client = client
        let buffer = buffer
        let ms = Int32(clamping: timeout.components.seconds * 1000)
        try await onPollThread { () throws(KafkaError) in
            let list = TopicPartitionList(positions.map { ($0.key.topic, $0.key.partition, $0.value.rawValue) })
            if let error = rd_kafka_seek_partitions(client.handle, list.pointer, ms) {
                defer { rd_kafka_error_destroy(error) }
                throw KafkaError(code: "consume", message: "seek: \(String(cString: rd_kafka_error_string(error)))")
            }
            for entry in list.entries() where entry.error != RD_KAFKA_RESP_ERR_NO_ERROR {
                throw KafkaError(code: "consume", context: "seek \(entry.topicPartition)", rdError: entry.error)
            }
            buffer.removeAll { positions[$0.topicPartition] != nil }
        }
    }

    /// Stops fetching the given partitions (all assigned ones if nil) until ``resume(_:)``.
    public func pause(_ partitions: [TopicPartition]? = nil) async throws {
        try await setPaused(true, partitions)
    }

    /// Resumes fetching paused partitions (all assigned ones if nil).
    public func resume(_ partitions: [TopicPartition]? = nil) async throws {
        try await setPaused(false, partitions)
    }

    private func setPaused(_ paused: Bool, _ partitions: [TopicPartition]?) async throws {
        let client = client
        try await onPollThread { () throws(KafkaError) in
            // Resolved here, so a pending explicit assignment (taken on this thread) is included.
            let targets: [TopicPartition]
            if let partitions { targets = partitions } else { targets = try KafkaConsumer.assignment(of: client) }
            let list = TopicPartitionList(targets.map { ($0.topic, $0.partition, nil) })
            let err = paused ? rd_kafka_pause_partitions(client.handle, list.pointer)
                : rd_kafka_resume_partitions(client.handle, list.pointer)
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
                throw KafkaError(code: "consume", context: paused ? "pause" : "resume", rdError: err)
            }
        }
    }

    /// Stops fetching, commits stored offsets, leaves the group (so partitions move to other members at once)
    /// and ends ``messages``. Idempotent.
    public func close() async {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let client = client
        let pollThread = pollThread
        let logger = logger
        let timeout = closeTimeout
        // The blocking close runs on its own; whichever comes first, it or the timeout, resumes the caller once.
        let finished: Bool = await withCheckedContinuation { continuation in
            let resumed = Atomic<Bool>(false)
            @Sendable func resume(_ value: Bool) {
                if !resumed.exchange(true, ordering: .acquiringAndReleasing) { continuation.resume(returning: value) }
            }
            DispatchQueue(label: "kafka.consumer-close").async {  // overcommit: off the cooperative pool (BlockingCalls)
                pollThread.stopAndJoin()
                let err = rd_kafka_consumer_close(client.handle)
                if err != RD_KAFKA_RESP_ERR_NO_ERROR {
                    logger.warning("kafka consumer close", metadata: ["kafka.error": "\(String(cString: rd_kafka_err2name(err)))"])
                }
                resume(true)
            }
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(Int(timeout.milliseconds))) { resume(false) }
        }
        if !finished {
            logger.warning("kafka consumer close did not finish in time (broker unreachable?); leaving it behind",
                           metadata: ["kafka.close_timeout": "\(timeout)"])
        }
        buffer.finish()
    }

    /// Runs until graceful shutdown, then closes.
    public func run() async throws {
        try? await gracefulShutdown()
        await close()
    }

    /// Runs `body` on the poll thread between two polls, so it never races a batch in hand.
    private func onPollThread(_ body: @escaping @Sendable () throws(KafkaError) -> Void) async throws {
        guard !closed.load(ordering: .acquiring) else { throw KafkaError.closed("consumer") }
        let queue = queue
        let result: Result<Void, KafkaError> = await withCheckedContinuation { continuation in
            commands.append {
                do throws(KafkaError) { try body(); continuation.resume(returning: .success(())) } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
            rd_kafka_queue_yield(queue.pointer)  // wake the poll thread now
        }
        try result.get()
    }

    private static func convert(_ pointer: UnsafeMutablePointer<rd_kafka_message_t>, logger: Logger) -> KafkaMessage? {
        let m = pointer.pointee
        guard m.err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            if m.err != RD_KAFKA_RESP_ERR__PARTITION_EOF {
                logger.warning("kafka consumer error", metadata: [
                    "kafka.error": "\(String(cString: rd_kafka_err2name(m.err)))",
                    "kafka.reason": "\(String(cString: rd_kafka_message_errstr(pointer)))",
                ])
            }
            return nil
        }
        let topic = m.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? ""
        let value = m.payload.map { Array(UnsafeRawBufferPointer(start: $0, count: m.len)) } ?? []
        let key = m.key.map { Array(UnsafeRawBufferPointer(start: $0, count: m.key_len)) }
        var timestampType = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        let ms = rd_kafka_message_timestamp(pointer, &timestampType)
        let timestamp = timestampType == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? nil
            : Date(timeIntervalSince1970: Double(ms) / 1000)
        var headers: [KafkaHeader] = []
        var cHeaders: OpaquePointer?
        if rd_kafka_message_headers(pointer, &cHeaders) == RD_KAFKA_RESP_ERR_NO_ERROR, let cHeaders {
            var index = 0
            var name: UnsafePointer<CChar>?
            var valuePointer: UnsafeRawPointer?
            var size = 0
            while rd_kafka_header_get_all(cHeaders, index, &name, &valuePointer, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
                headers.append(KafkaHeader(
                    name: name.map { String(cString: $0) } ?? "",
                    value: valuePointer.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) }))
                index += 1
            }
        }
        return KafkaMessage(topic: topic, partition: m.partition, offset: m.offset, key: key, value: value,
                            headers: headers, timestamp: timestamp)
    }
}

/// The async sequence of a consumer's messages.
public struct KafkaMessageSequence: AsyncSequence, Sendable {
    public typealias Element = KafkaMessage
    let buffer: MessageBuffer

    /// Creates the iterator.
    public func makeAsyncIterator() -> Iterator { Iterator(buffer: buffer) }

    /// Reads from the consumer's buffer; returns nil once the consumer is closed.
    public struct Iterator: AsyncIteratorProtocol {
        let buffer: MessageBuffer
        /// The next message, waiting for one if needed.
        public mutating func next() async -> KafkaMessage? { await buffer.next() }
    }
}

/// Owns a `rd_kafka_queue_t` reference.
///
/// `@unchecked Sendable`: librdkafka queues are thread-safe; the reference is released once, in `deinit`.
/// It keeps its client alive: librdkafka requires queues to be released before the client is destroyed.
final class RDKafkaQueue: @unchecked Sendable {
    let pointer: OpaquePointer?
    private let client: RDKafkaClient
    init(_ pointer: OpaquePointer?, client: RDKafkaClient) {
        self.pointer = pointer
        self.client = client
    }
    deinit { if let pointer { rd_kafka_queue_destroy(pointer) } }
}

/// Work queued for the consumer's poll thread, run between two polls.
final class PollThreadCommands: Sendable {
    private let pending = Mutex<[@Sendable () -> Void]>([])

    func append(_ command: @escaping @Sendable () -> Void) {
        pending.withLock { $0.append(command) }
    }

    func runPending() {
        let commands = pending.withLock { list in
            defer { list.removeAll() }
            return list
        }
        for command in commands { command() }
    }
}
