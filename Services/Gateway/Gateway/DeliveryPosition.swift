/// How far this gateway has read `gateway.deliveries`: per partition, the offset of the next record to read.
///
/// Appended as a string to every event sent to a recoverable socket (Socket.IO's recovery `offset`): a client that
/// reconnects with the last one it saw asks for exactly the deliveries after it. The gateway reads partitions in
/// parallel, so a single offset could not say that; a position says it for all of them.
struct DeliveryPosition: Sendable, Hashable, CustomStringConvertible {
    /// Next offset per partition, index = partition.
    private(set) var next: [Int64]

    /// A position at the start of `partitions` partitions.
    init(partitions: Int) {
        next = Array(repeating: 0, count: partitions)
    }

    /// The next offsets themselves.
    init(next: [Int64]) {
        self.next = next
    }

    /// Parses `"<n0>-<n1>-…"`; `nil` unless it has exactly `partitions` non-negative numbers.
    init?(parsing text: String, partitions: Int) {
        guard text.utf8.count <= partitions * 20 + partitions else { return nil }
        let fields = text.split(separator: "-", omittingEmptySubsequences: false)
        guard fields.count == partitions else { return nil }
        var next: [Int64] = []
        for field in fields {
            guard !field.isEmpty, field.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let value = Int64(field) else {
                return nil
            }
            next.append(value)
        }
        self.next = next
    }

    /// Records that `offset` of `partition` has been handled.
    mutating func advance(partition: Int32, past offset: Int64) {
        let index = Int(partition)
        guard index >= 0, index < next.count else { return }
        next[index] = max(next[index], offset + 1)
    }

    /// Records outstanding between `self` and a later position `end` (0 when `end` is not later).
    func distance(to end: DeliveryPosition) -> Int64 {
        zip(next, end.next).reduce(0) { $0 + max(0, $1.1 - $1.0) }
    }

    /// `"<n0>-<n1>-…"`.
    var description: String { next.map(String.init).joined(separator: "-") }
}
