import Foundation
import GRDB
import Messages
import NotificationService
import Runtime
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

@Suite("Notification service end to end", .serialized, .timeLimit(.minutes(4)))
struct NotificationServiceTests {
    private static let send = ClientEvent.notificationSend.rawValue

    private func sendStep(_ client: String, to target: String, title: String, category: String? = nil,
                          ack: Bool = true) -> [String: Any] {
        var data: [String: Any] = ["targetUserId": target, "type": "reminder", "title": title, "body": "hello"]
        if let category { data["category"] = category }
        return ["client": client, "emit": Self.send, "data": data, "ack": ack]
    }

    @Test("send is allowed with scope notifications:send or role ADMIN and refused otherwise; the target gets it live")
    func sendAuthorization() async throws {
        let fixture = try await NotificationFixture()
        let seen = try await fixture.runPeer(
            clients: [
                try await fixture.client("s", user: "sam", scope: "profile notifications:send"),
                try await fixture.client("a", user: "ada", roles: ["ADMIN"]),
                try await fixture.client("n", user: "nick", scope: "profile"),
                try await fixture.client("r", user: "rita"),
            ],
            steps: [
                sendStep("s", to: "rita", title: "From sam"),
                ["client": "r", "wait_for": "notification:new", "count": 1],
                sendStep("a", to: "rita", title: "From ada", category: "general"),
                ["client": "r", "wait_for": "notification:new", "count": 2],
                sendStep("n", to: "rita", title: "From nick"),
                ["client": "n", "wait_for": "notification:error"],
            ], collectSeconds: 1)
        let stored = try await fixture.notificationCount(userId: "rita")
        await fixture.stop()
        let rita = try #require(seen["r"]), sam = try #require(seen["s"]), nick = try #require(seen["n"])
        let received = rita.payloads(named: "notification:new")
        #expect(received.compactMap { $0["title"]?.stringValue }.sorted() == ["From ada", "From sam"])
        #expect(received.allSatisfy { $0["userId"] == "rita" && $0["readAt"] == .null && $0["category"] == "general" })
        #expect(Set(received.compactMap { $0["senderId"]?.stringValue }) == ["sam", "ada"])
        let samAck = try #require(sam.acks(for: Self.send).first)
        #expect(received.contains { $0["id"] == samAck["notificationId"] })
        #expect(samAck["targetUserId"] == "rita")
        let refusal = try #require(nick.payloads(named: "notification:error").first)
        #expect(refusal["reason"] == "forbidden")
        #expect(refusal["message"]?.stringValue?.contains("notifications:send") == true)
        #expect(nick.acks(for: Self.send).first?["reason"] == "forbidden")
        #expect(stored == 2)
    }

