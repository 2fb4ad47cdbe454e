import Foundation
import Testing

@testable import SocketIO

@Suite("Socket.IO connection")
struct SocketIOConnectionTests {
    let t0 = ContinuousClock.now
    let config = SocketIOConnection.Configuration(connectTimeout: .seconds(1), ackTimeout: .milliseconds(500))

    func at(_ ms: Int) -> ContinuousClock.Instant { t0 + .milliseconds(ms) }

    func sent(_ text: String, _ attachments: [Data] = []) -> SocketIOConnection.Action {
        .send(SocketIOEncodedPacket(text: text, attachments: attachments))
    }

    func connected() -> SocketIOConnection {
        var connection = SocketIOConnection(configuration: config, now: t0)
        #expect(connection.receive(.message(#"0{"token":"t"}"#), now: at(1)) == [.authenticate(["token": "t"])])
        #expect(connection.acceptConnection(socketID: "sock1", now: at(2)) == [sent(#"0{"sid":"sock1"}"#)])
        return connection
    }

    @Test("CONNECT → authenticate → accepted; events with and without ack; ack answered")
    func connectAndEvents() {
        var connection = connected()
        #expect(connection.isConnected)
        #expect(connection.nextDeadline == nil)
        #expect(connection.receive(.message(#"2["session:list"]"#), now: at(3)) == [.event(name: "session:list", arguments: [], ackID: nil)])
        #expect(connection.receive(.message(#"27["biometric:subscribe",{"recordId":"r1"}]"#), now: at(4)) == [
            .event(name: "biometric:subscribe", arguments: [["recordId": "r1"]], ackID: 7),
        ])
        #expect(connection.acknowledge(7, with: [["ok": true]]) == [sent(#"37[{"ok":true}]"#)])
    }

    @Test("CONNECT without auth payload (socket.io test-suite \"main namespace\")")
    func connectWithoutAuth() {
        var connection = SocketIOConnection(configuration: config, now: t0)
        #expect(connection.receive(.message("0"), now: at(1)) == [.authenticate(nil)])
    }

    @Test("refused CONNECT answers CONNECT_ERROR; the client may retry")
    func refused() {
        var connection = SocketIOConnection(configuration: config, now: t0)
        _ = connection.receive(.message("0"), now: at(1))
        #expect(connection.rejectConnection(message: "Unauthorized", data: ["code": "token_invalid"], now: at(2)) == [
            sent(#"4{"message":"Unauthorized","data":{"code":"token_invalid"}}"#),
        ])
        #expect(connection.state == .awaitingConnect)
        #expect(connection.receive(.message(#"2["x"]"#), now: at(3)) == [])  // not connected: ignored
        #expect(connection.receive(.message(#"0{"token":"u"}"#), now: at(4)) == [.authenticate(["token": "u"])])
        #expect(connection.acceptConnection(socketID: "s", now: at(5)).count == 1)
    }

    @Test("CONNECT to an unknown namespace gets CONNECT_ERROR \"Invalid namespace\" (socket.io test-suite)")
    func unknownNamespace() {
        var connection = SocketIOConnection(configuration: config, now: t0)
        #expect(connection.receive(.message("0/random"), now: at(1)) == [sent(#"4/random,{"message":"Invalid namespace"}"#)])
        #expect(connection.state == .awaitingConnect)
        #expect(connection.receive(.message("0"), now: at(2)) == [.authenticate(nil)])
    }

    @Test("no CONNECT within connectTimeout closes the transport (socket.io test-suite \"no handshake\")")
    func connectTimeout() {
        var connection = SocketIOConnection(configuration: config, now: t0)
        #expect(connection.nextDeadline == at(1000))
        #expect(connection.tick(now: at(999)) == [])
        #expect(connection.tick(now: at(1000)) == [.closeTransport(.connectTimeout)])
        #expect(connection.state == .closed)
        // also while the verdict is pending
        var pending = SocketIOConnection(configuration: config, now: t0)
        _ = pending.receive(.message("0"), now: at(1))
        #expect(pending.tick(now: at(1000)) == [.closeTransport(.connectTimeout)])
        #expect(pending.acceptConnection(socketID: "late", now: at(1001)) == [])
    }

    @Test("a first packet other than CONNECT, or a malformed packet, closes the transport")
    func protocolErrors() {
        var a = SocketIOConnection(configuration: config, now: t0)
        let actions = a.receive(.message(#"2["x"]"#), now: at(1))
        #expect(actions == [.closeTransport(.parseError(SocketIOError(.protocolViolation, "the first packet must be CONNECT")))])
        var b = connected()
        let bad = b.receive(.message("abc"), now: at(3))  // test-suite "invalid format (unknown packet type)": frame 4abc
        #expect(bad.count == 2)
        #expect(bad.first == .disconnected(.parseError(SocketIOError(.unknownPacketType, "unknown packet type"))))
        var c = connected()
        let reserved = c.receive(.message(#"2["disconnect"]"#), now: at(3))
        #expect(reserved.last == .closeTransport(.parseError(SocketIOError(.reservedEventName, "\"disconnect\" is a reserved event name"))))
        var d = connected()
        #expect(d.receive(.message("0"), now: at(3)).last == .closeTransport(.parseError(SocketIOError(.protocolViolation, "duplicate CONNECT to \"/\""))))
    }

    @Test("binary event with 2 attachments is delivered once complete")
    func binaryEvent() {
        var connection = connected()
        #expect(connection.receive(.message(#"52-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#), now: at(3)) == [])
        #expect(connection.receive(.binaryMessage(Data([1, 2, 3])), now: at(4)) == [])
        #expect(connection.receive(.binaryMessage(Data([4, 5, 6])), now: at(5)) == [
            .event(name: "message-with-ack", arguments: [.binary(Data([1, 2, 3])), .binary(Data([4, 5, 6]))], ackID: 789),
        ])
        // test-suite: the echo ack is a BINARY_ACK with the same placeholders
        #expect(connection.acknowledge(789, with: [.binary(Data([1, 2, 3])), .binary(Data([4, 5, 6]))]) == [
            sent(#"62-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#, [Data([1, 2, 3]), Data([4, 5, 6])]),
        ])
    }

    @Test("server emits with acks: ids allocated, ack received, timeout, cancelled on disconnect")
    func serverAcks() {
        var connection = connected()
        let first = connection.emit("notification:new", [["id": 1]], expectingAck: true, now: at(10))
        #expect(first.ackID == 0)
        #expect(first.actions == [sent(#"20["notification:new",{"id":1}]"#)])
        let second = connection.emit("x", [], expectingAck: true, ackTimeout: .seconds(5), now: at(20))
        #expect(second.ackID == 1)
        let plain = connection.emit("y", [.binary(Data([9]))], now: at(30))
        #expect(plain.ackID == nil && plain.actions == [sent(#"51-["y",{"_placeholder":true,"num":0}]"#, [Data([9])])])
        #expect(connection.pendingAckCount == 2)
        #expect(connection.nextDeadline == at(510))
        #expect(connection.receive(.message(#"30["done"]"#), now: at(40)) == [.ackReceived(id: 0, arguments: ["done"])])
        #expect(connection.receive(.message(#"30["again"]"#), now: at(41)) == [])  // already answered
        let third = connection.emit("z", [], expectingAck: true, now: at(50))
        #expect(connection.tick(now: at(550)) == [.ackFailed(id: third.ackID!, .timeout)])
        #expect(connection.transportClosed(.pingTimeout) == [.ackFailed(id: 1, .disconnected), .disconnected(.transportClosed(.pingTimeout))])
        #expect(connection.state == .closed)
        #expect(connection.emit("after", [], now: at(60)).actions == [])
    }

    @Test("client DISCONNECT leaves the namespace and restarts the connect timeout")
    func clientDisconnect() {
        var connection = connected()
        #expect(connection.receive(.message("1"), now: at(100)) == [.disconnected(.clientDisconnect)])
        #expect(connection.state == .awaitingConnect)
        #expect(connection.nextDeadline == at(1100))
        #expect(connection.tick(now: at(1100)) == [.closeTransport(.connectTimeout)])
    }

    @Test("server disconnect sends DISCONNECT then closes the transport")
    func serverDisconnect() {
        var connection = connected()
        #expect(connection.disconnect(now: at(5)) == [sent("1"), .disconnected(.serverDisconnect), .closeTransport(.serverDisconnect)])
        #expect(connection.receive(.message(#"2["x"]"#), now: at(6)) == [])
    }

    @Test("packets for other namespaces are ignored once connected")
    func otherNamespaces() {
        var connection = connected()
        #expect(connection.receive(.message(#"2/admin,["x"]"#), now: at(3)) == [])
        #expect(connection.receive(.message("1/admin,"), now: at(3)) == [])
        #expect(connection.isConnected)
    }

    @Test("the two machines together: polling session carries CONNECT and the answer")
    func endToEnd() {
        var (session, _) = EngineIOSession.open(sid: "e1", transport: .polling, now: t0)
        var connection = SocketIOConnection(now: t0)
        // socket.io-protocol "Sample session", requests 2 and 3.
        _ = session.receivedPollPost(now: at(1))
        let posted = session.receivedPollPostBody(Array("40".utf8), now: at(1))
        #expect(posted == [.respondToPost, .deliver(.message("0"))])
        #expect(connection.receive(.message("0"), now: at(1)) == [.authenticate(nil)])
        guard case .send(let packet) = connection.acceptConnection(socketID: "wZX3oN0bSVIhsaknAAAI", now: at(2)).first else {
            Issue.record("no CONNECT answer")
            return
        }
        _ = session.send(packet.engineIOPackets)
        #expect(session.receivedPollGet(now: at(3)) == [.respondToGet(#"40{"sid":"wZX3oN0bSVIhsaknAAAI"}"#)])
        // Request 5: two events in one POST.
        _ = session.receivedPollPost(now: at(4))
        let events = session.receivedPollPostBody(Array("42[\"hello\"]\u{1e}42[\"world\"]".utf8), now: at(4))
        #expect(events == [.respondToPost, .deliver(.message(#"2["hello"]"#)), .deliver(.message(#"2["world"]"#))])
    }
}
