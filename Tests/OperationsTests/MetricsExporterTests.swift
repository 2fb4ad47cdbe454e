import Foundation
import Kafka
import Logging
import Messages
import MetricsExporter
import Runtime
import Testing
import TestSupport

@Suite("Metrics exporter", .serialized, .timeLimit(.minutes(3)))
struct MetricsExporterTests {
    /// One exporter on an embedded broker, with a producer for snapshots.
    final class Harness: Sendable {
        let fixture: OpsFixture
        let app: MetricsExporterApplication
        let running: RunningApplication<MetricsExporterApplication>
        let port: Int

        init(staleAfter: Duration = .seconds(60), lagGroups: [String] = [], fixture: OpsFixture? = nil) async throws {
            self.fixture = if let fixture { fixture } else { try await OpsFixture() }
            let fixture = self.fixture
            let configuration = MetricsExporterConfiguration(
                common: fixture.common(service: MetricsExporterConfiguration.serviceName, instance: "exporter-1"),
                staleAfter: staleAfter, lagInterval: .milliseconds(300), lagGroups: lagGroups)
            app = try MetricsExporterApplication(configuration: configuration, logger: fixture.logger)
            running = RunningApplication(app, services: app.services, logger: fixture.logger)
            port = try await app.opsServer.boundPort()
            let port = port
            try await waitUntil("exporter ready", timeout: .seconds(30), interval: .milliseconds(100)) {
                (try? await httpGet(port: port, path: "/ready").status) == 200
            }
        }

        func scrape() async throws -> String {
            let answer = try await httpGet(port: port, path: "/metrics")
            guard answer.status == 200 else { throw FixtureError("/metrics answered \(answer.status)") }
            return answer.body
        }

        func stop() async throws { try await running.stop() }
    }

    static func snapshot(_ instance: String, requests: Int, temperatureType: String = "gauge") -> ServiceMetrics {
        ServiceMetrics(service: "demo", instance: instance, intervalSeconds: 1, text: """
            # HELP demo_requests_total Requests handled.
            # TYPE demo_requests_total counter
            demo_requests_total{route="/a",instance="inner"} \(requests)
            # TYPE demo_latency_seconds histogram
            demo_latency_seconds_bucket{le="0.5"} 1
            demo_latency_seconds_bucket{le="+Inf"} 2
            demo_latency_seconds_sum 0.75
            demo_latency_seconds_count 2
            # TYPE demo_temperature \(temperatureType)
            demo_temperature 21.5

            """)
    }

    /// The samples of `family` in an exposition, parsed by the exporter's own parser.
    static func samples(_ text: String, _ family: String) throws -> [MetricSample] {
        try PrometheusText.parse(text).first { $0.name == family }?.samples ?? []
    }

