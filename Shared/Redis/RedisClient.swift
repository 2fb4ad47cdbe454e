import Logging
import Synchronization

/// An async Redis client over hiredis: a small pool of connections, each on its own I/O thread.
///
/// Commands never block Swift's cooperative pool. A connection that breaks fails the command in flight with a
/// retriable `RedisError` and reconnects (with AUTH and SELECT) before its next command; commands are never
/// retried automatically because one that was written may already have run. Task cancellation does not interrupt a
/// command; every command is bounded by `commandTimeout`. Avoid blocking commands (`BLPOP`…) and pub/sub `SUBSCRIBE`:
/// they hold a pooled connection for their whole duration. Call `close()` when done.
public final class RedisClient: Sendable {
    /// The configuration this client was created with.
    public let configuration: RedisConfiguration
    private let workers: [ConnectionWorker]
    private let logger: Logger

    /// Creates the client and starts its I/O threads; connections open lazily on first use.
    public init(configuration: RedisConfiguration, logger: Logger) throws {
        try configuration.validate()
        self.configuration = configuration
        self.logger = logger
        self.workers = (0..<configuration.poolSize).map {
            ConnectionWorker(configuration: configuration, index: $0, logger: logger)
        }
        logger.debug(
            "Redis client started",
            metadata: [
                "redis.host": "\(configuration.host):\(configuration.port)",
                "redis.pool_size": "\(configuration.poolSize)",
            ])
    }

    deinit {
        // Without `close()`, threads still exit and free their contexts once their queued jobs are done.
        for worker in workers { worker.shutdown() }
    }

    /// Sends one command of text arguments; an error reply is thrown as `RedisError` with code `serverError`.
    public func send(_ arguments: [String]) async throws -> RedisValue {
        try await send(arguments.map { Array($0.utf8) })
    }

    /// Sends one command of binary-safe arguments; an error reply is thrown as `RedisError` with code `serverError`.
    public func send(_ arguments: [[UInt8]]) async throws -> RedisValue {
        let reply = try await execute([arguments])[0]
        if case .error(let message) = reply {
            throw RedisError(code: .serverError, message: message)
        }
        return reply
    }

    /// Pipelines commands on one connection (write all, then read all); error replies come back in place as `.error`.
    public func pipeline(_ commands: [[String]]) async throws -> [RedisValue] {
        guard !commands.isEmpty else { return [] }
        return try await execute(commands.map { $0.map { Array($0.utf8) } })
    }

    /// Stops accepting commands, lets queued ones finish, then closes every connection and joins its thread.
    public func close() async {
        for worker in workers { worker.shutdown() }
        for worker in workers { await worker.waitForExit() }
        logger.debug("Redis client closed", metadata: ["redis.host": "\(configuration.host):\(configuration.port)"])
    }

    /// The first connection, in pool order, with fewer than ``pipelineDepth`` jobs, else the least loaded one. Jobs
    /// queued behind a running one go out together as one pipeline when it is done, which costs them at most one
    /// round trip and spares a thread wake-up each; light traffic stays on the first connections (warm threads), and
    /// a slow command or long pipeline does not hold up commands that another connection can take.
    private func pickWorker() -> ConnectionWorker {
        var best = workers[0]
        var bestLoad = Int.max
        for worker in workers {
            let load = worker.load
            if load < Self.pipelineDepth { return worker }
            if load < bestLoad { (best, bestLoad) = (worker, load) }
        }
        return best
    }

    /// Jobs a connection takes (running and queued) before the next connection is used.
    static let pipelineDepth = 8

    private func execute(_ commands: [[[UInt8]]]) async throws(RedisError) -> [RedisValue] {
        if let empty = commands.firstIndex(where: \.isEmpty) {
            throw RedisError(code: .invalidArgument, message: "command \(empty) has no arguments")
        }
        logger.trace("Redis command", metadata: ["redis.command": "\(RedisConnection.commandName(commands))"])
        return try await pickWorker().submit(commands)
    }
}
