import Synchronization

/// A Lua script run with `EVALSHA`: loaded (`SCRIPT LOAD`) on first use and loaded again when the server has
/// forgotten it (a restart, `SCRIPT FLUSH`), so callers send its source only when needed.
public final class RedisScript: Sendable {
    /// The Lua source.
    public let source: String
    private let sha = Mutex<String?>(nil)

    /// Creates a script from its Lua source.
    public init(_ source: String) {
        self.source = source
    }

    /// The SHA-1 the server reported when the script was last loaded.
    var loadedSHA: String? { sha.withLock { $0 } }

    func remember(_ value: String) { sha.withLock { $0 = value } }
}

extension RedisClient {
    /// `EVAL script numkeys key... arg...`: runs Lua source once; an error reply is thrown as `serverError`.
    public func eval(_ source: String, keys: [String] = [], arguments: [String] = []) async throws -> RedisValue {
        try await send(["EVAL", source, String(keys.count)] + keys + arguments)
    }

    /// Runs `script` with `EVALSHA`, loading it first when the server does not know it (`NOSCRIPT`).
    public func run(_ script: RedisScript, keys: [String] = [], arguments: [String] = []) async throws -> RedisValue {
        if let sha = script.loadedSHA {
            do {
                return try await send(["EVALSHA", sha, String(keys.count)] + keys + arguments)
            } catch let error as RedisError where error.code == .serverError && error.message.hasPrefix("NOSCRIPT") {
                // The server restarted or flushed its scripts: load it again below.
            }
        }
        let loaded = try await send(["SCRIPT", "LOAD", script.source])
        guard case .bulk = loaded, let sha = loaded.string else {
            throw RedisError(code: .unexpectedReply, message: "SCRIPT LOAD did not answer a SHA-1")
        }
        script.remember(sha)
        return try await send(["EVALSHA", sha, String(keys.count)] + keys + arguments)
    }
}
