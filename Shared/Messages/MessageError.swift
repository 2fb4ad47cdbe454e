/// The one error type of the Messages module: a stable code, the offending field and a human reason.
public struct MessageError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Stable, machine-readable error codes (sent to clients in `error` events).
    public enum Code: String, Sendable, Hashable, CaseIterable {
        /// The bytes are not JSON.
        case invalidJSON = "invalid_json"
        /// A required field is absent.
        case missingField = "missing_field"
        /// A field that the schema does not define is present.
        case unknownField = "unknown_field"
        /// A field has the wrong JSON type, pattern, enum value or range.
        case invalidValue = "invalid_value"
        /// A string, array, object or message exceeds its size bound.
        case tooLarge = "too_large"
        /// An event name or envelope type is unknown or not allowed where it was sent.
        case unknownType = "unknown_type"
    }

    /// The stable error code.
    public var code: Code
    /// Dotted path of the offending field (`payload.targetUsers[3]`), nil for the whole message.
    public var field: String?
    /// What is wrong, without the field name.
    public var reason: String

    /// Creates an error.
    public init(_ code: Code, field: String? = nil, _ reason: String) {
        self.code = code
        self.field = field
        self.reason = reason
    }

    /// Human-readable message naming the field, e.g. `recordId: must be at most 128 characters`.
    public var message: String {
        guard let field, !field.isEmpty else { return reason }
        return "\(field): \(reason)"
    }

    /// `code: message`.
    public var description: String { "\(code.rawValue): \(message)" }

    /// The `{code, message, event}` body of the Socket.IO `error` event the gateway sends for a bad event.
    public func errorEventData(event: String?) -> JSONValue {
        var object: [String: JSONValue] = ["code": .string(code.rawValue), "message": .string(message)]
        if let event { object["event"] = .string(event) }
        return .object(object)
    }

    /// The same error with `path` put in front of its field.
    func prefixed(by path: String) -> MessageError {
        guard !path.isEmpty else { return self }
        var copy = self
        if let field, !field.isEmpty {
            copy.field = field.hasPrefix("[") ? path + field : path + "." + field
        } else {
            copy.field = path
        }
        return copy
    }

    /// The same error with a decoder's coding path put in front of its field.
    func prefixed(by codingPath: [any CodingKey]) -> MessageError {
        prefixed(by: CodingPath.render(codingPath))
    }
}

/// Renders coding paths as `payload.targetUsers[3]`.
enum CodingPath {
    static func render(_ path: [any CodingKey]) -> String {
        var out = ""
        for key in path {
            if let index = key.intValue, key.stringValue == "Index \(index)" {
                out += "[\(index)]"
            } else if out.isEmpty {
                out = key.stringValue
            } else {
                out += "." + key.stringValue
            }
        }
        return out
    }

    static func render(_ path: [any CodingKey], _ last: any CodingKey) -> String {
        render(path + [last])
    }
}
