import Foundation
import Messages
import PresenceService
import Runtime
import Testing

/// The plain decisions and delivery plans, without I/O; and the configuration.
@Suite("presence decisions and configuration")
struct PresenceDecisionTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let reply = ReplyAddress(socketId: "s1", gatewayId: "gw1", ackId: 7)

    @Test("joins: the token's rooms claim or role ADMIN")
    func joins() {
        let member = Principal(userId: "u1", rooms: ["team-1"])
        #expect(PresencePolicy.mayJoin("team-1", principal: member))
        #expect(!PresencePolicy.mayJoin("team-2", principal: member))
        #expect(!PresencePolicy.mayJoin("team-1", principal: Principal(userId: "u2")))
        #expect(PresencePolicy.mayJoin("anything", principal: Principal(userId: "root", roles: ["ADMIN"])))
        #expect(!PresencePolicy.mayJoin("team-1", principal: Principal(userId: "u3", roles: ["admin"])), "roles are exact")
    }

    @Test("broadcast refusals: room kinds, membership, role, payload size")
    func broadcastRefusals() {
        for room in ["user:u1", "biometric:r1", "stream:d1", "notifications:general", "", "room:x", "a b"] {
            #expect(PresencePolicy.roomBroadcastRefusal(targetRoom: room, senderIsMember: true, payload: [:], maxBytes: 100)
                    == .forbiddenRoom, "\(room)")
        }
        #expect(PresencePolicy.roomBroadcastRefusal(targetRoom: "team-1", senderIsMember: false, payload: [:], maxBytes: 100)
                == .notMember)
        #expect(PresencePolicy.roomBroadcastRefusal(targetRoom: "team-1", senderIsMember: true, payload: [:], maxBytes: 100)
                == nil)
        #expect(PresencePolicy.payloadRefusal(.string(String(repeating: "x", count: 98)), maxBytes: 100) == nil)
        #expect(PresencePolicy.payloadRefusal(.string(String(repeating: "x", count: 99)), maxBytes: 100) == .payloadTooLarge)
        #expect(PresencePolicy.adminBroadcastRefusal(principal: Principal(userId: "u1"), payload: [:], maxBytes: 100)
                == .adminRequired)
        #expect(PresencePolicy.adminBroadcastRefusal(
            principal: Principal(userId: "root", roles: ["ADMIN"]), payload: [:], maxBytes: 100) == nil)
        for refusal in BroadcastRefusal.allCases { #expect(!refusal.message.isEmpty) }
    }

    @Test("a removed last socket: offline to its rooms, then member-left; a session ended with a remaining tab")
    func removalPlan() throws {
        let last = SocketRemoval(socketId: "s1", userId: "u1", gatewayId: "gw1", leftRooms: ["a", "b"], offline: true,
                                 endedSession: "sess-1")
        let deliveries = PresencePlanner.removal(last, at: now)
        #expect(deliveries.allSatisfy { $0.key == "u1" })
        #expect(deliveries.map(\.delivery.target) == [.room("room:a"), .room("room:b"), .room("room:a"), .room("room:b")])
        #expect(deliveries.map(\.delivery.eventName) == [
            "presence:updated", "presence:updated", "presence:member-left", "presence:member-left"])
        #expect(deliveries.first?.delivery.eventData == [
            "userId": "u1", "status": "offline", "timestamp": .string(Timestamp.string(from: now)), "roomId": "a"])

        let tab = SocketRemoval(socketId: "s2", userId: "u1", endedSession: "sess-2")
        let ended = PresencePlanner.removal(tab, at: now)
        #expect(ended.map(\.delivery.target) == [.user("u1")])
        #expect(ended.first?.delivery.eventData == ["sessionId": "sess-2", "reason": "disconnected"])
        #expect(PresencePlanner.removal(SocketRemoval(socketId: "s3", userId: "u1"), at: now).isEmpty)
    }

    @Test("a join: control first, then member-joined to the room, then room-members answering the ack")
    func joinPlan() {
        let deliveries = PresencePlanner.joined(
            JoinOutcome(newMember: true, members: ["u1", "u2"]), roomId: "team-1", userId: "u1", reply: reply, at: now)
        #expect(deliveries.count == 3)
        guard case .control(let control) = deliveries[0].content else {
            Issue.record("first delivery is no control")
            return
        }
        #expect(control.action == .join && control.room == "room:team-1" && deliveries[0].gatewayId == "gw1")
        #expect(deliveries[1].target == .room("room:team-1") && deliveries[1].eventName == "presence:member-joined")
        #expect(deliveries[2].target == .socket("s1") && deliveries[2].eventAckId == 7)
        #expect(deliveries[2].eventData == ["roomId": "team-1", "members": ["u1", "u2"]])
        let again = PresencePlanner.joined(JoinOutcome(members: ["u1"]), roomId: "team-1", userId: "u1", reply: reply, at: now)
        #expect(!again.contains { $0.eventName == "presence:member-joined" }, "a second tab is not a new member")
    }

    @Test("status changes reach each socket once: through rooms, or directly for sockets in none")
    func statusAudience() {
        let direct = ReplyAddress(socketId: "s9", gatewayId: "gw2")
        let inRooms = PresencePlanner.presenceUpdated(
            userId: "u1", status: "away", audience: PresenceAudience(rooms: ["a"], directSockets: [direct]), at: now)
        #expect(inRooms.map(\.target) == [.room("room:a"), .socket("s9")])
        #expect(inRooms[1].gatewayId == "gw2")
        let alone = PresencePlanner.presenceUpdated(
            userId: "u1", status: "away", audience: PresenceAudience(rooms: [], directSockets: [direct]), at: now)
        #expect(alone.map(\.target) == [.user("u1")])
    }

    @Test("to-users: partial refusal is reported without taking the ack; a full refusal answers the ack")
    func usersBroadcastPlan() {
        let command = BroadcastToUsers(targetUsers: ["u2", "u3"], type: "t", payload: ["x": 1])
        let partial = PresencePlanner.usersBroadcast(
            command, from: "u1", allowed: ["u2"], refused: ["u3"], reply: reply, at: now)
        #expect(partial.map(\.target) == [.user("u2"), .socket("s1"), .socket("s1")])
        #expect(partial[1].eventName == "broadcast:error" && partial[1].eventAckId == nil)
        #expect(partial[0].eventData?["from"] == "u1" && partial[0].eventData?["payload"] == ["x": 1])
        let none = PresencePlanner.usersBroadcast(command, from: "u1", allowed: [], refused: ["u2", "u3"], reply: reply, at: now)
        #expect(none.count == 1 && none[0].eventAckId == 7)
        #expect(none[0].eventData?["refusedUsers"] == ["u2", "u3"] && none[0].eventData?["reason"] == "no_shared_room")
    }

    @Test("session end: ended to all the user's sockets, the ack, then the disconnect on the session's gateway")
    func sessionEndPlan() {
        let deliveries = PresencePlanner.sessionEnded(
            EndedSession(sessionId: "sess-1", socketId: "s5", gatewayId: "gw2"), userId: "u1", reply: reply)
        #expect(deliveries.map(\.target) == [.user("u1"), .socket("s1"), .socket("s5")])
        guard case .control(let disconnect) = deliveries[2].content else {
            Issue.record("no disconnect control")
            return
        }
        #expect(disconnect.action == .disconnect && deliveries[2].gatewayId == "gw2")
        let created = PresencePlanner.sessionCreated(["id": "sess-1"], userId: "u1", reply: reply)
        #expect(created.map(\.target) == [.socket("s1"), .user("u1", except: "s1")])
    }

    @Test("server:health goes to the admin room only")
    func health() {
        let delivery = PresencePlanner.health(
            PresenceCounts(sockets: 5, users: 3, rooms: 2, sessions: 1, gateways: 2), at: now)
        #expect(delivery.target == .room("admin") && delivery.eventName == "server:health")
        #expect(delivery.eventData == [
            "connections": 5, "users": 3, "gateways": 2, "timestamp": .string(Timestamp.string(from: now))])
    }

    @Test("configuration: defaults, grace from each gateway's interval, bad values name their variable")
    func configuration() throws {
        let defaults = try PresenceServiceConfiguration(environment: EnvironmentReader([:]))
        #expect(defaults.common.httpPort == 9103 && defaults.groupId == "presence-service")
        #expect(defaults.gatewayGrace == nil && defaults.sweepInterval == .seconds(5))
        #expect(defaults.keyTTL == .seconds(120) && defaults.sessionIdle == .seconds(1800))
        #expect(defaults.idempotencyTTL == .seconds(3600) && defaults.healthInterval == .seconds(30))
        #expect(defaults.broadcastMaxPayloadBytes == 16_384 && defaults.redisRetry == .seconds(30))
        #expect(defaults.redis.port == 6379)
        #expect(defaults.grace(intervalSeconds: 10) == .seconds(30) && defaults.grace(intervalSeconds: nil) == .seconds(30))
        #expect(defaults.grace(intervalSeconds: 2) == .seconds(6))

        let fixed = try PresenceServiceConfiguration(environment: EnvironmentReader([
            "GATEWAY_GRACE_SECONDS": "12", "PRESENCE_TTL_SECONDS": "40", "PRESENCE_GROUP_ID": "p2",
        ]))
        #expect(fixed.gatewayGrace == .seconds(12) && fixed.keyTTL == .seconds(40) && fixed.groupId == "p2")
        #expect(fixed.grace(intervalSeconds: 1) == .seconds(12), "a configured grace wins")

        for (variable, value) in [
            ("SWEEP_INTERVAL_SECONDS", "0"), ("PRESENCE_TTL_SECONDS", "10"), ("SESSION_IDLE_SECONDS", "x"),
            ("BROADCAST_MAX_PAYLOAD_BYTES", "1"), ("REDIS_URL", "http://nope"), ("GATEWAY_GRACE_SECONDS", "-1"),
        ] {
            #expect {
                _ = try PresenceServiceConfiguration(environment: EnvironmentReader([variable: value]))
            } throws: { error in
                (error as? ConfigurationError)?.variable == variable
            }
        }
    }
}

extension Delivery {
    /// The event name, for event deliveries.
    var eventName: String? {
        if case .event(let event) = content { return event.name }
        return nil
    }

    /// The event data, for event deliveries.
    var eventData: JSONValue? {
        if case .event(let event) = content { return event.data }
        return nil
    }

    /// The ack the event also answers.
    var eventAckId: Int? {
        if case .event(let event) = content { return event.ackId }
        return nil
    }
}
