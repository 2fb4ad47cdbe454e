/// A JSON object that keeps its keys in insertion order (as JavaScript does) with O(1) lookup.
///
/// Equality ignores key order, as JSON object equality does.
public struct SocketIOObject: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral {
    /// The keys in insertion order.
    public private(set) var keys: [String] = []
    private var storage: [String: SocketIOValue] = [:]

    /// An empty object.
    public init() {}

    /// An object from a dictionary literal, keys in literal order; a repeated key keeps its first position.
    public init(dictionaryLiteral elements: (String, SocketIOValue)...) {
        for (key, value) in elements { self[key] = value }
    }

    /// The number of members.
    public var count: Int { keys.count }

    /// True if there are no members.
    public var isEmpty: Bool { keys.isEmpty }

    /// Reads, replaces (keeping the key's position), appends, or with `nil` removes a member.
    public subscript(key: String) -> SocketIOValue? {
        get { storage[key] }
        set {
            if let newValue {
                if storage.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else if storage.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }

    /// Iterates `(key, value)` pairs in insertion order.
    public func makeIterator() -> Iterator { Iterator(object: self) }

    /// An iterator over `(key, value)` pairs in insertion order.
    public struct Iterator: IteratorProtocol {
        let object: SocketIOObject
        var index = 0

        /// The next member, or nil at the end.
        public mutating func next() -> (key: String, value: SocketIOValue)? {
            guard index < object.keys.count else { return nil }
            let key = object.keys[index]
            index += 1
            return (key, object.storage[key]!)
        }
    }

    /// Order-insensitive equality.
    public static func == (lhs: SocketIOObject, rhs: SocketIOObject) -> Bool {
        lhs.storage == rhs.storage
    }

    /// Order-insensitive hash.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(storage)
    }
}