    @Test("a user offline at send time gets every notification from get-unread, newest first, paged with a cursor")
    func offlineUserPagesUnread() async throws {
        let fixture = try await NotificationFixture()
        for index in 0..<3 { try await fixture.create(for: "olga", title: "backend \(index)") }
        _ = try await fixture.runPeer(
            clients: [try await fixture.client("s", user: "sam", scope: "notifications:send")],
            steps: [sendStep("s", to: "olga", title: "from sam")])
        try await waitUntil("4 notifications stored for olga") { try await fixture.notificationCount(userId: "olga") == 4 }
        let ids = try await fixture.notificationIds(userId: "olga")
        let seen = try await fixture.runPeer(
            clients: [try await fixture.client("o", user: "olga")],
            steps: [
                ["client": "o", "emit": "notification:get-unread", "data": ["limit": 3], "ack": true],
                ["client": "o", "wait_for": "notification:unread-list", "count": 1],
                ["client": "o", "emit": "notification:get-unread", "data": ["limit": 3, "before": ids[1]]],
                ["client": "o", "wait_for": "notification:unread-list", "count": 2],
                ["client": "o", "emit": "notification:get-unread"],
                ["client": "o", "wait_for": "notification:unread-list", "count": 3],
                ["client": "o", "emit": "notification:get-unread", "data": ["before": "no-such-notification"], "ack": true],
                ["client": "o", "wait_for": "notification:error"],
            ])
        await fixture.stop()
        let olga = try #require(seen["o"])
        let pages = olga.payloads(named: "notification:unread-list")
        #expect(pages.count == 3)
        let first = try #require(pages.first), second = try #require(pages.dropFirst().first), all = try #require(pages.last)
        #expect(first["notifications"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == [ids[3], ids[2], ids[1]])
        #expect(first["unreadCount"]?.numberValue == 4)
        #expect(first["nextCursor"] == .string(ids[1]))
        #expect(second["notifications"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == [ids[0]])
        #expect(second["nextCursor"] == nil)
        let everything = all["notifications"]?.arrayValue ?? []
        #expect(everything.compactMap { $0["id"]?.stringValue } == ids.reversed())
        #expect(everything.filter { $0["title"] == "from sam" }.count == 1)
        #expect(everything.filter { $0["data"] == ["n": 1] }.count == 3, "backend data round-trips; the client sent none")
        #expect(olga.acks(for: "notification:get-unread").first?["nextCursor"] == .string(ids[1]))
        #expect(olga.payloads(named: "notification:error").first?["reason"] == "unknown_cursor")
    }

    @Test("two tabs of one user converge: mark-read and mark-all-read reach the other tab")
    func tabsConverge() async throws {
        let fixture = try await NotificationFixture()
        try await fixture.create(for: "tom", title: "one")
        try await fixture.create(for: "tom", title: "two")
        try await waitUntil("2 notifications stored for tom") { try await fixture.notificationCount(userId: "tom") == 2 }
        let ids = try await fixture.notificationIds(userId: "tom")
        let seen = try await fixture.runPeer(
            clients: [
                try await fixture.client("t1", user: "tom"), try await fixture.client("t2", user: "tom"),
                try await fixture.client("s", user: "sam", scope: "notifications:send"),
            ],
            steps: [
                sendStep("s", to: "tom", title: "three"),
                ["client": "t1", "wait_for": "notification:new"],
                ["client": "t2", "wait_for": "notification:new"],
                ["client": "t1", "emit": "notification:mark-read", "data": ["notificationId": ids[0]], "ack": true],
                ["client": "t2", "wait_for": "notification:marked-read"],
                ["client": "t2", "emit": "notification:mark-all-read", "ack": true],
                ["client": "t1", "wait_for": "notification:all-marked-read"],
                ["client": "t1", "emit": "notification:get-unread"],
                ["client": "t1", "wait_for": "notification:unread-list"],
                // Marking an already read notification answers the same, and tells no other tab.
                ["client": "t1", "emit": "notification:mark-read", "data": ["notificationId": ids[0]]],
                ["client": "t1", "wait_for": "notification:marked-read", "count": 2],
            ], collectSeconds: 1)
        let unreadLeft = try await fixture.inspect { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM notification WHERE user_id = 'tom' AND read_at IS NULL")
        }
        await fixture.stop()
        let tab1 = try #require(seen["t1"]), tab2 = try #require(seen["t2"])
        #expect(tab1.payloads(named: "notification:new").count == 1)
        #expect(tab2.payloads(named: "notification:new").count == 1)
        #expect(tab1.acks(for: "notification:mark-read").first?["notificationId"] == .string(ids[0]))
        #expect(tab1.payloads(named: "notification:marked-read").count == 2)
        #expect(tab2.payloads(named: "notification:marked-read").map { $0["notificationId"] } == [.string(ids[0])])
        #expect(tab2.payloads(named: "notification:all-marked-read").first?["count"]?.numberValue == 2)
        #expect(tab2.acks(for: "notification:mark-all-read").first?["count"]?.numberValue == 2)
        #expect(tab1.payloads(named: "notification:all-marked-read").first?["count"]?.numberValue == 2)
        #expect(tab1.payloads(named: "notification:all-marked-read").count == 1)
        let list = try #require(tab1.payloads(named: "notification:unread-list").first)
        #expect(list["notifications"] == [])
        #expect(list["unreadCount"]?.numberValue == 0)
        #expect(unreadLeft == 0)
    }

