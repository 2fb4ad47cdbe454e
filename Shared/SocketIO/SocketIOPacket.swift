import Foundation

/// A Socket.IO v5 packet (socket.io-protocol v5, "Exchange protocol").
///
/// Binary is not a separate case: an event or ack whose arguments contain `.binary` is encoded as
/// BINARY_EVENT / BINARY_ACK, and decoded binary packets come back as `.event` / `.ack` with `.binary` values.
public enum SocketIOPacket: Sendable, Hashable {
    /// CONNECT (0): from the client with an optional auth object; from the server with `{"sid": …}`.
    case connect(namespace: String, payload: SocketIOObject?)
    /// DISCONNECT (1).
    case disconnect(namespace: String)
    /// EVENT (2) or BINARY_EVENT (5): `[name, ...arguments]`, with an ack id when an answer is wanted.
    case event(namespace: String, name: String, arguments: [SocketIOValue], ackID: Int?)
    /// ACK (3) or BINARY_ACK (6): the answer to the event with the same ack id.
    case ack(namespace: String, arguments: [SocketIOValue], ackID: Int)
    /// CONNECT_ERROR (4): `{"message": …, "data": …}`.
    case connectError(namespace: String, message: String, data: SocketIOValue?)

    /// The main namespace.
    public static let defaultNamespace = "/"

    /// Event names a client must never emit (socket.io-parser's RESERVED_EVENTS).
    public static let reservedEventNames: Set<String> = [
        "connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener",
    ]

    /// The packet's namespace.
    public var namespace: String {
        switch self {
        case .connect(let nsp, _), .disconnect(let nsp), .event(let nsp, _, _, _), .ack(let nsp, _, _),
            .connectError(let nsp, _, _):
            return nsp
        }
    }

    /// The wire packet type (BINARY_EVENT/BINARY_ACK when arguments contain binary).
    public var packetType: SocketIOPacketType {
        switch self {
        case .connect: return .connect
        case .disconnect: return .disconnect
        case .event(_, _, let arguments, _): return arguments.contains { $0.containsBinary } ? .binaryEvent : .event
        case .ack(_, let arguments, _): return arguments.contains { $0.containsBinary } ? .binaryAck : .ack
        case .connectError: return .connectError
        }
    }

    /// Encodes the packet once: one text packet plus its binary attachments, shareable by many sockets.
    public func encode() -> SocketIOEncodedPacket {
        // The JSON part first, so that the attachment count is known for the header.
        // Only events and acks carry attachments; binary elsewhere is written as base64 text.
        var body: JSONWriter
        switch self {
        case .event, .ack: body = JSONWriter(capacity: 64, collectingAttachments: true)
        case .connect, .disconnect, .connectError: body = JSONWriter(capacity: 64, collectingAttachments: false)
        }
        var type: SocketIOPacketType
        var id: Int? = nil
        switch self {
        case .connect(_, let payload):
            type = .connect
            if let payload { body.write(.object(payload)) }
        case .disconnect:
            type = .disconnect
        case .event(_, let name, let arguments, let ackID):
            type = .event
            id = ackID
            body.bytes.append(UInt8(ascii: "["))
            body.writeString(name)
            for argument in arguments {
                body.bytes.append(UInt8(ascii: ","))
                body.write(argument)
            }
            body.bytes.append(UInt8(ascii: "]"))
        case .ack(_, let arguments, let ackID):
            type = .ack
            id = ackID
            body.write(.array(arguments))
        case .connectError(_, let message, let data):
            type = .connectError
            var object = SocketIOObject()
            object["message"] = .string(message)
            if let data { object["data"] = data }
            body.write(.object(object))
        }
        let attachments = body.attachments ?? []
        if !attachments.isEmpty {
            if type == .event { type = .binaryEvent }
            if type == .ack { type = .binaryAck }
        }
        var header = JSONWriter(capacity: 16 + body.bytes.count, collectingAttachments: false)
        header.bytes.append(UInt8(ascii: "0") + type.rawValue)
        if type == .binaryEvent || type == .binaryAck {
            header.writeInteger(Int64(attachments.count))
            header.bytes.append(UInt8(ascii: "-"))
        }
        let nsp = namespace
        if nsp != Self.defaultNamespace {
            header.bytes.append(contentsOf: nsp.utf8)
            header.bytes.append(UInt8(ascii: ","))
        }
        if let id { header.writeInteger(Int64(id)) }
        header.bytes.append(contentsOf: body.bytes)
        return SocketIOEncodedPacket(text: header.string, attachments: attachments)
    }
}

/// The Socket.IO v5 packet type digits.
public enum SocketIOPacketType: UInt8, Sendable, Hashable, CaseIterable {
    /// CONNECT.
    case connect = 0
    /// DISCONNECT.
    case disconnect = 1
    /// EVENT.
    case event = 2
    /// ACK.
    case ack = 3
    /// CONNECT_ERROR.
    case connectError = 4
    /// BINARY_EVENT.
    case binaryEvent = 5
    /// BINARY_ACK.
    case binaryAck = 6
}

/// An encoded Socket.IO packet: the text of one Engine.IO message plus N binary attachments.
///
/// Encode a broadcast once and hand the same value (shared storage) to every socket.
public struct SocketIOEncodedPacket: Sendable, Hashable {
    /// The Socket.IO packet text (without the Engine.IO `4` prefix), e.g. `2["foo"]`.
    public let text: String
    /// The binary attachments, in placeholder order.
    public let attachments: [Data]
    /// The Engine.IO packets to send, in order: the text message, then one binary message per attachment.
    public let engineIOPackets: [EngineIOPacket]

    /// Wraps already encoded text and attachments.
    public init(text: String, attachments: [Data]) {
        self.text = text
        self.attachments = attachments
        self.engineIOPackets = [.message(text)] + attachments.map { .binaryMessage($0) }
    }
}
