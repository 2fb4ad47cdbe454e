/// How long a key set by `set` or `expire` lives.
public enum RedisExpiration: Sendable, Hashable {
    /// Whole seconds (`EX` / `EXPIRE`).
    case seconds(Int)
    /// Milliseconds (`PX` / `PEXPIRE`).
    case milliseconds(Int)
}

/// When `set` writes its value.
public enum RedisSetCondition: Sendable, Hashable {
    /// Always (plain `SET`).
    case always
    /// Only if the key does not exist (`NX`).
    case ifNotExists
    /// Only if the key already exists (`XX`).
    case ifExists
}

/// Typed conveniences over `send`; text values are UTF-8. For binary values use `send(_: [[UInt8]])`.
extension RedisClient {
    /// `PING`; throws unless the server answers `PONG`.
    public func ping() async throws {
        let reply = try await send(["PING"])
        guard reply == .status("PONG") else { throw Self.unexpected("PING", reply) }
    }

    /// `GET key`; nil when the key does not exist.
    public func get(_ key: String) async throws -> String? {
        try Self.optionalString("GET", try await send(["GET", key]))
    }

    /// `SET key value [EX|PX n] [NX|XX]`; returns false when the condition prevented the write.
    @discardableResult
    public func set(
        _ key: String, _ value: String, expiration: RedisExpiration? = nil, condition: RedisSetCondition = .always
    ) async throws -> Bool {
        var arguments = ["SET", key, value]
        switch expiration {
        case .seconds(let seconds)?: arguments += ["EX", String(seconds)]
        case .milliseconds(let milliseconds)?: arguments += ["PX", String(milliseconds)]
        case nil: break
        }
        switch condition {
        case .always: break
        case .ifNotExists: arguments.append("NX")
        case .ifExists: arguments.append("XX")
        }
        let reply = try await send(arguments)
        switch reply {
        case .status("OK"): return true
        case .null: return false
        default: throw Self.unexpected("SET", reply)
        }
    }

    /// `GETDEL key`: returns the value and deletes the key atomically (single-use tokens); nil when absent.
    public func getdel(_ key: String) async throws -> String? {
        try Self.optionalString("GETDEL", try await send(["GETDEL", key]))
    }

    /// `DEL key...`; returns how many keys existed.
    @discardableResult
    public func del(_ keys: [String]) async throws -> Int {
        guard !keys.isEmpty else { return 0 }
        return try Self.count("DEL", try await send(["DEL"] + keys))
    }

    /// `EXPIRE` or `PEXPIRE`; returns false when the key does not exist.
    @discardableResult
    public func expire(_ key: String, after expiration: RedisExpiration) async throws -> Bool {
        let arguments: [String]
        switch expiration {
        case .seconds(let seconds): arguments = ["EXPIRE", key, String(seconds)]
        case .milliseconds(let milliseconds): arguments = ["PEXPIRE", key, String(milliseconds)]
        }
        return try Self.count(arguments[0], try await send(arguments)) == 1
    }

    /// `INCRBY key by` (`INCR` when `by` is 1); returns the new value.
    @discardableResult
    public func incr(_ key: String, by increment: Int64 = 1) async throws -> Int64 {
        let reply = try await send(increment == 1 ? ["INCR", key] : ["INCRBY", key, String(increment)])
        guard let value = reply.int else { throw Self.unexpected("INCR", reply) }
        return value
    }

    /// `HSET key field value...`; returns how many fields were new.
    @discardableResult
    public func hset(_ key: String, _ fields: [String: String]) async throws -> Int {
        guard !fields.isEmpty else { return 0 }
        return try Self.count("HSET", try await send(["HSET", key] + fields.flatMap { [$0.key, $0.value] }))
    }

    /// `HGET key field`; nil when the key or field does not exist.
    public func hget(_ key: String, _ field: String) async throws -> String? {
        try Self.optionalString("HGET", try await send(["HGET", key, field]))
    }

    /// `HGETALL key`; empty when the key does not exist.
    public func hgetall(_ key: String) async throws -> [String: String] {
        let reply = try await send(["HGETALL", key])
        let strings = try Self.strings("HGETALL", reply)
        guard strings.count % 2 == 0 else { throw Self.unexpected("HGETALL", reply) }
        var result: [String: String] = [:]
        result.reserveCapacity(strings.count / 2)
        for index in stride(from: 0, to: strings.count, by: 2) {
            result[strings[index]] = strings[index + 1]
        }
        return result
    }

