import Logging

/// One logical connection: (re)connects lazily, runs AUTH/SELECT, and executes commands in order.
///
/// Confined to its `ConnectionWorker` thread (not `Sendable`). Reconnect policy, chosen for correctness:
/// - before writing, a connection the server has already closed (restart, idle timeout) is detected with a
///   zero-timeout `poll` and replaced, so an idle pool survives a server restart without a failed command;
/// - a failure while writing or reading a command drops the context and throws a retriable error: the command
///   may already have run, so it is never retried automatically; the next command reconnects first;
/// - if reconnecting fails, the command fails with `connectionFailed` (retriable) without having been sent.
final class RedisConnection {
    private let configuration: RedisConfiguration
    private var logger: Logger
    private var context: HiredisContext?
    private var hasConnectedBefore = false

    init(configuration: RedisConfiguration, index: Int, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        self.logger[metadataKey: "redis.host"] = "\(configuration.host):\(configuration.port)"
        self.logger[metadataKey: "redis.db"] = "\(configuration.database)"
        self.logger[metadataKey: "redis.connection"] = "\(index)"
    }

    /// Sends every job's commands as one pipeline (append all, then read the replies in order), completing each job
    /// once its replies are read; error replies are returned in place. A connection failure fails the job being read
    /// and every one after it.
    func execute(_ jobs: [ConnectionWorker.Job]) {
        let context: HiredisContext
        do {
            context = try connectedContext()
        } catch {
            for job in jobs { job.complete(.failure(error)) }
            return
        }
        var completed = 0
        do {
            for job in jobs { for command in job.commands { try context.append(command) } }
            for job in jobs {
                var replies: [RedisValue] = []
                replies.reserveCapacity(job.commands.count)
                for _ in job.commands { replies.append(try context.readReply()) }
                completed += 1
                job.complete(.success(replies))
            }
        } catch {
            self.context = nil  // frees the hiredis context and closes its socket
            logger.info(
                "Redis connection failed during a command; it will reconnect before the next one",
                metadata: [
                    "redis.command": "\(Self.commandName(jobs[completed...].flatMap(\.commands)))",
                    "redis.error": "\(error.code.rawValue)",
                ])
            for job in jobs[completed...] { job.complete(.failure(error)) }
        }
    }

    /// Frees the hiredis context, closing the socket.
    func disconnect() {
        context = nil
    }

    private func connectedContext() throws(RedisError) -> HiredisContext {
        if let context {
            if !context.isClosedByPeer { return context }
            logger.info("Redis server closed the connection while idle; reconnecting")
            self.context = nil
        }
        let context: HiredisContext
        do {
            context = try HiredisContext(
                host: configuration.host, port: configuration.port,
                connectTimeout: configuration.connectTimeout, commandTimeout: configuration.commandTimeout)
            try handshake(context)
        } catch {
            logger.debug("Redis connect failed", metadata: ["redis.error": "\(error.code.rawValue)"])
            throw error
        }
        logger.info(hasConnectedBefore ? "Redis connection re-established" : "Redis connection established")
        hasConnectedBefore = true
        self.context = context
        return context
    }

    /// Runs AUTH and SELECT as one pipeline on a fresh context.
    private func handshake(_ context: HiredisContext) throws(RedisError) {
        var commands: [[String]] = []
        if let password = configuration.password {
            commands.append(configuration.username.map { ["AUTH", $0, password] } ?? ["AUTH", password])
        }
        if configuration.database != 0 {
            commands.append(["SELECT", String(configuration.database)])
        }
        guard !commands.isEmpty else { return }
        for command in commands { try context.append(command.map { Array($0.utf8) }) }
        for command in commands {
            if case .error(let message) = try context.readReply() {
                throw RedisError(code: .handshakeFailed, message: "\(command[0]) refused: \(message)")
            }
        }
    }

    /// The command name(s) for logs: the first word of each command, never an argument value.
    static func commandName(_ commands: [[[UInt8]]]) -> String {
        guard let first = commands.first?.first else { return "" }
        let name = String(decoding: first.prefix(32), as: UTF8.self).uppercased()
        return commands.count == 1 ? name : "PIPELINE(\(commands.count))"
    }
}
