import Foundation

/// Decodes `Decodable` values from a parsed JSON tree: `MessageCoding`'s reader.
///
/// Foundation's `JSONDecoder` cost every service tens of microseconds per envelope (`biometricsctl bench codec`);
/// this walks the ``JSONValue`` the `JSONText` parser built. It behaves as `MessageCoding` configured Foundation's:
/// `Date` is an RFC 3339 millisecond timestamp string, failures are `DecodingError`s with the coding path (so
/// ``MessageCoding/messageError(from:)`` names the field), numbers that overflowed to infinity are refused.
enum JSONTreeDecoder {
    /// Decodes `T` from `value`.
    static func decode<T: Decodable>(_ type: T.Type, from value: JSONValue) throws -> T {
        try TreeDecoding(value, path: nil).unwrap(T.self)
    }
}

/// The coding path as a linked list, built into an array only when asked for (errors, strict containers).
final class TreePath: Sendable {
    let parent: TreePath?
    let key: AnyCodingKey

    init(parent: TreePath?, key: AnyCodingKey) {
        self.parent = parent
        self.key = key
    }

    static func array(_ path: TreePath?) -> [any CodingKey] {
        var keys: [any CodingKey] = []
        var node = path
        while let current = node {
            keys.append(current.key)
            node = current.parent
        }
        return keys.reversed()
    }

    static func appending(_ path: TreePath?, _ key: some CodingKey) -> TreePath {
        TreePath(parent: path, key: key.intValue.map { AnyCodingKey(index: $0) } ?? AnyCodingKey(key.stringValue))
    }
}

/// One value being decoded.
final class TreeDecoding: Decoder {
    let value: JSONValue
    let path: TreePath?

    init(_ value: JSONValue, path: TreePath?) {
        self.value = value
        self.path = path
    }

    var codingPath: [any CodingKey] { TreePath.array(path) }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let object) = value else { throw mismatch([String: JSONValue].self) }
        return KeyedDecodingContainer(TreeKeyedContainer<Key>(object: object, path: path))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .array(let elements) = value else { throw mismatch([JSONValue].self) }
        return TreeUnkeyedContainer(elements: elements, path: path)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { TreeSingleValueContainer(self) }

    func mismatch(_ type: Any.Type) -> DecodingError {
        if value == .null {
            return .valueNotFound(type, .init(codingPath: codingPath, debugDescription: "null where a value is needed"))
        }
        return .typeMismatch(type, .init(codingPath: codingPath, debugDescription: "found \(value.kind)"))
    }

    /// Decodes `T` from this value, the types Foundation's decoder special-cases included.
    func unwrap<T: Decodable>(_ type: T.Type) throws -> T {
        if T.self == String.self { return try string() as! T }
        if T.self == JSONValue.self {
            guard value.isFinite else { throw outOfRange() }
            return value as! T
        }
        if T.self == Date.self { return try date() as! T }
        if T.self == Double.self { return try double() as! T }
        if T.self == Bool.self { return try bool() as! T }
        return try T(from: self)
    }

    func string() throws -> String {
        guard case .string(let string) = value else { throw mismatch(String.self) }
        return string
    }

    func bool() throws -> Bool {
        guard case .bool(let bool) = value else { throw mismatch(Bool.self) }
        return bool
    }

    func double() throws -> Double {
        guard case .number(let number) = value else { throw mismatch(Double.self) }
        guard number.isFinite else { throw outOfRange() }
        return number
    }

    /// An integer of type `T`: a number without a fraction, in range.
    func integer<T: BinaryInteger>(_ type: T.Type) throws -> T {
        let number = try double()
        guard number.rounded() == number, let integer = T(exactly: number) else {
            throw DecodingError.dataCorrupted(.init(
                codingPath: codingPath, debugDescription: "must be an integer that fits in \(T.self)"))
        }
        return integer
    }

    func date() throws -> Date {
        let text = try string()
        guard let date = Timestamp.date(from: text) else {
            throw MessageError(
                .invalidValue, field: CodingPath.render(codingPath), "must be an RFC 3339 UTC timestamp with milliseconds")
        }
        return date
    }

    func outOfRange() -> MessageError {
        MessageError(.invalidValue, field: CodingPath.render(codingPath), "a number is out of range")
    }
}

