import Foundation

/// Decodes Socket.IO v5 packets from Engine.IO messages, reassembling BINARY_EVENT / BINARY_ACK
/// packets: after a binary packet's text it collects the announced number of binary messages,
/// then replaces each `{"_placeholder":true,"num":N}` with the N-th attachment.
public struct SocketIODecoder: Sendable {
    /// Bounds applied while decoding untrusted input.
    public struct Limits: Sendable, Hashable {
        /// Maximum attachments a binary packet may announce (socket.io-parser's default is 10).
        public var maxAttachments: Int
        /// Maximum JSON nesting depth of a payload.
        public var maxDepth: Int
        /// Maximum namespace length in bytes.
        public var maxNamespaceLength: Int

        /// Creates limits; the defaults are 10 attachments, depth 64 and 128-byte namespaces.
        public init(maxAttachments: Int = 10, maxDepth: Int = 64, maxNamespaceLength: Int = 128) {
            self.maxAttachments = maxAttachments
            self.maxDepth = maxDepth
            self.maxNamespaceLength = maxNamespaceLength
        }
    }

    private struct Header {
        var type: SocketIOPacketType
        var attachments: Int
        var namespace: String
        var ackID: Int?
    }

    private struct Pending {
        var header: Header
        var payload: SocketIOValue
        var buffers: [Data]
    }

    /// The limits in force.
    public let limits: Limits
    private var pending: Pending?

    /// Creates a decoder.
    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// True while a binary packet waits for attachments.
    public var isAwaitingAttachments: Bool { pending != nil }

    /// Drops a partially received binary packet.
    public mutating func reset() { pending = nil }

    /// Feeds one Engine.IO message; returns a packet once complete, nil while attachments are awaited.
    public mutating func decode(_ message: EngineIOPacket) throws(SocketIOError) -> SocketIOPacket? {
        switch message {
        case .message(let text): return try decode(text: text)
        case .binaryMessage(let data): return try decode(binary: data)
        case .open, .close, .ping, .pong, .upgrade, .noop:
            throw SocketIOError(.invalidEngineIOPacket, "only Engine.IO messages carry Socket.IO packets")
        }
    }

    /// Feeds the text of one Engine.IO message.
    public mutating func decode(text: String) throws(SocketIOError) -> SocketIOPacket? {
        guard pending == nil else {
            pending = nil
            throw SocketIOError(.unexpectedText, "got a text packet while reassembling a binary packet")
        }
        let limits = self.limits
        let (header, payload) = try withUTF8(of: text) { (bytes) throws(SocketIOError) in
            try Self.parse(bytes, limits: limits)
        }
        try Self.validate(header: header, payload: payload)
        guard header.type == .binaryEvent || header.type == .binaryAck else {
            return Self.packet(header: header, payload: payload)
        }
        let payloadValue = payload!  // validate() guarantees an array
        var referenced = [Bool](repeating: false, count: header.attachments)
        try Self.checkPlaceholders(in: payloadValue, referenced: &referenced)
        guard referenced.allSatisfy({ $0 }) else {
            throw SocketIOError(.attachmentMismatch, "\(header.attachments) attachments announced but not all referenced")
        }
        if header.attachments == 0 { return Self.packet(header: header, payload: payloadValue) }
        pending = Pending(header: header, payload: payloadValue, buffers: [])
        return nil
    }

    /// Feeds one binary Engine.IO message (an attachment).
    public mutating func decode(binary: Data) throws(SocketIOError) -> SocketIOPacket? {
        guard var current = pending else {
            throw SocketIOError(.unexpectedBinary, "got binary data while no binary packet was being reassembled")
        }
        current.buffers.append(binary)
        guard current.buffers.count == current.header.attachments else {
            pending = current
            return nil
        }
        pending = nil
        let payload = Self.reconstruct(current.payload, buffers: current.buffers)
        return Self.packet(header: current.header, payload: payload)
    }

    // MARK: - Parsing

    /// `<type>[<attachments>-][<namespace>,][<ack id>][<JSON>]`
    private static func parse(
        _ bytes: UnsafeBufferPointer<UInt8>, limits: Limits
    ) throws(SocketIOError) -> (Header, SocketIOValue?) {
        guard let first = bytes.first else { throw SocketIOError(.unknownPacketType, "empty packet") }
        guard first >= UInt8(ascii: "0"), let type = SocketIOPacketType(rawValue: first &- UInt8(ascii: "0")) else {
            throw SocketIOError(.unknownPacketType, "unknown packet type")
        }
        var i = 1
        var attachments = 0
        if type == .binaryEvent || type == .binaryAck {
            let start = i
            var count = 0
            while i < bytes.count, isDigit(bytes[i]) {
                if i - start < 9 { count = count * 10 + Int(bytes[i] - UInt8(ascii: "0")) }
                i += 1
            }
            guard i > start, i < bytes.count, bytes[i] == UInt8(ascii: "-") else {
                throw SocketIOError(.invalidAttachments, "binary packet lacks '<count>-'")
            }
            guard i - start <= 9, count <= limits.maxAttachments else {
                throw SocketIOError(.tooManyAttachments, "more than \(limits.maxAttachments) attachments")
            }
            attachments = count
            i += 1
        }
        var namespace = SocketIOPacket.defaultNamespace
        if i < bytes.count, bytes[i] == UInt8(ascii: "/") {
            let start = i
            while i < bytes.count, bytes[i] != UInt8(ascii: ",") {
                let byte = bytes[i]
                guard byte > 0x20, byte < 0x7F, byte != UInt8(ascii: "\""), byte != UInt8(ascii: "["),
                    byte != UInt8(ascii: "]"), byte != UInt8(ascii: "{"), byte != UInt8(ascii: "}"),
                    byte != UInt8(ascii: "\\")
                else { throw SocketIOError(.invalidNamespace, "invalid character in namespace") }
                i += 1
            }
            guard i - start <= limits.maxNamespaceLength else {
                throw SocketIOError(.invalidNamespace, "namespace longer than \(limits.maxNamespaceLength) bytes")
            }
            namespace = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
            if i < bytes.count { i += 1 }  // the ','
        }
        var ackID: Int? = nil
        if i < bytes.count, isDigit(bytes[i]) {
            let start = i
            var id = 0
            while i < bytes.count, isDigit(bytes[i]) {
                guard i - start < 16 else { throw SocketIOError(.invalidAckID, "ack id too long") }
                id = id * 10 + Int(bytes[i] - UInt8(ascii: "0"))
                i += 1
            }
            guard id <= maxAckID else { throw SocketIOError(.invalidAckID, "ack id above 2^53-1") }
            ackID = id
        }
        var payload: SocketIOValue? = nil
        if i < bytes.count {
            payload = try JSONParser.parseDocument(bytes, from: i, maxDepth: limits.maxDepth)
        }
        return (Header(type: type, attachments: attachments, namespace: namespace, ackID: ackID), payload)
    }

