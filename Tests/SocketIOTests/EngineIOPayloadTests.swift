import Foundation
import Testing

@testable import SocketIO

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
