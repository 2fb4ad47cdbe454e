import Foundation
import Redis
import Runtime

/// Everything the presence service reads from the environment, with documented defaults (README, "Presence
/// service").
public struct PresenceServiceConfiguration: Sendable {
    /// The service name in logs, metrics and envelopes.
    public static let serviceName = "presence-service"
    /// The ops endpoint's default port.
    public static let defaultHTTPPort = 9103
    /// Every variable this service reads (besides `KAFKA_*` librdkafka properties); the deploy test checks the env
    /// file and the README against it.
    public static let environmentVariables = CommonConfiguration.environmentVariables + [
        "REDIS_URL", "PRESENCE_GROUP_ID", "GATEWAY_GRACE_SECONDS", "SWEEP_INTERVAL_SECONDS", "PRESENCE_TTL_SECONDS",
        "SESSION_IDLE_SECONDS", "IDEMPOTENCY_TTL_SECONDS", "HEALTH_INTERVAL_SECONDS", "BROADCAST_MAX_PAYLOAD_BYTES",
        "REDIS_RETRY_SECONDS",
    ]

    /// Shared service settings (Kafka, logging, instance id, `HTTP_PORT` default 9103).
    public var common: CommonConfiguration
    /// `REDIS_URL`: the registry, rooms, sessions and idempotency markers (`redis://127.0.0.1:6379`).
    public var redis: RedisConfiguration
    /// `PRESENCE_GROUP_ID` (`presence-service`): the shared consumer group on `presence.commands`; the group on
    /// `gateway.connections` is this id with `-connections` appended.
    public var groupId: String
    /// `GATEWAY_GRACE_SECONDS` (unset): how long a gateway may stay silent before its sockets are cleaned up. Unset,
    /// each gateway gets 3 × the interval it reports in its liveness records (30 s before its first one).
    public var gatewayGrace: Duration?
    /// `SWEEP_INTERVAL_SECONDS` (5): how often silent gateways are looked for (and the gauges refreshed).
    public var sweepInterval: Duration
    /// `PRESENCE_TTL_SECONDS` (120): expiry of every presence key, pushed back by each liveness record, so a
    /// registry nobody maintains (every presence instance down) empties itself. Must exceed the grace.
    public var keyTTL: Duration
    /// `SESSION_IDLE_SECONDS` (1800): a session without `session:heartbeat` for this long expires.
    public var sessionIdle: Duration
    /// `IDEMPOTENCY_TTL_SECONDS` (3600): how long a handled record's id (and decision) is remembered for redeliveries.
    public var idempotencyTTL: Duration
    /// `HEALTH_INTERVAL_SECONDS` (30): period of `server:health` to the `admin` room (one instance sends it).
    public var healthInterval: Duration
    /// `BROADCAST_MAX_PAYLOAD_BYTES` (16384): largest JSON `payload` of a client broadcast.
    public var broadcastMaxPayloadBytes: Int
    /// `REDIS_RETRY_SECONDS` (30): how long a record waits for an unreachable Redis before it goes to `deadletter`.
    public var redisRetry: Duration

    /// Grace before a gateway's first liveness record, and the multiple of its interval otherwise.
    static let defaultGrace: Duration = .seconds(30)
    static let graceIntervals = 3

    /// Reads the configuration; a bad variable is a ``ConfigurationError`` naming it.
    public init(environment: EnvironmentReader = EnvironmentReader()) throws {
        common = try CommonConfiguration(
            serviceName: Self.serviceName, defaultHTTPPort: Self.defaultHTTPPort, environment: environment)
        redis = try environment.redis()
        groupId = environment.string("PRESENCE_GROUP_ID", default: Self.serviceName)
        gatewayGrace = try environment.optionalDurationSeconds(
            "GATEWAY_GRACE_SECONDS", range: .seconds(1)...(.seconds(3 * 3600)))
        sweepInterval = try environment.durationSeconds(
            "SWEEP_INTERVAL_SECONDS", default: .seconds(5), range: .seconds(1)...(.seconds(600)))
        keyTTL = try environment.durationSeconds(
            "PRESENCE_TTL_SECONDS", default: .seconds(120), range: .seconds(2)...(.seconds(86_400)))
        sessionIdle = try environment.durationSeconds(
            "SESSION_IDLE_SECONDS", default: .seconds(1800), range: .seconds(1)...(.seconds(30 * 86_400)))
        idempotencyTTL = try environment.durationSeconds(
            "IDEMPOTENCY_TTL_SECONDS", default: .seconds(3600), range: .seconds(60)...(.seconds(30 * 86_400)))
        healthInterval = try environment.durationSeconds(
            "HEALTH_INTERVAL_SECONDS", default: .seconds(30), range: .seconds(1)...(.seconds(3600)))
        broadcastMaxPayloadBytes = try environment.int(
            "BROADCAST_MAX_PAYLOAD_BYTES", default: 16_384, range: 2...1_000_000)
        redisRetry = try environment.durationSeconds(
            "REDIS_RETRY_SECONDS", default: .seconds(30), range: .seconds(0)...(.seconds(3600)))
        let longestGrace = gatewayGrace ?? Self.defaultGrace
        guard keyTTL > longestGrace else {
            throw ConfigurationError(
                code: .conflict, variable: "PRESENCE_TTL_SECONDS",
                reason: "must exceed the gateway grace (\(longestGrace.components.seconds) s)")
        }
    }

    /// The grace of a gateway that reports every `intervalSeconds` (nil: before its first report).
    public func grace(intervalSeconds: Int?) -> Duration {
        if let gatewayGrace { return gatewayGrace }
        guard let intervalSeconds else { return Self.defaultGrace }
        return .seconds(Self.graceIntervals * max(1, intervalSeconds))
    }
}
