import Foundation
import Logging
import Messages
import Metrics
import ServiceLifecycle
import Synchronization
import Testing
import TestSupport

@testable import Runtime

@Suite("StatsPublisher", .timeLimit(.minutes(1)))
struct StatsPublisherTests {
    struct PublishFailed: Error {}

    private let logger = Logger(label: "stats-test")

    @Test func publishesSnapshotsOfRegisteredMetricsEveryInterval() async throws {
        MetricsBootstrap.bootstrap()
        Counter(label: "runtime_tests.stats.events").increment(by: 5)
        let received = Collector<ServiceMetrics>()
        let publisher = StatsPublisher(
            interval: .milliseconds(50), serviceName: "gateway", instanceId: "gw-1",
            publish: { received.append($0) }, logger: logger)
        let run = Task { try await publisher.run() }
        try await waitUntil("three snapshots", timeout: .seconds(50)) { received.count >= 3 }
        run.cancel()
        try await run.value

        let snapshot = try #require(received.values.first)
        #expect(snapshot.service == "gateway")
        #expect(snapshot.instance == "gw-1")
        #expect(snapshot.intervalSeconds == 1, "sub-second intervals are reported as the schema's minimum, 1 s")
        #expect(snapshot.format == "prometheus-text-0.0.4")
        #expect(snapshot.text.contains("runtime_tests_stats_events 5"))
        #expect(throws: Never.self) { try snapshot.validate() }
    }

    @Test func failingPublishesAreCountedAndTheLoopGoesOn() async throws {
        MetricsBootstrap.bootstrap()
        let attempts = Atomic<Int>(0)
        let published = Collector<ServiceMetrics>()
        let publisher = StatsPublisher(
            interval: .milliseconds(20), serviceName: "s", instanceId: "i", text: { "x 1\n" },
            publish: { snapshot in
                if attempts.add(1, ordering: .relaxed).newValue <= 2 { throw PublishFailed() }
                published.append(snapshot)
            },
            logger: logger)
        let run = Task { try await publisher.run() }
        try await waitUntil("two successful publishes after two failures", timeout: .seconds(50)) { published.count >= 2 }
        run.cancel()
        try await run.value
        #expect(attempts.load(ordering: .relaxed) >= 4)
        #expect(published.values.allSatisfy { $0.text == "x 1\n" })
        #expect(MetricsBootstrap.prometheusText().contains("runtime_stats_publish_failures"))
    }

    @Test func gracefulShutdownPublishesAFinalSnapshot() async throws {
        let received = Collector<ServiceMetrics>()
        let publisher = StatsPublisher(
            interval: .seconds(3600), serviceName: "s", instanceId: "i", text: { "final 1\n" },
            publish: { received.append($0) }, logger: logger)
        let group = ServiceRunner.makeServiceGroup(services: [publisher], logger: logger, handlesSignals: false)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        #expect(received.count == 1)
        #expect(received.values.first?.text == "final 1\n")
    }

    @Test func cancellationStopsWithoutPublishing() async throws {
        let received = Collector<ServiceMetrics>()
        let publisher = StatsPublisher(
            interval: .seconds(3600), serviceName: "s", instanceId: "i", text: { "" },
            publish: { received.append($0) }, logger: logger)
        let run = Task { try await publisher.run() }
        run.cancel()
        try await run.value
        #expect(received.count == 0)
    }

    @Test func publishOnceReportsTheOutcome() async {
        let ok = StatsPublisher(interval: .seconds(1), serviceName: "s", instanceId: "i", text: { "" }, publish: { _ in }, logger: logger)
        let failing = StatsPublisher(
            interval: .seconds(1), serviceName: "s", instanceId: "i", text: { "" }, publish: { _ in throw PublishFailed() },
            logger: logger)
        #expect(await ok.publishOnce())
        #expect(await failing.publishOnce() == false)
    }
}

@Suite("ServiceRunner", .timeLimit(.minutes(1)))
struct ServiceRunnerTests {
    @Test func configurationErrorMessageForOperators() {
        let error = ConfigurationError.invalid("GATEWAY_PORT", value: "abc", problem: "is not a port number (1–65535)")
        #expect(
            ServiceRunner.message(for: error, serviceName: "gateway")
                == #"gateway: configuration error: GATEWAY_PORT: "abc" is not a port number (1–65535)"#)
        #expect(ServiceRunner.configurationErrorExitCode == 78)
    }

    @Test func exitOnConfigurationErrorPassesValuesAndOtherErrorsThrough() async throws {
        struct Other: Error {}
        #expect(ServiceRunner.exitOnConfigurationError(serviceName: "s") { 42 } == 42)
        #expect(await ServiceRunner.exitOnConfigurationError(serviceName: "s") { () async in "async" } == "async")
        #expect(throws: Other.self) { try ServiceRunner.exitOnConfigurationError(serviceName: "s") { throw Other() } }
    }

    @Test func bootstrapReturnsALoggerForTheService() {
        let configuration = CommonConfiguration(serviceName: "presence", instanceId: "p-1", logLevel: .warning, httpPort: 0)
        let logger = ServiceRunner.bootstrap(configuration)
        #expect(logger.label == "presence")
        #expect(logger.logLevel == .warning)
        #expect(logger[metadataKey: "service.instance.id"] == "p-1")
        #expect(MetricsBootstrap.bootstrap() === MetricsBootstrap.registry)
    }

    @Test func groupStopsDependentsFirstAndPublishesFinalStats() async throws {
        let logger = Logger(label: "runner-test")
        let received = Collector<ServiceMetrics>()
        let server = OpsServer(configuration: .init(port: 0), logger: logger)
        let publisher = StatsPublisher(
            interval: .seconds(3600), serviceName: "s", instanceId: "i", text: { "" },
            publish: { snapshot in
                // The ops endpoint (listed first) is still up while the publisher drains.
                let port = try await server.boundPort()
                if try await httpGet(port: port, path: "/health").status == 200 { received.append(snapshot) }
            },
            logger: logger)
        let group = ServiceRunner.makeServiceGroup(services: [server, publisher], logger: logger, handlesSignals: false)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let port = try await server.boundPort()
            #expect(try await httpGet(port: port, path: "/health").status == 200)
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        #expect(received.count == 1)
        await #expect(throws: OpsServer.NotListening.self) { _ = try await server.boundPort() }
    }
}
