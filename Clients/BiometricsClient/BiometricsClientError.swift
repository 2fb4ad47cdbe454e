/// Why a client call failed: one error type with a stable code and a human reason.
public struct BiometricsClientError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Stable codes callers can switch on.
    public enum Code: String, Sendable, Hashable {
        /// The configuration cannot work (bad URL, bad option).
        case invalidConfiguration = "invalid_configuration"
        /// The gateway could not be reached, or the WebSocket upgrade failed.
        case connectionFailed = "connection_failed"
        /// The gateway refused the connection (CONNECT_ERROR, e.g. a bad or expired token); not retried.
        case refused
        /// The gateway sent something the protocol does not allow; the connection was closed.
        case protocolError = "protocol_error"
        /// No answer within the ack timeout.
        case timeout
        /// The connection dropped after the event was sent: the server may or may not have acted on it.
        case connectionLost = "connection_lost"
        /// The offline buffer was full and this (oldest) emit was dropped.
        case dropped
        /// The gateway refused the event (`error {code, message}`: invalid payload, rate limited, …).
        case rejected
        /// The service refused the request (`biometric:error`, `session:error`, …); `reason` says why when given.
        case serviceRefused = "service_refused"
        /// The client is closed.
        case closed
        /// The answer did not have the documented shape.
        case unexpectedAnswer = "unexpected_answer"
    }

    /// The stable code.
    public let code: Code
    /// A human reason.
    public let message: String
    /// The server's reason code, when it sent one (`rate_limited`, `not_owner`, …).
    public let reason: String?

    /// Creates the error.
    public init(_ code: Code, _ message: String, reason: String? = nil) {
        self.code = code
        self.message = message
        self.reason = reason
    }

    /// `code: message` (and the server's reason).
    public var description: String {
        "\(code.rawValue): \(message)" + (reason.map { " (\($0))" } ?? "")
    }
}
