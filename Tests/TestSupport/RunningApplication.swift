import Logging
import Runtime
import ServiceLifecycle

/// A service application running in the test process: its services in a `ServiceGroup` on a task of their own.
public final class RunningApplication<Application: Sendable>: Sendable {
    /// The application (for its state and endpoints).
    public let application: Application
    /// The group running its services (without signal handling: the test runner owns signals).
    public let group: ServiceGroup
    /// The task running the group; its value is the group's outcome.
    public let task: Task<Void, any Error>

    /// Starts `services` of `application` in a new group.
    public init(_ application: Application, services: [any Service], logger: Logger) {
        self.application = application
        let group = ServiceRunner.makeServiceGroup(services: services, logger: logger, handlesSignals: false)
        self.group = group
        task = Task { try await group.run() }
    }

    /// Stops gracefully (drain, commit, close) and waits; throws what the group threw.
    public func stop() async throws {
        await group.triggerGracefulShutdown()
        try await task.value
    }

    /// Stops without draining, like a crash between two awaits: the group's task is cancelled.
    public func cancel() async {
        task.cancel()
        _ = try? await task.value
    }
}
