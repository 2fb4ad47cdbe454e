import Foundation
import Messages
import PresenceService
import Testing
import TestSupport

/// The broadcast matrix end to end, each case with its documented outcome and no copy reaching anyone else; and
/// `server:health` to the admin room only.
@Suite("presence service: broadcasts and health", .serialized, .timeLimit(.minutes(4)))
struct PresenceBroadcastTests {
    @Test("broadcast matrix: member/non-member, shared room/stranger, admin/non-admin, forbidden room kinds")
    func matrix() async throws {
        try await PresenceFixture.with { fixture in
            let clients = [
                try await fixture.client("m1", user: "m1-b", on: .a, rooms: ["team-b"]),
                try await fixture.client("m2", user: "m2-b", on: .b, rooms: ["team-b"]),
                try await fixture.client("out", user: "out-b", on: .a, rooms: ["team-c"]),
                try await fixture.client("admin", user: "admin-b", on: .b, roles: ["ADMIN"]),
                try await fixture.client("stranger", user: "stranger-b", on: .a),
            ]
            func toRoom(_ sender: String, _ room: String, _ type: String, _ payload: Any = ["n": 1]) -> [String: Any] {
                ["client": sender, "emit": "broadcast:to-room", "data": ["targetRoom": room, "type": type, "payload": payload],
                 "ack": true]
            }
            func toUsers(_ sender: String, _ users: [String], _ type: String) -> [String: Any] {
                ["client": sender, "emit": "broadcast:to-users", "data": ["targetUsers": users, "type": type, "payload": ["n": 2]],
                 "ack": true]
            }
            func waitAck(_ client: String, _ event: String, _ count: Int) -> [String: Any] {
                ["client": client, "wait_ack": event, "count": count]
            }
            func waitMessage(_ client: String, _ type: String) -> [String: Any] {
                ["client": client, "wait_for": "broadcast:message", "match": ["type": type]]
            }
            let steps: [[String: Any]] = [
                ["client": "m1", "emit": "presence:join-room", "data": ["roomId": "team-b"], "ack": true],
                ["client": "m2", "emit": "presence:join-room", "data": ["roomId": "team-b"], "ack": true],
                ["client": "out", "emit": "presence:join-room", "data": ["roomId": "team-c"], "ack": true],
                waitAck("m1", "presence:join-room", 1), waitAck("m2", "presence:join-room", 1),
                waitAck("out", "presence:join-room", 1),
                // 1. A member to its room: every member, nobody else.
                toRoom("m1", "team-b", "room-ok"), waitMessage("m2", "room-ok"), waitAck("m1", "broadcast:to-room", 1),
                // 2. A non-member to that room: refused.
                toRoom("out", "team-b", "room-outsider"), waitAck("out", "broadcast:to-room", 1),
                // 3. `admin` as a room id is the presence room `room:admin`, not the admins' room: not a member.
                toRoom("out", "admin", "room-admin"), waitAck("out", "broadcast:to-room", 2),
                // 4. Server room kinds: refused by the gateway's schema check, never relayed.
                toRoom("out", "user:m1-b", "kind-user"), toRoom("out", "biometric:r1", "kind-biometric"),
                toRoom("out", "stream:d1", "kind-stream"), toRoom("out", "notifications:general", "kind-notifications"),
                waitAck("out", "broadcast:to-room", 6),
                // 5. To a user sharing a room; to a stranger and a room mate at once; a stranger to a member.
                toUsers("m1", ["m2-b"], "users-shared"), waitMessage("m2", "users-shared"),
                toUsers("m1", ["stranger-b", "m2-b"], "users-mixed"), waitMessage("m2", "users-mixed"),
                waitAck("m1", "broadcast:to-users", 2),
                toUsers("stranger", ["m1-b"], "users-stranger"), waitAck("stranger", "broadcast:to-users", 1),
                // 6. An admin reaches anyone.
                toUsers("admin", ["stranger-b"], "users-admin"), waitMessage("stranger", "users-admin"),
                // 7. broadcast:admin: refused without the role; with it, everyone, from "admin".
                ["client": "m1", "emit": "broadcast:admin", "data": ["type": "admin-denied", "payload": [:]], "ack": true],
                waitAck("m1", "broadcast:admin", 1),
                // 8. A payload over BROADCAST_MAX_PAYLOAD_BYTES (16384 as JSON).
                toRoom("m1", "team-b", "too-large", String(repeating: "x", count: 16_384)),
                waitAck("m1", "broadcast:to-room", 2),
                ["client": "admin", "emit": "broadcast:admin", "data": ["type": "all-hands", "payload": ["at": "now"]],
                 "ack": true],
                waitMessage("m1", "all-hands"), waitMessage("m2", "all-hands"), waitMessage("out", "all-hands"),
                waitMessage("stranger", "all-hands"), waitMessage("admin", "all-hands"),
                // server:health reaches the admin (twice, so a non-admin had every chance to get one too).
                ["client": "admin", "wait_for": "server:health", "count": 2],
            ]
            let seen = try await fixture.run(clients: clients, steps: steps, collectSeconds: 1)
            let names = ["m1", "m2", "out", "admin", "stranger"]
            func received(_ name: String) -> [String] {
                (seen[name]?.payloads(named: "broadcast:message") ?? []).compactMap { $0["type"]?.stringValue }
            }
            #expect(received("m1") == ["room-ok", "all-hands"])
            #expect(received("m2") == ["room-ok", "users-shared", "users-mixed", "all-hands"])
            #expect(received("out") == ["all-hands"])
            #expect(received("admin") == ["all-hands"])
            #expect(received("stranger") == ["users-admin", "all-hands"])
            for name in names {
                let messages = seen[name]?.payloads(named: "broadcast:message") ?? []
                for message in messages {
                    let type = message["type"]?.stringValue ?? ""
                    let expectedFrom = type == "all-hands" ? "admin" : type == "users-admin" ? "admin-b" : "m1-b"
                    #expect(message["from"] == .string(expectedFrom), "\(name) got \(message)")
                    #expect(message["timestamp"]?.stringValue != nil)
                }
            }
            #expect(seen["m2"]?.payloads(named: "broadcast:message").first?["payload"] == ["n": 1])

            let m1 = try #require(seen["m1"])
            let out = try #require(seen["out"])
            let stranger = try #require(seen["stranger"])
            #expect(m1.acks(for: "broadcast:to-room").first == ["delivered": true, "targetRoom": "team-b"])
            func reasons(_ client: PeerClient) -> [String] {
                client.payloads(named: "broadcast:error").compactMap { $0["reason"]?.stringValue }
            }
            #expect(reasons(out) == ["not_member", "not_member"])
            #expect(out.acks(for: "broadcast:to-room").prefix(2).map { $0["reason"] } == ["not_member", "not_member"])
            let schemaRefusals = out.payloads(named: "error")
            #expect(schemaRefusals.count == 4 && schemaRefusals.allSatisfy { $0["event"] == "broadcast:to-room" },
                    "forbidden room kinds are refused at the gateway: \(schemaRefusals)")
            #expect(reasons(m1) == ["no_shared_room", "admin_required", "payload_too_large"])
            #expect(m1.payloads(named: "broadcast:error").first?["refusedUsers"] == ["stranger-b"])
            #expect(m1.acks(for: "broadcast:to-users").last == ["delivered": ["m2-b"], "refused": ["stranger-b"]])
            #expect(reasons(stranger) == ["no_shared_room"])
            #expect(stranger.acks(for: "broadcast:to-users").first?["refusedUsers"] == ["m1-b"])

            let health = try #require(seen["admin"]?.payloads(named: "server:health").last)
            #expect(health["gateways"] == 2, "every gateway counted: \(health)")
            #expect((health["connections"]?.numberValue ?? 0) >= 5 && (health["users"]?.numberValue ?? 0) >= 5)
            #expect(health["timestamp"]?.stringValue != nil)
            for name in names where name != "admin" {
                #expect(seen[name]?.payloads(named: "server:health").isEmpty == true, "\(name) is no admin")
            }
        }
    }
}
