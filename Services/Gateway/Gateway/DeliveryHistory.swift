import Foundation
import Messages

/// The deliveries this gateway read during the last recovery window, per partition in offset order, so that a
/// reconnect storm replays from memory instead of each socket reading Kafka again.
///
/// Bounded by age (`window`) and by `maxEntries`; a recovery whose start is no longer covered reads Kafka instead.
struct DeliveryHistory: Sendable {
    /// One delivery as read (nil when it could not be decoded: only its offset matters).
    struct Entry: Sendable {
        let offset: Int64
        let delivery: Delivery?
        let readAt: ContinuousClock.Instant
    }

    private var partitions: [[Entry]]
    /// Index of the first live entry per partition (entries before it were evicted; compacted now and then).
    private var heads: [Int]
    private(set) var count = 0
    let maxEntries: Int

    init(partitions: Int, maxEntries: Int) {
        self.partitions = Array(repeating: [], count: partitions)
        heads = Array(repeating: 0, count: partitions)
        self.maxEntries = maxEntries
    }

    /// Adds the delivery at `offset` of `partition` (ignored unless it is past the last one kept there).
    mutating func append(partition: Int32, offset: Int64, delivery: Delivery?, now: ContinuousClock.Instant) {
        let index = Int(partition)
        guard index >= 0, index < partitions.count, maxEntries > 0 else { return }
        if let last = partitions[index].last, last.offset >= offset { return }
        partitions[index].append(Entry(offset: offset, delivery: delivery, readAt: now))
        count += 1
        while count > maxEntries { evictOldest() }
    }

    /// Drops entries read before `cutoff`.
    mutating func evict(readBefore cutoff: ContinuousClock.Instant) {
        for index in partitions.indices {
            while heads[index] < partitions[index].count, partitions[index][heads[index]].readAt < cutoff {
                heads[index] += 1
                count -= 1
            }
            compact(index)
        }
    }

    /// The entries in [from, to) of every partition, or nil when some needed offset is no longer kept.
    func entries(from: DeliveryPosition, to: DeliveryPosition) -> [(partition: Int32, entry: Entry)]? {
        var result: [(partition: Int32, entry: Entry)] = []
        for index in partitions.indices where index < from.next.count && from.next[index] < to.next[index] {
            let live = partitions[index][heads[index]...]
            guard let first = live.first, first.offset <= from.next[index] else { return nil }
            for entry in live where entry.offset >= from.next[index] && entry.offset < to.next[index] {
                result.append((Int32(index), entry))
            }
        }
        return result
    }

    private mutating func evictOldest() {
        var oldest: Int?
        for index in partitions.indices where heads[index] < partitions[index].count {
            if let current = oldest, partitions[current][heads[current]].readAt <= partitions[index][heads[index]].readAt {
                continue
            }
            oldest = index
        }
        guard let oldest else { return }
        heads[oldest] += 1
        count -= 1
        compact(oldest)
    }

    /// Releases evicted entries once they are half of the array (amortised O(1) per entry).
    private mutating func compact(_ index: Int) {
        guard heads[index] > 1024, heads[index] * 2 > partitions[index].count else { return }
        partitions[index].removeFirst(heads[index])
        heads[index] = 0
    }
}
