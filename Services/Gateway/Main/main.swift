import Gateway
import Runtime

let configuration = try ServiceRunner.exitOnConfigurationError(serviceName: "gateway") { try GatewayConfiguration() }
GatewayApplication.configureProcess(configuration)
let logger = ServiceRunner.bootstrap(configuration.common)
await ServiceRunner.exitOnFailure(serviceName: "gateway") {
    try await GatewayApplication(configuration: configuration, logger: logger).run()
}