    @Test("mark-read of someone else's notification is refused like an unknown one and changes nothing")
    func markReadOthersRefused() async throws {
        let fixture = try await NotificationFixture()
        try await fixture.create(for: "alice", title: "private")
        try await waitUntil("alice's notification stored") { try await fixture.notificationCount(userId: "alice") == 1 }
        let id = try #require(try await fixture.notificationIds(userId: "alice").first)
        let seen = try await fixture.runPeer(
            clients: [try await fixture.client("m", user: "mallory"), try await fixture.client("a", user: "alice")],
            steps: [
                ["client": "m", "emit": "notification:mark-read", "data": ["notificationId": id], "ack": true],
                ["client": "m", "wait_for": "notification:error"],
                ["client": "m", "emit": "notification:mark-read", "data": ["notificationId": "no-such-id"], "ack": true],
                ["client": "m", "wait_for": "notification:error", "count": 2],
                ["client": "m", "emit": "notification:get-unread"],
                ["client": "m", "wait_for": "notification:unread-list"],
            ], collectSeconds: 1)
        let readAt = try await fixture.inspect { db in
            try Int64?.fetchOne(db, sql: "SELECT read_at FROM notification WHERE id = ?", arguments: [id])
        }
        await fixture.stop()
        let mallory = try #require(seen["m"]), alice = try #require(seen["a"])
        let errors = mallory.payloads(named: "notification:error")
        #expect(errors.count == 2)
        #expect(errors.allSatisfy { $0["reason"] == "not_found" && $0["message"] == "notification not found" })
        #expect(errors.first?["notificationId"] == .string(id))
        #expect(mallory.acks(for: "notification:mark-read").count == 2)
        #expect(mallory.payloads(named: "notification:marked-read").isEmpty)
        #expect(mallory.payloads(named: "notification:unread-list").first?["unreadCount"]?.numberValue == 0)
        #expect(alice.payloads(named: "notification:marked-read").isEmpty)
        #expect(readAt == .some(nil), "still unread")
    }

    @Test("category subscriptions: open categories and token-granted ones are joined, others refused and never received")
    func categorySubscriptions() async throws {
        let fixture = try await NotificationFixture(serviceEnvironment: ["NOTIFICATION_CATEGORIES": "announcements"])
        let seen = try await fixture.runPeer(
            clients: [
                try await fixture.client("p", user: "paul"),
                try await fixture.client("o", user: "oscar", scope: "notifications:category:security"),
                try await fixture.client("s", user: "sam", scope: "notifications:send"),
            ],
            steps: [
                ["client": "p", "emit": "notification:subscribe", "data": ["categories": ["announcements", "security"]],
                 "ack": true],
                ["client": "p", "wait_for": "notification:subscribed"],
                ["client": "o", "emit": "notification:subscribe", "data": ["categories": ["security"]], "ack": true],
                ["client": "o", "wait_for": "notification:subscribed"],
                sendStep("s", to: "victor", title: "billing", category: "billing"),
                sendStep("s", to: "victor", title: "security", category: "security"),
                sendStep("s", to: "everyone", title: "announcement", category: "announcements"),
                ["client": "o", "wait_for": "notification:new"],
                ["client": "p", "wait_for": "notification:new"],
            ], collectSeconds: 1.5)
        await fixture.stop()
        let paul = try #require(seen["p"]), oscar = try #require(seen["o"])
        #expect(paul.acks(for: "notification:subscribe").first?["categories"] == ["announcements"])
        #expect(paul.payloads(named: "notification:subscribed").first?["refused"] == ["security"])
        let refusal = try #require(paul.payloads(named: "notification:error").first)
        #expect(refusal["reason"] == "category_not_allowed")
        #expect(refusal["categories"] == ["security"])
        #expect(oscar.payloads(named: "notification:subscribed").first?["categories"] == ["security"])
        #expect(paul.payloads(named: "notification:new").compactMap { $0["title"]?.stringValue } == ["announcement"])
        #expect(oscar.payloads(named: "notification:new").compactMap { $0["title"]?.stringValue } == ["security"])
    }