    /// The largest ack id (JavaScript's `Number.MAX_SAFE_INTEGER`).
    static let maxAckID = 9_007_199_254_740_991

    private static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    /// The payload rules of socket.io-parser's `isPayloadValid`, made strict where the spec says MUST.
    private static func validate(header: Header, payload: SocketIOValue?) throws(SocketIOError) {
        switch header.type {
        case .connect:
            if let payload, payload.objectValue == nil {
                throw SocketIOError(.invalidPayload, "CONNECT payload must be an object")
            }
            if header.ackID != nil { throw SocketIOError(.invalidAckID, "CONNECT cannot carry an ack id") }
        case .disconnect:
            if payload != nil { throw SocketIOError(.invalidPayload, "DISCONNECT carries no payload") }
            if header.ackID != nil { throw SocketIOError(.invalidAckID, "DISCONNECT cannot carry an ack id") }
        case .connectError:
            guard let payload, payload.objectValue?["message"]?.stringValue != nil || payload.stringValue != nil else {
                throw SocketIOError(.invalidPayload, "CONNECT_ERROR payload must be {\"message\": …} or a string")
            }
            if header.ackID != nil { throw SocketIOError(.invalidAckID, "CONNECT_ERROR cannot carry an ack id") }
        case .event, .binaryEvent:
            guard let elements = payload?.arrayValue, let name = elements.first?.stringValue else {
                throw SocketIOError(.invalidPayload, "EVENT payload must be a non-empty array starting with the event name")
            }
            if SocketIOPacket.reservedEventNames.contains(name) {
                throw SocketIOError(.reservedEventName, "\"\(name)\" is a reserved event name")
            }
        case .ack, .binaryAck:
            guard payload?.arrayValue != nil else { throw SocketIOError(.invalidPayload, "ACK payload must be an array") }
            guard header.ackID != nil else { throw SocketIOError(.invalidAckID, "ACK without an ack id") }
        }
    }

    private static func placeholderIndex(_ object: SocketIOObject) -> Int?? {
        guard object["_placeholder"] == .bool(true) else { return .none }  // not a placeholder
        return .some(object["num"]?.intValue)
    }

    private static func checkPlaceholders(in value: SocketIOValue, referenced: inout [Bool]) throws(SocketIOError) {
        switch value {
        case .array(let elements):
            for element in elements { try checkPlaceholders(in: element, referenced: &referenced) }
        case .object(let object):
            if case .some(let index) = placeholderIndex(object) {
                guard let index, index >= 0, index < referenced.count else {
                    throw SocketIOError(.attachmentMismatch, "placeholder refers to a missing attachment")
                }
                referenced[index] = true
                return
            }
            for (_, member) in object { try checkPlaceholders(in: member, referenced: &referenced) }
        case .null, .bool, .number, .string, .binary:
            return
        }
    }

    private static func reconstruct(_ value: SocketIOValue, buffers: [Data]) -> SocketIOValue {
        switch value {
        case .array(let elements):
            return .array(elements.map { reconstruct($0, buffers: buffers) })
        case .object(let object):
            if case .some(.some(let index)) = placeholderIndex(object) { return .binary(buffers[index]) }
            var copy = SocketIOObject()
            for (key, member) in object { copy[key] = reconstruct(member, buffers: buffers) }
            return .object(copy)
        case .null, .bool, .number, .string, .binary:
            return value
        }
    }

    /// Builds the packet from a validated header and payload.
    private static func packet(header: Header, payload: SocketIOValue?) -> SocketIOPacket {
        let nsp = header.namespace
        switch header.type {
        case .connect:
            return .connect(namespace: nsp, payload: payload?.objectValue)
        case .disconnect:
            return .disconnect(namespace: nsp)
        case .event, .binaryEvent:
            let elements = payload?.arrayValue ?? []
            return .event(
                namespace: nsp, name: elements.first?.stringValue ?? "",
                arguments: Array(elements.dropFirst()), ackID: header.ackID)
        case .ack, .binaryAck:
            return .ack(namespace: nsp, arguments: payload?.arrayValue ?? [], ackID: header.ackID ?? 0)
        case .connectError:
            if let message = payload?.stringValue { return .connectError(namespace: nsp, message: message, data: nil) }
            let object = payload?.objectValue
            return .connectError(namespace: nsp, message: object?["message"]?.stringValue ?? "", data: object?["data"])
        }
    }
}
