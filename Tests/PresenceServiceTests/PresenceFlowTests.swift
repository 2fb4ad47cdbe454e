import Foundation
import Messages
import PresenceService
import Testing
import TestSupport

/// Presence, rooms and sessions end to end: python-socketio clients on two gateways, the presence service, Redis.
@Suite("presence service: presence, rooms, sessions", .serialized, .timeLimit(.minutes(4)))
struct PresenceFlowTests {
    @Test("a broker outage longer than the grace leaves live sockets and sessions alone (found by biometricsctl chaos)")
    func brokerOutage() async throws {
        // The gateways' producers reconnect within 0.5 s of the broker's return (librdkafka backs off up to 10 s by
        // default): the rule is a grace longer than that back-off (30 s by default against 10 s; 3 s here).
        try await PresenceFixture.with(gatewayEnvironment: ["KAFKA_RECONNECT_BACKOFF_MAX_MS": "500"]) { fixture in
            let created = fixture.syncFile("outage-created")
            let back = fixture.syncFile("outage-back")
            let clients = [try await fixture.client("carol", user: "carol-p9", on: .a)]
            let steps: [[String: Any]] = [
                ["client": "carol", "emit": "session:create", "data": ["deviceInfo": "outage"], "ack": true],
                ["client": "carol", "wait_ack": "session:create"],
                ["touch": created], ["wait_file": back],
                ["client": "carol", "emit": "presence:update", "data": ["status": "away"], "ack": true],
                ["client": "carol", "wait_ack": "presence:update"],
                ["client": "carol", "emit": "session:list", "ack": true],
                ["client": "carol", "wait_ack": "session:list"],
            ]
            async let run = fixture.run(clients: clients, steps: steps)
            try await fixture.waitForFile(created)
            try await waitUntil("the registry has carol's socket") { try await fixture.sockets(of: "carol-p9").count == 1 }
            // Down for several graces (3 s) and sweeps (1 s): gateway A's liveness records wait in its producer.
            await fixture.broker.setDown()
            try await Task.sleep(for: .seconds(8))
            await fixture.broker.setUp()
            // The sweeps after the outage must not count gateway A dead (before the fix they did, within seconds).
            let watchUntil = ContinuousClock.now + .seconds(10)
            var swept = false
            while ContinuousClock.now < watchUntil, !swept {
                swept = try await fixture.sockets(of: "carol-p9").count != 1
                try await Task.sleep(for: .milliseconds(500))
            }
            #expect(!swept, "carol's live socket was swept after the outage")
            try fixture.release(back)
            let carol = try #require(try await run["carol"])
            #expect(carol.acks(for: "presence:update").first?["status"] == "away", "\(carol.acks(for: "presence:update"))")
            #expect(carol.acks(for: "session:list").first?["sessions"]?.arrayValue?.count == 1,
                    "\(carol.acks(for: "session:list"))")
        }
    }

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
                ["client": "alice1", "wait_ack": "presence:update"],  // travels apart from the room's update
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

