import Metrics
import MetricsExporter
import Runtime
import Testing

@Suite("Prometheus text format")
struct PrometheusTextTests {
    static let sample = """
        # HELP http_requests_total Requests by code, "quoted" and \\\\ and \\n.
        # TYPE http_requests_total counter
        http_requests_total{code="200",path="/a\\"b\\\\c\\nd"} 1027 1395066363000
        http_requests_total{code="400"} 3
        # a comment
        # TYPE latency_seconds histogram
        latency_seconds_bucket{le="0.1"} 2
        latency_seconds_bucket{le="+Inf"} 5
        latency_seconds_sum 1.5e-3
        latency_seconds_count 5
        # TYPE rpc summary
        rpc{quantile="0.5"} NaN
        rpc_sum 0
        rpc_count 0
        temperature -Inf

        """

    @Test func parsesFamiliesSamplesAndEscapes() throws {
        let families = try PrometheusText.parse(Self.sample)
        #expect(families.map(\.name) == ["http_requests_total", "latency_seconds", "rpc", "temperature"])
        #expect(families.map(\.type) == [.counter, .histogram, .summary, .untyped])
        #expect(families[0].help == "Requests by code, \"quoted\" and \\ and \n.")
        #expect(families[0].samples[0].label("path") == "/a\"b\\c\nd")
        #expect(families[0].samples[0].timestamp == 1_395_066_363_000)
        #expect(families[1].samples.map(\.name) == [
            "latency_seconds_bucket", "latency_seconds_bucket", "latency_seconds_sum", "latency_seconds_count",
        ])
        #expect(families[1].samples[1].label("le") == "+Inf")
        #expect(families[1].samples[2].value == 0.0015)
        #expect(families[2].samples[0].value.isNaN)
        #expect(families[3].samples[0].value == -.infinity)
    }

    @Test func renderRoundTrips() throws {
        let families = try PrometheusText.parse(Self.sample)
        let again = try PrometheusText.parse(PrometheusText.render(families))
        #expect(again.count == families.count)
        for (left, right) in zip(again, families) {
            #expect(left.name == right.name && left.type == right.type && left.help == right.help)
            #expect(left.samples.map(\.labels) == right.samples.map(\.labels))
            #expect(left.samples.map { PrometheusText.formatValue($0.value) }
                == right.samples.map { PrometheusText.formatValue($0.value) })
        }
    }

    @Test(arguments: [
        ("metric{a=\"1\" 1", "expected , or }"),
        ("metric{a=1} 1", "quoted"),
        ("metric{1a=\"x\"} 1", "label name"),
        ("metric{a=\"x\",a=\"y\"} 1", "twice"),
        ("metric abc", "invalid value"),
        ("metric 1 notatime", "timestamp"),
        ("metric 1 2 3", "expected a value"),
        ("9metric 1", "metric name"),
        ("metric{a=\"\\q\"} 1", "escape"),
        ("# TYPE x wibble", "TYPE needs"),
        ("# TYPE x counter\n# TYPE x gauge", "second TYPE"),
        ("x 1\n# TYPE x counter", "after its samples"),
        ("# HELP x a\n# HELP x b", "second HELP"),
        ("a 1\nb 1\na 2", "after samples of b"),
        ("# TYPE h histogram\nh_bucket 1", "without le"),
        ("metric inf", "invalid value"),
    ])
    func rejectsMalformedLines(text: String, reason: String) {
        #expect {
            _ = try PrometheusText.parse(text)
        } throws: { error in
            "\(error)".contains(reason)
        }
    }

    @Test func errorsNameTheLine() {
        #expect {
            _ = try PrometheusText.parse("ok 1\n\nbroken{ 1\n")
        } throws: { error in
            (error as? PrometheusTextError)?.line == 3
        }
    }
}

@Suite("Prometheus text of our own registry")
struct RegistryTextTests {
    /// What every service publishes (swift-prometheus through MetricsBootstrap) parses strictly.
    @Test func theServicesRegistryTextParses() throws {
        MetricsBootstrap.bootstrap()
        Counter(label: "ops_test_events_total", dimensions: [("topic", "a\"b\\c")]).increment(by: 3)
        Gauge(label: "ops_test_depth", dimensions: [("queue", "q")]).record(4.5)
        Timer(label: "ops_test_duration_seconds", dimensions: [("topic", "t")], preferredDisplayUnit: .seconds)
            .recordMilliseconds(12)
        Recorder(label: "ops_test_sizes_bytes", aggregate: true).record(1024)
        let families = try PrometheusText.parse(MetricsBootstrap.prometheusText())
        let names = Set(families.map(\.name))
        #expect(names.isSuperset(of: ["ops_test_events_total", "ops_test_depth", "ops_test_duration_seconds"]))
        #expect(families.first { $0.name == "ops_test_duration_seconds" }?.type == .histogram)
        #expect(families.first { $0.name == "ops_test_events_total" }?.samples.first?.label("topic") == "a\"b\\c")
    }
}
