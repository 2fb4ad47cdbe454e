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

@Suite("Engine.IO polling payloads")
struct EngineIOPayloadTests {
    @Test("README \"Packet encoding / HTTP long-polling\": 4hello\\x1e2\\x1e4world")
    func textPayload() throws {
        let packets: [EngineIOPacket] = [.message("hello"), .ping(nil), .message("world")]
        #expect(EngineIOPayload.encode(packets) == "4hello\u{1e}2\u{1e}4world")
        #expect(try EngineIOPayload.decode("4hello\u{1e}2\u{1e}4world", maxPayload: 1000) == packets)
        #expect(EngineIOPayload.encodedByteCount(packets) == "4hello\u{1e}2\u{1e}4world".utf8.count)
    }

    @Test("README \"Packet encoding / HTTP long-polling\": mixed text and binary 4hello\\x1ebAQIDBA==")
    func mixedPayload() throws {
        let packets: [EngineIOPacket] = [.message("hello"), .binaryMessage(Data([1, 2, 3, 4]))]
        #expect(EngineIOPayload.encode(packets) == "4hello\u{1e}bAQIDBA==")
        #expect(try EngineIOPayload.decode(bytes: Array("4hello\u{1e}bAQIDBA==".utf8), maxPayload: 1000) == packets)
        #expect(EngineIOPayload.encodedByteCount(packets) == 16)
    }

    @Test("engine.io test-suite: several plain text packets, unicode and binary of every length round-trip")
    func roundTrips() throws {
        let text = "4test1\u{1e}4test2\u{1e}4test3"  // test-suite "several plain text packets"
        #expect(try EngineIOPayload.decode(text, maxPayload: 100).count == 3)
        for length in 0..<8 {
            let data = Data((0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 200) })
            let packets: [EngineIOPacket] = [.binaryMessage(data), .message("€ 😀"), .binaryMessage(data)]
            let encoded = EngineIOPayload.encode(packets)
            #expect(try EngineIOPayload.decode(encoded, maxPayload: 1000) == packets)
            #expect(EngineIOPayload.encodedByteCount(packets) == encoded.utf8.count)
        }
        #expect(try EngineIOPayload.decode("bAQIDBA", maxPayload: 100) == [.binaryMessage(Data([1, 2, 3, 4]))])
    }

    @Test("a payload over maxPayload is refused")
    func tooLarge() {
        let body = String(repeating: "4aaaaaaaa\u{1e}", count: 20) + "4end"
        #expect { try EngineIOPayload.decode(body, maxPayload: 100) } throws: {
            ($0 as? SocketIOError)?.code == .payloadTooLarge
        }
        #expect { try EngineIOPayload.decode(bytes: Array(body.utf8), maxPayload: 100) } throws: {
            ($0 as? SocketIOError)?.code == .payloadTooLarge
        }
    }

    @Test(
        "malformed payloads are refused",
        arguments: [
            ("", SocketIOError.Code.invalidEngineIOPacket), ("4a\u{1e}\u{1e}4b", .invalidEngineIOPacket),
            ("4a\u{1e}", .invalidEngineIOPacket), ("4a\u{1e}x", .invalidEngineIOPacket),
            ("b!!!!", .invalidBase64), ("bA", .invalidBase64), ("bAQ=I", .invalidBase64),
        ])
    func malformed(_ body: String, _ code: SocketIOError.Code) {
        #expect { try EngineIOPayload.decode(body, maxPayload: 1000) } throws: { ($0 as? SocketIOError)?.code == code }
    }

    @Test("invalid UTF-8 bodies are refused")
    func invalidUTF8() {
        #expect { try EngineIOPayload.decode(bytes: [0x34, 0xC3], maxPayload: 1000) } throws: {
            ($0 as? SocketIOError)?.code == .invalidUTF8
        }
    }
}
