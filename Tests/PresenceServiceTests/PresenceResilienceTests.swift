import Foundation
import Messages
import PresenceService
import Runtime
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Failures: a gateway killed with SIGKILL, a redis-server restarted under load.
@Suite("presence service: dead gateways and Redis restarts", .serialized, .timeLimit(.minutes(4)))
struct PresenceResilienceTests {
    @Test("kill -9 one gateway: its users go offline and leave rooms within the grace; the other gateway's are unaffected")
    func killedGateway() async throws {
        try await PresenceFixture.with { fixture in
            let joined = fixture.syncFile("joined")
            let swept = fixture.syncFile("swept")
            let checked = fixture.syncFile("checked")
            let room: [String: Any] = ["roomId": "team-k"]
            let clients = [
                try await fixture.client("ann", user: "ann-k", on: .a, rooms: ["team-k"]),
                try await fixture.client("dan", user: "dan-k", on: .a, rooms: ["team-k"]),
                try await fixture.client("ben", user: "ben-k", on: .b, rooms: ["team-k"]),
                try await fixture.client("catB", user: "cat-k", on: .b, rooms: ["team-k"]),
                try await fixture.client("catA", user: "cat-k", on: .a, rooms: ["team-k"]),
            ]
            var steps: [[String: Any]] = []
            for name in ["ann", "dan", "ben", "catB", "catA"] {
                steps.append(["client": name, "emit": "presence:join-room", "data": room, "ack": true])
                steps.append(["client": name, "wait_ack": "presence:join-room"])
            }
            steps += [
                ["client": "catB", "emit": "session:create", "data": ["deviceInfo": "tab on B"], "ack": true],
                ["client": "catB", "wait_ack": "session:create"],
                ["touch": joined],
                ["client": "ann", "wait_for": "presence:updated", "match": ["userId": "ben-k", "status": "offline"],
                 "timeout": 60],
                ["client": "ann", "wait_for": "presence:member-left", "match": ["userId": "ben-k"], "timeout": 60],
                ["client": "catA", "wait_for": "session:ended", "match": ["reason": "disconnected"], "timeout": 60],
                ["touch": swept], ["wait_file": checked],
                ["client": "dan", "emit": "presence:update", "data": ["status": "away"]],
                ["client": "ann", "wait_for": "presence:updated", "match": ["userId": "dan-k", "status": "away"]],
            ]
            async let run = fixture.run(clients: clients, steps: steps)
            try await fixture.waitForFile(joined)
            #expect(try await fixture.members(of: "team-k") == ["ann-k", "ben-k", "cat-k", "dan-k"])
            #expect(fixture.gatewayB.signal(SIGKILL))
            #expect(await fixture.gatewayB.waitForExit(timeout: .seconds(10)) == .signaled(SIGKILL))

            try await fixture.waitForFile(swept)
            #expect(try await fixture.members(of: "team-k") == ["ann-k", "cat-k", "dan-k"],
                    "cat keeps a tab on the surviving gateway")
            #expect(try await fixture.status(of: "ben-k") == nil)
            #expect(try await fixture.sockets(of: "ben-k").isEmpty)
            #expect(try await fixture.sockets(of: "cat-k").count == 1)
            #expect(try await fixture.presence.application.store.sessions(userId: "cat-k").isEmpty,
                    "the dead gateway's session ended with its socket")
            #expect(try await fixture.status(of: "ann-k") == "online")
            #expect(try await fixture.status(of: "dan-k") == "online")
            #expect(try await fixture.presence.application.store.counts().gateways == 1)
            #expect(try await fixture.redis.smembers("presence:gateway:\(fixture.gatewayBId)").isEmpty)
            try fixture.release(checked)
            let seen = try await run