    /// `HDEL key field...`; returns how many fields were removed.
    @discardableResult
    public func hdel(_ key: String, _ fields: [String]) async throws -> Int {
        guard !fields.isEmpty else { return 0 }
        return try Self.count("HDEL", try await send(["HDEL", key] + fields))
    }

    /// `SADD key member...`; returns how many members were new.
    @discardableResult
    public func sadd(_ key: String, _ members: [String]) async throws -> Int {
        guard !members.isEmpty else { return 0 }
        return try Self.count("SADD", try await send(["SADD", key] + members))
    }

    /// `SREM key member...`; returns how many members were removed.
    @discardableResult
    public func srem(_ key: String, _ members: [String]) async throws -> Int {
        guard !members.isEmpty else { return 0 }
        return try Self.count("SREM", try await send(["SREM", key] + members))
    }

    /// `SMEMBERS key`; empty when the key does not exist.
    public func smembers(_ key: String) async throws -> Set<String> {
        Set(try Self.strings("SMEMBERS", try await send(["SMEMBERS", key])))
    }

    /// `SCARD key`: the set's size.
    public func scard(_ key: String) async throws -> Int {
        try Self.count("SCARD", try await send(["SCARD", key]))
    }

    /// `SISMEMBER key member`.
    public func sismember(_ key: String, _ member: String) async throws -> Bool {
        try Self.count("SISMEMBER", try await send(["SISMEMBER", key, member])) == 1
    }

    /// `ZADD key score member...`; returns how many members were new (existing ones get the new score).
    @discardableResult
    public func zadd(_ key: String, _ members: [String: Double]) async throws -> Int {
        guard !members.isEmpty else { return 0 }
        let arguments = ["ZADD", key] + members.flatMap { [Self.score($0.value), $0.key] }
        return try Self.count("ZADD", try await send(arguments))
    }

    /// `ZREM key member...`; returns how many members were removed.
    @discardableResult
    public func zrem(_ key: String, _ members: [String]) async throws -> Int {
        guard !members.isEmpty else { return 0 }
        return try Self.count("ZREM", try await send(["ZREM", key] + members))
    }

    /// `ZRANGEBYSCORE key min max [LIMIT 0 limit]`: members with min ≤ score ≤ max, lowest score first.
    public func zrangebyscore(_ key: String, min: Double, max: Double, limit: Int? = nil) async throws -> [String] {
        var arguments = ["ZRANGEBYSCORE", key, Self.score(min), Self.score(max)]
        if let limit { arguments += ["LIMIT", "0", String(limit)] }
        return try Self.strings("ZRANGEBYSCORE", try await send(arguments))
    }

    /// `PUBLISH channel message`; returns how many subscribers received it.
    @discardableResult
    public func publish(_ channel: String, _ message: String) async throws -> Int {
        try Self.count("PUBLISH", try await send(["PUBLISH", channel, message]))
    }

    // MARK: - Reply decoding

    private static func unexpected(_ command: String, _ reply: RedisValue) -> RedisError {
        RedisError(code: .unexpectedReply, message: "unexpected \(kind(of: reply)) reply to \(command)")
    }

    private static func kind(of reply: RedisValue) -> String {
        switch reply {
        case .bulk: return "bulk string"
        case .status: return "status"
        case .integer: return "integer"
        case .array: return "array"
        case .null: return "null"
        case .error: return "error"
        }
    }

    private static func optionalString(_ command: String, _ reply: RedisValue) throws -> String? {
        if reply == .null { return nil }
        guard case .bulk = reply, let text = reply.string else {
            throw RedisError(
                code: .unexpectedReply,
                message: "\(command) reply is not UTF-8 text; use send(_: [[UInt8]]) for binary values")
        }
        return text
    }

    private static func strings(_ command: String, _ reply: RedisValue) throws -> [String] {
        guard let elements = reply.elements else { throw unexpected(command, reply) }
        return try elements.map { element in
            guard let text = try optionalString(command, element) else { throw unexpected(command, element) }
            return text
        }
    }

    private static func count(_ command: String, _ reply: RedisValue) throws -> Int {
        guard let value = reply.int else { throw unexpected(command, reply) }
        return Int(value)
    }

    /// Scores in the form Redis parses: `inf`/`-inf` for infinities, shortest round-tripping decimal otherwise.
    private static func score(_ value: Double) -> String {
        if value == .infinity { return "+inf" }
        if value == -.infinity { return "-inf" }
        return "\(value)"
    }
}
