import Foundation

/// Field checks that mirror the JSON Schema keywords; each throws a `MessageError` naming the field.
enum Check {
    /// Non-empty, at most `max` characters (Unicode scalars, as JSON Schema counts), only characters in `set`.
    static func charset(
        _ value: String, _ field: String, max: Int, set: ASCIISet, allowed: String
    ) throws(MessageError) {
        guard !value.isEmpty else { throw MessageError(.invalidValue, field: field, "must not be empty") }
        guard value.unicodeScalars.count <= max else {
            throw MessageError(.tooLarge, field: field, "must be at most \(max) characters")
        }
        guard set.containsAll(value) else {
            throw MessageError(.invalidValue, field: field, "may contain only \(allowed)")
        }
    }

    /// An identifier (`MessageLimits.idPattern`).
    static func id(_ value: String, _ field: String) throws(MessageError) {
        try charset(value, field, max: MessageLimits.maxIdLength, set: .id, allowed: "letters, digits and . _ : @ -")
    }

    /// An optional identifier.
    static func id(_ value: String?, _ field: String) throws(MessageError) {
        if let value { try id(value, field) }
    }

    /// A client-named presence room id (no ':').
    static func roomId(_ value: String, _ field: String) throws(MessageError) {
        try charset(
            value, field, max: MessageLimits.maxRoomIdLength, set: .roomId, allowed: "letters, digits and . _ -")
    }

    /// A server-side room name (`room:team-1`).
    static func serverRoom(_ value: String, _ field: String) throws(MessageError) {
        try charset(
            value, field, max: MessageLimits.maxServerRoomLength, set: .id, allowed: "letters, digits and . _ : @ -")
    }

    /// A short name: type, role, scope.
    static func token(_ value: String, _ field: String) throws(MessageError) {
        try charset(
            value, field, max: MessageLimits.maxTokenLength, set: .token, allowed: "letters, digits and . _ : -")
    }

    /// An IP address as seen by the gateway.
    static func ipAddress(_ value: String, _ field: String) throws(MessageError) {
        try charset(
            value, field, max: MessageLimits.maxIPAddressLength, set: .ipAddress,
            allowed: "hex digits, letters and : . % _ -")
    }

    /// A Kafka topic name.
    static func topicName(_ value: String, _ field: String) throws(MessageError) {
        try charset(
            value, field, max: MessageLimits.maxTopicNameLength, set: .topicName, allowed: "letters, digits and . _ -")
    }

    /// `^[head][tail]*$` with a length bound.
    static func word(
        _ value: String, _ field: String, max: Int, head: ASCIISet, tail: ASCIISet, pattern: String
    ) throws(MessageError) {
        guard !value.isEmpty else { throw MessageError(.invalidValue, field: field, "must not be empty") }
        guard value.unicodeScalars.count <= max else {
            throw MessageError(.tooLarge, field: field, "must be at most \(max) characters")
        }
        let bytes = value.utf8
        guard let first = bytes.first, head.contains(first), bytes.dropFirst().allSatisfy(tail.contains) else {
            throw MessageError(.invalidValue, field: field, "must match \(pattern)")
        }
    }

    /// A Socket.IO event name sent to clients.
    static func eventName(_ value: String, _ field: String) throws(MessageError) {
        try word(
            value, field, max: MessageLimits.maxTokenLength, head: .letters, tail: .eventNameTail,
            pattern: MessageLimits.eventNamePattern)
    }

    /// A service name.
    static func serviceName(_ value: String, _ field: String) throws(MessageError) {
        try word(
            value, field, max: MessageLimits.maxTokenLength, head: .lowerLetters, tail: .lowerWordTail,
            pattern: MessageLimits.serviceNamePattern)
    }

    /// A snake_case reason code.
    static func reasonCode(_ value: String, _ field: String) throws(MessageError) {
        try word(
            value, field, max: MessageLimits.maxTokenLength, head: .lowerLetters, tail: .reasonCodeTail,
            pattern: MessageLimits.reasonCodePattern)
    }

    /// An envelope type: `namespace:name`, both lower-case words.
    static func messageType(_ value: String, _ field: String) throws(MessageError) {
        guard value.unicodeScalars.count <= MessageLimits.maxTokenLength else {
            throw MessageError(.tooLarge, field: field, "must be at most \(MessageLimits.maxTokenLength) characters")
        }
        let parts = value.split(separator: ":", omittingEmptySubsequences: false)
        let valid =
            parts.count == 2
            && parts.allSatisfy { part in
                guard let first = part.utf8.first, ASCIISet.lowerLetters.contains(first) else { return false }
                return part.utf8.dropFirst().allSatisfy(ASCIISet.lowerWordTail.contains)
            }
        guard valid else {
            throw MessageError(.invalidValue, field: field, "must match \(MessageLimits.messageTypePattern)")
        }
    }

    /// Base64url text with optional `=` padding, at most `max` characters.
    static func base64url(_ value: String, _ field: String, max: Int) throws(MessageError) {
        guard !value.isEmpty else { throw MessageError(.invalidValue, field: field, "must not be empty") }
        guard value.unicodeScalars.count <= max else {
            throw MessageError(.tooLarge, field: field, "must be at most \(max) characters")
        }
        var body = Substring(value)
        var padding = 0
        while body.last == "=", padding < 2 {
            body = body.dropLast()
            padding += 1
        }
        guard !body.isEmpty, body.utf8.allSatisfy(ASCIISet.base64url.contains) else {
            throw MessageError(.invalidValue, field: field, "must be base64url")
        }
    }

