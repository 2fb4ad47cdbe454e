@testable import BiometricsClient
import Testing

@Suite("What the client re-sends after a reconnect")
struct SubscriptionsTests {
    @Test("a fresh socket gets everything; a recovered one only the room-bound joins, in the same order")
    func emitsByRecovery() {
        var subscriptions = Subscriptions()
        subscriptions.add(record: "rec-1")
        subscriptions.add(record: "rec-1")
        subscriptions.add(stream: "dev-1")
        subscriptions.add(room: "team-1")
        subscriptions.add(categories: ["security", "security", "general"])
        subscriptions.presence = "away"
        #expect(subscriptions.emits(recovered: false).map(\.name) == [
            "biometric:subscribe", "biometric:stream-start", "presence:join-room", "notification:subscribe",
            "presence:update",
        ])
        #expect(subscriptions.emits(recovered: false)[3].payload == ["categories": ["security", "general"]])
        #expect(subscriptions.emits(recovered: true).map(\.name) == [
            "biometric:subscribe", "biometric:stream-start", "presence:join-room",
        ])
        subscriptions.remove(record: "rec-1")
        subscriptions.remove(stream: "dev-1")
        subscriptions.remove(room: "team-1")
        #expect(subscriptions.emits(recovered: true).isEmpty)
    }
}
