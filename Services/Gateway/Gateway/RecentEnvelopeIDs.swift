import Foundation

/// The envelope ids of the deliveries this gateway relayed lately, so that a delivery produced twice with the same
/// id reaches its clients once.
///
/// Services give every delivery of a command an id derived from the command's envelope id, so a command redelivered
/// after a crash (at-least-once consumption) re-sends its deliveries under the same ids; this set drops them. It is
/// bounded both ways: an id is remembered for `window` and at most `capacity` ids are held (the oldest go first), so
/// a duplicate is dropped when it arrives within `window` of the first copy and before `capacity` other deliveries.
public struct RecentEnvelopeIDs: Sendable {
    private struct Entry: Sendable {
        var id: UUID
        var seenAt: ContinuousClock.Instant
    }

    /// Most ids held at once.
    public let capacity: Int
    /// How long an id is held.
    public let window: Duration
    private var members: Set<UUID> = []
    /// A ring of `count` entries from `start`, oldest first. While it is not full, `start + count == ring.count`
    /// (new entries are appended); once full, the newest overwrites the oldest.
    private var ring: [Entry] = []
    private var start = 0
    private var count = 0

    /// Creates an empty set holding at most `capacity` ids (0 turns it off) for `window` each.
    public init(capacity: Int, window: Duration) {
        self.capacity = max(0, capacity)
        self.window = window
    }

    /// How many ids are held.
    public var size: Int { count }

    /// Records `id` as relayed at `now`; false when it was already relayed (within the bounds), i.e. a duplicate.
    public mutating func insert(_ id: UUID, now: ContinuousClock.Instant) -> Bool {
        guard capacity > 0 else { return true }
        expire(now: now)
        guard !members.contains(id) else { return false }
        if count == capacity { removeOldest() }
        let entry = Entry(id: id, seenAt: now)
        if ring.count < capacity {
            ring.append(entry)
        } else {
            ring[(start + count) % capacity] = entry
        }
        count += 1
        members.insert(id)
        return true
    }

    /// Forgets every id older than the window.
    public mutating func expire(now: ContinuousClock.Instant) {
        while count > 0, now - ring[start].seenAt > window { removeOldest() }
    }

    private mutating func removeOldest() {
        members.remove(ring[start].id)
        count -= 1
        if count == 0 {
            ring.removeAll(keepingCapacity: ring.count == capacity)
            start = 0
        } else if ring.count < capacity {
            // Not yet wrapped: drop the head physically once it is a large share, so the array stays compact.
            start += 1
            if start >= 1024, start * 2 >= ring.count {
                ring.removeFirst(start)
                start = 0
            }
        } else {
            start = (start + 1) % capacity
        }
    }
}