    @Test("backends create with a service principal, a re-sent envelope adds nothing; one without the right goes to deadletter")
    func backendCreates() async throws {
        let fixture = try await NotificationFixture()
        let allowed = try await fixture.create(for: "bea", title: "allowed")
        try await fixture.create(for: "bea", title: "allowed, sent again", id: allowed)
        let refused = try await fixture.create(
            for: "bea", title: "refused", principal: Principal(userId: "rogue", roles: ["SERVICE"], scopes: []))
        let dead = try await fixture.records(on: Topics.deadletter, count: 1, timeout: .seconds(30))
        try await waitUntil("bea's notification stored") { try await fixture.notificationCount(userId: "bea") == 1 }
        let live = try await fixture.newDeliveries(to: "bea", count: 2, timeout: .seconds(5))
        let stored = try await fixture.notificationCount()
        await fixture.stop()
        let entry = try #require(dead.first)
        let decoded = try MessageCoding.decodeMessage(from: Data(entry.value), topic: Topics.deadletter)
        let letter = try #require(decoded.payload as? DeadLetter)
        #expect(letter.error.contains("forbidden"))
        let original = try MessageCoding.decodeMessage(from: letter.value,
                                                       topic: Topics.notificationCommands)
        #expect(original.header.id == refused)
        #expect(original.header.id != allowed)
        #expect(stored == 1)
        #expect(live.count == 1)
        #expect(live.first?["title"] == "allowed")
        #expect(live.first?["senderId"] == "billing")
    }

