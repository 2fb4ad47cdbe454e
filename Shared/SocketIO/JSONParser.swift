#if canImport(JSONText)
import JSONText
#endif

extension SocketIOValue: JSONTextValue {
    /// Objects keep their keys in insertion order while parsed.
    public static func emptyObject() -> SocketIOObject { SocketIOObject() }

    /// Sets a member (a repeated key keeps the last value, like `JSON.parse`).
    public static func set(_ value: SocketIOValue, forKey key: String, in object: inout SocketIOObject) {
        object[key] = value
    }
}

/// The shared JSON parser building `SocketIOValue`s, its errors as `SocketIOError`s.
enum JSONParser {
    /// Parses `text` as one complete JSON document.
    static func parse(_ text: String, maxDepth: Int) throws(SocketIOError) -> SocketIOValue {
        do {
            return try JSONTextParser<SocketIOValue>.parse(text, maxDepth: maxDepth)
        } catch {
            throw SocketIOError(error)
        }
    }

    /// Parses the document that fills `bytes` from `start` to the end.
    static func parseDocument(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, maxDepth: Int)
        throws(SocketIOError) -> SocketIOValue
    {
        var parser = JSONTextParser<SocketIOValue>(bytes: bytes, start: start, maxDepth: maxDepth)
        do {
            return try parser.parseDocument()
        } catch {
            throw SocketIOError(error)
        }
    }
}

extension SocketIOError {
    init(_ error: JSONTextError) {
        switch error.kind {
        case .invalid: self.init(.invalidJSON, error.message)
        case .tooDeep: self.init(.jsonTooDeep, error.message)
        }
    }
}

/// Runs `body` over the UTF-8 bytes of `string` without copying when the string is native.
func withUTF8<T>(
    of string: String, _ body: (UnsafeBufferPointer<UInt8>) throws(SocketIOError) -> T
) throws(SocketIOError) -> T {
    let result: Result<T, SocketIOError>? = string.utf8.withContiguousStorageIfAvailable { buffer in
        Result { () throws(SocketIOError) -> T in try body(buffer) }
    }
    if let result { return try result.get() }
    let copy = Array(string.utf8)
    return try copy.withUnsafeBufferPointer { buffer in
        Result { () throws(SocketIOError) -> T in try body(buffer) }
    }.get()
}
