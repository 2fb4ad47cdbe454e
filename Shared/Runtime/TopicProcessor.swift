import Foundation
import Kafka
import Logging
import Messages
import Metrics
import ServiceLifecycle
import Synchronization

/// Consumes one command topic in a shared group: each record is decoded and validated as an envelope of that
/// topic, handed to `handle`, and only then committed (at-least-once).
///
/// Records are handled in parallel, in order per key within a partition (one lane per partition and key): commands
/// of one user keep their order, while a slow command of one user holds up no one else — not even users whose keys
/// share its partition (a partition lane made a hot partition's users wait in line behind each other's broker and
/// Redis round trips: 7 of 50 benchmark users hashed to one partition and had the whole run's worst latencies).
/// A partition's offset is committed only past records all handled (``CommitPoint``). At most `maxInFlight` records
/// are dispatched and not yet handled, so a slow handler stops the reading instead of filling memory.
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

    /// A lane: records of one key in one partition.
    private struct LaneKey: Hashable {
        let partition: Int32
        let key: [UInt8]?
    }

    /// What the dispatcher and the lanes share, behind one lock.
    private final class LaneBook: Sendable {
        private let state = Mutex(Lanes())

        func withLock<T>(_ body: (inout Lanes) -> T) -> T { state.withLock { body(&$0) } }
    }

    private struct Lanes {
        /// Records waiting per running lane; a lane that finds its queue empty ends and is removed.
        var queues: [LaneKey: [KafkaMessage]] = [:]
        var commits = CommitPoint()
        /// Set when a record was cancelled or abandoned: lanes then drain without handling (nothing more is
        /// committed past it).
        var stopped = false
        var failure: TopicProcessorError?
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
        let lanes = LaneBook()
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                for await record in consumer.messages {
                    await limiter.acquire()
                    let lane = LaneKey(partition: record.partition, key: record.key)
                    let starts = lanes.withLock { lanes in
                        lanes.commits.dispatched(record)
                        if lanes.queues[lane] != nil {
                            lanes.queues[lane]!.append(record)
                            return false
                        }
                        lanes.queues[lane] = []
                        return true
                    }
                    if starts {
                        group.addTask {
                            await self.lane(lane, first: record, lanes: lanes, limiter: limiter,
                                            duration: duration, outcomes: outcomes)
                        }
                    }
                }
            }
        } onGracefulShutdown: {
            Task { await consumer.close() }
        }
        await consumer.close()
        if let failure = lanes.withLock({ $0.failure }) { throw failure }
    }

    /// Handles one lane's records in order, committing what all lanes of the partition have handled. A record that
    /// can be neither handled nor dead-lettered stops the processor (closing the consumer ends the reading).
    private func lane(_ lane: LaneKey, first: KafkaMessage, lanes: LaneBook, limiter: InFlightLimiter,
                      duration: Timer, outcomes: [Outcome: Counter]) async {
        var next: KafkaMessage? = first
        while let record = next {
            if !lanes.withLock({ $0.stopped }) {  // else drain what was dispatched, uncommitted, freeing its slots
                let start = ContinuousClock.now
                let outcome = await process(record)
                let elapsed = ContinuousClock.now - start
                duration.recordNanoseconds(
                    elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
                outcomes[outcome]?.increment()
                let commit = lanes.withLock { lanes -> KafkaMessage? in
                    switch outcome {
                    case .handled, .deadlettered:
                        return lanes.commits.handled(record)
                    case .cancelled:
                        lanes.stopped = true
                    case .abandoned:
                        lanes.stopped = true
                        lanes.failure = lanes.failure
                            ?? TopicProcessorError(topic: topic, offset: record.offset, partition: record.partition)
                    }
                    return nil
                }
                if let commit { consumer.commit(commit) }
                if outcome == .abandoned { Task { await consumer.close() } }
            }
            limiter.release()
            next = lanes.withLock { lanes in
                guard lanes.queues[lane]?.isEmpty == false else {
                    lanes.queues[lane] = nil
                    return nil
                }
                return lanes.queues[lane]!.removeFirst()
            }
        }
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

/// How far each partition can be committed when records finish out of order: past a record only once every record
/// dispatched before it from the same partition is handled.
struct CommitPoint {
    /// Per partition, the records dispatched and not yet committed past, in dispatch order, and whether each is
    /// handled (at most `maxInFlight` in all, so a plain array).
    private var pending: [Int32: [(record: KafkaMessage, handled: Bool)]] = [:]

    /// Notes a record handed to a lane.
    mutating func dispatched(_ record: KafkaMessage) {
        pending[record.partition, default: []].append((record, false))
    }

    /// Notes a handled record; returns the record to commit (its offset + 1 is stored) when the partition's
    /// handled prefix grew, else nil.
    mutating func handled(_ record: KafkaMessage) -> KafkaMessage? {
        // Mutated in place (a copy taken out of the dictionary would be copied again on its first write).
        guard let index = pending[record.partition]?.firstIndex(where: { !$0.handled && $0.record.offset == record.offset })
        else { return nil }
        pending[record.partition]![index].handled = true
        let done = pending[record.partition]!.prefix(while: \.handled).count
        guard done > 0 else { return nil }
        let last = pending[record.partition]![done - 1].record
        pending[record.partition]!.removeFirst(done)
        if pending[record.partition]!.isEmpty { pending[record.partition] = nil }
        return last
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
