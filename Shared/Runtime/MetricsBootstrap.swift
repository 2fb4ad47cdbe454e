import Metrics
import Prometheus

/// The process's single Prometheus registry, installed as the swift-metrics backend exactly once.
public enum MetricsBootstrap {
    /// Content type of ``prometheusText()`` (Prometheus text exposition format 0.0.4).
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    // A `static let` is initialized exactly once, thread-safely, on first use: that is the guard
    // that keeps `MetricsSystem.bootstrap` (which traps on a second call) to a single call.
    private static let shared: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }()

    /// Bootstraps swift-metrics with the Prometheus registry on first call; every call returns the same registry.
    @discardableResult
    public static func bootstrap() -> PrometheusCollectorRegistry { shared }

    /// The process's registry (bootstrapping on first use).
    public static var registry: PrometheusCollectorRegistry { shared }

    /// Every registered metric in Prometheus text format 0.0.4 (bootstrapping on first use).
    public static func prometheusText() -> String { shared.emitToString() }
}
