import Foundation
import Testing

@testable import SocketIO

@Suite("Socket.IO decoder")
struct SocketIODecoderTests {
    @Test(
        "malformed packets are refused with their error",
        arguments: [
            ("", SocketIOError.Code.unknownPacketType),
            ("abc", .unknownPacketType),  // socket.io test-suite "invalid format (unknown packet type)": 4abc
            ("7", .unknownPacketType),
            ("2{}", .invalidPayload),  // test-suite "invalid payload format": 42{}
            (#"2abc["message-with-ack",1]"#, .invalidJSON),  // test-suite "invalid ack id": 42abc[...]
            ("2", .invalidPayload), ("2[]", .invalidPayload), ("2[1]", .invalidPayload), (#"2"foo""#, .invalidPayload),
            ("2[\"a\"", .invalidJSON), ("2[\"a\"]x", .invalidJSON),
            (#"2["connect"]"#, .reservedEventName), (#"2["connect_error"]"#, .reservedEventName),
            (#"2["disconnect"]"#, .reservedEventName), (#"2["disconnecting"]"#, .reservedEventName),
            (#"2["newListener"]"#, .reservedEventName), (#"2["removeListener"]"#, .reservedEventName),
            (#"51-["connect",{"_placeholder":true,"num":0}]"#, .reservedEventName),
            ("0[1]", .invalidPayload), ("0null", .invalidPayload), (#"0"x""#, .invalidPayload),
            ("1{}", .invalidPayload), ("12", .invalidAckID), ("012{}", .invalidAckID),
            ("3[]", .invalidAckID), ("312", .invalidPayload), ("312{}", .invalidPayload),
            ("4", .invalidPayload), ("4{}", .invalidPayload), ("4[]", .invalidPayload),
            (#"2/ad min,["a"]"#, .invalidNamespace), (#"2/admin["a"]"#, .invalidNamespace),
            (#"2/é,["a"]"#, .invalidNamespace),
            ("2" + String(repeating: "9", count: 17) + #"["a"]"#, .invalidAckID),
            (#"29007199254740992["a"]"#, .invalidAckID),
            (#"5["a"]"#, .invalidAttachments), (#"5-["a"]"#, .invalidAttachments), (#"51["a"]"#, .invalidAttachments),
            (#"5x-["a"]"#, .invalidAttachments), (#"511-["a"]"#, .tooManyAttachments),
            (#"599999999999-["a"]"#, .tooManyAttachments),
            (#"51-["a"]"#, .attachmentMismatch),  // announced but not referenced
            (#"51-["a",{"_placeholder":true,"num":1}]"#, .attachmentMismatch),
            (#"51-["a",{"_placeholder":true,"num":-1}]"#, .attachmentMismatch),
            (#"51-["a",{"_placeholder":true,"num":0.5}]"#, .attachmentMismatch),
            (#"51-["a",{"_placeholder":true}]"#, .attachmentMismatch),
            (#"50-["a",{"_placeholder":true,"num":0}]"#, .attachmentMismatch),
            (#"61-["a",{"_placeholder":true,"num":0}]"#, .invalidAckID),
        ])
    func malformed(_ text: String, _ code: SocketIOError.Code) {
        #expect { try decodeSocketIO(text) } throws: { error in
            let matches = (error as? SocketIOError)?.code == code
            if !matches { Issue.record("\(text): \(error)") }
            return matches
        }
    }

    @Test("valid edge cases decode")
    func validEdges() throws {
        // test-suite "disallow connection to an unknown namespace": the namespace may end the packet.
        #expect(try decodeSocketIO("0/random") == .connect(namespace: "/random", payload: nil))
        #expect(try decodeSocketIO("1/custom") == .disconnect(namespace: "/custom"))
        #expect(try decodeSocketIO(#"2/,["a"]"#) == .event(namespace: "/", name: "a", arguments: [], ackID: nil))
        #expect(try decodeSocketIO(#"20["a"]"#) == .event(namespace: "/", name: "a", arguments: [], ackID: 0))
        #expect(try decodeSocketIO(#"29007199254740991["a"]"#) == .event(namespace: "/", name: "a", arguments: [], ackID: 9_007_199_254_740_991))
        #expect(try decodeSocketIO("3/admin,1[]") == .ack(namespace: "/admin", arguments: [], ackID: 1))
        #expect(try decodeSocketIO(#"50-["a"]"#) == .event(namespace: "/", name: "a", arguments: [], ackID: nil))
        #expect(try decodeSocketIO(#"2 ["a"] "#) == .event(namespace: "/", name: "a", arguments: [], ackID: nil))
    }

    @Test("binary event with 2 attachments is reconstructed (socket.io test-suite \"binary attachments\")")
    func twoAttachments() throws {
        var decoder = SocketIODecoder()
        #expect(try decoder.decode(.message(#"52-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#)) == nil)
        #expect(decoder.isAwaitingAttachments)
        #expect(try decoder.decode(.binaryMessage(Data([1, 2, 3]))) == nil)
        let packet = try decoder.decode(.binaryMessage(Data([4, 5, 6])))
        #expect(packet == .event(namespace: "/", name: "message", arguments: [.binary(Data([1, 2, 3])), .binary(Data([4, 5, 6]))], ackID: nil))
        #expect(!decoder.isAwaitingAttachments)
        // The decoder is ready for the next packet.
        #expect(try decoder.decode(text: #"2["next"]"#) == .event(namespace: "/", name: "next", arguments: [], ackID: nil))
    }

    @Test("a placeholder may be referenced twice")
    func repeatedPlaceholder() throws {
        let packet = try decodeSocketIO(#"51-["a",{"_placeholder":true,"num":0},[{"_placeholder":true,"num":0}]]"#, attachments: [Data([7])])
        #expect(packet == .event(namespace: "/", name: "a", arguments: [.binary(Data([7])), [.binary(Data([7]))]], ackID: nil))
    }

    @Test("text while awaiting attachments, and binary out of the blue, are errors")
    func sequencing() throws {
        var decoder = SocketIODecoder()
        #expect { try decoder.decode(binary: Data([1])) } throws: { ($0 as? SocketIOError)?.code == .unexpectedBinary }
        _ = try decoder.decode(text: #"51-["a",{"_placeholder":true,"num":0}]"#)
        #expect { try decoder.decode(text: #"2["b"]"#) } throws: { ($0 as? SocketIOError)?.code == .unexpectedText }
        #expect(!decoder.isAwaitingAttachments)
        #expect { try decoder.decode(.ping(nil)) } throws: { ($0 as? SocketIOError)?.code == .invalidEngineIOPacket }
    }

    @Test("limits are configurable")
    func limits() throws {
        let strict = SocketIODecoder.Limits(maxAttachments: 1, maxDepth: 2, maxNamespaceLength: 4)
        #expect { try decodeSocketIO(#"52-["a",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#, limits: strict) } throws: {
            ($0 as? SocketIOError)?.code == .tooManyAttachments
        }
        #expect { try decodeSocketIO(#"2["a",[[1]]]"#, limits: strict) } throws: { ($0 as? SocketIOError)?.code == .jsonTooDeep }
        #expect(try decodeSocketIO(#"2["a",[1]]"#, limits: strict) != nil)
        #expect { try decodeSocketIO(#"2/admin,["a"]"#, limits: strict) } throws: { ($0 as? SocketIOError)?.code == .invalidNamespace }
        #expect { try decodeSocketIO("2[" + String(repeating: "[", count: 100_000)) } throws: {
            ($0 as? SocketIOError)?.code == .jsonTooDeep
        }
    }
}