struct TreeKeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let object: [String: JSONValue]
    let path: TreePath?

    var codingPath: [any CodingKey] { TreePath.array(path) }
    var allKeys: [Key] { object.keys.compactMap { Key(stringValue: $0) } }

    func contains(_ key: Key) -> Bool { object[key.stringValue] != nil }

    private func child(_ key: Key) throws -> TreeDecoding {
        guard let value = object[key.stringValue] else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "no value"))
        }
        return TreeDecoding(value, path: TreePath.appending(path, key))
    }

    func decodeNil(forKey key: Key) throws -> Bool { try child(key).value == .null }
    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try child(key).bool() }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try child(key).string() }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try child(key).double() }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { Float(try child(key).double()) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try child(key).integer(type) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try child(key).integer(type) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try child(key).integer(type) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try child(key).integer(type) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try child(key).integer(type) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try child(key).integer(type) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try child(key).integer(type) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try child(key).integer(type) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try child(key).integer(type) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try child(key).integer(type) }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try child(key).unwrap(type) }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws
        -> KeyedDecodingContainer<NestedKey>
    {
        try child(key).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try child(key).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder {
        TreeDecoding(object["super"] ?? .null, path: TreePath.appending(path, AnyCodingKey("super")))
    }

    func superDecoder(forKey key: Key) throws -> any Decoder {
        TreeDecoding(object[key.stringValue] ?? .null, path: TreePath.appending(path, key))
    }
}

struct TreeUnkeyedContainer: UnkeyedDecodingContainer {
    let elements: [JSONValue]
    let path: TreePath?
    private(set) var currentIndex = 0

    init(elements: [JSONValue], path: TreePath?) {
        self.elements = elements
        self.path = path
    }

    var codingPath: [any CodingKey] { TreePath.array(path) }
    var count: Int? { elements.count }
    var isAtEnd: Bool { currentIndex >= elements.count }

    private mutating func next(_ type: Any.Type) throws -> TreeDecoding {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(type, .init(
                codingPath: TreePath.array(TreePath.appending(path, AnyCodingKey(index: currentIndex))),
                debugDescription: "the array has no more elements"))
        }
        defer { currentIndex += 1 }
        return TreeDecoding(elements[currentIndex], path: TreePath.appending(path, AnyCodingKey(index: currentIndex)))
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd, elements[currentIndex] == .null else { return false }
        currentIndex += 1
        return true
    }

    mutating func decode(_ type: Bool.Type) throws -> Bool { try next(type).bool() }
    mutating func decode(_ type: String.Type) throws -> String { try next(type).string() }
    mutating func decode(_ type: Double.Type) throws -> Double { try next(type).double() }
    mutating func decode(_ type: Float.Type) throws -> Float { Float(try next(type).double()) }
    mutating func decode(_ type: Int.Type) throws -> Int { try next(type).integer(type) }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { try next(type).integer(type) }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { try next(type).integer(type) }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { try next(type).integer(type) }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try next(type).integer(type) }
    mutating func decode(_ type: UInt.Type) throws -> UInt { try next(type).integer(type) }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try next(type).integer(type) }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try next(type).integer(type) }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try next(type).integer(type) }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try next(type).integer(type) }
    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try next(type).unwrap(type) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws
        -> KeyedDecodingContainer<NestedKey>
    {
        try next([String: JSONValue].self).container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        try next([JSONValue].self).unkeyedContainer()
    }

    mutating func superDecoder() throws -> any Decoder { try next(JSONValue.self) }
}

struct TreeSingleValueContainer: SingleValueDecodingContainer {
    let decoding: TreeDecoding

    init(_ decoding: TreeDecoding) {
        self.decoding = decoding
    }

    var codingPath: [any CodingKey] { decoding.codingPath }

    func decodeNil() -> Bool { decoding.value == .null }
    func decode(_ type: Bool.Type) throws -> Bool { try decoding.bool() }
    func decode(_ type: String.Type) throws -> String { try decoding.string() }
    func decode(_ type: Double.Type) throws -> Double { try decoding.double() }
    func decode(_ type: Float.Type) throws -> Float { Float(try decoding.double()) }
    func decode(_ type: Int.Type) throws -> Int { try decoding.integer(type) }
    func decode(_ type: Int8.Type) throws -> Int8 { try decoding.integer(type) }
    func decode(_ type: Int16.Type) throws -> Int16 { try decoding.integer(type) }
    func decode(_ type: Int32.Type) throws -> Int32 { try decoding.integer(type) }
    func decode(_ type: Int64.Type) throws -> Int64 { try decoding.integer(type) }
    func decode(_ type: UInt.Type) throws -> UInt { try decoding.integer(type) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try decoding.integer(type) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try decoding.integer(type) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try decoding.integer(type) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try decoding.integer(type) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try decoding.unwrap(type) }
}

extension JSONValue {
    /// The JSON kind, for error messages.
    var kind: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }

    /// Whether every number in it is finite (the parser gives ±infinity for numbers beyond `Double`).
    var isFinite: Bool {
        switch self {
        case .number(let number): number.isFinite
        case .array(let elements): elements.allSatisfy(\.isFinite)
        case .object(let members): members.values.allSatisfy(\.isFinite)
        case .null, .bool, .string: true
        }
    }
}
