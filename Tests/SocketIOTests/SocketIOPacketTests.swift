import Foundation
import Testing

@testable import SocketIO

/// Decodes a text packet (and attachments) with a fresh decoder.
func decodeSocketIO(_ text: String, attachments: [Data] = [], limits: SocketIODecoder.Limits = .init()) throws
    -> SocketIOPacket?
{
    var decoder = SocketIODecoder(limits: limits)
    var packet = try decoder.decode(text: text)
    for attachment in attachments {
        #expect(packet == nil)
        packet = try decoder.decode(binary: attachment)
    }
    return packet
}

@Suite("Socket.IO packets")
struct SocketIOPacketTests {
    static let golden: [(SocketIOPacket, String, [Data])] = [
        // socket.io-protocol README, "Packet encoding / Examples / Connection to a namespace"
        (.connect(namespace: "/", payload: nil), "0", []),
        (.connect(namespace: "/admin", payload: ["sid": "oSO0OpakMV_3jnilAAAA"]), #"0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}"#, []),
        (.connectError(namespace: "/", message: "Not authorized", data: nil), #"4{"message":"Not authorized"}"#, []),
        // "Examples / Sending and receiving data"
        (.event(namespace: "/", name: "foo", arguments: [], ackID: nil), #"2["foo"]"#, []),
        (.event(namespace: "/admin", name: "bar", arguments: [], ackID: nil), #"2/admin,["bar"]"#, []),
        (
            .event(namespace: "/", name: "baz", arguments: [.binary(Data([1, 2, 3, 4]))], ackID: nil),
            #"51-["baz",{"_placeholder":true,"num":0}]"#, [Data([1, 2, 3, 4])]
        ),
        (
            .event(namespace: "/admin", name: "baz", arguments: [.binary(Data([1, 2])), .binary(Data([3, 4]))], ackID: nil),
            #"52-/admin,["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#, [Data([1, 2]), Data([3, 4])]
        ),
        // "Examples / Acknowledgement"
        (.event(namespace: "/", name: "foo", arguments: [], ackID: 12), #"212["foo"]"#, []),
        (.ack(namespace: "/admin", arguments: ["bar"], ackID: 13), #"3/admin,13["bar"]"#, []),
        (
            .ack(namespace: "/", arguments: ["bar", .binary(Data([1, 2, 3, 4]))], ackID: 15),
            #"61-15["bar",{"_placeholder":true,"num":0}]"#, [Data([1, 2, 3, 4])]
        ),
        // "Examples / Disconnection from a namespace"
        (.disconnect(namespace: "/"), "1", []),
        (.disconnect(namespace: "/admin"), "1/admin,", []),
        // "Sample session" (Engine.IO "4" prefix removed)
        (.connect(namespace: "/", payload: ["sid": "wZX3oN0bSVIhsaknAAAI"]), #"0{"sid":"wZX3oN0bSVIhsaknAAAI"}"#, []),
        (.event(namespace: "/", name: "hey", arguments: ["Jude"], ackID: nil), #"2["hey","Jude"]"#, []),
        (.connect(namespace: "/admin", payload: nil), "0/admin,", []),
        (.event(namespace: "/admin", name: "tellme", arguments: [], ackID: 1), #"2/admin,1["tellme"]"#, []),
        (
            .ack(namespace: "/admin", arguments: [.binary(Data([9]))], ackID: 1),
            #"61-/admin,1[{"_placeholder":true,"num":0}]"#, [Data([9])]
        ),
        // socket.io test-suite "connect" and "message"
        (.connect(namespace: "/", payload: ["token": "123"]), #"0{"token":"123"}"#, []),
        (.connect(namespace: "/custom", payload: ["token": "abc"]), #"0/custom,{"token":"abc"}"#, []),
        (
            .connectError(namespace: "/random", message: "Invalid namespace", data: nil),
            #"4/random,{"message":"Invalid namespace"}"#, []
        ),
        (
            .event(namespace: "/", name: "message", arguments: [1, "2", ["3": [true]]], ackID: nil),
            #"2["message",1,"2",{"3":[true]}]"#, []
        ),
        (
            .event(namespace: "/", name: "message-with-ack", arguments: [1, "2", ["3": [false]]], ackID: 456),
            #"2456["message-with-ack",1,"2",{"3":[false]}]"#, []
        ),
        (.ack(namespace: "/", arguments: [1, "2", ["3": [false]]], ackID: 456), #"3456[1,"2",{"3":[false]}]"#, []),
        (
            .event(namespace: "/", name: "message", arguments: [.binary(Data([1, 2, 3])), .binary(Data([4, 5, 6]))], ackID: nil),
            #"52-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#, [Data([1, 2, 3]), Data([4, 5, 6])]
        ),
        (
            .ack(namespace: "/", arguments: [.binary(Data([1, 2, 3])), .binary(Data([4, 5, 6]))], ackID: 789),
            #"62-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#, [Data([1, 2, 3]), Data([4, 5, 6])]
        ),
    ]

    @Test("golden vectors encode exactly and decode back")
    func golden() throws {
        for (packet, text, attachments) in Self.golden {
            let encoded = packet.encode()
            #expect(encoded.text == text)
            #expect(encoded.attachments == attachments)
            #expect(try decodeSocketIO(text, attachments: attachments) == packet)
        }
    }

    @Test("packet types, including binary promotion")
    func packetTypes() {
        #expect(Self.golden.map { $0.0.packetType.rawValue } == [0, 0, 4, 2, 2, 5, 5, 2, 3, 6, 1, 1, 0, 2, 0, 2, 6, 0, 0, 4, 2, 2, 3, 5, 6])
    }

    @Test("encoded packets map onto Engine.IO messages: 42[\"foo\"] and binary frames (README \"Examples\")")
    func engineIOFraming() {
        let encoded = SocketIOPacket.event(namespace: "/", name: "foo", arguments: [], ackID: nil).encode()
        #expect(encoded.engineIOPackets.map(\.webSocketFrame) == [.text(#"42["foo"]"#)])
        let binary = SocketIOPacket.event(namespace: "/", name: "baz", arguments: [.binary(Data([1]))], ackID: nil).encode()
        #expect(binary.engineIOPackets == [.message(#"51-["baz",{"_placeholder":true,"num":0}]"#), .binaryMessage(Data([1]))])
    }

    @Test("a broadcast encoded once serves a WebSocket and a polling session alike")
    func sharedBroadcast() {
        let encoded = SocketIOPacket.event(
            namespace: "/", name: "biometric:stream-frame", arguments: [["frame": .binary(Data([1, 2, 3, 4]))]], ackID: nil
        ).encode()
        let t0 = ContinuousClock.now
        var ws = EngineIOSession.open(sid: "a", transport: .webSocket, now: t0).session
        var polling = EngineIOSession.open(sid: "b", transport: .polling, now: t0).session
        #expect(ws.send(encoded.engineIOPackets) == [.webSocketSend(encoded.engineIOPackets)])
        #expect(encoded.engineIOPackets.map(\.webSocketFrame) == [
            .text(#"451-["biometric:stream-frame",{"frame":{"_placeholder":true,"num":0}}]"#), .binary(Data([1, 2, 3, 4])),
        ])
        _ = polling.send(encoded.engineIOPackets)
        #expect(polling.receivedPollGet(now: t0) == [
            .respondToGet("451-[\"biometric:stream-frame\",{\"frame\":{\"_placeholder\":true,\"num\":0}}]\u{1e}bAQIDBA=="),
        ])
    }

    @Test("connect error data and binary outside events")
    func connectErrorData() throws {
        let packet = SocketIOPacket.connectError(namespace: "/", message: "Unauthorized", data: ["code": "token_expired"])
        #expect(packet.encode().text == #"4{"message":"Unauthorized","data":{"code":"token_expired"}}"#)
        #expect(try decodeSocketIO(packet.encode().text) == packet)
        #expect(try decodeSocketIO(#"4"legacy""#) == .connectError(namespace: "/", message: "legacy", data: nil))
        let connect = SocketIOPacket.connect(namespace: "/", payload: ["blob": .binary(Data([1, 2, 3, 4]))])
        #expect(connect.encode() == SocketIOEncodedPacket(text: #"0{"blob":"AQIDBA=="}"#, attachments: []))
    }

    @Test("nested binary round-trips through placeholders")
    func nestedBinary() throws {
        let packet = SocketIOPacket.event(
            namespace: "/", name: "biometric:stream-data",
            arguments: [["deviceId": "d1", "frame": .binary(Data([0xFF, 0])), "more": [.binary(Data())]]], ackID: 7)
        let encoded = packet.encode()
        #expect(encoded.text == #"52-7["biometric:stream-data",{"deviceId":"d1","frame":{"_placeholder":true,"num":0},"more":[{"_placeholder":true,"num":1}]}]"#)
        #expect(try decodeSocketIO(encoded.text, attachments: encoded.attachments) == packet)
    }

    @Test("placeholder-shaped objects in plain EVENT packets stay objects")
    func placeholderInPlainEvent() throws {
        let packet = try decodeSocketIO(#"2["x",{"_placeholder":true,"num":0}]"#)
        #expect(packet == .event(namespace: "/", name: "x", arguments: [["_placeholder": true, "num": 0]], ackID: nil))
    }

    @Test("unicode and escapes survive encoding")
    func unicodeRoundTrip() throws {
        let packet = SocketIOPacket.event(namespace: "/", name: "chat", arguments: ["é€😀 \"q\" \\ \n \u{1e}"], ackID: nil)
        #expect(try decodeSocketIO(packet.encode().text) == packet)
        #expect(!packet.encode().text.utf8.contains(0x1E))  // the polling separator never appears in Socket.IO text
    }
}
