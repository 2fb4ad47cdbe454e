/// A configuration problem found at start-up; its description names the variable and what was expected.
public struct ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Stable machine-readable kind of configuration error.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        /// The stable string form of the code.
        public let rawValue: String
        /// Creates a code from its stable string form.
        public init(rawValue: String) { self.rawValue = rawValue }

        /// A required variable is not set.
        public static let missing = Code(rawValue: "missing")
        /// A variable is set to a value that cannot be parsed.
        public static let invalid = Code(rawValue: "invalid")
        /// A variable parses but lies outside the accepted range.
        public static let outOfRange = Code(rawValue: "out_of_range")
        /// Several variables are set in a combination that is not allowed.
        public static let conflict = Code(rawValue: "conflict")

        /// The stable string form of the code.
        public var description: String { rawValue }
    }

    /// What kind of problem this is.
    public var code: Code
    /// The environment variable (or variables, comma-separated) at fault.
    public var variable: String
    /// A human reason that says what is wrong and what was expected.
    public var reason: String

    /// Creates an error for `variable` with a human `reason`.
    public init(code: Code, variable: String, reason: String) {
        self.code = code
        self.variable = variable
        self.reason = reason
    }

    /// The message shown to operators, e.g. `GATEWAY_PORT: "abc" is not a port number (1–65535)`.
    public var description: String { "\(variable): \(reason)" }

    /// A required variable is unset; `expected` describes an acceptable value.
    public static func missing(_ variable: String, expected: String) -> ConfigurationError {
        ConfigurationError(code: .missing, variable: variable, reason: "is required but not set (expected \(expected))")
    }

    /// A variable's `value` could not be parsed; `problem` completes "\"value\" is …".
    public static func invalid(_ variable: String, value: String, problem: String) -> ConfigurationError {
        ConfigurationError(code: .invalid, variable: variable, reason: "\(quoted(value)) \(problem)")
    }

    /// A variable's `value` lies outside `expected`.
    public static func outOfRange(_ variable: String, value: String, expected: String) -> ConfigurationError {
        ConfigurationError(code: .outOfRange, variable: variable, reason: "\(quoted(value)) is out of range (expected \(expected))")
    }

    /// Shows a value the way it was given, escaped and cut to a readable length.
    static func quoted(_ value: String) -> String {
        let limit = 64
        var shown = value.count > limit ? String(value.prefix(limit)) + "…" : value
        shown = shown.unicodeScalars.map { scalar -> String in
            switch scalar {
            case "\"": return "\\\""
            case "\\": return "\\\\"
            case "\n": return "\\n"
            case "\r": return "\\r"
            case "\t": return "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    return "\\u{" + String(scalar.value, radix: 16) + "}"
                }
                return String(scalar)
            }
        }.joined()
        return "\"" + shown + "\""
    }
}
