import Metrics
import Testing

@testable import Runtime

@Suite("MetricsBootstrap", .timeLimit(.minutes(1)))
struct MetricsBootstrapTests {
    @Test func bootstrapTwiceReturnsTheSameRegistry() {
        let first = MetricsBootstrap.bootstrap()
        let second = MetricsBootstrap.bootstrap()
        #expect(first === second)
        #expect(MetricsBootstrap.registry === first)
    }

    @Test func concurrentBootstrapsAgree() async {
        let registries = await withTaskGroup(of: ObjectIdentifier.self) { group in
            for _ in 0..<16 { group.addTask { ObjectIdentifier(MetricsBootstrap.bootstrap()) } }
            return await group.reduce(into: Set<ObjectIdentifier>()) { $0.insert($1) }
        }
        #expect(registries.count == 1)
    }

    @Test func swiftMetricsCountersAppearInPrometheusText() {
        MetricsBootstrap.bootstrap()
        let counter = Counter(label: "runtime_tests.bootstrap.counter", dimensions: [("kind", "test")])
        counter.increment(by: 3)
        let text = MetricsBootstrap.prometheusText()
        #expect(text.contains("# TYPE runtime_tests_bootstrap_counter counter"))
        #expect(text.contains(#"runtime_tests_bootstrap_counter{kind="test"} 3"#))
    }
}