extension PresenceFlowTests {
    @Test("rooms: joins allowed by the token's rooms claim or role ADMIN, refused otherwise; members see joins and leaves")
    func rooms() async throws {
        try await PresenceFixture.with { fixture in
            let clients = [
                try await fixture.client("carol", user: "carol-r", on: .a, rooms: ["team-1"]),
                try await fixture.client("dave", user: "dave-r", on: .b, rooms: ["team-1", "team-2"]),
                try await fixture.client("eve", user: "eve-r", on: .a, rooms: ["team-2"]),
                try await fixture.client("root", user: "root-r", on: .b, roles: ["ADMIN"]),
            ]
            let join: [String: Any] = ["roomId": "team-1"]
            let steps: [[String: Any]] = [
                ["client": "carol", "emit": "presence:join-room", "data": join, "ack": true],
                ["client": "carol", "wait_ack": "presence:join-room"],
                ["client": "dave", "emit": "presence:join-room", "data": join, "ack": true],
                ["client": "carol", "wait_for": "presence:member-joined", "match": ["userId": "dave-r"]],
                ["client": "eve", "emit": "presence:join-room", "data": join, "ack": true],
                ["client": "eve", "wait_ack": "presence:join-room"],
                ["client": "root", "emit": "presence:join-room", "data": join, "ack": true],
                ["client": "carol", "wait_for": "presence:member-joined", "match": ["userId": "root-r"]],
                ["client": "dave", "emit": "presence:leave-room", "data": join, "ack": true],
                ["client": "carol", "wait_for": "presence:member-left", "match": ["userId": "dave-r"]],
                ["client": "dave", "wait_ack": "presence:leave-room"],
            ]
            let seen = try await fixture.run(clients: clients, steps: steps)
            let carol = try #require(seen["carol"])
            let eve = try #require(seen["eve"])
            let dave = try #require(seen["dave"])

            #expect(carol.acks(for: "presence:join-room") == [["roomId": "team-1", "members": ["carol-r"]]])
            #expect(carol.payloads(named: "presence:member-joined").compactMap { $0["userId"]?.stringValue }
                    == ["carol-r", "dave-r", "root-r"], "eve's refused join is not announced")
            #expect(carol.payloads(named: "presence:member-left").compactMap { $0["userId"]?.stringValue } == ["dave-r"])
            #expect(dave.acks(for: "presence:join-room").first?["members"] == ["carol-r", "dave-r"])
            #expect(dave.acks(for: "presence:leave-room") == [["roomId": "team-1", "left": true]])

            let refusal: JSONValue = ["message": "not allowed to join this room", "roomId": "team-1"]
            #expect(eve.payloads(named: "presence:error") == [refusal])
            #expect(eve.acks(for: "presence:join-room") == [refusal])
            #expect(eve.payloads(named: "presence:member-joined").isEmpty && eve.payloads(named: "presence:member-left").isEmpty,
                    "a refused socket is not in the room")
            #expect(seen["root"]?.acks(for: "presence:join-room").first?["members"] == ["carol-r", "dave-r", "root-r"])
        }
    }

    @Test("sessions: create (with the address the gateway saw), list, end — ending one disconnects exactly its socket")
    func sessions() async throws {
        try await PresenceFixture.with { fixture in
            let created = fixture.syncFile("created")
            let endData = fixture.syncFile("end-data")
            let clients = [
                try await fixture.client("frank1", user: "frank-s", on: .a),
                try await fixture.client("frank2", user: "frank-s", on: .b),
                try await fixture.client("grace", user: "grace-s", on: .a),
            ]
            let steps: [[String: Any]] = [
                ["client": "frank2", "emit": "session:create",
                 "data": ["deviceInfo": "Firefox on Linux", "ipAddress": "6.6.6.6"], "ack": true],
                ["client": "frank2", "wait_ack": "session:create"],
                ["client": "frank1", "emit": "session:create", "data": ["deviceInfo": "Phone"], "ack": true],
                ["client": "frank1", "wait_ack": "session:create"],
                ["client": "frank1", "emit": "session:create", "data": ["deviceInfo": "again"], "ack": true],
                ["client": "frank1", "wait_ack": "session:create", "count": 2],
                ["client": "frank1", "emit": "session:list", "ack": true],
                ["client": "frank1", "wait_ack": "session:list"],
                ["client": "frank2", "wait_for": "session:new"],
                ["touch": created], ["wait_file": endData],
                ["client": "grace", "emit": "session:end", "data_file": endData, "ack": true],
                ["client": "grace", "wait_ack": "session:end"],
                ["client": "frank1", "emit": "session:heartbeat", "ack": true],
                ["client": "frank1", "wait_ack": "session:heartbeat"],
                ["client": "frank1", "emit": "session:end", "data_file": endData, "ack": true],
                ["client": "frank1", "wait_ack": "session:end"],
                ["client": "frank2", "wait_disconnected": true],
                ["client": "frank1", "emit": "session:sync", "ack": true],
                ["client": "frank1", "wait_ack": "session:sync"],
            ]
            async let run = fixture.run(clients: clients, steps: steps)
            try await fixture.waitForFile(created)
            let before = try fixture.snapshot(created)
            let franksSession = try #require(before["frank2"]?.payloads(named: "session:created").first?["session"])
            let sessionId = try #require(franksSession["id"]?.stringValue)
            try fixture.release(endData, data: ["sessionId": sessionId])
            let seen = try await run

            let frank1 = try #require(seen["frank1"])
            let frank2 = try #require(seen["frank2"])
            let grace = try #require(seen["grace"])
            #expect(franksSession["ipAddress"] == "127.0.0.1", "the address the gateway saw, not the client's claim")
            #expect(franksSession["deviceInfo"] == "Firefox on Linux" && franksSession["userId"] == "frank-s")
            #expect(franksSession["socketId"]?.stringValue == frank2.sid && franksSession["gatewayId"] == .string(fixture.gatewayBId))
            #expect(frank1.payloads(named: "session:new").first?["session"] == franksSession)
            #expect(frank2.payloads(named: "session:new").count == 1, "frank2 hears of frank1's session, not its own")
            let ownSession = try #require(frank1.acks(for: "session:create").first?["session"])
            #expect(frank1.acks(for: "session:create").last?["sessionId"] == ownSession["id"], "a second create is refused")
            #expect(frank1.payloads(named: "session:error").first?["message"] == "this connection already has a session")
            let listed = frank1.acks(for: "session:list").first?["sessions"]?.arrayValue ?? []
            #expect(Set(listed.compactMap { $0["id"]?.stringValue }) == [sessionId, ownSession["id"]?.stringValue ?? ""])

            #expect(grace.acks(for: "session:end") == [["message": "unknown session", "sessionId": .string(sessionId)]],
                    "another user's session cannot be ended")
            #expect(frank1.acks(for: "session:heartbeat").first?["sessionId"] == ownSession["id"])
            #expect(frank1.acks(for: "session:end") == [["sessionId": .string(sessionId), "ended": true]])
            #expect(frank1.payloads(named: "session:ended").first?["sessionId"] == .string(sessionId))
            #expect(frank2.payloads(named: "session:ended").first?["sessionId"] == .string(sessionId))
            #expect(frank2.disconnected && !frank2.stillConnected, "the ended session's socket is disconnected")
            #expect(frank1.stillConnected && grace.stillConnected, "every other socket stays")
            let synced = frank1.acks(for: "session:sync").first?["sessions"]?.arrayValue ?? []
            #expect(synced.compactMap { $0["id"] } == [ownSession["id"] ?? .null])
        }
    }
}
