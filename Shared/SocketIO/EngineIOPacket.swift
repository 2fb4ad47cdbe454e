import Foundation

/// An Engine.IO v4 packet (engine.io-protocol, "Protocol" and "Packet encoding").
public enum EngineIOPacket: Sendable, Hashable {
    /// `0{json}`: the handshake.
    case open(EngineIOHandshake)
    /// `1`: the transport may be closed.
    case close
    /// `2[data]`: heartbeat ping (server to client), or `2probe` on an upgrading WebSocket.
    case ping(String?)
    /// `3[data]`: heartbeat pong, or `3probe` answering a probe.
    case pong(String?)
    /// `4<text>`: a text message (carries one Socket.IO packet).
    case message(String)
    /// A binary message: a raw binary frame on WebSocket, `b<base64>` in a polling payload.
    case binaryMessage(Data)
    /// `5`: completes the upgrade to WebSocket.
    case upgrade
    /// `6`: no operation; ends a pending poll during an upgrade.
    case noop

    /// The packet-type digit, or nil for a binary message.
    public var typeDigit: Character? {
        switch self {
        case .open: "0"
        case .close: "1"
        case .ping: "2"
        case .pong: "3"
        case .message: "4"
        case .upgrade: "5"
        case .noop: "6"
        case .binaryMessage: nil
        }
    }

    /// The WebSocket frame for this packet: text `<type>[<data>]`, or a binary frame for binary messages.
    public var webSocketFrame: EngineIOFrame {
        switch self {
        case .binaryMessage(let data): return .binary(data)
        case .message(let text): return .text("4" + text)
        case .open(let handshake): return .text("0" + handshake.json)
        case .close: return .text("1")
        case .ping(let data): return .text("2" + (data ?? ""))
        case .pong(let data): return .text("3" + (data ?? ""))
        case .upgrade: return .text("5")
        case .noop: return .text("6")
        }
    }

    /// The packet as it appears inside a long-polling payload (binary as `b` + base64).
    public var pollingText: String {
        switch self {
        case .binaryMessage(let data):
            var bytes: [UInt8] = [UInt8(ascii: "b")]
            Base64.encode(data, into: &bytes)
            return String(decoding: bytes, as: UTF8.self)
        default:
            guard case .text(let text) = webSocketFrame else { preconditionFailure("only binary messages are binary") }
            return text
        }
    }

    /// The size of `pollingText` in bytes, without building it.
    var pollingByteCount: Int {
        switch self {
        case .binaryMessage(let data): return 1 + Base64.encodedLength(data.count)
        case .message(let text): return 1 + text.utf8.count
        case .ping(let data), .pong(let data): return 1 + (data?.utf8.count ?? 0)
        case .open(let handshake): return 1 + handshake.json.utf8.count
        case .close, .upgrade, .noop: return 1
        }
    }

    /// Decodes a WebSocket frame (binary frames are binary messages).
    public init(webSocketFrame frame: EngineIOFrame) throws(SocketIOError) {
        switch frame {
        case .binary(let data): self = .binaryMessage(data)
        case .text(let text): self = try EngineIOPacket(text: Substring(text), allowBase64: false)
        }
    }

    /// Decodes one text packet: `<type digit>[<data>]`, or `b<base64>` when `allowBase64` (polling).
    init(text: Substring, allowBase64: Bool) throws(SocketIOError) {
        guard let first = text.utf8.first else { throw SocketIOError(.invalidEngineIOPacket, "empty packet") }
        let rest = text.dropFirst()
        let data: String? = rest.isEmpty ? nil : String(rest)
        switch first {
        case UInt8(ascii: "0"):
            self = .open(try EngineIOHandshake(json: data ?? ""))
        case UInt8(ascii: "1"): self = .close
        case UInt8(ascii: "2"): self = .ping(data)
        case UInt8(ascii: "3"): self = .pong(data)
        case UInt8(ascii: "4"): self = .message(data ?? "")
        case UInt8(ascii: "5"): self = .upgrade
        case UInt8(ascii: "6"): self = .noop
        case UInt8(ascii: "b") where allowBase64:
            let decoded: Data? = rest.utf8.withContiguousStorageIfAvailable { Base64.decode($0) }
                ?? Array(rest.utf8).withUnsafeBufferPointer { Base64.decode($0) }
            guard let decoded else { throw SocketIOError(.invalidBase64, "binary packet is not valid base64") }
            self = .binaryMessage(decoded)
        default:
            throw SocketIOError(.invalidEngineIOPacket, "unknown packet type")
        }
    }
}
