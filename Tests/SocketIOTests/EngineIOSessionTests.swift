import Foundation
import Testing

@testable import SocketIO

@Suite("Engine.IO session")
struct EngineIOSessionTests {
    let t0 = ContinuousClock.now
    let config = EngineIOSession.Configuration(
        pingInterval: .milliseconds(300), pingTimeout: .milliseconds(200), maxPayload: 1_000_000)

    func at(_ ms: Int) -> ContinuousClock.Instant { t0 + .milliseconds(ms) }

    func openWebSocket() -> EngineIOSession {
        let (session, actions) = EngineIOSession.open(sid: "s1", transport: .webSocket, configuration: config, now: t0)
        // engine.io test-suite "WebSocket / successfully opens a session": upgrades is [] on WebSocket.
        #expect(actions == [.webSocketSend([.open(EngineIOHandshake(sid: "s1", upgrades: [], pingInterval: 300, pingTimeout: 200, maxPayload: 1_000_000))])])
        return session
    }

    func openPolling(_ configuration: EngineIOSession.Configuration? = nil) -> EngineIOSession {
        let (session, actions) = EngineIOSession.open(sid: "s1", transport: .polling, configuration: configuration ?? config, now: t0)
        // engine.io test-suite "HTTP long-polling / successfully opens a session".
        #expect(session.handshake.upgrades == ["websocket"])
        #expect(actions == [.respondToGet("0" + session.handshake.json)])
        return session
    }

    @Test("the handshake advertises DESIGN §7 defaults")
    func defaults() {
        let (session, _) = EngineIOSession.open(sid: "abc", transport: .polling, now: t0)
        #expect(session.handshake.json == #"{"sid":"abc","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#)
    }

    @Test("websocket: ping every interval, pong resets, a missed pong closes with ping timeout")
    func webSocketHeartbeat() {
        var session = openWebSocket()
        #expect(session.nextDeadline == at(300))
        #expect(session.tick(now: at(299)) == [])
        #expect(session.tick(now: at(300)) == [.webSocketSend([.ping(nil)])])
        #expect(session.nextDeadline == at(500))
        #expect(session.receivedWebSocketFrame(.text("3"), now: at(350)) == [])
        #expect(session.nextDeadline == at(650))
        #expect(session.tick(now: at(650)) == [.webSocketSend([.ping(nil)])])
        #expect(session.tick(now: at(849)) == [])
        #expect(session.tick(now: at(850)) == [.closeWebSocket, .closed(.pingTimeout)])
        #expect(session.closeReason == .pingTimeout)
        #expect(session.nextDeadline == nil)
        #expect(session.tick(now: at(2000)) == [])
    }

    @Test("websocket: messages are delivered, sends go out directly, binary frames are binary messages")
    func webSocketMessages() {
        var session = openWebSocket()
        #expect(session.receivedWebSocketFrame(.text("4hello"), now: at(1)) == [.deliver(.message("hello"))])
        #expect(session.receivedWebSocketFrame(.binary(Data([1, 2, 3, 4])), now: at(2)) == [.deliver(.binaryMessage(Data([1, 2, 3, 4])))])
        #expect(session.send([.message("hello")]) == [.webSocketSend([.message("hello")])])
        #expect(session.bufferedPacketCount == 0)
    }

    @Test("websocket: invalid packet closes with parse error; client close; client ping; oversized frame")
    func webSocketClosing() {
        var a = openWebSocket()
        #expect(a.receivedWebSocketFrame(.text("abc"), now: at(1)) == [.closeWebSocket, .closed(.parseError)])
        var b = openWebSocket()
        #expect(b.receivedWebSocketFrame(.text("1"), now: at(1)) == [.closeWebSocket, .closed(.transportClose)])
        var c = openWebSocket()
        #expect(c.receivedWebSocketFrame(.text("2"), now: at(1)) == [.closeWebSocket, .closed(.transportError)])
        var d = openWebSocket()
        #expect(d.webSocketClosed(now: at(1)) == [.closed(.transportClose)])
        #expect(d.send([.message("late")]) == [])
        let small = EngineIOSession.Configuration(maxPayload: 4)
        var e = EngineIOSession.open(sid: "s", transport: .webSocket, configuration: small, now: t0).session
        #expect(e.receivedWebSocketFrame(.text("4hello"), now: at(1)) == [.closeWebSocket, .closed(.transportError)])
        var f = openWebSocket()
        #expect(f.close(now: at(1)) == [.closeWebSocket, .closed(.forcedClose)])
        #expect(f.close(now: at(2)) == [])
    }

