import Foundation
#if canImport(JSONText)
import JSONText
#endif

/// Encodes `Encodable` values to JSON text with sorted keys: `MessageCoding`'s writer.
///
/// Replaces Foundation's `JSONEncoder` (see ``JSONTreeDecoder`` for why) with its settings as `MessageCoding` had
/// them: keys sorted, `/` not escaped, `Date` as an RFC 3339 millisecond timestamp; a non-finite number is an error.
enum JSONTreeEncoder {
    /// The JSON text of `value`.
    static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let root = TreeEncoding(path: nil)
        try root.store(value)
        var writer = JSONTextWriter(capacity: 256)
        try root.node.write(to: &writer)
        return writer.bytes
    }
}

/// What an encoder produced for one value: a leaf, or a container filled in place.
enum EncodedValue {
    case value(JSONValue)
    case node(EncodingNode)

    // Writing builds no coding paths (an allocation per member): the one failure, a non-finite number, is reported
    // without one.
    func write(to writer: inout JSONTextWriter) throws {
        switch self {
        case .value(let value): try Self.write(value, to: &writer)
        case .node(let node): try node.write(to: &writer)
        }
    }

    static func write(_ value: JSONValue, to writer: inout JSONTextWriter) throws {
        switch value {
        case .null: writer.append("null")
        case .bool(let bool): writer.append(bool ? "true" : "false")
        case .number(let number):
            guard writer.writeNumber(number) else {
                throw EncodingError.invalidValue(number, .init(
                    codingPath: [], debugDescription: "a number is out of range (not finite)"))
            }
        case .string(let string): writer.writeString(string)
        case .array(let elements):
            writer.append(ascii: UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { writer.append(ascii: UInt8(ascii: ",")) }
                try write(element, to: &writer)
            }
            writer.append(ascii: UInt8(ascii: "]"))
        case .object(let members):
            try writeObject(members.map { ($0.key, EncodedValue.value($0.value)) }, to: &writer)
        }
    }

    static func writeObject(_ members: [(String, EncodedValue)], to writer: inout JSONTextWriter) throws {
        writer.append(ascii: UInt8(ascii: "{"))
        for (index, (key, member)) in members.sorted(by: { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) })
            .enumerated()
        {
            if index > 0 { writer.append(ascii: UInt8(ascii: ",")) }
            writer.writeString(key)
            writer.append(ascii: UInt8(ascii: ":"))
            try member.write(to: &writer)
        }
        writer.append(ascii: UInt8(ascii: "}"))
    }
}

/// A container being filled: an object, an array or a single value (nothing written yet: `{}`).
final class EncodingNode {
    var object: [(String, EncodedValue)]?
    var array: [EncodedValue]?
    var single: EncodedValue?

    func write(to writer: inout JSONTextWriter) throws {
        if let single {
            try single.write(to: &writer)
        } else if let array {
            writer.append(ascii: UInt8(ascii: "["))
            for (index, element) in array.enumerated() {
                if index > 0 { writer.append(ascii: UInt8(ascii: ",")) }
                try element.write(to: &writer)
            }
            writer.append(ascii: UInt8(ascii: "]"))
        } else {
            try EncodedValue.writeObject(object ?? [], to: &writer)
        }
    }
}

/// The encoder of one value.
final class TreeEncoding: Encoder {
    let node = EncodingNode()
    let path: TreePath?

    init(path: TreePath?) {
        self.path = path
    }

    var codingPath: [any CodingKey] { TreePath.array(path) }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if node.object == nil { node.object = [] }
        return KeyedEncodingContainer(TreeKeyedEncodingContainer<Key>(node: node, path: path))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if node.array == nil { node.array = [] }
        return TreeUnkeyedEncodingContainer(node: node, path: path)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { TreeSingleValueEncodingContainer(encoding: self) }

    /// Encodes `value` into this encoder's node.
    func store<T: Encodable>(_ value: T) throws {
        node.single = try Self.encoded(value, path: path)
    }

    /// A value's encoding: JSON values, strings, numbers, dates and UUIDs directly, anything else through its
    /// `encode(to:)`. The path is made only for the latter (a leaf needs none: an allocation per member spared).
    static func encoded<T: Encodable>(_ value: T, path: @autoclosure () -> TreePath?) throws -> EncodedValue {
        switch value {
        case let json as JSONValue: return .value(json)
        case let string as String: return .value(.string(string))
        case let uuid as UUID: return .value(.string(uuid.uuidString))  // what UUID's own encode(to:) writes
        case let bool as Bool: return .value(.bool(bool))
        case let number as Double: return .value(.number(number))
        case let int as Int: return .value(.number(Double(int)))
        case let date as Date: return .value(.string(Timestamp.string(from: date)))
        default:
            let encoding = TreeEncoding(path: path())
            try value.encode(to: encoding)
            return .node(encoding.node)
        }
    }
}

