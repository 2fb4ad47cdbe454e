import NIOCore
import NIOWebSocket
import SocketIO

/// A Socket.IO packet on its way to many sockets: encoded once, and its WebSocket frames built once too, so a room
/// fan-out writes the same buffers to every member instead of re-encoding the Engine.IO text per socket.
struct OutboundPacket: Sendable {
    /// The Socket.IO encoding (for polling sessions, which buffer Engine.IO packets).
    let encoded: SocketIOEncodedPacket
    /// The Engine.IO packets as unmasked server WebSocket frames: the text message, then one binary frame per
    /// attachment.
    let webSocketFrames: [WebSocketFrame]

    /// Builds the frames of `encoded`.
    init(_ encoded: SocketIOEncodedPacket) {
        self.encoded = encoded
        let allocator = ByteBufferAllocator()
        webSocketFrames = encoded.engineIOPackets.map { packet in
            switch packet.webSocketFrame {
            case .text(let text): WebSocketFrame(fin: true, opcode: .text, data: allocator.buffer(string: text))
            case .binary(let data): WebSocketFrame(fin: true, opcode: .binary, data: allocator.buffer(bytes: data))
            }
        }
    }
}
