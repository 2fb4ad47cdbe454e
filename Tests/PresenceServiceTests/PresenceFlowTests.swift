import Foundation
import Messages
import PresenceService
import Testing
import TestSupport

/// Presence, rooms and sessions end to end: python-socketio clients on two gateways, the presence service, Redis.
@Suite("presence service: presence, rooms, sessions", .serialized, .timeLimit(.minutes(4)))
struct PresenceFlowTests {
    @Test("online, away, offline — a user with two tabs on two gateways goes offline only when both are gone")
    func presenceAcrossTabs() async throws {
        try await PresenceFixture.with { fixture in
            let oneTabGone = fixture.syncFile("one-tab-gone")
            let checked = fixture.syncFile("checked")
            let alice: JSONValue = "alice-p1"
            let clients = [
                try await fixture.client("alice1", user: "alice-p1", on: .a, rooms: ["team-1"]),
                try await fixture.client("alice2", user: "alice-p1", on: .b, rooms: ["team-1"]),
                try await fixture.client("bob", user: "bob-p1", on: .a, rooms: ["team-1"]),
            ]
            let steps: [[String: Any]] = [
                ["client": "bob", "emit": "presence:join-room", "data": ["roomId": "team-1"], "ack": true],
                ["client": "bob", "wait_ack": "presence:join-room"],
                ["client": "alice1", "emit": "presence:join-room", "data": ["roomId": "team-1"], "ack": true],
                ["client": "alice1", "wait_ack": "presence:join-room"],
                ["client": "alice2", "emit": "presence:join-room", "data": ["roomId": "team-1"], "ack": true],
                ["client": "alice2", "wait_ack": "presence:join-room"],
                ["client": "alice1", "emit": "presence:update", "data": ["status": "away"], "ack": true],
                ["client": "bob", "wait_for": "presence:updated", "match": ["userId": "alice-p1", "status": "away"]],
                ["client": "alice2", "wait_for": "presence:updated", "match": ["status": "away"]],
                ["client": "alice1", "disconnect": true],
                ["touch": oneTabGone], ["wait_file": checked],
                ["client": "alice2", "emit": "presence:update", "data": ["status": "online"]],
                ["client": "bob", "wait_for": "presence:updated", "match": ["userId": "alice-p1", "status": "online"]],
                ["client": "alice2", "disconnect": true],
                ["client": "bob", "wait_for": "presence:member-left", "match": ["userId": "alice-p1"]],
                ["client": "bob", "wait_for": "presence:updated", "match": ["userId": "alice-p1", "status": "offline"]],
            ]
            async let run = fixture.run(clients: clients, steps: steps)
            try await fixture.waitForFile(oneTabGone)
            try await waitUntil("the registry drops alice's first tab") { try await fixture.sockets(of: "alice-p1").count == 1 }
            #expect(try await fixture.status(of: "alice-p1") == "away")
            #expect(try await fixture.members(of: "team-1") == ["alice-p1", "bob-p1"], "one tab left: still a member")
            try fixture.release(checked)
            let seen = try await run

            let bob = try #require(seen["bob"])
            let aboutAlice = bob.payloads(named: "presence:updated").matching(["userId": alice])
            #expect(aboutAlice.map { $0["status"]?.stringValue } == ["away", "online", "offline"],
                    "bob saw \(aboutAlice)")
            #expect(bob.payloads(named: "presence:member-left").matching(["userId": alice]).count == 1)
            #expect(bob.acks(for: "presence:join-room").first?["members"] == ["bob-p1"])
            let alice2 = try #require(seen["alice2"])
            #expect(alice2.payloads(named: "presence:updated").matching(["status": "away"]).count == 1,
                    "the user's other tab hears its own status change")
            #expect(seen["alice1"]?.acks(for: "presence:update").first?["status"] == "away")
            #expect(try await fixture.status(of: "alice-p1") == nil)
            #expect(try await fixture.sockets(of: "alice-p1").isEmpty)
            #expect(try await fixture.members(of: "team-1").contains("alice-p1") == false)
        }
    }
}