    @Test func mergesInstancesAndPassesTheReferenceParser() async throws {
        let harness = try await Harness()
        let producer = try harness.fixture.envelopeProducer(service: "demo", instance: "publisher")
        let publisher = Task {
            while !Task.isCancelled {
                try await producer.send(Self.snapshot("demo-a", requests: 5), key: "demo-a")
                try await producer.send(Self.snapshot("demo-b", requests: 7, temperatureType: "counter"), key: "demo-b")
                try await Task.sleep(for: .milliseconds(200))
            }
        }
        defer { publisher.cancel() }
        try await waitUntil("both instances exported", timeout: .seconds(30), interval: .milliseconds(100)) {
            let text = try await harness.scrape()
            return try Self.samples(text, "demo_requests_total").count == 2
        }
        let text = try await harness.scrape()

        // Merged: one HELP and TYPE per family, each instance's series labelled; a label the service set itself kept.
        #expect(text.components(separatedBy: "# TYPE demo_requests_total counter").count == 2)
        #expect(text.components(separatedBy: "# HELP demo_requests_total").count == 2)
        let requests = try Self.samples(text, "demo_requests_total")
        #expect(Set(requests.map { $0.label("instance") }) == ["demo-a", "demo-b"])
        #expect(requests.allSatisfy { $0.label("service") == "demo" && $0.label("exported_instance") == "inner" })
        #expect(requests.first { $0.label("instance") == "demo-a" }?.value == 5)
        // demo-b declared demo_temperature a counter after demo-a's gauge: left out and counted.
        let temperature = try Self.samples(text, "demo_temperature")
        #expect(temperature.map { $0.label("instance") } == ["demo-a"])
        #expect(try Self.samples(text, "metrics_exporter_type_conflicts").first?.value == 1)
        // Freshness per service, and the exporter's own registry labelled as an instance.
        let age = try Self.samples(text, "service_metrics_snapshot_age_seconds")
        #expect(age.contains { $0.label("service") == "demo" && $0.value >= 0 && $0.value < 30 })
        #expect(try Self.samples(text, "service_metrics_instances").first { $0.label("service") == "demo" }?.value == 2)

        // The reference parser reads the whole exposition.
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("metrics-\(UUID().uuidString).txt")
        try Data(text.utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let output = try await runOpsScript("parse_metrics.py", arguments: [file.path])
        let parsed = try #require(try JSONSerialization.jsonObject(with: output) as? [String: Any])
        let families = try #require(parsed["families"] as? [[String: Any]])
        let byName = Dictionary(families.map { ($0["name"] as? String ?? "", $0) }, uniquingKeysWith: { first, _ in first })
        #expect(byName["demo_requests"]?["type"] as? String == "counter")
        #expect(byName["demo_latency_seconds"]?["type"] as? String == "histogram")
        #expect((byName["demo_latency_seconds"]?["samples"] as? [Any])?.count == 8)  // 4 per instance
        #expect(byName["service_metrics_snapshot_age_seconds"]?["type"] as? String == "gauge")
        #expect(byName["kafka_consumergroup_lag"] != nil)
        publisher.cancel()
        try await harness.stop()
    }

    @Test func aRestartedExporterServesRecentSnapshotsAtOnce() async throws {
        let fixture = try await OpsFixture()
        let producer = try fixture.envelopeProducer(service: "demo", instance: "publisher")
        try await producer.send(Self.snapshot("demo-old", requests: 3), key: "demo-old")
        // Started after the snapshot was published, and nothing is published since: it reads back the stale window.
        let harness = try await Harness(fixture: fixture)
        try await waitUntil("catch-up snapshot exported", timeout: .seconds(30), interval: .milliseconds(200)) {
            try Self.samples(try await harness.scrape(), "demo_requests_total").map { $0.label("instance") } == ["demo-old"]
        }
        try await harness.stop()
    }

    @Test func generatedFamiliesNeverRepeatAServiceFamilyName() throws {
        let aggregator = MetricsAggregator(staleAfter: .seconds(60))
        try aggregator.ingest(ServiceMetrics(service: "odd", instance: "odd-1", intervalSeconds: 1, text: """
            # TYPE service_metrics_instances counter
            service_metrics_instances 7

            """))
        let text = PrometheusText.render(aggregator.families())
        #expect(text.components(separatedBy: "# TYPE service_metrics_instances ").count == 2)
        #expect(try PrometheusText.parse(text).count > 0)
    }

    @Test func silentInstanceSeriesDisappear() async throws {
        // 5 s: demo-a, re-sent every round of the wait below, must never look silent, even when a loaded machine
        // makes a round (send + scrape) take seconds (with 2 s it expired once in CI, counting 2 expiries).
        let harness = try await Harness(staleAfter: .seconds(5))
        let producer = try harness.fixture.envelopeProducer(service: "demo", instance: "publisher")
        try await waitUntil("both instances exported", timeout: .seconds(30), interval: .milliseconds(200)) {
            try await producer.send(Self.snapshot("demo-a", requests: 1), key: "demo-a")
            try await producer.send(Self.snapshot("demo-b", requests: 2), key: "demo-b")
            return try Self.samples(try await harness.scrape(), "demo_requests_total").count == 2
        }
        // Only demo-a keeps publishing: demo-b's series go once it has been silent for 5 s.
        try await waitUntil("demo-b expired", timeout: .seconds(30), interval: .milliseconds(200)) {
            try await producer.send(Self.snapshot("demo-a", requests: 1), key: "demo-a")
            let instances = try Self.samples(try await harness.scrape(), "demo_requests_total").map { $0.label("instance") }
            return instances == ["demo-a"]
        }
        let text = try await harness.scrape()
        #expect(!text.contains("instance=\"demo-b\""))
        #expect(try Self.samples(text, "metrics_exporter_instances_expired_total").first?.value == 1)
        try await harness.stop()
    }

    @Test func lagRisesWhenAConsumerStopsAndFallsWhenItResumes() async throws {
        let group = "ops-lag-group"
        let topic = Topics.notificationCommands
        let harness = try await Harness(lagGroups: [group])
        let fixture = harness.fixture
        let producer = try fixture.producer()
        func produce(_ count: Int) async throws {
            for index in 0..<count {
                _ = try await producer.send(OutgoingMessage(topic: topic, key: "k\(index)", value: Array("v\(index)".utf8)))
            }
        }
        func consume(_ count: Int) async throws {
            var kafka = fixture.kafka
            kafka.properties = ["session.timeout.ms": "6000"]
            let consumer = try KafkaConsumer(
                configuration: KafkaConsumerConfiguration(kafka: kafka, mode: .group(id: group), topics: [topic]),
                logger: fixture.logger)
            var read = 0
            let deadline = ContinuousClock.now + .seconds(40)
            while read < count, ContinuousClock.now < deadline {
                guard let message = await consumer.nextMessage(timeout: .seconds(1)) else { continue }
                consumer.commit(message)
                read += 1
            }
            try await consumer.commitNow()
            await consumer.close()
            #expect(read == count)
        }
        func lag() async throws -> Double? {
            let samples = try Self.samples(try await harness.scrape(), "kafka_consumergroup_lag")
                .filter { $0.label("group") == group && $0.label("topic") == topic }
            return samples.isEmpty ? nil : samples.reduce(0) { $0 + $1.value }
        }

        try await produce(4)
        try await consume(4)
        try await waitUntil("lag 0 after consuming", timeout: .seconds(30), interval: .milliseconds(200)) {
            try await lag() == 0
        }
        // The consumer is gone; new messages pile up.
        try await produce(6)
        try await waitUntil("lag 6 while stopped", timeout: .seconds(30), interval: .milliseconds(200)) {
            try await lag() == 6
        }
        let text = try await harness.scrape()
        let committed = try Self.samples(text, "kafka_consumergroup_committed_offset")
            .filter { $0.label("group") == group }.reduce(0) { $0 + $1.value }
        #expect(committed == 4)
        // It resumes and catches up.
        try await consume(6)
        try await waitUntil("lag 0 after resuming", timeout: .seconds(30), interval: .milliseconds(200)) {
            try await lag() == 0
        }
        try await harness.stop()
    }
}
