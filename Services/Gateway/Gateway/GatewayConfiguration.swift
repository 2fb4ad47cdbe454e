import Auth
import Foundation
import Runtime

/// Everything the gateway reads from the environment, with documented defaults (README, "Gateway").
public struct GatewayConfiguration: Sendable {
    /// Every variable this service reads (besides `KAFKA_*` librdkafka properties); the deploy test checks the env
    /// file and the README against it.
    public static let environmentVariables = CommonConfiguration.environmentVariables + [
        "GATEWAY_HOST", "GATEWAY_PORT", "GATEWAY_PATH", "JWT_HS256_SECRET", "JWT_PUBLIC_KEY_FILE", "JWT_JWKS_FILE",
        "JWT_ISSUER", "JWT_AUDIENCE", "JWT_LEEWAY_SECONDS", "ALLOWED_ORIGINS", "PING_INTERVAL_MS", "PING_TIMEOUT_MS",
        "CONNECT_TIMEOUT_MS", "HTTP_REQUEST_TIMEOUT_MS", "MAX_PAYLOAD_BYTES", "MAX_FRAME_BYTES",
        "RATE_LIMIT_EVENTS_PER_SECOND", "RATE_LIMIT_BURST", "RATE_LIMIT_DISCONNECT_AFTER", "MAX_SOCKETS_PER_USER",
        "MAX_CONNECTIONS_PER_IP_PER_MINUTE", "OUTBOUND_QUEUE_BYTES", "ACK_TIMEOUT_MS", "LIVENESS_INTERVAL_SECONDS",
        "TLS_CERT_FILE", "TLS_KEY_FILE", "RECOVERY_MODE", "RECOVERY_WINDOW_SECONDS", "RECOVERY_SECRET",
        "RECOVERY_MAX_REPLAY", "RECOVERY_HISTORY_ENTRIES", "DELIVERY_DEDUP_WINDOW_SECONDS", "DELIVERY_DEDUP_CAPACITY",
        "EVENT_LOOP_THREADS",
    ]

    /// Shared service settings (Kafka, logging, instance id — the gateway id).
    public var common: CommonConfiguration
    /// `GATEWAY_HOST`: listen address.
    public var host: String
    /// `GATEWAY_PORT`: listen port (also serves /health, /ready, /metrics).
    public var port: Int
    /// `GATEWAY_PATH`: the Engine.IO path, served with and without a trailing slash.
    public var path: String
    /// Token verification (`JWT_HS256_SECRET` | `JWT_PUBLIC_KEY_FILE` | `JWT_JWKS_FILE`, `JWT_ISSUER`, `JWT_AUDIENCE`).
    public var tokens: TokenVerifierConfiguration
    /// `ALLOWED_ORIGINS`: browser origins allowed to connect; requests without `Origin` are always allowed.
    public var allowedOrigins: Set<String>
    /// `PING_INTERVAL_MS` (25000), `PING_TIMEOUT_MS` (20000), `CONNECT_TIMEOUT_MS` (45000).
    public var pingInterval: Duration
    /// See ``pingInterval``.
    public var pingTimeout: Duration
    /// See ``pingInterval``.
    public var connectTimeout: Duration
    /// `HTTP_REQUEST_TIMEOUT_MS` (10000): how long a connection may take to send a complete HTTP request (headers and
    /// body) once it is ready for one; a slow or silent client (slowloris) is closed then.
    public var httpRequestTimeout: Duration
    /// `MAX_PAYLOAD_BYTES`: largest Engine.IO packet or polling payload (1 000 000).
    public var maxPayload: Int
    /// `MAX_FRAME_BYTES`: largest binary stream frame (262 144).
    public var maxFrameBytes: Int
    /// `RATE_LIMIT_EVENTS_PER_SECOND` (20) and `RATE_LIMIT_BURST` (40): per-socket token bucket for client events.
    public var eventsPerSecond: Double
    /// See ``eventsPerSecond``.
    public var eventBurst: Int
    /// `RATE_LIMIT_DISCONNECT_AFTER` (100): refused events in a row after which the socket is disconnected.
    public var rateLimitDisconnectAfter: Int
    /// `MAX_SOCKETS_PER_USER` (20).
    public var maxSocketsPerUser: Int
    /// `MAX_CONNECTIONS_PER_IP_PER_MINUTE` (300): new connections one address may open per minute.
    public var maxConnectionsPerIPPerMinute: Int
    /// `OUTBOUND_QUEUE_BYTES` (1 MiB): per-socket bytes waiting to be written; frames are dropped beyond half of it,
    /// and a socket that stays full is disconnected.
    public var outboundQueueBytes: Int
    /// `ACK_TIMEOUT_MS` (10000): how long a client's ack waits for the service's answer.
    public var ackTimeout: Duration
    /// `LIVENESS_INTERVAL_SECONDS` (10): period of the `gateway:liveness` record on `gateway.connections`.
    public var livenessInterval: Duration
    /// Which sockets get a recovery id (connection-state recovery, see ``RecoveryMode``).
    public var recoveryMode: RecoveryMode
    /// `RECOVERY_WINDOW_SECONDS` (120): how long after a disconnect a socket can still be recovered.
    public var recoveryWindow: Duration
    /// `RECOVERY_SECRET` (default: derived from `JWT_HS256_SECRET`): seals recovery ids; the same on every gateway.
    /// Without it (public-key tokens and no secret) recovery is off.
    public var recoverySecret: String?
    /// `RECOVERY_MAX_REPLAY` (100000): a recovery that would scan more deliveries than this fails (`recovered: false`).
    public var recoveryMaxReplay: Int
    /// `RECOVERY_HISTORY_ENTRIES` (100000): deliveries of the last window kept in memory for recoveries (older ones
    /// are read back from Kafka).
    public var recoveryHistoryEntries: Int
    /// `DELIVERY_DEDUP_WINDOW_SECONDS` (300): how long the envelope id of a relayed delivery is remembered, so that
    /// a copy re-sent by a service after a crash is dropped.
    public var deliveryDedupWindow: Duration
    /// `DELIVERY_DEDUP_CAPACITY` (100000): most delivery ids remembered at once (0 turns duplicate dropping off).
    public var deliveryDedupCapacity: Int
    /// `TLS_CERT_FILE` and `TLS_KEY_FILE`: serve WSS/HTTPS when both are set.
    public var tlsCertificateFile: String?
    /// See ``tlsCertificateFile``.
    public var tlsKeyFile: String?
    /// `EVENT_LOOP_THREADS` (default: the CPUs this process may run on, see ``ProcessCPUs``): NIO event loops
    /// serving the sockets.
    public var eventLoopThreads: Int

