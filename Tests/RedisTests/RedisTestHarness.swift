import Logging
import Redis
import Synchronization
import TestSupport
import Testing

/// Starts a real redis-server (own port, own temp dir) and a client on it, runs `body`, then closes both.
func withRedis(
    password: String? = "s3cret-pass",
    database: Int = 3,
    poolSize: Int = 4,
    commandTimeout: Duration = .seconds(5),
    logger: Logger = testLogger(),
    _ body: (RedisServerProcess, RedisClient) async throws -> Void
) async throws {
    let server = try await RedisServerProcess.start(password: password)
    var configuration = try RedisConfiguration(url: server.url, commandTimeout: commandTimeout, poolSize: poolSize)
    configuration.database = database
    let client = try RedisClient(configuration: configuration, logger: logger)
    do {
        try await body(server, client)
    } catch {
        await client.close()
        try? await server.stop()
        throw error
    }
    await client.close()
    try await server.stop()
}

/// A logger at info level that writes to stderr.
func testLogger() -> Logger {
    var logger = Logger(label: "redis-tests")
    logger.logLevel = .info
    return logger
}

/// Expects `body` to throw a `RedisError` and returns it (records an issue otherwise).
func expectRedisError(
    sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> Void
) async -> RedisError? {
    do {
        try await body()
        Issue.record("expected a RedisError, but the call succeeded", sourceLocation: sourceLocation)
    } catch let error as RedisError {
        return error
    } catch {
        Issue.record("expected a RedisError, got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

/// A log handler that keeps every record, to check what the client logs.
struct RecordingLogHandler: LogHandler {
    /// One captured log call, rendered to text.
    struct Record: Sendable {
        var level: Logger.Level
        var message: String
        var metadata: [String: String]
    }

    final class Store: Sendable {
        let records = Mutex<[Record]>([])
    }

    let store: Store
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
        let record = Record(
            level: event.level, message: "\(event.message)",
            metadata: merged.mapValues { "\($0)" })
        store.records.withLock { $0.append(record) }
    }
}
