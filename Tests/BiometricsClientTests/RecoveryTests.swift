@testable import BiometricsClient
import Foundation
import Messages
import NIOPosix
import SocketIO
import Synchronization
import Testing
import TestSupport

@Suite("Connection-state recovery across gateways", .serialized, .timeLimit(.minutes(3)))
struct RecoveryTests {
    @Test("away while 100 deliveries target it (user and room): reconnected to another gateway, it gets exactly those 100 in order, then live traffic")
    func recoversMissedDeliveries() async throws {
        try await ClientFixture.with { fixture in
            let dora = fixture.client("dora")
            let received = Received()
            let watcher = Task {
                for await push in dora.pushes(named: ["test:missed", "test:live"]) {
                    received.append(push.payload["n"]?.intValue ?? -1, name: push.name)
                }
            }
            var states = dora.states().makeAsyncIterator()
            dora.start()
            let socketID = try await connectedID(&states)

            // A room the socket joins through a service control, recorded for recovery by the first gateway.
            try await fixture.deliver([Delivery.control(DeliveryControl(action: .join, room: "room:team-r"), to: .socket(socketID))])
            try await fixture.deliver([Delivery.event("test:missed", data: ["n": -1], to: .room("room:team-r"))])
            try await waitUntil("the join applied (a room event arrived)") { received.count == 1 }
            try await fixture.waitForRoomsRecord(socketId: socketID, room: "room:team-r")

            await fixture.killGateway()
            while let state = await states.next() { if case .reconnecting = state { break } }
            let missed = (0..<100).map { n in
                Delivery.event("test:missed", data: ["n": .number(Double(n))],
                               to: n % 2 == 0 ? .user("dora") : .room("room:team-r"))
            }
            try await fixture.deliver(missed)
            try await fixture.startGateway()

            guard case .connected(let newID, let recovered)? = await nextConnected(&states) else {
                Issue.record("no reconnect")
                return
            }
            #expect(recovered, "gateway log: \(fixture.gatewayLog())")
            #expect(newID == socketID, "a recovered socket keeps its id")
            try await fixture.deliver([Delivery.event("test:live", data: ["n": 1000], to: .room("room:team-r"))])
            try await waitUntil("100 missed and 1 live event", timeout: .seconds(30)) { received.count >= 102 }
            try await Task.sleep(for: .milliseconds(300))  // nothing more may come (no duplicates)
            #expect(received.values == [-1] + Array(0..<100) + [1000])
            #expect(received.names.last == "test:live")
            watcher.cancel()
            await dora.close()
        }
    }

    @Test("beyond the recovery window the client is told recovered: false, gets a fresh socket and re-subscribes")
    func beyondTheWindow() async throws {
        try await ClientFixture.with { fixture in
            try await fixture.startGateway(environment: ["RECOVERY_WINDOW_SECONDS": "2"], replacing: true)
            _ = try await fixture.enroll("rec-e", user: "erin")
            let erin = fixture.client("erin")
            var states = erin.states().makeAsyncIterator()
            erin.start()
            let socketID = try await connectedID(&states)
            try await erin.subscribe(record: "rec-e")
            let challenge = try await erin.challenge(record: "rec-e").challenge
            await fixture.killGateway()
            // 1.5 windows + 5 s of slack: no record of the socket is recent enough any more.
            try await Task.sleep(for: .seconds(9))
            try await fixture.startGateway(environment: ["RECOVERY_WINDOW_SECONDS": "2"])
            guard case .connected(let newID, let recovered)? = await nextConnected(&states) else {
                Issue.record("no reconnect")
                return
            }
            #expect(!recovered)
            #expect(newID != socketID)
            #expect(try await fixture.roomDelivers(to: erin, record: "rec-e", challenge: challenge), "re-subscribed")
            await erin.close()
        }
    }

    @Test("socket.io-client's protocol (RECOVERY_MODE=all): a recovery id unasked, the position as the last argument, the same id and sid back, the missed event replayed")
    func stockClientProtocol() async throws {
        try await ClientFixture.with { fixture in
            try await fixture.startGateway(environment: ["RECOVERY_MODE": "all"], replacing: true)
            let token = try await ClientFixture.token("fred")
            let log = TransportLog()
            // What socket.io-client v4 does, packet for packet: its first CONNECT has only the app's auth.
            let first = try await log.connect(fixture.url, auth: ["token": .string(token)])
            let pid = try #require(first.connectPayload?["pid"]?.stringValue, "a recovery id without asking")
            try await fixture.deliver([Delivery.event("test:one", data: ["n": 1], to: .user("fred"))])
            try await waitUntil("test:one") { log.events.contains { $0.name == "test:one" } }
            let offset = try #require(log.events.first { $0.name == "test:one" }?.position, "the position as last argument")
            first.close()
            try await Task.sleep(for: .milliseconds(300))  // the gateway records the socket's last rooms on disconnect
            try await fixture.deliver([Delivery.event("test:two", data: ["n": 2], to: .user("fred"))])
            // Its reconnect: the same auth plus pid and offset.
            let second = try await log.connect(fixture.url, auth: ["token": .string(token), "pid": .string(pid),
                                                                "offset": .string(offset)])
            #expect(second.connectPayload?["pid"]?.stringValue == pid, "socket.io-client's recovered = (pid unchanged)")
            #expect(second.socketID == first.socketID)
            try await waitUntil("the missed test:two replayed") { log.events.contains { $0.name == "test:two" } }
            #expect(log.events.map(\.name) == ["test:one", "test:two"])
            second.close()
        }
    }

    private func connectedID(_ states: inout AsyncStream<ConnectionState>.Iterator) async throws -> String {
        guard case .connected(let id, _)? = await nextConnected(&states) else { throw FixtureError("never connected") }
        return id
    }

    private func nextConnected(_ states: inout AsyncStream<ConnectionState>.Iterator) async -> ConnectionState? {
        while let state = await states.next() {
            if case .connected = state { return state }
            if case .disconnected = state { return nil }
        }
        return nil
    }
}

/// Events a watcher task saw, in arrival order.
private final class Received: Sendable {
    private let entries = Mutex<[(value: Int, name: String)]>([])

    func append(_ value: Int, name: String) { entries.withLock { $0.append((value, name)) } }
    var count: Int { entries.withLock { $0.count } }
    var values: [Int] { entries.withLock { $0.map(\.value) } }
    var names: [String] { entries.withLock { $0.map(\.name) } }
}

/// Raw transports (the SDK's Socket.IO connection without its client logic) and what they received.
private final class TransportLog: Sendable {
    private let entries = Mutex<[(name: String, position: String?)]>([])

    var events: [(name: String, position: String?)] { entries.withLock { $0 } }

    func connect(_ url: String, auth: SocketIOObject) async throws -> ClientTransport {
        try await ClientTransport.connect(
            endpoint: try ClientEndpoint(url: url, path: "/ws", origin: nil, maxFrameSize: 1 << 20), auth: auth,
            group: MultiThreadedEventLoopGroup.singleton, tls: nil, timeout: .seconds(10),
            callbacks: .init(
                connected: { _ in },
                packet: { [self] packet, position in
                    if case .event(_, let name, _, _) = packet { entries.withLock { $0.append((name, position)) } }
                },
                closed: { _ in }))
    }
}