    @Test("a store that fails answers notification:error {reason: unavailable} and dead-letters the command")
    func storeFailure() async throws {
        let fixture = try await NotificationFixture()
        let service = try #require(fixture.firstService)
        try service.application.store.close()  // every later query fails: "connection is closed"
        let seen = try await fixture.runPeer(
            clients: [try await fixture.client("u", user: "uma")],
            steps: [
                ["client": "u", "emit": "notification:get-unread", "ack": true],
                ["client": "u", "wait_for": "notification:error"],
            ])
        let dead = try await fixture.records(on: Topics.deadletter, count: 1, timeout: .seconds(20))
        await fixture.stop()
        let uma = try #require(seen["u"])
        let error = try #require(uma.payloads(named: "notification:error").first)
        #expect(error["reason"] == "unavailable")
        #expect(error["event"] == "notification:get-unread")
        #expect(uma.acks(for: "notification:get-unread").first?["reason"] == "unavailable")
        let letter = try #require(dead.first.flatMap {
            try? MessageCoding.decodeMessage(from: Data($0.value), topic: Topics.deadletter).payload as? DeadLetter
        })
        #expect(letter.originalTopic == Topics.notificationCommands)
        #expect(letter.service == "notification-service")
    }

    @Test("kill -9 between consuming and committing: after a restart no notification is missing and none duplicated",
          .timeLimit(.minutes(4)))
    func killBetweenConsumeAndCommit() async throws {
        let fixture = try await NotificationFixture(startsService: false)
        // No offset is committed before the kill: every record handled so far is delivered again after the restart.
        let noCommit = ["KAFKA_AUTO_COMMIT_INTERVAL_MS": "600000"]
        let first = try await fixture.spawnService(noCommit)
        let total = 40
        var commands: [UUID] = []
        for index in 0..<total { commands.append(try await fixture.create(for: "kim", title: "n\(index)")) }
        try await waitUntil("some notifications stored before the kill", timeout: .seconds(60)) {
            try await fixture.notificationCount() >= 10
        }
        #expect(first.process.signal(SIGKILL))
        let status = await first.process.waitForExit()
        let storedAtKill = try await fixture.notificationCount()
        let second = try await fixture.spawnService()
        try await waitUntil("every command handled after the restart", timeout: .seconds(90)) {
            try await fixture.inspect { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM command WHERE delivered_at IS NOT NULL") } == total
        }
        let metrics = try await fixture.metricsText(port: second.port)
        let (stored, storedCommands) = try await fixture.inspect { db in
            (try String.fetchAll(db, sql: "SELECT title FROM notification"),
             try String.fetchAll(db, sql: "SELECT command_id FROM command"))
        }
        let live = try await fixture.newDeliveries(to: "kim", count: total + 5, timeout: .seconds(10))
        await second.process.terminate(grace: .seconds(20))
        await fixture.stop()
        #expect(status == .signaled(SIGKILL))
        #expect(stored.count == total)
        #expect(Set(stored) == Set((0..<total).map { "n\($0)" }))
        #expect(Set(storedCommands) == Set(commands.map { $0.uuidString.lowercased() }))
        let redelivered = Self.counterSum(metrics, "notification_commands_redelivered_total")
        #expect(redelivered >= Double(storedAtKill), "every create handled before the kill came back: \(metrics)")
        let liveIds = live.compactMap { $0["id"]?.stringValue }
        #expect(Set(liveIds).count == total, "each notification went out live")
        #expect(liveIds.count - Set(liveIds).count <= 1, "only a create killed between delivering and marking repeats")
    }

    @Test("the SQLite file survives a SIGTERM restart with every notification and its read state")
    func fileSurvivesRestart() async throws {
        let fixture = try await NotificationFixture(startsService: false)
        let first = try await fixture.spawnService()
        for index in 0..<3 { try await fixture.create(for: "sue", title: "keep \(index)") }
        try await waitUntil("3 stored for sue") { try await fixture.notificationCount(userId: "sue") == 3 }
        let ids = try await fixture.notificationIds(userId: "sue")
        _ = try await fixture.runPeer(
            clients: [try await fixture.client("s", user: "sue")],
            steps: [
                ["client": "s", "emit": "notification:mark-read", "data": ["notificationId": ids[1]]],
                ["client": "s", "wait_for": "notification:marked-read"],
            ])
        let stopped = await first.process.terminate(grace: .seconds(30))
        let second = try await fixture.spawnService()
        let seen = try await fixture.runPeer(
            clients: [try await fixture.client("s", user: "sue")],
            steps: [
                ["client": "s", "emit": "notification:get-unread"],
                ["client": "s", "wait_for": "notification:unread-list"],
                ["client": "s", "emit": "notification:mark-read", "data": ["notificationId": ids[1]]],
                ["client": "s", "wait_for": "notification:marked-read"],
            ])
        let migrations = try await fixture.inspect { db in
            try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations")
        }
        await second.process.terminate(grace: .seconds(20))
        await fixture.stop()
        #expect(stopped == .exited(0), "SIGTERM drains and exits 0")
        let sue = try #require(seen["s"])
        let list = try #require(sue.payloads(named: "notification:unread-list").first)
        #expect(list["notifications"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == [ids[2], ids[0]])
        #expect(list["notifications"]?.arrayValue?.first?["title"] == "keep 2")
        #expect(sue.payloads(named: "notification:marked-read").first?["notificationId"] == .string(ids[1]))
        #expect(migrations.count == 1)
    }

    /// The sum of every sample of a counter in Prometheus text.
    static func counterSum(_ text: String, _ name: String) -> Double {
        text.split(separator: "\n").filter { $0.hasPrefix(name) }.compactMap { line in
            line.split(separator: " ").last.flatMap { Double($0) }
        }.reduce(0, +)
    }
}
