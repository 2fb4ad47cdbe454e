import Foundation
import Kafka
import Logging
import ServiceLifecycle
import Synchronization

/// Measures consumer lag every interval: for each watched group and each partition it has committed an offset for,
/// the high watermark minus the committed offset.
///
/// Groups are the configured ones plus, where the broker answers ListGroups (a real cluster; not the embedded one),
/// every group it lists. Topics are all non-internal topics; a group's partitions are those it has committed on.
public final class ConsumerLagCollector: Service, Sendable {
    /// One measured partition of one group.
    public struct Lag: Sendable, Hashable {
        /// The group.
        public var group: String
        /// The partition.
        public var partition: TopicPartition
        /// The group's committed offset (the next offset it will read), nil if it has committed none here.
        public var committed: Int64?
        /// Where the group will read next: the committed offset, else the low watermark.
        public var position: Int64
        /// The partition's high watermark (the next offset to be written).
        public var high: Int64

        /// Messages written but not yet consumed by the group.
        public var lag: Int64 { max(0, high - position) }
    }

    private struct State {
        var lags: [Lag] = []
        var watermarks: [TopicPartition: (low: Int64, high: Int64)] = [:]
        var measuredAt: Date?
        var failures = 0
        var listGroupsUnsupported = false
    }

    private let admin: KafkaAdmin
    private let groups: [String]
    private let interval: Duration
    private let logger: Logger
    private let state = Mutex(State())

    /// Creates a collector watching `groups` (and whatever ListGroups reports).
    public init(admin: KafkaAdmin, groups: [String], interval: Duration, logger: Logger) {
        self.admin = admin
        self.groups = groups
        self.interval = interval
        self.logger = logger
    }

    /// The last measurement.
    public var lags: [Lag] { state.withLock { $0.lags } }

    /// Whether at least one measurement completed.
    public var hasMeasured: Bool { state.withLock { $0.measuredAt != nil } }

    /// Measures every interval until graceful shutdown.
    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            await measureOnce()
            do {
                try await cancelWhenGracefulShutdown { [interval] in try await Task.sleep(for: interval) }
            } catch {
                return
            }
        }
    }

    /// Takes one measurement now (failures are logged and counted; the previous measurement stays).
    public func measureOnce() async {
        do {
            var watched = Set(groups)
            // Asked until it first fails: a broker without ListGroups (the embedded one) would cost a timeout each time.
            if !state.withLock({ $0.listGroupsUnsupported }) {
                do {
                    watched.formUnion(try await admin.listGroups(timeout: .seconds(2)))
                } catch {
                    state.withLock { $0.listGroupsUnsupported = true }
                    logger.info("ListGroups unavailable; watching the configured groups only",
                                metadata: ["error.message": "\(error)"])
                }
            }
            let topics = try await admin.listTopics().filter { !$0.name.hasPrefix("__") }
            let partitions = topics.flatMap { topic in topic.partitions.map { TopicPartition(topic: topic.name, partition: $0) } }
            var marks: [TopicPartition: (low: Int64, high: Int64)] = [:]
            for partition in partitions {
                marks[partition] = try await admin.watermarks(partition)
            }
            var lags: [Lag] = []
            for group in watched.sorted() {
                let committed = try await admin.committedOffsets(group: group, partitions: partitions)
                // A topic the group has committed on counts whole: a partition it has not committed on yet is
                // behind by everything retained (it starts from the oldest message).
                let consumed = Set(committed.keys.map(\.topic))
                for partition in partitions where consumed.contains(partition.topic) {
                    guard let mark = marks[partition] else { continue }
                    lags.append(Lag(group: group, partition: partition, committed: committed[partition],
                                    position: committed[partition] ?? mark.low, high: mark.high))
                }
            }
            lags.sort { ($0.group, $0.partition.topic, $0.partition.partition) < ($1.group, $1.partition.topic, $1.partition.partition) }
            state.withLock {
                $0.lags = lags
                $0.watermarks = marks
                $0.measuredAt = Date()
            }
        } catch {
            state.withLock { $0.failures += 1 }
            logger.warning("consumer lag not measured", metadata: ["error.message": "\(error)"])
        }
    }

    /// The lag families: per group/topic/partition lag and committed offset, per partition high and low watermark.
    public func families() -> [MetricFamily] {
        let (lags, marks, failures) = state.withLock { ($0.lags, $0.watermarks, $0.failures) }
        func labels(_ lag: Lag) -> [MetricLabel] {
            [MetricLabel("group", lag.group), MetricLabel("topic", lag.partition.topic),
             MetricLabel("partition", String(lag.partition.partition))]
        }
        let partitions = marks.keys.sorted { ($0.topic, $0.partition) < ($1.topic, $1.partition) }
        func partitionLabels(_ partition: TopicPartition) -> [MetricLabel] {
            [MetricLabel("topic", partition.topic), MetricLabel("partition", String(partition.partition))]
        }
        return [
            MetricFamily(
                name: "kafka_consumergroup_lag", type: .gauge,
                help: "Messages in the partition not yet committed by the group (high watermark - committed offset).",
                samples: lags.map { MetricSample(name: "kafka_consumergroup_lag", labels: labels($0), value: Double($0.lag)) }),
            MetricFamily(
                name: "kafka_consumergroup_committed_offset", type: .gauge,
                help: "The group's committed offset in the partition.",
                samples: lags.compactMap { lag in
                    lag.committed.map {
                        MetricSample(name: "kafka_consumergroup_committed_offset", labels: labels(lag), value: Double($0))
                    }
                }),
            MetricFamily(
                name: "kafka_topic_partition_high_watermark", type: .gauge,
                help: "Offset of the next message to be written to the partition.",
                samples: partitions.map {
                    MetricSample(name: "kafka_topic_partition_high_watermark", labels: partitionLabels($0),
                                 value: Double(marks[$0]!.high))
                }),
            MetricFamily(
                name: "kafka_topic_partition_low_watermark", type: .gauge,
                help: "Offset of the oldest message retained in the partition.",
                samples: partitions.map {
                    MetricSample(name: "kafka_topic_partition_low_watermark", labels: partitionLabels($0),
                                 value: Double(marks[$0]!.low))
                }),
            MetricFamily(
                name: "metrics_exporter_lag_failures_total", type: .counter,
                help: "Consumer lag measurements that failed (the previous one is served).",
                samples: [MetricSample(name: "metrics_exporter_lag_failures_total", value: Double(failures))]),
        ]
    }
}
