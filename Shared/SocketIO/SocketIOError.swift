/// The one error type of the SocketIO module: a stable `code` plus a human-readable `message`.
public struct SocketIOError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Stable error codes; their raw values are safe to log, count and document.
    public enum Code: String, Sendable, Hashable, CaseIterable {
        /// The text is not valid JSON (syntax, bad escape, bad number, trailing data).
        case invalidJSON = "json.invalid"
        /// JSON arrays/objects nest deeper than the configured maximum depth.
        case jsonTooDeep = "json.too_deep"
        /// Bytes that must be UTF-8 are not.
        case invalidUTF8 = "encoding.invalid_utf8"
        /// A base64 payload (`b…` polling packet) does not decode.
        case invalidBase64 = "engineio.invalid_base64"
        /// An Engine.IO packet is empty or has an unknown type.
        case invalidEngineIOPacket = "engineio.invalid_packet"
        /// An Engine.IO OPEN packet payload is not a valid handshake object.
        case invalidHandshake = "engineio.invalid_handshake"
        /// A polling payload or WebSocket frame exceeds `maxPayload`.
        case payloadTooLarge = "engineio.payload_too_large"
        /// A second long-polling GET arrived while one was pending.
        case concurrentPoll = "engineio.concurrent_poll"
        /// A second long-polling POST arrived while one was in flight.
        case concurrentPost = "engineio.concurrent_post"
        /// A request or WebSocket does not fit the session's transport (e.g. GET after upgrade).
        case transportMismatch = "engineio.transport_mismatch"
        /// The session is closed; the request is refused.
        case sessionClosed = "engineio.session_closed"
        /// A long-polling request failed or was aborted before completing.
        case transportFailure = "engineio.transport_failure"
        /// A Socket.IO packet has an unknown type.
        case unknownPacketType = "socketio.unknown_packet_type"
        /// A Socket.IO namespace is malformed or too long.
        case invalidNamespace = "socketio.invalid_namespace"
        /// An ack id is malformed, too large, missing where required or present where forbidden.
        case invalidAckID = "socketio.invalid_ack_id"
        /// A binary packet's attachment count is malformed.
        case invalidAttachments = "socketio.invalid_attachments"
        /// A binary packet announces more attachments than allowed.
        case tooManyAttachments = "socketio.too_many_attachments"
        /// Placeholders and announced attachments do not match.
        case attachmentMismatch = "socketio.attachment_mismatch"
        /// A binary frame arrived while no binary packet was being reassembled.
        case unexpectedBinary = "socketio.unexpected_binary"
        /// A text packet arrived while binary attachments were still expected.
        case unexpectedText = "socketio.unexpected_text"
        /// The payload's shape does not fit the packet type (e.g. EVENT not a non-empty array).
        case invalidPayload = "socketio.invalid_payload"
        /// A client emitted a reserved event name (`connect`, `disconnect`, …).
        case reservedEventName = "socketio.reserved_event"
        /// A packet arrived that the protocol forbids in the current state (e.g. EVENT before CONNECT).
        case protocolViolation = "socketio.protocol_violation"
    }

    /// The stable machine-readable code.
    public let code: Code
    /// A human-readable reason.
    public let message: String

    /// Creates an error with a code and a reason.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The HTTP status a long-polling request refused with this error should get (413 or 400).
    public var httpStatus: Int { code == .payloadTooLarge ? 413 : 400 }

    /// `code: message`.
    public var description: String { "\(code.rawValue): \(message)" }
}
