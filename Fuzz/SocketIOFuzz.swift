import Foundation

/// libFuzzer entry for the protocol edge: every byte string is fed, as the gateway would receive it, to the
/// Engine.IO WebSocket frame decoder (as text and as binary), the polling payload decoder, the Socket.IO decoder
/// (text then binary attachments) and the JSON parser. Built by `make fuzz` together with `Shared/SocketIO`; a crash,
/// a hang or a leak is a finding. Errors are the expected answer to bad input.
@_cdecl("LLVMFuzzerTestOneInput")
public func socketIOFuzz(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    let bytes = start.map { Array(UnsafeRawBufferPointer(start: $0, count: count)) } ?? []
    let text = String(decoding: bytes, as: UTF8.self)

    _ = try? EngineIOPacket(webSocketFrame: .text(text))
    _ = try? EngineIOPacket(webSocketFrame: .binary(Data(bytes)))
    _ = try? EngineIOPayload.decode(bytes: bytes, maxPayload: 1_000_000)
    _ = try? SocketIOValue(jsonBytes: bytes, maxDepth: 64)
    _ = try? EngineIOHandshake(json: text)

    // A Socket.IO packet, then (if it announced attachments) the rest of the input as binary frames.
    var decoder = SocketIODecoder()
    let split = bytes.firstIndex(of: 0) ?? bytes.count
    let head = String(decoding: bytes[..<split], as: UTF8.self)
    if let packet = try? decoder.decode(text: head) {
        _ = packet.encode()  // whatever decodes must encode again
    } else if decoder.isAwaitingAttachments {
        var rest = bytes[min(split + 1, bytes.count)...]
        while decoder.isAwaitingAttachments, !rest.isEmpty {
            let size = Int(rest.first!) + 1
            let chunk = rest.prefix(size)
            rest = rest.dropFirst(size)
            if let packet = try? decoder.decode(binary: Data(chunk)) { _ = packet.encode() }
        }
    }
    return 0
}