struct TreeKeyedEncodingContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let node: EncodingNode
    let path: TreePath?

    var codingPath: [any CodingKey] { TreePath.array(path) }

    private func put(_ value: EncodedValue, _ key: Key) { node.object!.append((key.stringValue, value)) }

    mutating func encodeNil(forKey key: Key) throws { put(.value(.null), key) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { put(.value(.bool(value)), key) }
    mutating func encode(_ value: String, forKey key: Key) throws { put(.value(.string(value)), key) }
    mutating func encode(_ value: Double, forKey key: Key) throws { put(.value(.number(value)), key) }
    mutating func encode(_ value: Int, forKey key: Key) throws { put(.value(.number(Double(value))), key) }
    mutating func encode(_ value: Float, forKey key: Key) throws { put(.value(.number(Double(value))), key) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { put(.value(.number(Double(value))), key) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { put(.value(.number(Double(value))), key) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { put(.value(.number(Double(value))), key) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { put(.value(.number(Double(value))), key) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { put(.value(.number(Double(value))), key) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { put(.value(.number(Double(value))), key) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { put(.value(.number(Double(value))), key) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { put(.value(.number(Double(value))), key) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { put(.value(.number(Double(value))), key) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        put(try TreeEncoding.encoded(value, path: TreePath.appending(path, key)), key)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
        -> KeyedEncodingContainer<NestedKey>
    {
        let encoding = TreeEncoding(path: TreePath.appending(path, key))
        put(.node(encoding.node), key)
        return encoding.container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let encoding = TreeEncoding(path: TreePath.appending(path, key))
        put(.node(encoding.node), key)
        return encoding.unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder { superEncoder(key: AnyCodingKey("super")) }

    mutating func superEncoder(forKey key: Key) -> any Encoder { superEncoder(key: AnyCodingKey(key.stringValue)) }

    private func superEncoder(key: AnyCodingKey) -> any Encoder {
        let encoding = TreeEncoding(path: TreePath.appending(path, key))
        node.object!.append((key.stringValue, .node(encoding.node)))
        return encoding
    }
}

struct TreeUnkeyedEncodingContainer: UnkeyedEncodingContainer {
    let node: EncodingNode
    let path: TreePath?

    var codingPath: [any CodingKey] { TreePath.array(path) }
    var count: Int { node.array!.count }

    private func nextPath() -> TreePath { TreePath.appending(path, AnyCodingKey(index: count)) }

    mutating func encodeNil() throws { node.array!.append(.value(.null)) }
    mutating func encode(_ value: Bool) throws { node.array!.append(.value(.bool(value))) }
    mutating func encode(_ value: String) throws { node.array!.append(.value(.string(value))) }
    mutating func encode(_ value: Double) throws { node.array!.append(.value(.number(value))) }
    mutating func encode(_ value: Int) throws { node.array!.append(.value(.number(Double(value)))) }
    mutating func encode(_ value: Float) throws { node.array!.append(.value(.number(Double(value)))) }
    mutating func encode(_ value: Int8) throws { node.array!.append(.value(.number(Double(value)))) }
    mutating func encode(_ value: Int16) throws { node.array!.append(.value(.number(Double(value)))) }
    mutating func encode(_ value: Int32) throws { node.array!.append(.value(.number(Double(value)))) }
    mutating func encode(_ value: Int64) throws { node.array!.append(.value(.number(Double(value)))) }
    mutating func encode(_ value: UInt) throws { node.array!.append(.value(.number(Double(value)))) }
    mutating func encode(_ value: UInt8) throws { node.array!.append(.value(.number(Double(value)))) }
    mutating func encode(_ value: UInt16) throws { node.array!.append(.value(.number(Double(value)))) }
    mutating func encode(_ value: UInt32) throws { node.array!.append(.value(.number(Double(value)))) }
    mutating func encode(_ value: UInt64) throws { node.array!.append(.value(.number(Double(value)))) }
    mutating func encode<T: Encodable>(_ value: T) throws {
        node.array!.append(try TreeEncoding.encoded(value, path: nextPath()))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type)
        -> KeyedEncodingContainer<NestedKey>
    {
        let encoding = TreeEncoding(path: nextPath())
        node.array!.append(.node(encoding.node))
        return encoding.container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let encoding = TreeEncoding(path: nextPath())
        node.array!.append(.node(encoding.node))
        return encoding.unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder {
        let encoding = TreeEncoding(path: nextPath())
        node.array!.append(.node(encoding.node))
        return encoding
    }
}

struct TreeSingleValueEncodingContainer: SingleValueEncodingContainer {
    let encoding: TreeEncoding

    var codingPath: [any CodingKey] { encoding.codingPath }

    mutating func encodeNil() throws { encoding.node.single = .value(.null) }
    mutating func encode(_ value: Bool) throws { encoding.node.single = .value(.bool(value)) }
    mutating func encode(_ value: String) throws { encoding.node.single = .value(.string(value)) }
    mutating func encode(_ value: Double) throws { encoding.node.single = .value(.number(value)) }
    mutating func encode(_ value: Int) throws { encoding.node.single = .value(.number(Double(value))) }
    mutating func encode(_ value: Float) throws { encoding.node.single = .value(.number(Double(value))) }
    mutating func encode(_ value: Int8) throws { encoding.node.single = .value(.number(Double(value))) }
    mutating func encode(_ value: Int16) throws { encoding.node.single = .value(.number(Double(value))) }
    mutating func encode(_ value: Int32) throws { encoding.node.single = .value(.number(Double(value))) }
    mutating func encode(_ value: Int64) throws { encoding.node.single = .value(.number(Double(value))) }
    mutating func encode(_ value: UInt) throws { encoding.node.single = .value(.number(Double(value))) }
    mutating func encode(_ value: UInt8) throws { encoding.node.single = .value(.number(Double(value))) }
    mutating func encode(_ value: UInt16) throws { encoding.node.single = .value(.number(Double(value))) }
    mutating func encode(_ value: UInt32) throws { encoding.node.single = .value(.number(Double(value))) }
    mutating func encode(_ value: UInt64) throws { encoding.node.single = .value(.number(Double(value))) }
    mutating func encode<T: Encodable>(_ value: T) throws {
        encoding.node.single = try TreeEncoding.encoded(value, path: encoding.path)
    }
}
