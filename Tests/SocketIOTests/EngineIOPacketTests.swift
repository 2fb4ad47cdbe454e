import Foundation
import Testing

@testable import SocketIO

@Suite("Engine.IO packets")
struct EngineIOPacketTests {
    // engine.io-protocol README, "Handshake" (example payload), keys exactly sid, upgrades, pingInterval, pingTimeout, maxPayload.
    static let handshake = EngineIOHandshake(
        sid: "lv_VI97HAXpY6yYWAAAC", upgrades: ["websocket"], pingInterval: 25000, pingTimeout: 20000,
        maxPayload: 1_000_000)
    static let openText =
        #"0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#

    static let goldenText: [(EngineIOPacket, String)] = [
        (.open(handshake), openText),  // README "Handshake"
        (.close, "1"),  // README "Protocol" (packet type table: close 1)
        (.ping(nil), "2"),  // README "Heartbeat" (ping packet)
        (.pong(nil), "3"),  // README "Heartbeat" (pong packet)
        (.ping("probe"), "2probe"),  // README "Upgrade"
        (.pong("probe"), "3probe"),  // README "Upgrade"
        (.message("hello"), "4hello"),  // README "Packet encoding / WebSocket"
        (.upgrade, "5"),  // README "Upgrade" (upgrade packet)
        (.noop, "6"),  // README "Protocol" table; test-suite "upgrade" expects "6" for the pending poll
    ]

    @Test("golden text frames encode and decode")
    func goldenFrames() throws {
        for (packet, text) in Self.goldenText {
            #expect(packet.webSocketFrame == .text(text))
            #expect(try EngineIOPacket(webSocketFrame: .text(text)) == packet)
        }
    }

    @Test("binary messages are raw bytes on WebSocket (README \"Packet encoding / WebSocket\")")
    func binaryFrame() throws {
        let packet = EngineIOPacket.binaryMessage(Data([1, 2, 3, 4]))
        #expect(packet.webSocketFrame == .binary(Data([1, 2, 3, 4])))
        #expect(try EngineIOPacket(webSocketFrame: .binary(Data([1, 2, 3, 4]))) == packet)
        // README "Packet encoding / HTTP long-polling": binary as "b" + base64.
        #expect(packet.pollingText == "bAQIDBA==")
    }

    @Test("the open payload has exactly the five documented keys (socket.io-protocol \"Sample session\")")
    func openKeys() throws {
        let text =
            #"0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":5000,"maxPayload":1000000}"#
        guard case .open(let h) = try EngineIOPacket(webSocketFrame: .text(text)) else {
            Issue.record("not an open packet")
            return
        }
        #expect(h.pingTimeout == 5000)
        let keys = try SocketIOValue(json: h.json).objectValue?.keys
        #expect(keys == ["sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"])
        #expect(h.json == String(text.dropFirst()))
    }

    @Test(
        "malformed packets are errors",
        arguments: [
            ("", SocketIOError.Code.invalidEngineIOPacket),
            ("abc", .invalidEngineIOPacket),  // engine.io test-suite "closes the session upon invalid packet format"
            ("7", .invalidEngineIOPacket),
            ("bAQIDBA==", .invalidEngineIOPacket),  // base64 form is polling-only
            ("0", .invalidHandshake),
            ("0{\"sid\":1}", .invalidHandshake),
        ])
    func malformed(_ text: String, _ code: SocketIOError.Code) {
        #expect { try EngineIOPacket(webSocketFrame: .text(text)) } throws: { ($0 as? SocketIOError)?.code == code }
    }
}
