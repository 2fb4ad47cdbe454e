import Foundation
#if canImport(JSONText)
import JSONText
#endif

/// Serializes `SocketIOValue` to JSON text that `JSON.parse` accepts.
///
/// With `attachments` set, `.binary` values are extracted into it and written as Socket.IO
/// placeholders `{"_placeholder":true,"num":N}`; without, they are written as base64 strings.
struct JSONWriter {
    var text: JSONTextWriter
    var attachments: [Data]?

    init(capacity: Int = 64, collectingAttachments: Bool) {
        text = JSONTextWriter(capacity: capacity)
        attachments = collectingAttachments ? [] : nil
    }

    /// The text written so far, for packet framing around it.
    var bytes: [UInt8] {
        get { text.bytes }
        _modify { yield &text.bytes }
    }

    mutating func writeString(_ string: String) { text.writeString(string) }

    mutating func writeInteger(_ value: Int64) { text.writeInteger(value) }

    mutating func write(_ value: SocketIOValue) {
        switch value {
        case .null: text.append("null")
        case .bool(let b): text.append(b ? "true" : "false")
        // Non-finite numbers print as `null`, as `JSON.stringify` does.
        case .number(let n): if !text.writeNumber(n) { text.append("null") }
        case .string(let s): text.writeString(s)
        case .array(let elements):
            text.append(ascii: UInt8(ascii: "["))
            var first = true
            for element in elements {
                if !first { text.append(ascii: UInt8(ascii: ",")) }
                first = false
                write(element)
            }
            text.append(ascii: UInt8(ascii: "]"))
        case .object(let object):
            text.append(ascii: UInt8(ascii: "{"))
            var first = true
            for (key, member) in object {
                if !first { text.append(ascii: UInt8(ascii: ",")) }
                first = false
                text.writeString(key)
                text.append(ascii: UInt8(ascii: ":"))
                write(member)
            }
            text.append(ascii: UInt8(ascii: "}"))
        case .binary(let data):
            if attachments != nil {
                text.append("{\"_placeholder\":true,\"num\":")
                text.writeInteger(Int64(attachments!.count))
                text.append(ascii: UInt8(ascii: "}"))
                attachments!.append(data)
            } else {
                text.append(ascii: UInt8(ascii: "\""))
                Base64.encode(data, into: &text.bytes)
                text.append(ascii: UInt8(ascii: "\""))
            }
        }
    }

    /// The written text. Always valid UTF-8: only whole scalars of valid Swift strings and ASCII are written.
    var string: String { text.string }
}

extension SocketIOValue {
    /// Parses one JSON document; nesting deeper than `maxDepth` arrays/objects is an error.
    public init(json: String, maxDepth: Int = 64) throws(SocketIOError) {
        self = try JSONParser.parse(json, maxDepth: maxDepth)
    }

    /// Parses one JSON document from UTF-8 bytes (validated).
    public init(jsonBytes: some Collection<UInt8>, maxDepth: Int = 64) throws(SocketIOError) {
        guard let text = String(validating: jsonBytes, as: UTF8.self) else {
            throw SocketIOError(.invalidUTF8, "JSON text is not valid UTF-8")
        }
        self = try JSONParser.parse(text, maxDepth: maxDepth)
    }

    /// Compact JSON text; `.binary` values are written as base64 strings (Socket.IO packets use attachments instead).
    public var jsonString: String {
        var writer = JSONWriter(collectingAttachments: false)
        writer.write(self)
        return writer.string
    }
}
