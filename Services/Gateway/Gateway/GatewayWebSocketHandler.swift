import Foundation
import NIOCore
import NIOWebSocket
import SocketIO

/// Engine.IO over one WebSocket: frames in, frames out through the session that owns the connection.
final class GatewayWebSocketHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    /// How the WebSocket relates to a session.
    enum Role {
        /// A new session over WebSocket.
        case new(remoteAddress: String, bearerToken: String?)
        /// The upgrade of an existing polling session.
        case upgrade(GatewaySession)
    }

    private let context: GatewayContext
    private var role: Role?
    private var session: GatewaySession?

    init(context: GatewayContext, role: Role) {
        self.context = context
        self.role = role
    }

    func handlerAdded(context channelContext: ChannelHandlerContext) {
        guard let role else { return }
        self.role = nil
        switch role {
        case .new(let remoteAddress, let bearerToken):
            session = GatewaySession.openWebSocket(channel: channelContext.channel, remoteAddress: remoteAddress,
                                                   bearerToken: bearerToken, context: context)
        case .upgrade(let existing):
            session = existing
            existing.attachUpgradeWebSocket(channelContext.channel)
        }
    }

    func channelRead(context channelContext: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        var payload = frame.unmaskedData  // client frames are masked
        switch frame.opcode {
        case .text:
            let text = payload.readString(length: payload.readableBytes) ?? ""
            session?.webSocketFrame(.text(text))
        case .binary:
            let bytes = payload.readBytes(length: payload.readableBytes) ?? []
            session?.webSocketFrame(.binary(Data(bytes)))
        case .ping:
            let pong = WebSocketFrame(fin: true, opcode: .pong, data: payload)
            channelContext.writeAndFlush(wrapOutboundOut(pong), promise: nil)
        case .connectionClose:
            let channel = channelContext.channel
            let close = WebSocketFrame(fin: true, opcode: .connectionClose, data: channel.allocator.buffer(capacity: 0))
            channelContext.writeAndFlush(wrapOutboundOut(close)).whenComplete { _ in
                channel.close(promise: nil)
            }
        default:
            break
        }
    }

    func channelWritabilityChanged(context channelContext: ChannelHandlerContext) {
        session?.webSocketWritabilityChanged(channelContext.channel, isWritable: channelContext.channel.isWritable)
        channelContext.fireChannelWritabilityChanged()
    }

    func channelInactive(context channelContext: ChannelHandlerContext) {
        session?.webSocketClosed(channelContext.channel)
        channelContext.fireChannelInactive()
    }

    func errorCaught(context channelContext: ChannelHandlerContext, error: any Error) {
        // Protocol errors (oversized frame, bad masking) end this connection only.
        channelContext.close(promise: nil)
    }
}
