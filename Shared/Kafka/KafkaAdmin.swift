import CRdKafka
import Foundation
import Logging

/// A topic to create on a real cluster.
public struct NewTopic: Sendable, Hashable {
    /// Topic name.
    public var name: String
    /// Partition count.
    public var partitions: Int
    /// Replication factor; -1 lets the broker's default decide.
    public var replicationFactor: Int
    /// Topic configuration, e.g. `cleanup.policy=compact`.
    public var config: [String: String]

    /// Creates a topic description.
    public init(name: String, partitions: Int, replicationFactor: Int = -1, config: [String: String] = [:]) {
        self.name = name
        self.partitions = partitions
        self.replicationFactor = replicationFactor
        self.config = config
    }
}

/// What happened to one topic in a create request.
public enum TopicCreation: Sendable, Hashable {
    /// The topic was created.
    case created
    /// The topic was already there (provisioning is idempotent).
    case alreadyExists
    /// The broker refused, with its reason.
    case failed(String)
}

/// Cluster metadata, watermarks, offsets for timestamps and topic creation.
public final class KafkaAdmin: Sendable {
    let client: RDKafkaClient
    private let pollThread: PollThread
    private let configuration: KafkaConfiguration
    private let logger: Logger

    /// Creates an admin client (a producer-type handle that never produces) and serves its events.
    public init(configuration: KafkaConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        let client = try RDKafkaClient(role: .admin, properties: configuration.librdkafkaProperties(roleDefaults: [:]),
                                       logger: logger)
        self.client = client
        // rd_kafka_yield only works from inside a callback; yielding the main queue wakes a blocked rd_kafka_poll.
        let mainQueue = RDKafkaQueue(rd_kafka_queue_get_main(client.handle), client: client)
        pollThread = PollThread(name: "kafka-admin-poll", wake: { rd_kafka_queue_yield(mainQueue.pointer) }) {
            _ = rd_kafka_poll(client.handle, 100)
        }
    }

    deinit {
        pollThread.stopAndJoin()
    }

    /// Every topic in the cluster with its partitions.
    public func listTopics(timeout: Duration = .seconds(5)) async throws -> [TopicMetadata] {
        let client = client
        return try await BlockingCalls.run { () throws(KafkaError) in
            try client.metadata(topic: nil, timeoutMs: timeout.milliseconds)
        }
    }

    /// Low (oldest retained) and high (next to be written) offsets of a partition.
    public func watermarks(_ partition: TopicPartition, timeout: Duration = .seconds(5)) async throws
        -> (low: Int64, high: Int64)
    {
        let client = client
        return try await BlockingCalls.run { () throws(KafkaError) in
            try client.watermarks(partition, timeoutMs: timeout.milliseconds)
        }
    }

    /// Low and high watermarks of several partitions, asked in parallel.
    public func watermarks(_ partitions: [TopicPartition], timeout: Duration = .seconds(5)) async throws
        -> [TopicPartition: (low: Int64, high: Int64)]
    {
        try await withThrowingTaskGroup(of: (TopicPartition, (low: Int64, high: Int64)).self) { group in
            for partition in partitions { group.addTask { (partition, try await self.watermarks(partition, timeout: timeout)) } }
            return try await group.reduce(into: [TopicPartition: (low: Int64, high: Int64)]()) { $0[$1.0] = $1.1 }
        }
    }

