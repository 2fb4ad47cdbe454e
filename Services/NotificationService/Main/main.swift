import NotificationService
import Runtime

let configuration = try ServiceRunner.exitOnConfigurationError(serviceName: NotificationServiceConfiguration.serviceName) {
    try NotificationServiceConfiguration()
}
let logger = ServiceRunner.bootstrap(configuration.common)
await ServiceRunner.exitOnFailure(serviceName: NotificationServiceConfiguration.serviceName) {
    try await NotificationServiceApplication(configuration: configuration, logger: logger).run()
}
