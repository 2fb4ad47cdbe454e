import MetricsExporter
import Runtime

let configuration = try ServiceRunner.exitOnConfigurationError(serviceName: MetricsExporterConfiguration.serviceName) {
    try MetricsExporterConfiguration()
}
let logger = ServiceRunner.bootstrap(configuration.common)
await ServiceRunner.exitOnFailure(serviceName: MetricsExporterConfiguration.serviceName) {
    try await MetricsExporterApplication(configuration: configuration, logger: logger).run()
}
