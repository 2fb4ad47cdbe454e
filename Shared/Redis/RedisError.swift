/// The one error type of the Redis module: a stable code, a human message and whether retrying can help.
public struct RedisError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Stable, machine-readable error categories; their raw values never change.
    public enum Code: String, Sendable, Equatable, CaseIterable {
        /// The TCP connection (or AUTH/SELECT handshake transport) could not be established.
        case connectionFailed = "connection_failed"
        /// The connection broke while a command was being written or its reply read.
        case connectionLost = "connection_lost"
        /// No reply arrived within the command timeout; the command may or may not have run.
        case timeout = "timeout"
        /// The server sent bytes hiredis could not parse; the connection was dropped.
        case protocolError = "protocol_error"
        /// The server answered with an error reply (e.g. `ERR`, `WRONGTYPE`); `message` is its text.
        case serverError = "server_error"
        /// AUTH or SELECT was refused on connect: the configuration is wrong.
        case handshakeFailed = "handshake_failed"
        /// A reply had a type that the typed convenience method did not expect.
        case unexpectedReply = "unexpected_reply"
        /// A command was rejected before sending (for example, it had no arguments).
        case invalidArgument = "invalid_argument"
        /// The configuration (usually `REDIS_URL`) is invalid.
        case invalidConfiguration = "invalid_configuration"
        /// The client was closed; no further commands are accepted.
        case clientClosed = "client_closed"
    }

    /// The stable error category.
    public let code: Code
    /// A human-readable description; never contains values or the password.
    public let message: String

    /// Creates an error with a code and a message.
    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    /// True when the same command may succeed later (connection trouble); false for server error replies and misuse.
    public var isRetriable: Bool {
        switch code {
        case .connectionFailed, .connectionLost, .timeout, .protocolError:
            return true
        case .serverError, .handshakeFailed, .unexpectedReply, .invalidArgument, .invalidConfiguration, .clientClosed:
            return false
        }
    }

    /// `redis <code>: <message>`.
    public var description: String { "redis \(code.rawValue): \(message)" }
}
