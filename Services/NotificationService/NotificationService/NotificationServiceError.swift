/// The notification service's one public error type.
public struct NotificationServiceError: Error, CustomStringConvertible, Sendable, Hashable {
    /// Stable error codes.
    public enum Code: String, Sendable {
        /// A `before` cursor names no notification of this user.
        case unknownCursor = "unknown_cursor"
        /// A command arrived without the principal it needs.
        case missingPrincipal = "missing_principal"
        /// A command of a type this service does not handle.
        case unexpectedCommand = "unexpected_command"
        /// A backend's `notification:create` whose principal may not create notifications.
        case forbidden
        /// The store holds something it cannot read back.
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
