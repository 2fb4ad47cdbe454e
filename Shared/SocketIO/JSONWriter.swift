import Foundation

/// Serializes `SocketIOValue` to JSON text that `JSON.parse` accepts.
///
/// With `attachments` set, `.binary` values are extracted into it and written as Socket.IO
/// placeholders `{"_placeholder":true,"num":N}`; without, they are written as base64 strings.
struct JSONWriter {
    var bytes: [UInt8] = []
    var attachments: [Data]?

    init(capacity: Int = 64, collectingAttachments: Bool) {
        bytes.reserveCapacity(capacity)
        attachments = collectingAttachments ? [] : nil
    }

    mutating func write(_ value: SocketIOValue) {
        switch value {
        case .null: append("null")
        case .bool(let b): append(b ? "true" : "false")
        case .number(let n): writeNumber(n)
        case .string(let s): writeString(s)
        case .array(let elements):
            bytes.append(UInt8(ascii: "["))
            var first = true
            for element in elements {
                if !first { bytes.append(UInt8(ascii: ",")) }
                first = false
                write(element)
            }
            bytes.append(UInt8(ascii: "]"))
        case .object(let object):
            bytes.append(UInt8(ascii: "{"))
            var first = true
            for (key, member) in object {
                if !first { bytes.append(UInt8(ascii: ",")) }
                first = false
                writeString(key)
                bytes.append(UInt8(ascii: ":"))
                write(member)
            }
            bytes.append(UInt8(ascii: "}"))
        case .binary(let data):
            if attachments != nil {
                append("{\"_placeholder\":true,\"num\":")
                writeInteger(Int64(attachments!.count))
                bytes.append(UInt8(ascii: "}"))
                attachments!.append(data)
            } else {
                bytes.append(UInt8(ascii: "\""))
                Base64.encode(data, into: &bytes)
                bytes.append(UInt8(ascii: "\""))
            }
        }
    }

    mutating func append(_ literal: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }

    /// Integers below 2^53 print without a fraction (as JavaScript does); non-finite numbers print
    /// as `null` (as `JSON.stringify` does); everything else uses Swift's shortest round-trip form,
    /// which is valid JSON (`1e-07`, `1.5e+300`).
    mutating func writeNumber(_ n: Double) {
        guard n.isFinite else {
            append("null")
            return
        }
        if n == n.rounded(.towardZero), abs(n) < 9_007_199_254_740_992 {
            writeInteger(Int64(n))
        } else {
            bytes.append(contentsOf: n.description.utf8)
        }
    }

    mutating func writeInteger(_ value: Int64) {
        if value == 0 {
            bytes.append(UInt8(ascii: "0"))
            return
        }
        var magnitude = value.magnitude
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            while magnitude > 0 {
                buffer[count] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
                count += 1
            }
            for i in stride(from: count - 1, through: 0, by: -1) { bytes.append(buffer[i]) }
        }
    }

    mutating func writeString(_ string: String) {
        bytes.append(UInt8(ascii: "\""))
        var copy = string
        copy.withUTF8 { utf8 in
            var runStart = 0
            for i in 0..<utf8.count {
                let byte = utf8[i]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                if runStart < i { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<i])) }
                runStart = i + 1
                bytes.append(UInt8(ascii: "\\"))
                switch byte {
                case UInt8(ascii: "\""): bytes.append(UInt8(ascii: "\""))
                case UInt8(ascii: "\\"): bytes.append(UInt8(ascii: "\\"))
                case 0x08: bytes.append(UInt8(ascii: "b"))
                case 0x0C: bytes.append(UInt8(ascii: "f"))
                case 0x0A: bytes.append(UInt8(ascii: "n"))
                case 0x0D: bytes.append(UInt8(ascii: "r"))
                case 0x09: bytes.append(UInt8(ascii: "t"))
                default:
                    let hex: StaticString = "0123456789abcdef"
                    bytes.append(UInt8(ascii: "u"))
                    bytes.append(UInt8(ascii: "0"))
                    bytes.append(UInt8(ascii: "0"))
                    bytes.append(hex.utf8Start[Int(byte >> 4)])
                    bytes.append(hex.utf8Start[Int(byte & 0xF)])
                }
            }
            if runStart < utf8.count { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart...])) }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// The written text. Always valid UTF-8: only whole scalars of valid Swift strings and ASCII are written.
    var string: String { String(decoding: bytes, as: UTF8.self) }
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
