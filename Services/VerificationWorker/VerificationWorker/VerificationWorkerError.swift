/// The verification worker's one public error type.
public struct VerificationWorkerError: Error, CustomStringConvertible, Sendable {
    /// Stable error codes.
    public enum Code: String, Sendable {
        /// A command arrived without the principal the gateway always sets.
        case missingPrincipal = "missing_principal"
        /// A command of a type this worker does not handle.
        case unexpectedCommand = "unexpected_command"
        /// The record registry could not read `biometric.records`.
        case registryUnavailable = "registry_unavailable"
        /// A stored idempotency record could not be read back.
        case corruptState = "corrupt_state"
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