    /// The broker's answer to ListOffsets-by-timestamp for each partition: the first offset whose timestamp is at or
    /// after `timestamp`, or nil where the broker answers -1 (no such message — or, like librdkafka's mock cluster,
    /// no support). ``offset(for:in:)`` falls back to a search where needed.
    public func offsetsForTimes(_ timestamp: Date, partitions: [TopicPartition], timeout: Duration = .seconds(5))
        async throws -> [TopicPartition: Int64?]
    {
        let client = client
        let ms = Int64(timestamp.timeIntervalSince1970 * 1000)
        return try await BlockingCalls.run { () throws(KafkaError) in
            let list = TopicPartitionList(partitions.map { ($0.topic, $0.partition, ms) })
            let err = rd_kafka_offsets_for_times(client.handle, list.pointer, timeout.milliseconds)
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
                throw KafkaError(code: "admin", context: "offsets for times", rdError: err)
            }
            return list.entries().reduce(into: [:]) { result, entry in
                result[entry.topicPartition] =
                    entry.error == RD_KAFKA_RESP_ERR_NO_ERROR && entry.offset >= 0 ? entry.offset : nil
            }
        }
    }

    /// The first offset in `partition` whose message timestamp is at or after `timestamp` (the high watermark if
    /// none is). Asks the broker first; where it cannot answer, binary-searches message timestamps, which assumes
    /// timestamps grow with offsets (true for log-append time and for producers stamping "now").
    public func offset(for timestamp: Date, in partition: TopicPartition, timeout: Duration = .seconds(30))
        async throws -> Int64
    {
        try await offsets(for: timestamp, in: [partition], timeout: timeout)[partition]!.offset
    }

    /// ``offset(for:in:timeout:)`` for many partitions at once, with their high watermarks: one ListOffsets request
    /// for all of them and, where the broker cannot answer, the searches in parallel (a gateway's start waits on this
    /// for every partition; one after the other took seconds).
    ///
    /// A partition retaining fewer than `readWholeBelow` records that the broker has no answer for is not searched:
    /// its low watermark comes back, a lower bound that is exact for a reader filtering by time, and cheaper to read
    /// from than a search on a broker that cannot answer (the embedded one) is to run.
    public func offsets(for timestamp: Date, in partitions: [TopicPartition], readWholeBelow: Int64 = 0,
                        timeout: Duration = .seconds(30)) async throws -> [TopicPartition: (offset: Int64, high: Int64)]
    {
        let marks = try await watermarks(partitions)
        let nonEmpty = partitions.filter { marks[$0].map { $0.low < $0.high } ?? false }
        let answers = nonEmpty.isEmpty ? [:] : try await offsetsForTimes(timestamp, partitions: nonEmpty)
        return try await withThrowingTaskGroup(of: (TopicPartition, Int64, Int64).self) { group in
            for partition in partitions {
                let (low, high) = marks[partition]!
                group.addTask {
                    if low >= high { return (partition, high, high) }
                    if let answer = answers[partition] ?? nil { return (partition, answer, high) }
                    if high - low < readWholeBelow { return (partition, low, high) }
                    let found = try await self.searchOffset(for: timestamp, in: partition, low: low, high: high,
                                                            timeout: timeout)
                    return (partition, found, high)
                }
            }
            return try await group.reduce(into: [TopicPartition: (offset: Int64, high: Int64)]()) {
                $0[$1.0] = (min($1.1, $1.2), $1.2)
            }
        }
    }

    /// Binary search over [low, high) reading one message per probe with an assign-mode consumer.
    func searchOffset(for timestamp: Date, in partition: TopicPartition, low: Int64, high: Int64,
                      timeout: Duration) async throws -> Int64
    {
        var probeConfiguration = configuration
        probeConfiguration.statisticsInterval = nil
        let consumer = try KafkaConsumer(
            configuration: KafkaConsumerConfiguration(
                kafka: probeConfiguration, mode: .assign([partition: .offset(low)]), bufferCapacity: 1),
            logger: logger)
        do {
            let offset = try await search(consumer, for: timestamp, in: partition, low: low, high: high, timeout: timeout)
            await consumer.close()
            return offset
        } catch {
            await consumer.close()
            throw error
        }
    }

    private func search(_ consumer: KafkaConsumer, for timestamp: Date, in partition: TopicPartition, low: Int64,
                        high: Int64, timeout: Duration) async throws -> Int64
    {
        var lower = low
        var upper = high  // invariant: the answer is in [lower, upper]
        while lower < upper {
            let middle = lower + (upper - lower) / 2
            try await consumer.seek([partition: .offset(middle)], timeout: timeout)
            guard let message = try await firstMessage(from: consumer, atOrAfter: middle, timeout: timeout) else {
                throw KafkaError(code: "timeout", message: "no message at \(partition)@\(middle) within \(timeout)",
                                 isRetriable: true)
            }
            // A message without a timestamp counts as recent: the search then errs towards reading more, never
            // towards skipping what was asked for.
            if (message.timestamp ?? .distantFuture) >= timestamp {
                upper = min(middle, message.offset)
            } else {
                lower = message.offset + 1
            }
        }
        return lower
    }

    private func firstMessage(from consumer: KafkaConsumer, atOrAfter offset: Int64, timeout: Duration) async throws
        -> KafkaMessage?
    {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard let message = await consumer.nextMessage(timeout: deadline - ContinuousClock.now) else { return nil }
            if message.offset >= offset { return message }
        }
        return nil
    }

    /// Creates topics (idempotent: existing ones are reported as such).
    public func createTopics(_ topics: [NewTopic], timeout: Duration = .seconds(30)) async throws
        -> [String: TopicCreation]
    {
        let client = client
        return try await BlockingCalls.run { () throws(KafkaError) in
            var errstr = [CChar](repeating: 0, count: 512)
            var newTopics: [OpaquePointer?] = []
            defer { for topic in newTopics { rd_kafka_NewTopic_destroy(topic) } }
            for topic in topics {
                guard !topic.name.isEmpty, topic.partitions > 0 else {
                    throw KafkaError(code: "configuration",
                                     message: "topic '\(topic.name)': a name and at least one partition are needed")
                }
                guard let newTopic = rd_kafka_NewTopic_new(topic.name, Int32(topic.partitions),
                                                           Int32(topic.replicationFactor), &errstr, errstr.count)
                else {
                    throw KafkaError(code: "admin", message: "topic \(topic.name): \(String(errorBuffer: errstr))")
                }
                newTopics.append(newTopic)
                for (name, value) in topic.config.sorted(by: { $0.key < $1.key }) {
                    _ = rd_kafka_NewTopic_set_config(newTopic, name, value)
                }
            }
            return try KafkaAdmin.request(client, RD_KAFKA_ADMIN_OP_CREATETOPICS, "create topics", timeout: timeout) {
                options, queue in
                newTopics.withUnsafeMutableBufferPointer { buffer in
                    rd_kafka_CreateTopics(client.handle, buffer.baseAddress, buffer.count, options, queue)
                }
            } read: { event throws(KafkaError) in
                try KafkaAdmin.creationOutcome(event)
            }
        }
    }

    /// The per-topic outcome of a CreateTopics answer.
    private static func creationOutcome(_ event: OpaquePointer) throws(KafkaError) -> [String: TopicCreation] {
        guard let result = rd_kafka_event_CreateTopics_result(event) else {
            throw KafkaError(code: "admin", message: "create topics: unexpected answer")
        }
        var count = 0
        guard let results = rd_kafka_CreateTopics_result_topics(result, &count) else { return [:] }
        var outcome: [String: TopicCreation] = [:]
        for index in 0..<count {
            guard let topicResult = results[index] else { continue }
            let name = String(cString: rd_kafka_topic_result_name(topicResult))
            let err = rd_kafka_topic_result_error(topicResult)
            switch err {
            case RD_KAFKA_RESP_ERR_NO_ERROR: outcome[name] = .created
            case RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS: outcome[name] = .alreadyExists
            default:
                let reason = rd_kafka_topic_result_error_string(topicResult).map { String(cString: $0) }
                outcome[name] = .failed(reason ?? String(cString: rd_kafka_err2str(err)))
            }
        }
        return outcome
    }

    /// Runs one event-based admin request (blocking: call inside ``BlockingCalls``): options with `timeout`, a result
    /// queue, `submit` sends the request, and the answer event — checked for a request-level error — goes to `read`.
    static func request<T>(
        _ client: RDKafkaClient, _ operation: rd_kafka_admin_op_t, _ what: String, timeout: Duration,
        submit: (OpaquePointer?, OpaquePointer?) -> Void, read: (OpaquePointer) throws(KafkaError) -> T
    ) throws(KafkaError) -> T {
        var errstr = [CChar](repeating: 0, count: 512)
        let queue = rd_kafka_queue_new(client.handle)
        defer { rd_kafka_queue_destroy(queue) }
        let options = rd_kafka_AdminOptions_new(client.handle, operation)
        defer { rd_kafka_AdminOptions_destroy(options) }
        // Not every operation takes an operation timeout; librdkafka refuses it for those, which is harmless.
        _ = rd_kafka_AdminOptions_set_operation_timeout(options, timeout.milliseconds, &errstr, errstr.count)
        _ = rd_kafka_AdminOptions_set_request_timeout(options, timeout.milliseconds, &errstr, errstr.count)
        submit(options, queue)
        // librdkafka answers by the request timeout; the extra second only guards against a lost answer.
        guard let event = rd_kafka_queue_poll(queue, timeout.milliseconds + 1000) else {
            throw KafkaError(code: "timeout", message: "\(what): no answer within \(timeout)", isRetriable: true)
        }
        defer { rd_kafka_event_destroy(event) }
        let eventError = rd_kafka_event_error(event)
        guard eventError == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(code: "admin", context: what, rdError: eventError)
        }
        return try read(event)
    }
}

extension Duration {
    /// Whole milliseconds, clamped to Int32 for librdkafka timeouts.
    var milliseconds: Int32 {
        Int32(clamping: components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000)
    }
}
