import Foundation
import Redis
import Runtime

/// Everything the verification worker reads from the environment, with documented defaults (README,
/// "Verification worker").
public struct VerificationWorkerConfiguration: Sendable {
    /// The service name in logs, metrics and envelopes.
    public static let serviceName = "verification-worker"
    /// The ops endpoint's default port.
    public static let defaultHTTPPort = 9101
    /// Every variable this service reads (besides `KAFKA_*` librdkafka properties); the deploy test checks the env
    /// file and the README against it.
    public static let environmentVariables = CommonConfiguration.environmentVariables + [
        "REDIS_URL", "CHALLENGE_TTL_SECONDS", "CHALLENGE_MEMORY_SECONDS", "IDEMPOTENCY_TTL_SECONDS",
        "VERIFICATION_GROUP_ID", "REGISTRY_CATCH_UP_TIMEOUT_SECONDS", "VERIFICATION_CONNECTIONS_GROUP_ID",
        "GRANT_TTL_SECONDS",
    ]

    /// Shared service settings (Kafka, logging, instance id, `HTTP_PORT` default 9101).
    public var common: CommonConfiguration
    /// `REDIS_URL`: challenges and idempotency records (`redis://127.0.0.1:6379`).
    public var redis: RedisConfiguration
    /// `CHALLENGE_TTL_SECONDS` (60): how long an issued challenge may be used.
    public var challengeTTL: Duration
    /// `CHALLENGE_MEMORY_SECONDS` (600): how long after issue an expired or used challenge is still told apart
    /// from an unknown one (`challenge_expired`, `challenge_reused` instead of `challenge_unknown`).
    public var challengeMemory: Duration
    /// `IDEMPOTENCY_TTL_SECONDS` (86400): how long a handled command's outcome is kept for redeliveries.
    public var idempotencyTTL: Duration
    /// `VERIFICATION_GROUP_ID` (`verification-worker`): the shared consumer group on `verification.commands`.
    public var groupId: String
    /// `VERIFICATION_CONNECTIONS_GROUP_ID` (`verification-worker-connections`): the shared consumer group on
    /// `gateway.connections` (disconnects forget the socket's grants).
    public var connectionsGroupId: String
    /// `GRANT_TTL_SECONDS` (86400): how long after its last grant a record's grant set is kept (a gateway that died
    /// without publishing disconnects leaves nothing behind for longer).
    public var grantTTL: Duration
    /// `REGISTRY_CATCH_UP_TIMEOUT_SECONDS` (120): how long the start-up read of `biometric.records` may take
    /// before the worker gives up.
    public var registryCatchUpTimeout: Duration

    /// Reads the configuration; a bad variable is a ``ConfigurationError`` naming it.
    public init(environment: EnvironmentReader = EnvironmentReader()) throws {
        common = try CommonConfiguration(
            serviceName: Self.serviceName, defaultHTTPPort: Self.defaultHTTPPort, environment: environment)
        redis = try environment.redis()
        challengeTTL = try environment.durationSeconds(
            "CHALLENGE_TTL_SECONDS", default: .seconds(60), range: .seconds(1)...(.seconds(3600)))
        challengeMemory = try environment.durationSeconds(
            "CHALLENGE_MEMORY_SECONDS", default: .seconds(600), range: .seconds(1)...(.seconds(86_400)))
        idempotencyTTL = try environment.durationSeconds(
            "IDEMPOTENCY_TTL_SECONDS", default: .seconds(86_400), range: .seconds(60)...(.seconds(30 * 86_400)))
        groupId = environment.string("VERIFICATION_GROUP_ID", default: Self.serviceName)
        connectionsGroupId = environment.string(
            "VERIFICATION_CONNECTIONS_GROUP_ID", default: "\(Self.serviceName)-connections")
        grantTTL = try environment.durationSeconds(
            "GRANT_TTL_SECONDS", default: .seconds(86_400), range: .seconds(60)...(.seconds(30 * 86_400)))
        registryCatchUpTimeout = try environment.durationSeconds(
            "REGISTRY_CATCH_UP_TIMEOUT_SECONDS", default: .seconds(120), range: .seconds(1)...(.seconds(3600)))
    }
}
