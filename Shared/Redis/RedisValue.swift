/// A typed RESP2 reply; bulk strings keep their exact bytes so binary values round-trip.
public enum RedisValue: Sendable, Hashable {
    /// A bulk string, byte for byte (binary safe).
    case bulk([UInt8])
    /// A simple status reply such as `OK` or `PONG`.
    case status(String)
    /// A 64-bit signed integer reply.
    case integer(Int64)
    /// An array reply (possibly nested).
    case array([RedisValue])
    /// A null bulk string or null array (a missing key, a failed `SET NX`).
    case null
    /// An error reply; `send` throws it as `RedisError`, `pipeline` returns it in place.
    case error(String)

    /// The UTF-8 text of a bulk string or status reply; nil for other replies or bytes that are not UTF-8.
    public var string: String? {
        switch self {
        case .bulk(let bytes): return String(validating: bytes, as: UTF8.self)
        case .status(let text): return text
        default: return nil
        }
    }

    /// The bytes of a bulk string reply; nil for other replies.
    public var bytes: [UInt8]? {
        if case .bulk(let bytes) = self { return bytes }
        return nil
    }

    /// The value of an integer reply; nil for other replies.
    public var int: Int64? {
        if case .integer(let value) = self { return value }
        return nil
    }

    /// The elements of an array reply; nil for other replies.
    public var elements: [RedisValue]? {
        if case .array(let values) = self { return values }
        return nil
    }

    /// True for a null reply.
    public var isNull: Bool { self == .null }
}
