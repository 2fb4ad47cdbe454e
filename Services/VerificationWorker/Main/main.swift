import Runtime
import VerificationWorker

let configuration = try ServiceRunner.exitOnConfigurationError(serviceName: VerificationWorkerConfiguration.serviceName) {
    try VerificationWorkerConfiguration()
}
let logger = ServiceRunner.bootstrap(configuration.common)
await ServiceRunner.exitOnFailure(serviceName: VerificationWorkerConfiguration.serviceName) {
    try await VerificationWorkerApplication(configuration: configuration, logger: logger).run()
}
