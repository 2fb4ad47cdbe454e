import Foundation
import Gateway
import Testing

@Suite("Recently relayed delivery ids")
struct RecentEnvelopeIDsTests {
    private let start = ContinuousClock.now

    /// `recent.insert(id, now:)` outside `#expect` (which cannot take a mutating call).
    private static func insert(_ recent: inout RecentEnvelopeIDs, _ id: UUID, now: ContinuousClock.Instant) -> Bool {
        recent.insert(id, now: now)
    }

    @Test("a second copy of an id is a duplicate; other ids are not")
    func duplicates() {
        var recent = RecentEnvelopeIDs(capacity: 10, window: .seconds(60))
        let first = UUID(), second = UUID()
        #expect(Self.insert(&recent, first, now: start))
        #expect(!Self.insert(&recent, first, now: start + .seconds(1)))
        #expect(Self.insert(&recent, second, now: start + .seconds(2)))
        #expect(!Self.insert(&recent, second, now: start + .seconds(3)))
        #expect(recent.size == 2)
    }

    @Test("ids are forgotten after the window")
    func window() {
        var recent = RecentEnvelopeIDs(capacity: 10, window: .seconds(5))
        let id = UUID()
        #expect(Self.insert(&recent, id, now: start))
        #expect(!Self.insert(&recent, id, now: start + .seconds(5)))
        #expect(Self.insert(&recent, id, now: start + .seconds(11)))
        recent.expire(now: start + .seconds(100))
        #expect(recent.size == 0)
    }

    @Test("at most capacity ids are held, the oldest forgotten first, across many wraps of the ring")
    func capacity() {
        var recent = RecentEnvelopeIDs(capacity: 3, window: .seconds(3600))
        let ids = (0..<3000).map { _ in UUID() }
        for (index, id) in ids.enumerated() {
            #expect(Self.insert(&recent, id, now: start + .milliseconds(index)))
            #expect(recent.size == min(index + 1, 3))
            if index >= 3 { #expect(Self.insert(&recent, ids[index - 3], now: start + .milliseconds(index))) }
            // Re-inserting the evicted id pushed out the next oldest; the newest is still known.
            #expect(!Self.insert(&recent, id, now: start + .milliseconds(index)))
        }
    }

    @Test("expiring part of a partly filled ring keeps the rest in order")
    func partialExpiry() {
        var recent = RecentEnvelopeIDs(capacity: 4000, window: .seconds(10))
        let ids = (0..<3000).map { _ in UUID() }
        for (index, id) in ids.enumerated() { #expect(Self.insert(&recent, id, now: start + .milliseconds(index))) }
        recent.expire(now: start + .seconds(10) + .milliseconds(1999))  // ids 0..<1999 are older than the window
        #expect(recent.size == 1001)
        #expect(!Self.insert(&recent, ids[2500], now: start + .seconds(11)))
        for index in 0..<1500 { #expect(Self.insert(&recent, UUID(), now: start + .seconds(11) + .milliseconds(index))) }
        #expect(!Self.insert(&recent, ids[2999], now: start + .seconds(12)))
        #expect(Self.insert(&recent, ids[0], now: start + .seconds(12)))
    }

    @Test("capacity 0 turns duplicate dropping off")
    func off() {
        var recent = RecentEnvelopeIDs(capacity: 0, window: .seconds(60))
        let id = UUID()
        #expect(Self.insert(&recent, id, now: start))
        #expect(Self.insert(&recent, id, now: start))
    }
}
