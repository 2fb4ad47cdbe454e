import Foundation
import Logging
import Metrics
import ServiceLifecycle
import Synchronization
import Testing
import TestSupport

@testable import Runtime

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif


/// Runs `server` in a service group, hands its bound port to `body`, then shuts it down gracefully.
func withRunningServer<T: Sendable>(
    _ server: OpsServer,
    _ body: @Sendable (Int) async throws -> T
) async throws -> T {
    let group = ServiceRunner.makeServiceGroup(services: [server], logger: Logger(label: "test"), handlesSignals: false)
    return try await withThrowingTaskGroup(of: T?.self) { tasks in
        tasks.addTask {
            try await group.run()
            return nil
        }
        let result: T
        do {
            let port = try await server.boundPort()
            result = try await body(port)
        } catch {
            await group.triggerGracefulShutdown()
            try? await tasks.waitForAll()
            throw error
        }
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
        return result
    }
}

@Suite("OpsServer", .timeLimit(.minutes(1)))
struct OpsServerTests {
    private func makeServer(checks: [ReadinessCheck] = [], timeout: Duration = .seconds(2)) -> OpsServer {
        OpsServer(
            configuration: .init(host: "127.0.0.1", port: 0, readinessTimeout: timeout),
            readinessChecks: checks,
            logger: Logger(label: "ops-test")
        )
    }

    @Test func healthAnswersOK() async throws {
        try await withRunningServer(makeServer()) { port in
            #expect(port > 0)
            let response = try await httpGet(port: port, path: "/health")
            #expect(response.status == 200)
            #expect(response.body == #"{"status":"ok"}"#)
            #expect(response.contentType?.hasPrefix("application/json") == true)
            let missing = try await httpGet(port: port, path: "/nope")
            #expect(missing.status == 404)
        }
    }

    @Test func readyFlipsWithItsChecks() async throws {
        let kafkaUp = Atomic<Bool>(true)
        let server = makeServer(checks: [
            ReadinessCheck(name: "redis") { true },
            ReadinessCheck(name: "kafka") { kafkaUp.load(ordering: .relaxed) },
        ])
        try await withRunningServer(server) { port in
            var response = try await httpGet(port: port, path: "/ready")
            #expect(response.status == 200)
            #expect(response.body == #"{"status":"ready"}"#)

            kafkaUp.store(false, ordering: .relaxed)
            response = try await httpGet(port: port, path: "/ready")
            #expect(response.status == 503)
            #expect(response.json?["status"] as? String == "not_ready")
            #expect(response.json?["failing"] as? [String] == ["kafka"])

            kafkaUp.store(true, ordering: .relaxed)
            response = try await httpGet(port: port, path: "/ready")
            #expect(response.status == 200)

            server.addReadinessCheck(ReadinessCheck(name: "late") { false })
            response = try await httpGet(port: port, path: "/ready")
            #expect(response.status == 503)
            #expect(response.json?["failing"] as? [String] == ["late"])
        }
    }

    @Test func hungChecksFailWithinTheirTimeout() async throws {
        let release = Atomic<Bool>(false)
        let server = makeServer(
            checks: [
                ReadinessCheck(name: "ok") { true },
                // Ignores cancellation: only the timeout can end it.
                ReadinessCheck(name: "stuck") {
                    while !release.load(ordering: .relaxed) { try? await Task.sleep(for: .milliseconds(20)) }
                    return true
                },
                // Cooperative: sleeps an hour unless cancelled.
                ReadinessCheck(name: "slow") {
                    (try? await Task.sleep(for: .seconds(3600))) != nil
                },
            ],
            timeout: .milliseconds(300)
        )
        try await withRunningServer(server) { port in
            let response = try await httpGet(port: port, path: "/ready")
            #expect(response.status == 503)
            #expect(response.json?["failing"] as? [String] == ["stuck", "slow"])
            #expect(try await httpGet(port: port, path: "/health").status == 200)
        }
        release.store(true, ordering: .relaxed)
    }

    @Test func metricsServesPrometheusText() async throws {
        MetricsBootstrap.bootstrap()
        Counter(label: "runtime_tests.ops.requests").increment(by: 2)
        try await withRunningServer(makeServer()) { port in
            let response = try await httpGet(port: port, path: "/metrics")
            #expect(response.status == 200)
            #expect(response.contentType?.hasPrefix("text/plain; version=0.0.4") == true)
            #expect(response.body.contains("runtime_tests_ops_requests 2"))
        }
    }

    @Test func boundPortThrowsWhenTheServerCannotListen() async throws {
        try await withRunningServer(makeServer()) { port in
            let second = OpsServer(configuration: .init(port: port), logger: Logger(label: "ops-test"))
            let run = Task { try await second.run() }
            await #expect(throws: OpsServer.NotListening.self) { _ = try await second.boundPort() }
            await #expect(throws: (any Error).self) { try await run.value }
        }
    }
}

@Suite("ReadinessChecker", .timeLimit(.minutes(1)))
struct ReadinessCheckerTests {
    @Test func reportsFailingChecksInRegistrationOrder() async {
        let checker = ReadinessChecker(
            checks: (0..<20).map { index in ReadinessCheck(name: "c\(index)") { index % 3 != 0 } },
            timeout: .seconds(5)
        )
        let report = await checker.evaluate()
        #expect(report.failing == ["c0", "c3", "c6", "c9", "c12", "c15", "c18"])
        #expect(!report.isReady)
        #expect(await ReadinessChecker().evaluate().isReady)
    }

    @Test func checksRunConcurrently() async {
        // Each check waits until all three have started: only a concurrent run passes in time.
        let started = Atomic<Int>(0)
        let check: @Sendable () async -> Bool = {
            started.add(1, ordering: .relaxed)
            while started.load(ordering: .relaxed) < 3 {
                do { try await Task.sleep(for: .milliseconds(5)) } catch { return false }
            }
            return true
        }
        let checker = ReadinessChecker(
            checks: ["a", "b", "c"].map { ReadinessCheck(name: $0, check: check) }, timeout: .seconds(20))
        #expect(await checker.evaluate().isReady)
    }
}
