/// A coding key for any string or index.
struct AnyCodingKey: CodingKey {
    var stringValue: String
    var intValue: Int?

    init(_ string: String) {
        stringValue = string
        intValue = nil
    }

    init?(stringValue: String) { self.init(stringValue) }

    init?(intValue: Int) {
        self.init(index: intValue)
    }

    /// The key of an array element (rendered `[index]` in field names).
    init(index: Int) {
        stringValue = "Index \(index)"
        intValue = index
    }
}

/// A keyed container that rejects keys its type does not define (JSON Schema `additionalProperties: false`)
/// and explicit `null` for optional fields (the schemas allow omission, not null).
struct StrictContainer<Key: CodingKey & CaseIterable> {
    let base: KeyedDecodingContainer<Key>
    private let decoder: any Decoder
    /// Built only for errors: most objects decode without one.
    var codingPath: [any CodingKey] { decoder.codingPath }

    /// Opens the decoder's object; throws `unknown_field` for a key outside `Key` and `ignoring`.
    init(_ decoder: any Decoder, ignoring: Set<String> = []) throws {
        // Checked key by key (no set of known keys built per object: this runs for every object of every message);
        // the first unknown key in sorted order is reported, so the error does not depend on key order.
        func isUnknown(_ key: String) -> Bool { Key(stringValue: key) == nil && !ignoring.contains(key) }
        let unknown: String?
        if let tree = decoder as? TreeDecoding, case .object(let object) = tree.value {
            unknown = object.keys.lazy.filter(isUnknown).min()  // MessageCoding's decoder: no key boxing
        } else {
            unknown = try decoder.container(keyedBy: AnyCodingKey.self).allKeys.lazy.map(\.stringValue)
                .filter(isUnknown).min()
        }
        if let unknown {
            throw MessageError(
                .unknownField, field: CodingPath.render(decoder.codingPath, AnyCodingKey(unknown)), "is not allowed")
        }
        base = try decoder.container(keyedBy: Key.self)
        self.decoder = decoder
    }

    /// The field's value; `missing_field` when absent.
    func required<T: Decodable>(_ key: Key, as type: T.Type = T.self) throws -> T {
        guard base.contains(key) else {
            throw MessageError(.missingField, field: CodingPath.render(codingPath, key), "is required")
        }
        return try decodeValue(T.self, key)
    }

    /// The field's value or nil when absent; `invalid_value` for an explicit null.
    func optional<T: Decodable>(_ key: Key, as type: T.Type = T.self) throws -> T? {
        guard base.contains(key) else { return nil }
        if try base.decodeNil(forKey: key) {
            throw MessageError(
                .invalidValue, field: CodingPath.render(codingPath, key), "must not be null (omit the field instead)")
        }
        return try decodeValue(T.self, key)
    }

    /// Decodes a present value; integers go through `Double` so that `2.5` names the field and `1.0` is 1, as in
    /// JSON Schema.
    private func decodeValue<T: Decodable>(_ type: T.Type, _ key: Key) throws -> T {
        guard T.self == Int.self else { return try base.decode(T.self, forKey: key) }
        let number: Double
        do {
            number = try base.decode(Double.self, forKey: key)
        } catch DecodingError.typeMismatch {
            throw MessageError(.invalidValue, field: CodingPath.render(codingPath, key), "must be an integer")
        }
        guard number.rounded() == number, abs(number) <= Double(MessageLimits.maxAckId) else {
            throw MessageError(
                .invalidValue, field: CodingPath.render(codingPath, key),
                "must be an integer of magnitude at most 2^53 - 1")
        }
        return Int(number) as! T
    }

    /// A free-form field that may hold any JSON including null; nil when absent.
    func optionalJSON(_ key: Key) throws -> JSONValue? {
        guard base.contains(key) else { return nil }
        return try base.decode(JSONValue.self, forKey: key)
    }
}

extension Decoder {
    /// Requires an object with no members (payload-less events).
    func expectEmptyObject() throws {
        let raw = try container(keyedBy: AnyCodingKey.self)
        if let unknown = raw.allKeys.map(\.stringValue).sorted().first {
            throw MessageError(
                .unknownField, field: CodingPath.render(codingPath, AnyCodingKey(unknown)), "is not allowed")
        }
    }
}

extension Encoder {
    /// Writes an empty object.
    func encodeEmptyObject() {
        _ = container(keyedBy: AnyCodingKey.self)
    }
}

/// Decoding of string enums that names the field and the allowed values.
enum StrictEnum {
    static func decode<E: RawRepresentable & CaseIterable>(
        _ type: E.Type, from decoder: any Decoder
    ) throws -> E where E.RawValue == String {
        let raw = try decoder.singleValueContainer().decode(String.self)
        guard let value = E(rawValue: raw) else {
            let allowed = E.allCases.map(\.rawValue).joined(separator: ", ")
            throw MessageError(.invalidValue, field: CodingPath.render(decoder.codingPath), "must be one of \(allowed)")
        }
        return value
    }
}
