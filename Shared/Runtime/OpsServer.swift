import Hummingbird
import Logging
import ServiceLifecycle
import Synchronization

/// The operations HTTP endpoint every service runs: `GET /health`, `GET /ready`, `GET /metrics`.
///
/// - `/health`: 200 `{"status":"ok"}` while the process runs.
/// - `/ready`: 200 `{"status":"ready"}` when every readiness check passes, else
///   503 `{"status":"not_ready","failing":["kafka"]}`; checks run concurrently, each bounded by
///   ``Configuration/readinessTimeout``.
/// - `/metrics`: Prometheus text format 0.0.4.
///
/// A `Service`: list it first in the service group so it is the last to stop and `/health` keeps
/// answering while the others drain. Port 0 binds a free port; ``boundPort()`` tells which.
public struct OpsServer: Service, CustomStringConvertible {
    /// Where the endpoint listens and how long a readiness check may take.
    public struct Configuration: Sendable {
        /// Address to bind, e.g. `127.0.0.1` or `0.0.0.0`.
        public var host: String
        /// Port to bind; 0 picks a free port.
        public var port: Int
        /// Longest time a single readiness check may take before it counts as failing.
        public var readinessTimeout: Duration

        /// Creates a configuration; `readinessTimeout` defaults to 2 s.
        public init(host: String = CommonConfiguration.defaultHTTPHost, port: Int, readinessTimeout: Duration = .seconds(2)) {
            self.host = host
            self.port = port
            self.readinessTimeout = readinessTimeout
        }

        /// Takes `HTTP_HOST` and `HTTP_PORT` from the shared configuration.
        public init(_ common: CommonConfiguration, readinessTimeout: Duration = .seconds(2)) {
            self.init(host: common.httpHost, port: common.httpPort, readinessTimeout: readinessTimeout)
        }
    }

    /// Thrown by ``boundPort()`` when the server stopped (or failed to bind) before listening.
    public struct NotListening: Error, CustomStringConvertible {
        /// Why the server is not listening.
        public var description: String
    }

    /// The endpoint's configuration.
    public let configuration: Configuration
    /// The readiness checks behind `/ready`; more can be registered while running.
    public let readiness: ReadinessChecker

    private let metricsText: @Sendable () -> String
    private let logger: Logger
    private let state = BindState()

    /// Creates the endpoint; `metricsText` defaults to the process registry (``MetricsBootstrap``).
    public init(
        configuration: Configuration,
        readinessChecks: [ReadinessCheck] = [],
        metricsText: @escaping @Sendable () -> String = { MetricsBootstrap.prometheusText() },
        logger: Logger
    ) {
        self.configuration = configuration
        self.readiness = ReadinessChecker(checks: readinessChecks, timeout: configuration.readinessTimeout)
        self.metricsText = metricsText
        self.logger = logger
    }

    /// Adds a readiness check behind `/ready`.
    public func addReadinessCheck(_ check: ReadinessCheck) {
        readiness.register(check)
    }

    /// A short description for service group logs.
    public var description: String { "OpsServer(\(configuration.host):\(configuration.port))" }

    /// Waits until the server listens and returns its port (the real one when configured with 0).
    public func boundPort() async throws -> Int {
        try await state.wait()
    }

    /// Serves until graceful shutdown or cancellation; may be called once.
    public func run() async throws {
        state.start()
        let router = Router()
        let readiness = self.readiness
        let metricsText = self.metricsText
        router.get("/health") { _, _ in
            Self.json(.ok, #"{"status":"ok"}"#)
        }
        router.get("/ready") { _, _ in
            let report = await readiness.evaluate()
            if report.isReady {
                return Self.json(.ok, #"{"status":"ready"}"#)
            }
            let failing = report.failing.map(JSONText.quoted).joined(separator: ",")
            return Self.json(.serviceUnavailable, #"{"status":"not_ready","failing":["# + failing + "]}")
        }
        router.get("/metrics") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: MetricsBootstrap.contentType],
                body: ResponseBody(byteBuffer: ByteBuffer(string: metricsText()))
            )
        }

        var serverLogger = logger
        serverLogger.logLevel = max(logger.logLevel, .notice)
        let state = self.state
        let logger = self.logger
        let host = configuration.host
        let app = Application(
            router: router,
            configuration: ApplicationConfiguration(address: .hostname(host, port: configuration.port)),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                logger.info("ops endpoint listening", metadata: ["http.host": .string(host), "http.port": .stringConvertible(port)])
                state.bound(port)
            },
            logger: serverLogger
        )
        do {
            try await app.run()
            state.stopped("the ops endpoint stopped")
        } catch {
            state.stopped("the ops endpoint failed: \(error)")
            logger.error("ops endpoint failed", metadata: ["error.message": .string("\(error)")])
            throw error
        }
    }

    private static func json(_ status: HTTPResponse.Status, _ body: String) -> Response {
        Response(
            status: status,
            headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: body))
        )
    }
}

/// Tracks whether the server listens, and wakes ``OpsServer/boundPort()`` callers.
private final class BindState: Sendable {
    private enum Phase {
        case idle
        case starting
        case bound(Int)
        case stopped(String)
    }

    private struct State {
        var phase: Phase = .idle
        var waiters: [Int: CheckedContinuation<Int, any Error>] = [:]
        var nextWaiter = 0
    }

    private let state = Mutex(State())

    func start() {
        let started = state.withLock { state -> Bool in
            guard case .idle = state.phase else { return false }
            state.phase = .starting
            return true
        }
        precondition(started, "OpsServer.run() may be called only once")
    }

    func bound(_ port: Int) {
        let waiters = state.withLock { state in
            state.phase = .bound(port)
            defer { state.waiters = [:] }
            return state.waiters
        }
        for waiter in waiters.values { waiter.resume(returning: port) }
    }

    func stopped(_ reason: String) {
        let waiters = state.withLock { state in
            state.phase = .stopped(reason)
            defer { state.waiters = [:] }
            return state.waiters
        }
        for waiter in waiters.values { waiter.resume(throwing: OpsServer.NotListening(description: reason)) }
    }

    func wait() async throws -> Int {
        let id = state.withLock { state in
            defer { state.nextWaiter += 1 }
            return state.nextWaiter
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Int, any Error>) in
                let immediate = state.withLock { state -> Result<Int, any Error>? in
                    if Task.isCancelled { return .failure(CancellationError()) }
                    switch state.phase {
                    case .bound(let port): return .success(port)
                    case .stopped(let reason): return .failure(OpsServer.NotListening(description: reason))
                    case .idle, .starting:
                        state.waiters[id] = continuation
                        return nil
                    }
                }
                if let immediate { continuation.resume(with: immediate) }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume(throwing: CancellationError())
        }
    }
}
