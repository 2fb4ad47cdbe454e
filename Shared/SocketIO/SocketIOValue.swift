import Foundation

/// A JSON value as carried by Socket.IO packets, plus `binary` for attachments.
///
/// Numbers are IEEE doubles, exactly as `JSON.parse` in the browser sees them.
public enum SocketIOValue: Sendable, Hashable {
    /// JSON `null`.
    case null
    /// JSON `true` / `false`.
    case bool(Bool)
    /// A JSON number.
    case number(Double)
    /// A JSON string.
    case string(String)
    /// A JSON array.
    case array([SocketIOValue])
    /// A JSON object, keys kept in insertion order.
    case object(SocketIOObject)
    /// Raw bytes: a binary attachment in events and acks (`{"_placeholder":true,"num":N}` in the text), base64 text elsewhere.
    case binary(Data)
}

extension SocketIOValue {
    /// The string, if this is a `.string`.
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The number, if this is a `.number`.
    public var numberValue: Double? {
        if case .number(let n) = self { return n }
        return nil
    }

    /// The number as an `Int`, if this is a `.number` holding an exactly representable integer.
    public var intValue: Int? {
        if case .number(let n) = self, let i = Int(exactly: n) { return i }
        return nil
    }

    /// The boolean, if this is a `.bool`.
    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    /// The elements, if this is an `.array`.
    public var arrayValue: [SocketIOValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// The object, if this is an `.object`.
    public var objectValue: SocketIOObject? {
        if case .object(let o) = self { return o }
        return nil
    }

    /// The bytes, if this is a `.binary`.
    public var binaryValue: Data? {
        if case .binary(let d) = self { return d }
        return nil
    }

    /// True for `.null`.
    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// The member `key` if this is an object, else nil.
    public subscript(key: String) -> SocketIOValue? {
        objectValue?[key]
    }

    /// True if a `.binary` occurs anywhere inside this value.
    public var containsBinary: Bool {
        switch self {
        case .binary: return true
        case .array(let a): return a.contains { $0.containsBinary }
        case .object(let o): return o.contains { $0.value.containsBinary }
        case .null, .bool, .number, .string: return false
        }
    }
}

extension SocketIOValue: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral,
    ExpressibleByDictionaryLiteral
{
    /// `nil` is `.null`.
    public init(nilLiteral: ()) { self = .null }
    /// A boolean literal.
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    /// An integer literal becomes a `.number`.
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
    /// A float literal becomes a `.number`.
    public init(floatLiteral value: Double) { self = .number(value) }
    /// A string literal.
    public init(stringLiteral value: String) { self = .string(value) }
    /// An array literal.
    public init(arrayLiteral elements: SocketIOValue...) { self = .array(elements) }
    /// A dictionary literal becomes an `.object`, keys in literal order.
    public init(dictionaryLiteral elements: (String, SocketIOValue)...) {
        var object = SocketIOObject()
        for (key, value) in elements { object[key] = value }
        self = .object(object)
    }
}
