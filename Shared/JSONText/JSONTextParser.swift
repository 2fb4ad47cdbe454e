/// A JSON value type the parser can build: `SocketIOValue` (keys in insertion order) and `JSONValue` (a dictionary).
/// Enum cases with these names satisfy the requirements.
public protocol JSONTextValue {
    /// How the type holds an object while it is built.
    associatedtype Object
    /// `null`.
    static var null: Self { get }
    /// `true` or `false`.
    static func bool(_ value: Bool) -> Self
    /// A number.
    static func number(_ value: Double) -> Self
    /// A string.
    static func string(_ value: String) -> Self
    /// An array.
    static func array(_ elements: [Self]) -> Self
    /// An object.
    static func object(_ object: Object) -> Self
    /// An empty object to add members to.
    static func emptyObject() -> Object
    /// Sets a member; a repeated key keeps the last value, like `JSON.parse`.
    static func set(_ value: Self, forKey key: String, in object: inout Object)
}

/// Why JSON text could not be parsed.
public struct JSONTextError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure.
    public enum Kind: Sendable { case invalid, tooDeep }
    /// The kind of failure.
    public let kind: Kind
    /// What went wrong and where (byte offset).
    public let message: String

    /// Creates an error.
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// The message.
    public var description: String { message }
}

/// A small recursive-descent JSON parser over UTF-8 bytes with a nesting-depth cap, building any ``JSONTextValue``.
///
/// The input must be valid UTF-8 (callers validate it, or take it from a Swift `String`), so string slices between
/// ASCII delimiters are valid UTF-8 as well.
public struct JSONTextParser<Value: JSONTextValue> {
    @usableFromInline let bytes: UnsafeBufferPointer<UInt8>
    @usableFromInline var index: Int
    @usableFromInline let maxDepth: Int

    /// Parses `text` as one complete JSON document.
    @inlinable
    public static func parse(_ text: String, maxDepth: Int) throws(JSONTextError) -> Value {
        var text = text
        let result: Result<Value, JSONTextError> = text.withUTF8 { buffer in
            var parser = JSONTextParser(bytes: buffer, start: 0, maxDepth: maxDepth)
            return Result { () throws(JSONTextError) -> Value in try parser.parseDocument() }
        }
        return try result.get()
    }

    /// A parser of the document starting at `start` in `bytes` (valid UTF-8).
    @inlinable
    public init(bytes: UnsafeBufferPointer<UInt8>, start: Int, maxDepth: Int) {
        self.bytes = bytes
        self.index = start
        self.maxDepth = maxDepth
    }

    /// Parses one value followed only by whitespace up to the end of the buffer.
    @inlinable
    public mutating func parseDocument() throws(JSONTextError) -> Value {
        let value = try parseValue(depth: 0)
        skipWhitespace()
        guard index == bytes.count else { throw Self.error("unexpected data after the JSON value", at: index) }
        return value
    }

    @inlinable
    static func error(_ reason: String, at offset: Int) -> JSONTextError {
        JSONTextError(.invalid, "\(reason) at byte \(offset)")
    }

