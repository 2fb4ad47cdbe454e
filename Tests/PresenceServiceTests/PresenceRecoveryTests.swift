@testable import BiometricsClient
import Foundation
import Messages
import NIOPosix
import PresenceService
import SocketIO
import Synchronization
import Testing
import TestSupport

/// Connection-state recovery seen from presence: a socket that comes back with its id (on another gateway) is
/// registered again and gets its presence rooms back.
@Suite("presence service: recovered sockets", .serialized, .timeLimit(.minutes(3)))
struct PresenceRecoveryTests {
    @Test("a socket recovered on the other gateway is back online and a member of its rooms; members see it leave and return")
    func recoveredOnTheOtherGateway() async throws {
        try await PresenceFixture.with(gatewayEnvironment: ["RECOVERY_MODE": "all"]) { fixture in
            let observing = fixture.syncFile("observing")
            let clients = [try await fixture.client("obs", user: "obs-v", on: .a, rooms: ["team-v"])]
            let steps: [[String: Any]] = [
                ["client": "obs", "emit": "presence:join-room", "data": ["roomId": "team-v"], "ack": true],
                ["client": "obs", "wait_ack": "presence:join-room"],
                ["touch": observing],
                ["client": "obs", "wait_for": "presence:member-joined", "match": ["userId": "rec-v"], "count": 2,
                 "timeout": 90],
            ]
            async let run = fixture.run(clients: clients, steps: steps)
            try await fixture.waitForFile(observing)

            let token = try await fixture.token("rec-v", rooms: ["team-v"])
            let events = Events()
            let first = try await Events.connect(fixture.gatewayBURL, auth: ["token": .string(token)], into: events)
            let recoveryId = try #require(first.connectPayload?["pid"]?.stringValue, "RECOVERY_MODE=all gives a pid")
            first.send(.event(namespace: "/", name: "presence:join-room",
                              arguments: [.object(["roomId": .string("team-v")])], ackID: 1))
            // room-members follows the join control in the same partition: the gateway has applied the join.
            try await waitUntil("the join answered") { events.names.contains("presence:room-members") }
            let offset = try #require(events.lastPosition, "positions ride on events of a recoverable socket")
            first.close()
            try await waitUntil("presence saw the disconnect") { try await fixture.sockets(of: "rec-v").isEmpty }
            #expect(try await fixture.members(of: "team-v") == ["obs-v"])

            let second = try await Events.connect(
                fixture.gatewayAURL,
                auth: ["token": .string(token), "pid": .string(recoveryId), "offset": .string(offset)], into: events)
            #expect(second.socketID == first.socketID, "a recovered socket keeps its id")
            try await waitUntil("the recovered socket is registered with its rooms") {
                let members = try await fixture.members(of: "team-v")
                let sockets = try await fixture.sockets(of: "rec-v")
                return members.contains("rec-v") && sockets == [first.socketID]
            }
            let onA = try await fixture.redis.smembers("presence:gateway:\(fixture.gatewayAId)")
            #expect(onA.contains(first.socketID))
            #expect(try await fixture.status(of: "rec-v") == "online")
            let seen = try await run
            second.close()

            let obs = try #require(seen["obs"])
            let about = { (name: String) in
                obs.payloads(named: name).filter { $0["userId"] == "rec-v" }.count
            }
            #expect(about("presence:member-joined") == 2 && about("presence:member-left") == 1)
        }
    }
}

/// Events a raw SDK transport received, and the latest delivery position.
private final class Events: Sendable {
    private let state = Mutex<(names: [String], position: String?)>(([], nil))

    var names: [String] { state.withLock { $0.names } }
    var lastPosition: String? { state.withLock { $0.position } }

    static func connect(_ url: String, auth: SocketIOObject, into events: Events) async throws -> ClientTransport {
        try await ClientTransport.connect(
            endpoint: try ClientEndpoint(url: url, path: "/ws", origin: nil, maxFrameSize: 1 << 20), auth: auth,
            group: MultiThreadedEventLoopGroup.singleton, tls: nil, timeout: .seconds(10),
            callbacks: .init(
                connected: { _ in },
                packet: { packet, position in
                    guard case .event(_, let name, _, _) = packet else { return }
                    events.state.withLock {
                        $0.names.append(name)
                        if let position { $0.position = position }
                    }
                },
                closed: { _ in }))
    }
}
