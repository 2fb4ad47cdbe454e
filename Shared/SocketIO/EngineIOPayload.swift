/// HTTP long-polling payloads: packets joined by the record separator `\u{1e}` (engine.io-protocol v4,
/// "Packet encoding / HTTP long-polling"); binary packets as `b` + base64.
///
/// The protocol assumes the separator never occurs inside a text packet; Socket.IO text never
/// contains it (JSON escapes it as `\u001e`).
public enum EngineIOPayload {
    /// The record separator.
    public static let separator: UInt8 = 0x1E

    /// Encodes packets into one payload.
    public static func encode(_ packets: [EngineIOPacket]) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(packets.reduce(0) { $0 + $1.pollingByteCount + 1 })
        for (i, packet) in packets.enumerated() {
            if i > 0 { bytes.append(separator) }
            switch packet {
            case .binaryMessage(let data):
                bytes.append(UInt8(ascii: "b"))
                Base64.encode(data, into: &bytes)
            default:
                bytes.append(contentsOf: packet.pollingText.utf8)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The byte size of `encode(packets)`.
    public static func encodedByteCount(_ packets: [EngineIOPacket]) -> Int {
        packets.reduce(max(packets.count - 1, 0)) { $0 + $1.pollingByteCount }
    }

    /// Decodes a payload; a payload over `maxPayload` bytes, empty, or with any malformed packet is an error.
    public static func decode(_ body: String, maxPayload: Int) throws(SocketIOError) -> [EngineIOPacket] {
        let utf8 = body.utf8
        guard utf8.count <= maxPayload else {
            throw SocketIOError(.payloadTooLarge, "payload of \(utf8.count) bytes exceeds maxPayload \(maxPayload)")
        }
        var packets: [EngineIOPacket] = []
        var start = utf8.startIndex
        while true {
            let end = utf8[start...].firstIndex(of: separator) ?? utf8.endIndex
            packets.append(try EngineIOPacket(text: body[start..<end], allowBase64: true))
            guard end < utf8.endIndex else { return packets }
            start = utf8.index(after: end)
        }
    }

    /// Decodes a payload from UTF-8 bytes (an HTTP POST body); invalid UTF-8 is an error.
    public static func decode(bytes: some Collection<UInt8>, maxPayload: Int) throws(SocketIOError) -> [EngineIOPacket] {
        guard bytes.count <= maxPayload else {
            throw SocketIOError(.payloadTooLarge, "payload of \(bytes.count) bytes exceeds maxPayload \(maxPayload)")
        }
        guard let body = String(validating: bytes, as: UTF8.self) else {
            throw SocketIOError(.invalidUTF8, "payload is not valid UTF-8")
        }
        return try decode(body, maxPayload: maxPayload)
    }
}