    @inlinable
    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"): index += 1
            default: return
            }
        }
    }

    @inlinable
    mutating func parseValue(depth: Int) throws(JSONTextError) -> Value {
        skipWhitespace()
        guard index < bytes.count else { throw Self.error("unexpected end of input", at: index) }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return Value.null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
        default: throw Self.error("unexpected character", at: index)
        }
    }

    @inlinable
    mutating func expectLiteral(_ literal: StaticString) throws(JSONTextError) {
        let count = literal.utf8CodeUnitCount
        guard bytes.count - index >= count else { throw Self.error("invalid literal", at: index) }
        let start = literal.utf8Start
        for offset in 0..<count where bytes[index + offset] != start[offset] {
            throw Self.error("invalid literal", at: index)
        }
        index += count
    }

    @inlinable
    mutating func parseArray(depth: Int) throws(JSONTextError) -> Value {
        guard depth <= maxDepth else {
            throw JSONTextError(.tooDeep, "JSON nesting exceeds \(maxDepth) levels at byte \(index)")
        }
        index += 1  // [
        var elements: [Value] = []
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
            index += 1
            return .array(elements)
        }
        while true {
            elements.append(try parseValue(depth: depth))
            skipWhitespace()
            guard index < bytes.count else { throw Self.error("unterminated array", at: index) }
            switch bytes[index] {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "]"): index += 1; return .array(elements)
            default: throw Self.error("expected ',' or ']'", at: index)
            }
        }
    }

    @inlinable
    mutating func parseObject(depth: Int) throws(JSONTextError) -> Value {
        guard depth <= maxDepth else {
            throw JSONTextError(.tooDeep, "JSON nesting exceeds \(maxDepth) levels at byte \(index)")
        }
        index += 1  // {
        var object = Value.emptyObject()
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            return .object(object)
        }
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                throw Self.error("expected a string key", at: index)
            }
            let key = try parseString()
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else {
                throw Self.error("expected ':'", at: index)
            }
            index += 1
            Value.set(try parseValue(depth: depth), forKey: key, in: &object)
            skipWhitespace()
            guard index < bytes.count else { throw Self.error("unterminated object", at: index) }
            switch bytes[index] {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "}"): index += 1; return .object(object)
            default: throw Self.error("expected ',' or '}'", at: index)
            }
        }
    }

    @inlinable
    mutating func parseString() throws(JSONTextError) -> String {
        index += 1  // opening quote
        let start = index
        // Fast path: no escapes.
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let string = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
                index += 1
                return string
            }
            if byte == UInt8(ascii: "\\") { break }
            if byte < 0x20 { throw Self.error("control character in string", at: index) }
            index += 1
        }
        guard index < bytes.count else { throw Self.error("unterminated string", at: start - 1) }
        var out: [UInt8] = []
        out.reserveCapacity(index - start + 16)
        out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<index]))
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                index += 1
                guard index < bytes.count else { throw Self.error("unterminated escape", at: index) }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""): out.append(UInt8(ascii: "\""))
                case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\"))
                case UInt8(ascii: "/"): out.append(UInt8(ascii: "/"))
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"): appendScalar(try parseUnicodeEscape(), to: &out)
                default: throw Self.error("invalid escape", at: index - 1)
                }
            default:
                if byte < 0x20 { throw Self.error("control character in string", at: index) }
                out.append(byte)
                index += 1
            }
        }
        throw Self.error("unterminated string", at: start - 1)
    }

    /// Parses the 4 hex digits after `\u` (and a following low surrogate escape if needed).
    /// Lone surrogates, which JavaScript strings may hold but Swift strings cannot, become U+FFFD.
    @inlinable
    mutating func parseUnicodeEscape() throws(JSONTextError) -> Unicode.Scalar {
        let unit = try parseHex4()
        switch unit {
        case 0xD800...0xDBFF:
            if bytes.count - index >= 6, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") {
                let save = index
                index += 2
                let low = try parseHex4()
                if (0xDC00...0xDFFF).contains(low) {
                    let value = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
                    return Unicode.Scalar(value)!
                }
                index = save  // not a pair: re-read the second escape on its own
            }
            return "\u{FFFD}"
        case 0xDC00...0xDFFF:
            return "\u{FFFD}"
        default:
            return Unicode.Scalar(unit)!
        }
    }

    @inlinable
    mutating func parseHex4() throws(JSONTextError) -> UInt16 {
        guard bytes.count - index >= 4 else { throw Self.error("truncated \\u escape", at: index) }
        var value: UInt16 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw Self.error("invalid hex digit in \\u escape", at: index)
            }
            value = value << 4 | UInt16(digit)
            index += 1
        }
        return value
    }

    @inlinable
    func appendScalar(_ scalar: Unicode.Scalar, to out: inout [UInt8]) {
        for unit in UTF8.encode(scalar)! { out.append(unit) }
    }

    @inlinable
    mutating func parseNumber() throws(JSONTextError) -> Double {
        let start = index
        var negative = false
        if bytes[index] == UInt8(ascii: "-") {
            negative = true
            index += 1
        }
        // Integer part: "0" or [1-9][0-9]*.
        guard index < bytes.count, isDigit(bytes[index]) else { throw Self.error("invalid number", at: start) }
        var integer: Int64 = 0
        var digits = 0
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
            digits = 1
            if index < bytes.count, isDigit(bytes[index]) { throw Self.error("leading zero in number", at: start) }
        } else {
            while index < bytes.count, isDigit(bytes[index]) {
                if digits < 18 { integer = integer * 10 + Int64(bytes[index] - UInt8(ascii: "0")) }
                digits += 1
                index += 1
            }
        }
        var isInteger = true
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            isInteger = false
            index += 1
            guard index < bytes.count, isDigit(bytes[index]) else { throw Self.error("invalid fraction", at: start) }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            isInteger = false
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count, isDigit(bytes[index]) else { throw Self.error("invalid exponent", at: start) }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if isInteger && digits <= 15 {
            // Exact: every integer below 2^53 is a double.
            let value = Double(integer)
            return negative ? -value : value
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        guard let value = Double(text) else { throw Self.error("invalid number", at: start) }
        return value  // overflow gives ±infinity, as JSON.parse does
    }

    @inlinable
    func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }
}
