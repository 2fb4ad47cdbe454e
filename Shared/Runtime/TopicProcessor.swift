import Foundation
import Kafka
import Logging
import Messages
import Metrics
import ServiceLifecycle

/// Consumes one command topic in a shared group: each record is decoded and validated as an envelope of that
/// topic, handed to `handle`, and only then committed (at-least-once).
///
/// Partitions are handled in parallel, each in order (one lane per partition): commands with the same key (a user)
/// keep their order, while a slow command of one user no longer holds up everyone else's. At most `maxInFlight`
/// records are dispatched and not yet handled, so a slow handler stops the reading instead of filling memory.
///
/// A record that does not decode, or whose handler throws, goes to `deadletter` with the reason and is committed
/// too, so one bad record never blocks its partition. If even the dead-letter write fails, the record is not
/// committed and the processor stops: the next instance to own the partition sees it again (nothing is lost).
public struct TopicProcessor: Service {
    /// Handles one decoded message; throwing sends the record to the dead-letter topic.
    public typealias Handler = @Sendable (DecodedMessage, KafkaMessage) async throws -> Void

    private let topic: String
    private let consumer: KafkaConsumer
    private let deadLetters: DeadLetterSink
    private let handle: Handler
    private let logger: Logger
    private let maxInFlight: Int

    /// Creates a processor for `topic` over an already configured consumer.
    public init(topic: String, consumer: KafkaConsumer, deadLetters: DeadLetterSink, logger: Logger,
                maxInFlight: Int = 256, handle: @escaping Handler) {
        self.topic = topic
        self.maxInFlight = maxInFlight
        self.consumer = consumer
        self.deadLetters = deadLetters
        self.handle = handle
        self.logger = logger
    }

    /// Processes records until graceful shutdown, then commits what was handled and leaves the group.
    public func run() async throws {
        let duration = Timer(label: "messaging_process_duration_seconds", dimensions: [("topic", topic)],
                             preferredDisplayUnit: .seconds)
        // Made once: a metric looked up by label and dimensions per record costs a lock and hashing each time.
        let outcomes = Dictionary(uniqueKeysWithValues: Outcome.allCases.map { outcome in
            (outcome, Counter(label: "messaging_process_messages_total",
                              dimensions: [("topic", topic), ("outcome", outcome.rawValue)]))
        })
        let limiter = InFlightLimiter(limit: maxInFlight)
        try await withGracefulShutdownHandler {
            try await withThrowingTaskGroup(of: Void.self) { lanes in
                var queues: [Int32: AsyncStream<KafkaMessage>.Continuation] = [:]
                for await record in consumer.messages {
                    await limiter.acquire()
                    if queues[record.partition] == nil {
                        let (queue, continuation) = AsyncStream.makeStream(of: KafkaMessage.self)
                        queues[record.partition] = continuation
                        lanes.addTask { try await lane(queue, limiter: limiter, duration: duration, outcomes: outcomes) }
                    }
                    queues[record.partition]?.yield(record)
                }
                for queue in queues.values { queue.finish() }
                try await lanes.waitForAll()
            }
        } onGracefulShutdown: {
            Task { await consumer.close() }
        }
        await consumer.close()
    }

    /// Handles one partition's records in order, committing each after it is handled. A record that can be neither
    /// handled nor dead-lettered stops the processor (closing the consumer ends the reading).
    private func lane(_ queue: AsyncStream<KafkaMessage>, limiter: InFlightLimiter, duration: Timer,
                      outcomes: [Outcome: Counter]) async throws {
        var stopped = false
        var failure: TopicProcessorError?
        for await record in queue {
            defer { limiter.release() }
            guard !stopped else { continue }  // drain what was dispatched, uncommitted, freeing its slots
            let start = ContinuousClock.now
            let outcome = await process(record)
            let elapsed = ContinuousClock.now - start
            duration.recordNanoseconds(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
            outcomes[outcome]?.increment()
            switch outcome {
            case .handled, .deadlettered:
                consumer.commit(record)
            case .cancelled:
                stopped = true
            case .abandoned:
                stopped = true
                failure = TopicProcessorError(topic: topic, offset: record.offset, partition: record.partition)
                Task { await consumer.close() }
            }
        }
        if let failure { throw failure }
    }

    enum Outcome: String, CaseIterable { case handled, deadlettered, abandoned, cancelled }

    private func process(_ record: KafkaMessage) async -> Outcome {
        var metadata: Logger.Metadata = [
            "kafka.topic": "\(record.topic)", "kafka.partition": "\(record.partition)", "kafka.offset": "\(record.offset)",
        ]
        let reason: String
        do {
            let decoded = try MessageCoding.decodeMessage(from: Data(record.value), topic: topic)
            metadata["envelope.id"] = "\(decoded.header.id)"
            metadata["envelope.type"] = "\(decoded.type)"
            do {
                try await handle(decoded, record)
                return .handled
            } catch {
                // Cancelled mid-handling (the process is being killed): neither dead-letter nor commit, so the
                // next owner of the partition handles the record again.
                if Task.isCancelled || error is CancellationError {
                    logger.info("handling cancelled; record left uncommitted", metadata: metadata)
                    return .cancelled
                }
                reason = "handler failed: \(error)"
            }
        } catch {
            reason = "invalid message: \(error)"
        }
        logger.warning("record sent to deadletter", metadata: metadata.merging(["error.message": "\(reason)"]) { $1 })
        do {
            try await deadLetters.send(record, reason: reason)
            return .deadlettered
        } catch {
            logger.error("dead-letter write failed; stopping without committing",
                         metadata: metadata.merging(["error.message": "\(error)"]) { $1 })
            return .abandoned
        }
    }
}

/// Thrown when a record could neither be handled nor dead-lettered.
public struct TopicProcessorError: Error, CustomStringConvertible {
    /// The topic.
    public var topic: String
    /// The record's offset.
    public var offset: Int64
    /// The record's partition.
    public var partition: Int32
    /// A human-readable summary.
    public var description: String { "could not handle or dead-letter \(topic)[\(partition)]@\(offset)" }
}

/// Writes failed records to the `deadletter` topic with where they came from and why they failed.
public struct DeadLetterSink: Sendable {
    private let producer: EnvelopeProducer

    /// Creates a sink producing through `producer` (its `source` names the service that gave up).
    public init(producer: EnvelopeProducer) {
        self.producer = producer
    }

    /// Sends the record to `deadletter` and waits until the broker has it.
    public func send(_ record: KafkaMessage, reason: String) async throws {
        var headers: [String: String] = [:]
        for header in record.headers { headers[header.name] = header.stringValue ?? "" }
        let entry = DeadLetter.bounded(
            originalTopic: record.topic, partition: Int(record.partition), offset: Int(record.offset),
            key: record.key.map { Data($0) }, headers: headers, value: Data(record.value), error: reason,
            service: producer.source.service, instance: producer.source.instance)
        Counter(label: "messaging_deadletter_messages_total", dimensions: [("topic", record.topic)]).increment()
        try await producer.send(entry, key: "\(record.topic)/\(record.partition)/\(record.offset)")
    }
}
