import ArgumentParser
import Foundation
import Runtime

/// `biometricsctl dev`: the whole dev stack in one command (what `make run` runs).
struct DevCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev",
        abstract: "Run the dev stack: embedded broker, redis-server and every built service; print READY and a token.",
        discussion: """
            Starts an embedded Kafka-protocol broker with every project topic (or uses KAFKA_BOOTSTRAP_SERVERS), a \
            local redis-server on a free port (or uses REDIS_URL), and each service executable built next to \
            biometricsctl or found in --service-dir (gateway, verification-worker, notification-service, \
            presence-service, metrics-exporter) with KAFKA_BOOTSTRAP_SERVERS, REDIS_URL, JWT_HS256_SECRET, \
            ALLOWED_ORIGINS (default http://localhost:3000), HTTP_PORT and LOG_LEVEL set; logs go to \
            <run-dir>/logs/<service>.log. Once every service answers GET /ready it prints one line \
            `READY gateway=ws://… broker=… metrics=http://… redis=…` (`none` for what is not running), then \
            `TOKEN <jwt>` (user dev-user, role ADMIN, scope notifications:send, rooms team-1,team-2, 12 h). \
            JWT_HS256_SECRET (≥ 32 bytes) is used if set, otherwise one is generated and printed as \
            `JWT_HS256_SECRET=…`. SIGINT/SIGTERM stops every child (SIGKILL after 10 s) and exits 0; a child that \
            dies stops the stack with its log tail and a non-zero exit.
            """)

    @Option(help: "Directory for logs (<run-dir>/logs) and the local Redis's files (<run-dir>/redis, removed on exit).")
    var runDir: String = ".run"

    @Flag(help: "Do not start redis-server (services get REDIS_URL only if it is set).")
    var noRedis = false

    @Option(help: "Where to look for the service executables (default: the directory of biometricsctl itself).")
    var serviceDir: String?

    @Option(help: "Seconds the services together may take to answer GET /ready.")
    var readyTimeout: Int = 120

    func validate() throws {
        guard readyTimeout > 0 else { throw ValidationError("--ready-timeout must be positive") }
        guard !runDir.isEmpty else { throw ValidationError("--run-dir must not be empty") }
    }

    func run() async throws {
        let runDirectory = URL(fileURLWithPath: runDir, isDirectory: true).standardizedFileURL
        let (common, settings) = try ServiceRunner.exitOnConfigurationError(serviceName: "biometricsctl dev") {
            (try CommonConfiguration(serviceName: "biometricsctl-dev", defaultHTTPPort: 0),
             try DevStackSettings(
                environment: EnvironmentReader(), runDirectory: runDirectory,
                serviceDirectory: serviceDir.map { URL(fileURLWithPath: $0, isDirectory: true).standardizedFileURL }
                    ?? Self.executableDirectory(),
                startsRedis: !noRedis,
                readinessTimeout: .seconds(readyTimeout)))
        }
        let logger = ServiceRunner.bootstrap(common)
        let output: @Sendable (String) -> Void = { line in
            // Unbuffered, so a parent reading a pipe sees each line as soon as it is printed.
            FileHandle.standardOutput.write(Data((line + "\n").utf8))
        }
        let stack = DevStack(settings: settings, logger: logger, output: output)
        let command = CommandLine.arguments.first ?? "biometricsctl"
        // The group directly rather than `ServiceRunner.run`, whose start-up log shows Kafka settings this process
        // does not use (the services get the stack's own).
        let group = ServiceRunner.makeServiceGroup(
            services: [DevStackService(stack: stack, command: command, output: output)], logger: logger)
        try await group.run()
    }

    /// The directory of the running executable (where the service executables are built too).
    static func executableDirectory() -> URL {
        #if os(Linux)
        if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            return URL(fileURLWithPath: path).deletingLastPathComponent()
        }
        #endif
        if let url = Bundle.main.executableURL {
            return url.resolvingSymlinksInPath().deletingLastPathComponent()
        }
        let invoked = URL(fileURLWithPath: CommandLine.arguments.first ?? ".")
        return invoked.resolvingSymlinksInPath().deletingLastPathComponent()
    }
}