            let ann = try #require(seen["ann"])
            let offline = ann.payloads(named: "presence:updated").filter { $0["status"] == "offline" }
            #expect(offline.compactMap { $0["userId"]?.stringValue } == ["ben-k"], "cat still has a tab: \(offline)")
            #expect(offline.first?["roomId"] == "team-k")
            #expect(ann.payloads(named: "presence:member-left").compactMap { $0["userId"]?.stringValue } == ["ben-k"])
            #expect(ann.stillConnected && seen["dan"]?.stillConnected == true && seen["catA"]?.stillConnected == true)
            #expect(seen["ben"]?.stillConnected == false)
            let catsSession = seen["catB"]?.acks(for: "session:create").first?["session"]?["id"]
            #expect(catsSession != nil)
            #expect(seen["catA"]?.payloads(named: "session:ended").first?["sessionId"] == catsSession,
                    "cat's other tab hears that the dead gateway's session ended")
        }
    }

    @Test("restart redis-server mid-test: commands wait for it, the registry is rebuilt from liveness, nothing is dead-lettered")
    func redisRestart() async throws {
        try await PresenceFixture.with { fixture in
            let ready = fixture.syncFile("ready")
            let redisDown = fixture.syncFile("redis-down")
            let rejoined = fixture.syncFile("rejoined")
            let checked = fixture.syncFile("checked")
            let room: [String: Any] = ["roomId": "team-r"]
            let clients = [
                try await fixture.client("ann", user: "ann-r", on: .a, rooms: ["team-r"]),
                try await fixture.client("ben", user: "ben-r", on: .b, rooms: ["team-r"]),
                // Sends nothing after the restart: only the liveness records can bring it back.
                try await fixture.client("cal", user: "cal-r", on: .b),
            ]
            let steps: [[String: Any]] = [
                ["client": "ann", "emit": "presence:join-room", "data": room, "ack": true],
                ["client": "ann", "wait_ack": "presence:join-room"],
                ["client": "ben", "emit": "presence:join-room", "data": room, "ack": true],
                ["client": "ann", "wait_for": "presence:member-joined", "match": ["userId": "ben-r"]],
                ["touch": ready], ["wait_file": redisDown],
                // Redis is down (and comes back empty): the clients join again, as after a reconnect.
                ["client": "ann", "emit": "presence:join-room", "data": room, "ack": true],
                ["client": "ann", "wait_ack": "presence:join-room", "count": 2, "timeout": 90],
                ["client": "ben", "emit": "presence:join-room", "data": room, "ack": true],
                ["client": "ann", "wait_for": "presence:member-joined", "match": ["userId": "ben-r"], "count": 2],
                ["client": "ben", "emit": "broadcast:to-room",
                 "data": ["targetRoom": "team-r", "type": "after-restart", "payload": [:]]],
                ["client": "ann", "wait_for": "broadcast:message", "match": ["type": "after-restart"]],
                ["touch": rejoined], ["wait_file": checked],
                ["client": "ben", "disconnect": true],
                ["client": "ann", "wait_for": "presence:updated", "match": ["userId": "ben-r", "status": "offline"]],
            ]
            async let run = fixture.run(clients: clients, steps: steps)
            try await fixture.waitForFile(ready)
            let annSocket = try #require(fixture.snapshot(ready)["ann"]?.sid)
            let calSocket = try #require(fixture.snapshot(ready)["cal"]?.sid)
            try await fixture.redisServer.stop()
            let retries = { MetricsBootstrap.prometheusText().contains("presence_redis_retries_total") }
            try fixture.release(redisDown)
            try await waitUntil("the presence service retries against the stopped Redis", timeout: .seconds(30)) {
                retries()
            }
            try await fixture.redisServer.restart()
            try await fixture.waitForFile(rejoined, timeout: .seconds(120))
            // Rebuilt from the next liveness records: both sockets and both gateways are known again.
            try await waitUntil("the registry is rebuilt", timeout: .seconds(30)) {
                let ann = try await fixture.sockets(of: "ann-r")
                let ben = try await fixture.sockets(of: "ben-r")
                let cal = try await fixture.sockets(of: "cal-r")
                let gateways = try await fixture.presence.application.store.counts().gateways
                return ann == [annSocket] && ben.count == 1 && cal == [calSocket] && gateways == 2
            }
            #expect(try await fixture.status(of: "cal-r") == "online")
            #expect(try await fixture.members(of: "team-r") == ["ann-r", "ben-r"])
            try fixture.release(checked)
            let seen = try await run

            let ann = try #require(seen["ann"])
            #expect(ann.acks(for: "presence:join-room").count == 2)
            #expect(ann.payloads(named: "broadcast:message").first?["from"] == "ben-r")
            #expect(ann.payloads(named: "presence:updated").contains { $0["userId"] == "ben-r" && $0["status"] == "offline" })
            let reader = TopicReader(bootstrapServers: fixture.broker.bootstrapServers, logger: fixture.logger)
            let deadLetters = try await reader.records(on: Topics.deadletter, count: 1, timeout: .seconds(2))
            #expect(deadLetters.isEmpty, "nothing was dead-lettered: \(deadLetters.map { String(decoding: $0.value, as: UTF8.self).prefix(300) })")
        }
    }

    @Test("two instances share the consumer groups; one drains on shutdown and the other takes over its partitions")
    func twoInstances() async throws {
        try await PresenceFixture.with { fixture in
            let second = try fixture.startPresenceInstance()
            let firstRound = fixture.syncFile("first-round")
            let stopped = fixture.syncFile("stopped")
            let users = (1...6).map { "user\($0)-t" }
            var clients: [[String: Any]] = []
            for (index, user) in users.enumerated() {
                clients.append(try await fixture.client(user, user: user, on: index % 2 == 0 ? .a : .b))
            }
            var steps: [[String: Any]] = []
            for status in ["away", "online"] {
                for user in users {
                    steps.append(["client": user, "emit": "presence:update", "data": ["status": status], "ack": true])
                }
                for user in users {
                    steps.append(["client": user, "wait_ack": "presence:update", "count": status == "away" ? 1 : 2,
                                  "timeout": 60])
                }
                if status == "away" { steps += [["touch": firstRound], ["wait_file": stopped]] }
            }
            async let run = fixture.run(clients: clients, steps: steps)
            try await fixture.waitForFile(firstRound, timeout: .seconds(90))
            try await fixture.presence.stop()  // graceful: drains, commits, leaves the groups
            try fixture.release(stopped)
            let seen = try await run
            try? await second.stop()
            await second.application.redis.close()

            for user in users {
                let statuses = seen[user]?.acks(for: "presence:update").compactMap { $0["status"]?.stringValue }
                #expect(statuses == ["away", "online"], "\(user): \(String(describing: seen[user]?.acks(for: "presence:update")))")
            }
        }
    }
}
