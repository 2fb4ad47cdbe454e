import PresenceService
import Runtime

let configuration = try ServiceRunner.exitOnConfigurationError(serviceName: PresenceServiceConfiguration.serviceName) {
    try PresenceServiceConfiguration()
}
let logger = ServiceRunner.bootstrap(configuration.common)
await ServiceRunner.exitOnFailure(serviceName: PresenceServiceConfiguration.serviceName) {
    try await PresenceServiceApplication(configuration: configuration, logger: logger).run()
}
