import NIOSSL

/// Everything the client needs to connect; every field has a documented default but the URL and token.
public struct BiometricsClientConfiguration: Sendable {
    /// The gateway, e.g. `http://127.0.0.1:3001` or `wss://rt.example.com` (`http`/`ws` or `https`/`wss`).
    public var url: String
    /// The Socket.IO path (`GATEWAY_PATH`), default `/ws`.
    public var path: String = "/ws"
    /// Returns a fresh access token; called before every connect and reconnect, so expiring tokens refresh.
    public var token: @Sendable () async throws -> String
    /// Back-off between reconnect attempts (socket.io-client's defaults).
    public var reconnect = ReconnectPolicy()
    /// How long a request waits for its answer (default 10 s).
    public var ackTimeout: Duration = .seconds(10)
    /// How long one connect attempt may take, TCP to Socket.IO CONNECT (default 20 s, as socket.io-client).
    public var connectTimeout: Duration = .seconds(20)
    /// Emits kept while disconnected, sent in order after the next connect; beyond it the oldest is dropped
    /// (default 100).
    public var offlineBufferLimit = 100
    /// Sent as `Origin` when set (gateways check it against `ALLOWED_ORIGINS`).
    public var origin: String?
    /// TLS for `https`/`wss` URLs (default: system trust roots, hostname verified).
    public var tls: TLSConfiguration = .makeClientConfiguration()
    /// The largest WebSocket message accepted from the gateway (default 1 MB, the gateway's `maxPayload`).
    public var maxMessageBytes = 1_000_000

    /// A configuration for `url` that calls `token` for every connect.
    public init(url: String, token: @escaping @Sendable () async throws -> String) {
        self.url = url
        self.token = token
    }
}
