/// The presence service's one public error type.
public struct PresenceServiceError: Error, CustomStringConvertible, Sendable {
    /// Stable error codes.
    public enum Code: String, Sendable {
        /// A command arrived without the principal (or socket) the gateway always sets.
        case missingPrincipal = "missing_principal"
        /// A record of a type this service does not handle.
        case unexpectedMessage = "unexpected_message"
        /// Redis answered something the service cannot read.
        case corruptState = "corrupt_state"
        /// The record was handled completely before (a redelivery); nothing to do.
        case alreadyHandled = "already_handled"
        /// Kafka answered the sweep only slowly: an outage may just have ended, so silence proves nothing yet.
        case kafkaSlow = "kafka_slow"
    }

    /// The stable code.
    public var code: Code
    /// A human-readable reason.
    public var reason: String

    /// Creates an error.
    public init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }

    /// `code: reason`.
    public var description: String { "\(code.rawValue): \(reason)" }
}
