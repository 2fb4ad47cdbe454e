import Redis

extension EnvironmentReader {
    /// `REDIS_URL` as a Redis configuration (`redis://127.0.0.1:6379` when unset or empty); a bad URL is a
    /// ``ConfigurationError`` naming the variable.
    public func redis() throws -> RedisConfiguration {
        let url = string("REDIS_URL", default: RedisConfiguration.defaultURL)
        do {
            return try RedisConfiguration(url: url.isEmpty ? RedisConfiguration.defaultURL : url)
        } catch {
            throw ConfigurationError(code: .invalid, variable: "REDIS_URL", reason: "\(error)")
        }
    }
}