    /// Standard base64 with padding, at most `max` characters.
    static func base64(_ value: String, _ field: String, max: Int) throws(MessageError) {
        guard value.unicodeScalars.count <= max else {
            throw MessageError(.tooLarge, field: field, "must be at most \(max) characters")
        }
        let bytes = Array(value.utf8)
        var valid = bytes.count % 4 == 0
        if valid, !bytes.isEmpty {
            let pad = bytes.last == UInt8(ascii: "=") ? (bytes[bytes.count - 2] == UInt8(ascii: "=") ? 2 : 1) : 0
            valid = bytes[..<(bytes.count - pad)].allSatisfy(ASCIISet.base64.contains)
        }
        guard valid else { throw MessageError(.invalidValue, field: field, "must be base64 with padding") }
    }

    /// A string of `min...max` characters (Unicode scalars).
    static func text(_ value: String, _ field: String, min: Int = 1, max: Int) throws(MessageError) {
        let count = value.unicodeScalars.count
        guard count >= min else {
            throw MessageError(
                .invalidValue, field: field, min == 1 ? "must not be empty" : "must be at least \(min) characters")
        }
        guard count <= max else { throw MessageError(.tooLarge, field: field, "must be at most \(max) characters") }
    }

    /// An array length within `min...max`.
    static func count(_ count: Int, _ field: String, min: Int = 0, max: Int) throws(MessageError) {
        guard count >= min else {
            throw MessageError(.invalidValue, field: field, "must have at least \(min) item\(min == 1 ? "" : "s")")
        }
        guard count <= max else { throw MessageError(.tooLarge, field: field, "must have at most \(max) items") }
    }

    /// A number within `min...max`.
    static func range<T: Comparable>(_ value: T, _ field: String, min: T? = nil, max: T? = nil) throws(MessageError) {
        if let min, value < min { throw MessageError(.invalidValue, field: field, "must be at least \(min)") }
        if let max, value > max { throw MessageError(.invalidValue, field: field, "must be at most \(max)") }
    }

    /// Each element with `check`, naming the element `field[i]`.
    static func each<T>(
        _ values: [T], _ field: String, _ check: (T, String) throws(MessageError) -> Void
    ) throws(MessageError) {
        for (index, value) in values.enumerated() { try check(value, "\(field)[\(index)]") }
    }

    /// A free-form value: bounded at its top level like `common.schema.json#/$defs/freeform`.
    static func freeform(_ value: JSONValue, _ field: String) throws(MessageError) {
        switch value {
        case .object(let members):
            guard members.count <= MessageLimits.maxFreeformProperties else {
                throw MessageError(
                    .tooLarge, field: field, "must have at most \(MessageLimits.maxFreeformProperties) properties")
            }
        case .array(let items):
            guard items.count <= MessageLimits.maxFreeformItems else {
                throw MessageError(.tooLarge, field: field, "must have at most \(MessageLimits.maxFreeformItems) items")
            }
        case .string(let string):
            guard string.unicodeScalars.count <= MessageLimits.maxFreeformStringLength else {
                throw MessageError(
                    .tooLarge, field: field, "must be at most \(MessageLimits.maxFreeformStringLength) characters")
            }
        case .null, .bool, .number:
            break
        }
    }

    /// A free-form object: an object with at most `maxFreeformProperties` members.
    static func freeformObject(_ value: JSONValue, _ field: String) throws(MessageError) {
        guard case .object = value else { throw MessageError(.invalidValue, field: field, "must be an object") }
        try freeform(value, field)
    }

    /// A UUID in its 36-character hyphenated form.
    static func uuid(_ value: String, _ field: String) throws(MessageError) -> UUID {
        let bytes = Array(value.utf8)
        let valid =
            bytes.count == 36
            && bytes.enumerated().allSatisfy { index, byte in
                [8, 13, 18, 23].contains(index) ? byte == UInt8(ascii: "-") : ASCIISet.hex.contains(byte)
            }
        guard valid, let uuid = UUID(uuidString: value) else {
            throw MessageError(.invalidValue, field: field, "must be a UUID")
        }
        return uuid
    }

    /// A timestamp `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    static func timestamp(_ value: String, _ field: String) throws(MessageError) -> Date {
        guard let date = Timestamp.date(from: value) else {
            throw MessageError(.invalidValue, field: field, "must be an RFC 3339 UTC timestamp with milliseconds")
        }
        return date
    }

    /// One of the allowed strings.
    static func oneOf(_ value: String, _ field: String, _ allowed: [String]) throws(MessageError) {
        guard allowed.contains(value) else {
            throw MessageError(.invalidValue, field: field, "must be one of \(allowed.joined(separator: ", "))")
        }
    }
}

extension Check {
    /// A nested value's own checks, its fields named under `field`.
    static func nested(_ value: some ValidatedMessage, _ field: String) throws(MessageError) {
        do { try value.validate() } catch { throw error.prefixed(by: field) }
    }

    /// Each nested value's own checks, named `field[i].<field>`.
    static func nestedEach(_ values: [some ValidatedMessage], _ field: String) throws(MessageError) {
        for (index, value) in values.enumerated() { try nested(value, "\(field)[\(index)]") }
    }
}
