import Kafka
import Testing

@Suite("In-flight limiter")
struct InFlightLimiterTests {
    @Test("tryAcquire takes a free slot, and never one a waiter is queued for")
    func tryAcquireDoesNotOvertake() async throws {
        let limiter = InFlightLimiter(limit: 1)
        #expect(limiter.tryAcquire())
        #expect(!limiter.tryAcquire())
        let waiter = Task { await limiter.acquire() }
        try await Task.sleep(for: .milliseconds(50))  // the waiter queues behind the held slot
        limiter.release()  // handed straight to the waiter
        await waiter.value
        #expect(!limiter.tryAcquire())
        limiter.release()
        #expect(limiter.tryAcquire())
    }
}
