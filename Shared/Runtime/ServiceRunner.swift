import Foundation
import Logging
import ServiceLifecycle

/// Runs a service's executable: bootstraps logging and metrics, runs its services in a
/// `ServiceGroup` that shuts down gracefully on SIGTERM/SIGINT, and turns configuration errors
/// into a clear message and exit code 78 (`EX_CONFIG`).
public enum ServiceRunner {
    /// Exit status for configuration errors (`EX_CONFIG` from sysexits.h).
    public static let configurationErrorExitCode: Int32 = 78

    /// Default bound on a graceful shutdown before the remaining services are cancelled.
    public static let defaultMaximumGracefulShutdownDuration: Duration = .seconds(25)

    /// Bootstraps logging (from `LOG_LEVEL`/`LOG_FORMAT`) and metrics once, and returns a logger
    /// labelled with the service name carrying `service.name` and `service.instance.id`.
    public static func bootstrap(_ configuration: CommonConfiguration) -> Logger {
        LoggingBootstrap.bootstrap(configuration)
        MetricsBootstrap.bootstrap()
        var logger = Logger(label: configuration.serviceName)
        logger.logLevel = configuration.logLevel
        for (key, value) in configuration.loggerMetadata {
            logger[metadataKey: key] = value
        }
        return logger
    }

    /// Runs `services` until they finish, SIGTERM/SIGINT asks for a graceful shutdown (when
    /// `handlesSignals`), or one fails.
    ///
    /// List dependencies first (e.g. `OpsServer`, Kafka clients, then the consumers using them):
    /// the group shuts services down in reverse order. Returns normally after a graceful shutdown
    /// and rethrows the first service error.
    public static func run(
        services: [any Service],
        configuration: CommonConfiguration,
        logger: Logger,
        handlesSignals: Bool = true,
        maximumGracefulShutdownDuration: Duration? = ServiceRunner.defaultMaximumGracefulShutdownDuration
    ) async throws {
        let group = makeServiceGroup(
            services: services,
            logger: logger,
            handlesSignals: handlesSignals,
            maximumGracefulShutdownDuration: maximumGracefulShutdownDuration
        )
        logger.info(
            "starting",
            metadata: [
                "services": .array(services.map { .string("\($0)") }),
                "kafka.properties": .string(KafkaProperties.describe(configuration.kafkaProperties)),
            ]
        )
        do {
            try await group.run()
            logger.info("stopped")
        } catch {
            logger.error("stopped with an error", metadata: ["error.message": .string("\(error)")])
            throw error
        }
    }

    /// The `ServiceGroup` ``run(services:configuration:logger:handlesSignals:maximumGracefulShutdownDuration:)``
    /// uses, for callers that want to trigger shutdown themselves (tests, embedding).
    public static func makeServiceGroup(
        services: [any Service],
        logger: Logger,
        handlesSignals: Bool = true,
        maximumGracefulShutdownDuration: Duration? = ServiceRunner.defaultMaximumGracefulShutdownDuration
    ) -> ServiceGroup {
        var configuration = ServiceGroupConfiguration(
            services: services.map {
                ServiceGroupConfiguration.ServiceConfiguration(service: $0, serviceName: "\($0)")
            },
            gracefulShutdownSignals: handlesSignals ? [.sigterm, .sigint] : [],
            logger: logger
        )
        configuration.maximumGracefulShutdownDuration = maximumGracefulShutdownDuration
        configuration.logging.keys.signalKey = "lifecycle.signal"
        configuration.logging.keys.gracefulShutdownSignalsKey = "lifecycle.graceful_shutdown_signals"
        configuration.logging.keys.cancellationSignalsKey = "lifecycle.cancellation_signals"
        configuration.logging.keys.serviceKey = "lifecycle.service"
        configuration.logging.keys.servicesKey = "lifecycle.services"
        configuration.logging.keys.errorKey = "error.message"
        return ServiceGroup(configuration: configuration)
    }

    /// Runs `body`; on a ``ConfigurationError`` prints `<service>: configuration error: <message>` to
    /// standard error and exits with status 78. Other errors propagate.
    public static func exitOnConfigurationError<Result>(
        serviceName: String,
        _ body: () throws -> Result
    ) rethrows -> Result {
        do {
            return try body()
        } catch let error as ConfigurationError {
            exit(configurationError: error, serviceName: serviceName)
        }
    }

    /// Runs async `body`; on a ``ConfigurationError`` prints it to standard error and exits with status 78.
    public static func exitOnConfigurationError<Result>(
        serviceName: String,
        _ body: () async throws -> Result
    ) async rethrows -> Result {
        do {
            return try await body()
        } catch let error as ConfigurationError {
            exit(configurationError: error, serviceName: serviceName)
        }
    }

    /// Runs the service (`body`); if it fails (a service threw, a dependency was unreachable at start) prints
    /// `<service>: stopped with an error: <error>` to standard error and exits with status 1. Without this an error
    /// thrown at top level is a Swift trap: SIGILL and a crash report instead of an exit status.
    public static func exitOnFailure(serviceName: String, _ body: () async throws -> Void) async {
        do {
            try await body()
        } catch {
            FileHandle.standardError.write(Data("\(serviceName): stopped with an error: \(error)\n".utf8))
            Foundation.exit(failureExitCode)
        }
    }

    /// The exit status of a service that stopped with an error.
    public static let failureExitCode: Int32 = 1

    /// The line printed for a configuration error, e.g. `gateway: configuration error: GATEWAY_PORT: …`.
    public static func message(for error: ConfigurationError, serviceName: String) -> String {
        "\(serviceName): configuration error: \(error)"
    }

    private static func exit(configurationError error: ConfigurationError, serviceName: String) -> Never {
        FileHandle.standardError.write(Data((message(for: error, serviceName: serviceName) + "\n").utf8))
        Foundation.exit(configurationErrorExitCode)
    }
}