    /// This gateway's id (the instance id).
    public var gatewayId: String { common.instanceId }

    /// Reads the configuration; a bad or conflicting variable is a ``ConfigurationError`` naming it.
    public init(environment: EnvironmentReader = EnvironmentReader()) throws {
        common = try CommonConfiguration(serviceName: "gateway", defaultHTTPPort: 3001, environment: environment)
        host = environment.string("GATEWAY_HOST", default: "0.0.0.0")
        port = try environment.port("GATEWAY_PORT", default: 3001, allowZero: true)
        let path = environment.string("GATEWAY_PATH", default: "/ws")
        guard path.hasPrefix("/"), !path.contains("?") else {
            throw ConfigurationError.invalid("GATEWAY_PATH", value: path, problem: "is not a path like /ws")
        }
        self.path = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        tokens = TokenVerifierConfiguration(
            keys: try Self.keySource(environment),
            issuer: environment.optionalString("JWT_ISSUER"),
            audience: environment.optionalString("JWT_AUDIENCE"),
            leeway: Double(try environment.int("JWT_LEEWAY_SECONDS", default: 30, range: 0...600)))
        allowedOrigins = Set(environment.list("ALLOWED_ORIGINS"))
        pingInterval = try environment.durationMilliseconds("PING_INTERVAL_MS", default: .milliseconds(25_000),
                                                            range: .milliseconds(100)...(.seconds(600)))
        pingTimeout = try environment.durationMilliseconds("PING_TIMEOUT_MS", default: .milliseconds(20_000),
                                                           range: .milliseconds(100)...(.seconds(600)))
        connectTimeout = try environment.durationMilliseconds("CONNECT_TIMEOUT_MS", default: .milliseconds(45_000),
                                                              range: .milliseconds(100)...(.seconds(600)))
        httpRequestTimeout = try environment.durationMilliseconds(
            "HTTP_REQUEST_TIMEOUT_MS", default: .milliseconds(10_000), range: .milliseconds(100)...(.seconds(600)))
        maxPayload = try environment.int("MAX_PAYLOAD_BYTES", default: 1_000_000, range: 1024...100_000_000)
        maxFrameBytes = try environment.int("MAX_FRAME_BYTES", default: 262_144, range: 64...maxPayload)
        eventsPerSecond = Double(try environment.int("RATE_LIMIT_EVENTS_PER_SECOND", default: 20, range: 1...100_000))
        eventBurst = try environment.int("RATE_LIMIT_BURST", default: 40, range: 1...100_000)
        rateLimitDisconnectAfter = try environment.int("RATE_LIMIT_DISCONNECT_AFTER", default: 100, range: 1...1_000_000)
        maxSocketsPerUser = try environment.int("MAX_SOCKETS_PER_USER", default: 20, range: 1...100_000)
        maxConnectionsPerIPPerMinute = try environment.int("MAX_CONNECTIONS_PER_IP_PER_MINUTE", default: 300,
                                                           range: 1...10_000_000)
        outboundQueueBytes = try environment.int("OUTBOUND_QUEUE_BYTES", default: 1 << 20, range: 4096...(1 << 30))
        ackTimeout = try environment.durationMilliseconds("ACK_TIMEOUT_MS", default: .milliseconds(10_000),
                                                          range: .milliseconds(10)...(.seconds(600)))
        livenessInterval = try environment.durationSeconds("LIVENESS_INTERVAL_SECONDS", default: .seconds(10),
                                                           range: .milliseconds(100)...(.seconds(3600)))
        let mode = environment.string("RECOVERY_MODE", default: RecoveryMode.optIn.rawValue)
        guard let recoveryMode = RecoveryMode(rawValue: mode) else {
            throw ConfigurationError.invalid("RECOVERY_MODE", value: mode, problem: "is not one of off, opt-in, all")
        }
        recoveryWindow = try environment.durationSeconds("RECOVERY_WINDOW_SECONDS", default: .seconds(120),
                                                         range: .seconds(1)...(.seconds(3600)))
        recoveryMaxReplay = try environment.int("RECOVERY_MAX_REPLAY", default: 100_000, range: 0...100_000_000)
        recoveryHistoryEntries = try environment.int("RECOVERY_HISTORY_ENTRIES", default: 100_000, range: 0...10_000_000)
        recoverySecret = environment.optionalString("RECOVERY_SECRET")
        if let secret = recoverySecret, secret.utf8.count < 32 {
            throw ConfigurationError(code: .invalid, variable: "RECOVERY_SECRET", reason: "must be at least 32 bytes")
        }
        if recoverySecret == nil, case .hs256(let secret) = tokens.keys { recoverySecret = "recovery:" + secret }
        self.recoveryMode = recoverySecret == nil ? .off : recoveryMode
        deliveryDedupWindow = try environment.durationSeconds("DELIVERY_DEDUP_WINDOW_SECONDS", default: .seconds(300),
                                                             range: .seconds(1)...(.seconds(86_400)))
        deliveryDedupCapacity = try environment.int("DELIVERY_DEDUP_CAPACITY", default: 100_000, range: 0...10_000_000)
        tlsCertificateFile = environment.optionalString("TLS_CERT_FILE")
        tlsKeyFile = environment.optionalString("TLS_KEY_FILE")
        if (tlsCertificateFile == nil) != (tlsKeyFile == nil) {
            throw ConfigurationError(code: .conflict, variable: "TLS_CERT_FILE, TLS_KEY_FILE",
                                     reason: "set both (to serve WSS) or neither")
        }
        eventLoopThreads = try environment.int("EVENT_LOOP_THREADS", default: ProcessCPUs.available, range: 1...1024)
    }

