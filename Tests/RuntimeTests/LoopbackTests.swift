import Testing

@testable import Runtime

@Suite("Loopback")
struct LoopbackTests {
    @Test("free ports come from below the ephemeral range and are never handed out twice")
    func freePorts() throws {
        let ephemeral = Loopback.ephemeralRange()
        let ports = try (0..<50).map { _ in try Loopback.freePort() }
        #expect(Set(ports).count == ports.count)
        #expect(ports.allSatisfy { $0 >= 10_000 && $0 < ephemeral.lowerBound })
    }
}
