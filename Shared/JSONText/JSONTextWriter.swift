/// Appends JSON text to a byte buffer: the literals, numbers and escaped strings that `JSON.parse` accepts.
/// Tree walks (Socket.IO values with attachments, messages with sorted keys) are their callers'.
public struct JSONTextWriter {
    /// The text written so far (always valid UTF-8).
    public var bytes: [UInt8] = []

    /// An empty writer.
    @inlinable
    public init(capacity: Int = 64) {
        bytes.reserveCapacity(capacity)
    }

    /// Appends ASCII text as is.
    @inlinable
    public mutating func append(_ literal: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }

    /// Appends one ASCII character.
    @inlinable
    public mutating func append(ascii byte: UInt8) {
        bytes.append(byte)
    }

    /// Integers below 2^53 print without a fraction (as JavaScript does), everything else in Swift's shortest
    /// round-trip form, which is valid JSON (`1e-07`, `1.5e+300`). A non-finite number is not written: false.
    @inlinable
    public mutating func writeNumber(_ n: Double) -> Bool {
        guard n.isFinite else { return false }
        if n == n.rounded(.towardZero), abs(n) < 9_007_199_254_740_992 {
            writeInteger(Int64(n))
        } else {
            bytes.append(contentsOf: n.description.utf8)
        }
        return true
    }

    /// Appends an integer in decimal.
    @inlinable
    public mutating func writeInteger(_ value: Int64) {
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

    /// Appends a quoted string: `"` and `\` escaped, control characters as `\n`-style or `\u00XX` escapes, `/` and
    /// everything else as is.
    @inlinable
    public mutating func writeString(_ string: String) {
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

    /// The written text.
    public var string: String { String(decoding: bytes, as: UTF8.self) }
}