    /// Exactly one of the three key variables.
    static func keySource(_ environment: EnvironmentReader) throws -> TokenVerifierConfiguration.KeySource {
        let secret = environment.optionalString("JWT_HS256_SECRET")
        let publicKeyFile = environment.optionalString("JWT_PUBLIC_KEY_FILE")
        let jwksFile = environment.optionalString("JWT_JWKS_FILE")
        let set = [secret, publicKeyFile, jwksFile].compactMap { $0 }
        guard set.count == 1 else {
            throw ConfigurationError(
                code: set.isEmpty ? .missing : .conflict, variable: "JWT_HS256_SECRET, JWT_PUBLIC_KEY_FILE, JWT_JWKS_FILE",
                reason: set.isEmpty ? "one of them is required" : "set exactly one of them")
        }
        if let secret {
            guard secret.utf8.count >= DevTokenIssuer.minimumSecretLength else {
                throw ConfigurationError(code: .invalid, variable: "JWT_HS256_SECRET",
                                         reason: "must be at least \(DevTokenIssuer.minimumSecretLength) bytes")
            }
            return .hs256(secret: secret)
        }
        let (variable, file) = publicKeyFile.map { ("JWT_PUBLIC_KEY_FILE", $0) } ?? ("JWT_JWKS_FILE", jwksFile!)
        guard let contents = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw ConfigurationError.invalid(variable, value: file, problem: "cannot be read")
        }
        return variable == "JWT_PUBLIC_KEY_FILE" ? .publicKeyPEM(contents) : .jwks(contents)
    }
}

/// `RECOVERY_MODE`: which sockets get a recovery id in their CONNECT answer, and so the delivery position as the last
/// argument of every event (Socket.IO's connection-state recovery: `pid` and `offset`).
public enum RecoveryMode: String, Sendable, Hashable {
    /// No socket is recoverable.
    case off
    /// Sockets whose CONNECT auth asks with `recover: true` (the Swift SDK does), or presents a recovery id (default).
    case optIn = "opt-in"
    /// Every socket, as Socket.IO's server option does (stock `socket.io-client` then recovers too; every event to
    /// it carries one more argument, which JavaScript handlers ignore).
    case all
}
