import Foundation
import Kafka
import Logging

/// A bounded part of a topic: per partition, the offsets `[start, end)` fixed when the slice is resolved (later
/// writes are not included).
struct TopicSlice: Sendable {
    /// Where a partition's slice starts (`--from-offset` or `--from`) and ends (`--to-offset` or `--to`, exclusive).
    struct Bounds: Sendable {
        var fromOffset: Int64?
        var toOffset: Int64?
        var from: Date?
        var to: Date?
    }

    var topic: String
    var ranges: [Int32: Range<Int64>]

    /// Messages in the slice.
    var count: Int64 { ranges.values.reduce(0) { $0 + Int64($1.count) } }

    /// Resolves `bounds` on `partitions` of `topic` (all when nil) against the cluster: offsets are clamped to the
    /// retained range; times go through offsets-for-times, or a timestamp search where the broker cannot answer.
    static func resolve(topic: String, partitions: [Int32]?, bounds: Bounds, admin: KafkaAdmin) async throws -> TopicSlice {
        guard let metadata = try await admin.listTopics().first(where: { $0.name == topic }) else {
            throw OperationsError("topic \(topic) does not exist")
        }
        let chosen = partitions ?? metadata.partitions
        for partition in chosen where !metadata.partitions.contains(partition) {
            throw OperationsError("topic \(topic) has no partition \(partition) (it has \(metadata.partitions.count))")
        }
        var ranges: [Int32: Range<Int64>] = [:]
        for partition in chosen {
            let tp = TopicPartition(topic: topic, partition: partition)
            let (low, high) = try await admin.watermarks(tp)
            var start = max(low, bounds.fromOffset ?? low)
            var end = min(high, bounds.toOffset ?? high)
            if let from = bounds.from { start = max(start, try await admin.offset(for: from, in: tp)) }
            if let to = bounds.to { end = min(end, try await admin.offset(for: to, in: tp)) }
            ranges[partition] = start..<max(start, end)
        }
        return TopicSlice(topic: topic, ranges: ranges)
    }

    /// Reads the slice partition by partition in offset order, calling `body` for each message. A partition that
    /// stays silent for `idleTimeout` before its end (a compacted gap at the end) is left as read.
    func read(kafka: KafkaConfiguration, logger: Logger, idleTimeout: Duration = .seconds(10),
              _ body: (KafkaMessage) async throws -> Void) async throws {
        let pending = ranges.filter { !$0.value.isEmpty }
        guard !pending.isEmpty else { return }
        var assignment: [TopicPartition: KafkaOffset] = [:]
        for (partition, range) in pending {
            assignment[TopicPartition(topic: topic, partition: partition)] = .offset(range.lowerBound)
        }
        let consumer = try KafkaConsumer(
            configuration: KafkaConsumerConfiguration(kafka: kafka, mode: .assign(assignment), bufferCapacity: 1024),
            logger: logger)
        var open = Set(pending.keys)
        do {
            while !open.isEmpty {
                guard let message = await consumer.nextMessage(timeout: idleTimeout) else {
                    logger.warning("slice read stopped early: no message within the idle timeout",
                                   metadata: ["kafka.partitions": "\(open.sorted())"])
                    break
                }
                guard open.contains(message.partition), let range = pending[message.partition] else { continue }
                if message.offset >= range.upperBound {
                    open.remove(message.partition)
                    continue
                }
                guard message.offset >= range.lowerBound else { continue }
                try await body(message)
                if message.offset >= range.upperBound - 1 { open.remove(message.partition) }
            }
        } catch {
            await consumer.close()
            throw error
        }
        await consumer.close()
    }
}