    @Test("polling: a GET parks until data; POST is delivered and answered ok (engine.io test-suite \"message\")")
    func pollingExchange() {
        var session = openPolling()
        #expect(session.receivedPollGet(now: at(1)) == [])
        #expect(session.isPollPending)
        #expect(session.receivedPollPost(now: at(2)) == [])
        #expect(session.receivedPollPostBody(Array("4hello\u{1e}bAQIDBA==".utf8), now: at(3)) == [
            .respondToPost, .deliver(.message("hello")), .deliver(.binaryMessage(Data([1, 2, 3, 4]))),
        ])
        #expect(session.send([.message("hello"), .binaryMessage(Data([1, 2, 3, 4]))]) == [.respondToGet("4hello\u{1e}bAQIDBA==")])
        #expect(!session.isPollPending)
    }

    @Test("polling: packets sent without a pending GET are batched into the next one")
    func pollingBatching() {
        var session = openPolling()
        #expect(session.send([.message("test1")]) == [])
        #expect(session.send([.message("test2"), .message("test3")]) == [])
        #expect(session.bufferedPacketCount == 3)
        #expect(session.receivedPollGet(now: at(1)) == [.respondToGet("4test1\u{1e}4test2\u{1e}4test3")])
        #expect(session.bufferedPacketCount == 0)
    }

    @Test("polling: batches respect maxPayload and the rest waits for the next GET")
    func pollingBatchLimit() {
        var session = openPolling(EngineIOSession.Configuration(pingInterval: .milliseconds(300), pingTimeout: .milliseconds(200), maxPayload: 15))
        _ = session.send([.message("aaaaa"), .message("bbbbb"), .message("cccccccccccccccccccc"), .message("d")])
        #expect(session.receivedPollGet(now: at(1)) == [.respondToGet("4aaaaa\u{1e}4bbbbb")])  // 13 bytes; +21 would exceed 15
        #expect(session.receivedPollGet(now: at(2)) == [.respondToGet("4cccccccccccccccccccc")])  // oversized alone still goes
        #expect(session.receivedPollGet(now: at(3)) == [.respondToGet("4d")])
    }

    @Test("polling: a second concurrent GET is refused and closes the session; the first gets 1 (engine.io test-suite)")
    func concurrentGet() {
        var session = openPolling()
        #expect(session.receivedPollGet(now: at(1)) == [])
        let actions = session.receivedPollGet(now: at(2))
        #expect(actions == [
            .rejectRequest(SocketIOError(.concurrentPoll, "overlapping GET requests")), .respondToGet("1"), .closed(.transportError),
        ])
        guard case .rejectRequest(let error) = actions.first else { return }
        #expect(error.httpStatus == 400)
        #expect(session.receivedPollGet(now: at(3)).first == .rejectRequest(SocketIOError(.sessionClosed, "session s1 is closed")))
    }

    @Test("polling: a second concurrent POST is refused and closes the session")
    func concurrentPost() {
        var session = openPolling()
        #expect(session.receivedPollPost(now: at(1)) == [])
        #expect(session.receivedPollPost(now: at(2)) == [.rejectRequest(SocketIOError(.concurrentPost, "overlapping POST requests")), .closed(.transportError)])
    }

    @Test("polling: a malformed or oversized POST is refused and closes the session")
    func badPost() {
        var a = openPolling()
        _ = a.receivedPollGet(now: at(1))
        _ = a.receivedPollPost(now: at(1))
        let actions = a.receivedPollPostBody(Array("abc".utf8), now: at(2))
        #expect(actions.count == 3)
        #expect(actions.suffix(2) == [.respondToGet("1"), .closed(.parseError)])
        var b = openPolling(EngineIOSession.Configuration(maxPayload: 5))
        _ = b.receivedPollPost(now: at(1))
        let tooBig = b.receivedPollPostBody(Array("4hello".utf8), now: at(2))
        guard case .rejectRequest(let error) = tooBig.first else {
            Issue.record("not rejected")
            return
        }
        #expect(error.code == .payloadTooLarge && error.httpStatus == 413)
        #expect(tooBig.last == .closed(.transportError))
        var c = openPolling()
        _ = c.receivedPollPost(now: at(1))
        #expect(c.pollPostFailed(SocketIOError(.transportFailure, "aborted"), now: at(2)) == [.rejectRequest(SocketIOError(.transportFailure, "aborted")), .closed(.transportError)])
    }

    @Test("polling: heartbeat over GET/POST, ping timeout closes (engine.io test-suite \"heartbeat\")")
    func pollingHeartbeat() {
        var session = openPolling()
        #expect(session.receivedPollGet(now: at(10)) == [])
        #expect(session.tick(now: at(300)) == [.respondToGet("2")])
        _ = session.receivedPollPost(now: at(310))
        #expect(session.receivedPollPostBody(Array("3".utf8), now: at(320)) == [.respondToPost])
        #expect(session.nextDeadline == at(620))
        #expect(session.tick(now: at(620)) == [])  // ping buffered: no GET pending
        #expect(session.bufferedPacketCount == 1)
        #expect(session.tick(now: at(820)) == [.closed(.pingTimeout)])
        #expect(session.receivedPollGet(now: at(900)).count == 1)  // refused: the session is gone
    }

    @Test("polling: the client's close packet ends the pending GET with noop (engine.io test-suite \"close\")")
    func pollingClientClose() {
        var session = openPolling()
        _ = session.receivedPollGet(now: at(1))
        _ = session.receivedPollPost(now: at(2))
        #expect(session.receivedPollPostBody(Array("1".utf8), now: at(3)) == [.respondToPost, .respondToGet("6"), .closed(.transportClose)])
    }

    @Test("polling: aborted GET closes with transport error")
    func abortedGet() {
        var session = openPolling()
        _ = session.receivedPollGet(now: at(1))
        #expect(session.pollGetAborted(now: at(2)) == [.closed(.transportError)])
    }

    @Test("polling: forced close flushes buffered packets and the close packet to the next GET")
    func pollingForcedClose() {
        var a = openPolling()
        _ = a.send([.message(#"1"#)])
        #expect(a.close(now: at(1)) == [])
        #expect(a.nextDeadline == at(1) + .seconds(30))
        #expect(a.receivedPollGet(now: at(2)) == [.respondToGet("41\u{1e}1"), .closed(.forcedClose)])
        var b = openPolling()
        _ = b.receivedPollGet(now: at(1))
        #expect(b.close(now: at(2)) == [.respondToGet("1"), .closed(.forcedClose)])
        var c = openPolling()
        _ = c.close(now: at(1))
        #expect(c.tick(now: at(1) + .seconds(30)) == [.closed(.forcedClose)])
    }

    @Test("upgrade: 2probe → 3probe, pending GET gets noop, 5 switches and flushes (engine.io test-suite \"upgrade\")")
    func upgrade() {
        var session = openPolling()
        #expect(session.receivedPollGet(now: at(1)) == [])
        #expect(session.receivedUpgradeWebSocket(now: at(2)) == [])
        #expect(session.isUpgrading)
        #expect(session.receivedWebSocketFrame(.text("2probe"), now: at(3)) == [.webSocketSend([.pong("probe")]), .respondToGet("6")])
        #expect(session.send([.message("queued")]) == [])  // no GET pending: buffered until the switch
        #expect(session.receivedWebSocketFrame(.text("5"), now: at(4)) == [.upgraded, .webSocketSend([.message("queued")])])
        #expect(session.transport == .webSocket)
        #expect(!session.isUpgrading)
        #expect(session.receivedWebSocketFrame(.text("4hello"), now: at(5)) == [.deliver(.message("hello"))])
        #expect(session.send([.message("hello")]) == [.webSocketSend([.message("hello")])])
        // "ignores HTTP requests with same sid after upgrade" / "ignores WebSocket connection with same sid after upgrade"
        #expect(session.receivedPollGet(now: at(6)) == [.rejectRequest(SocketIOError(.transportMismatch, "session s1 was upgraded to websocket"))])
        #expect(session.receivedUpgradeWebSocket(now: at(7)) == [.rejectRequest(SocketIOError(.transportMismatch, "session s1 already uses a websocket"))])
        #expect(!session.isClosed)
        // the heartbeat continues over the WebSocket
        #expect(session.tick(now: at(300)) == [.webSocketSend([.ping(nil)])])
    }

    @Test("upgrade: a GET arriving after the probe returns noop at once")
    func getAfterProbe() {
        var session = openPolling()
        _ = session.receivedUpgradeWebSocket(now: at(1))
        _ = session.receivedWebSocketFrame(.text("2probe"), now: at(2))
        #expect(session.receivedPollGet(now: at(3)) == [.respondToGet("6")])
    }

    @Test("upgrade: a second probe socket is refused; junk or timeout abandons the upgrade but keeps polling")
    func upgradeFailures() {
        var session = openPolling()
        _ = session.receivedUpgradeWebSocket(now: at(1))
        #expect(session.receivedUpgradeWebSocket(now: at(2)) == [.rejectRequest(SocketIOError(.transportMismatch, "an upgrade is already in progress"))])
        #expect(session.receivedWebSocketFrame(.text("4early"), now: at(3)) == [.closeWebSocket])
        #expect(!session.isUpgrading && session.transport == .polling && !session.isClosed)
        _ = session.receivedUpgradeWebSocket(now: at(4))
        #expect(session.nextDeadline == at(300))
        #expect(session.tick(now: at(4) + .seconds(10)).first == .closeWebSocket)
        #expect(!session.isUpgrading && !session.isClosed)
        _ = session.receivedUpgradeWebSocket(now: at(10_100))
        #expect(session.webSocketClosed(now: at(10_200)) == [])
        #expect(!session.isUpgrading && !session.isClosed)
    }
}
