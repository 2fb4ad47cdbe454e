import Foundation

/// Where and how `RedisClient` connects; build it from `REDIS_URL` with `init(url:)`.
public struct RedisConfiguration: Sendable, Equatable, CustomStringConvertible {
    /// The URL used when `REDIS_URL` is unset: `redis://127.0.0.1:6379`.
    public static let defaultURL = "redis://127.0.0.1:6379"

    /// Server host name or IP address. Default `127.0.0.1`.
    public var host: String
    /// Server TCP port. Default `6379`.
    public var port: Int
    /// ACL user name sent with `AUTH`, if any (Redis 6+). Default none.
    public var username: String?
    /// Password sent with `AUTH` on every (re)connect, if any. Never logged. Default none.
    public var password: String?
    /// Database index selected with `SELECT` on every (re)connect. Default `0`.
    public var database: Int
    /// Limit for establishing the TCP connection. Default 5 s.
    public var connectTimeout: Duration
    /// Limit for writing a command and reading its reply (whole pipeline's reads each get it). Default 5 s.
    public var commandTimeout: Duration
    /// Number of connections, each owned by its own I/O thread. Default `4`.
    public var poolSize: Int

    /// Creates a configuration; defaults match `redis://127.0.0.1:6379`.
    public init(
        host: String = "127.0.0.1",
        port: Int = 6379,
        username: String? = nil,
        password: String? = nil,
        database: Int = 0,
        connectTimeout: Duration = .seconds(5),
        commandTimeout: Duration = .seconds(5),
        poolSize: Int = 4
    ) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
        self.poolSize = poolSize
    }

    /// Parses `redis://[[user]:password@]host[:port][/db]`; throws `invalidConfiguration` naming the problem.
    public init(
        url: String,
        connectTimeout: Duration = .seconds(5),
        commandTimeout: Duration = .seconds(5),
        poolSize: Int = 4
    ) throws {
        let parsed = try RedisURLParser.parse(url)
        self.init(
            host: parsed.host, port: parsed.port, username: parsed.username, password: parsed.password,
            database: parsed.database, connectTimeout: connectTimeout, commandTimeout: commandTimeout,
            poolSize: poolSize)
    }

    /// Reads `REDIS_URL` from `environment` (default `redis://127.0.0.1:6379` when unset or empty).
    public static func fromEnvironment(
        _ environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> RedisConfiguration {
        let url = environment["REDIS_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? defaultURL
        do {
            return try RedisConfiguration(url: url)
        } catch let error as RedisError {
            throw RedisError(code: error.code, message: "REDIS_URL: \(error.message)")
        }
    }

    /// The URL form with the password masked, safe to log.
    public var description: String {
        var auth = ""
        if username != nil || password != nil {
            auth = (username ?? "") + (password == nil ? "" : ":***") + "@"
        }
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return "redis://\(auth)\(hostPart):\(port)/\(database)"
    }

    /// Throws `invalidConfiguration` when a field is out of range.
    func validate() throws(RedisError) {
        func invalid(_ message: String) -> RedisError {
            RedisError(code: .invalidConfiguration, message: message)
        }
        if host.isEmpty { throw invalid("host is empty") }
        if !(1...65535).contains(port) { throw invalid("port \(port) is not in 1...65535") }
        if database < 0 { throw invalid("database \(database) is negative") }
        if poolSize < 1 { throw invalid("poolSize \(poolSize) must be at least 1") }
        if connectTimeout <= .zero { throw invalid("connectTimeout must be positive") }
        if commandTimeout <= .zero { throw invalid("commandTimeout must be positive") }
    }
}

/// Hand-written `redis://` parser: errors name the faulty part but never echo URL text (it may hold the password).
enum RedisURLParser {
    struct Parsed: Equatable {
        var host: String
        var port: Int
        var username: String?
        var password: String?
        var database: Int
    }

    static func parse(_ url: String) throws(RedisError) -> Parsed {
        func invalid(_ problem: String) -> RedisError {
            RedisError(code: .invalidConfiguration, message: "invalid Redis URL: \(problem)")
        }
        let trimmed = url.trimmingCharacters(in: .whitespaces)
        guard let schemeEnd = trimmed.range(of: "://") else {
            throw invalid("missing scheme, expected redis://host:port[/db]")
        }
        let scheme = trimmed[..<schemeEnd.lowerBound].lowercased()
        if scheme == "rediss" { throw invalid("TLS (rediss://) is not supported") }
        if scheme == "unix" { throw invalid("unix sockets are not supported, use redis://host:port") }
        guard scheme == "redis" else { throw invalid("unsupported scheme '\(scheme)', expected redis://") }

        var rest = Substring(trimmed[schemeEnd.upperBound...])
        if rest.contains("?") || rest.contains("#") {
            throw invalid("query parameters and fragments are not supported")
        }

        // Path: "/db" (the part after the first "/").
        var database = 0
        if let slash = rest.firstIndex(of: "/") {
            let path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
            if !path.isEmpty {
                guard let db = Int(path), db >= 0, path.allSatisfy(\.isASCIIDigitCharacter) else {
                    throw invalid("database (the path after the port) is not a non-negative integer")
                }
                database = db
            }
        }

        // Userinfo: "[user]:password@" (the last "@" separates it, passwords may contain "@" when encoded).
        var username: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let userinfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = userinfo.firstIndex(of: ":") {
                let user = userinfo[..<colon]
                let pass = userinfo[userinfo.index(after: colon)...]
                guard let decodedUser = String(user).removingPercentEncoding,
                    let decodedPass = String(pass).removingPercentEncoding
                else { throw invalid("credentials contain invalid percent-encoding") }
                username = decodedUser.isEmpty ? nil : decodedUser
                password = decodedPass.isEmpty ? nil : decodedPass
            } else {
                // "redis://secret@host" is how some clients spell a password-only URL.
                guard let decoded = String(userinfo).removingPercentEncoding else {
                    throw invalid("credentials contain invalid percent-encoding")
                }
                password = decoded.isEmpty ? nil : decoded
            }
        }

        // Host and port: "host[:port]" or "[v6addr][:port]".
        var host: Substring
        var portText: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw invalid("unterminated IPv6 address") }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw invalid("unexpected text after IPv6 address") }
                portText = after.dropFirst()
            }
        } else if let colon = rest.firstIndex(of: ":") {
            host = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
        } else {
            host = rest
        }
        guard !host.isEmpty else { throw invalid("host is missing") }
        var port = 6379
        if let portText {
            guard let value = Int(portText), (1...65535).contains(value),
                portText.allSatisfy(\.isASCIIDigitCharacter)
            else { throw invalid("port is not a number in 1...65535") }
            port = value
        }
        return Parsed(host: String(host), port: port, username: username, password: password, database: database)
    }
}

extension Character {
    fileprivate var isASCIIDigitCharacter: Bool { isASCII && isNumber }
}
