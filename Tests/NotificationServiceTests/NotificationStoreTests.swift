import Foundation
import GRDB
import Messages
import Runtime
import Testing
import TestSupport

@testable import NotificationService

/// The SQLite store on a temporary file: idempotent creates, paging, read state, the unread cap and retention.
@Suite("SQLite notification store", .timeLimit(.minutes(1)))
struct NotificationStoreTests {
    /// A store on a fresh file, removed afterwards.
    private func withStore<T>(_ body: (SQLiteNotificationStore, String) async throws -> T) async throws -> T {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("n.sqlite").path
        let store = try SQLiteNotificationStore(path: path)
        defer { try? store.close() }
        return try await body(store, path)
    }

    private func content(_ user: String, _ title: String, category: String = "general") -> NotificationContent {
        NotificationContent(targetUserId: user, type: "t", title: title, body: "b", data: ["k": ["x", 1]],
                            category: category)
    }

    private func created(_ outcome: CreateOutcome) throws -> StoredNotification {
        guard case .created(let notification, _) = outcome else { throw FixtureError("not created: \(outcome)") }
        return notification
    }

    @Test("a command id creates once: its redelivery finds the same notification, delivered or not")
    func idempotentCreate() async throws {
        try await withStore { store, _ in
            let command = UUID()
            let outcome = try await store.create(content("u", "one"), senderId: "s", commandId: command, now: Date(),
                                                 unreadCap: 10)
            let first = try created(outcome)
            #expect(first.data == ["k": ["x", 1]])
            let again = try await store.create(content("u", "changed"), senderId: "s", commandId: command, now: Date(),
                                               unreadCap: 10)
            #expect(again == .duplicate(first, delivered: false))
            try await store.markDelivered(commandId: command, now: Date())
            let third = try await store.create(content("u", "one"), senderId: "s", commandId: command, now: Date(),
                                               unreadCap: 10)
            #expect(third == .duplicate(first, delivered: true))
            #expect(try await store.unread(userId: "u", limit: 10, before: nil).unreadCount == 1)
        }
    }

    @Test("unread pages are newest first with a cursor; an unknown or foreign cursor is refused")
    func paging() async throws {
        try await withStore { store, _ in
            var ids: [String] = []
            for index in 0..<5 {
                ids.append(try created(try await store.create(
                    content("u", "n\(index)"), senderId: "s", commandId: UUID(), now: Date(), unreadCap: 100)).id)
            }
            let other = try created(try await store.create(content("v", "x"), senderId: "s", commandId: UUID(),
                                                           now: Date(), unreadCap: 100))
            let first = try await store.unread(userId: "u", limit: 2, before: nil)
            #expect(first.notifications.map(\.id) == [ids[4], ids[3]])
            #expect(first.unreadCount == 5)
            #expect(first.nextCursor == ids[3])
            let second = try await store.unread(userId: "u", limit: 2, before: first.nextCursor)
            #expect(second.notifications.map(\.id) == [ids[2], ids[1]])
            let last = try await store.unread(userId: "u", limit: 2, before: second.nextCursor)
            #expect(last.notifications.map(\.id) == [ids[0]])
            #expect(last.nextCursor == nil)
            await #expect(throws: NotificationServiceError.self) {
                _ = try await store.unread(userId: "u", limit: 2, before: other.id)
            }
            await #expect(throws: NotificationServiceError.self) {
                _ = try await store.unread(userId: "u", limit: 2, before: "missing")
            }
            // A read notification still works as a cursor (a tab paging while another marks read).
            _ = try await store.markRead(notificationId: ids[3], userId: "u", now: Date())
            #expect(try await store.unread(userId: "u", limit: 10, before: ids[3]).notifications.map(\.id)
                == [ids[2], ids[1], ids[0]])
        }
    }

    @Test("mark-read: own only, idempotent; mark-all-read counts what it changed")
    func readState() async throws {
        try await withStore { store, _ in
            let mine = try created(try await store.create(content("u", "a"), senderId: "s", commandId: UUID(),
                                                          now: Date(), unreadCap: 10))
            _ = try await store.create(content("u", "b"), senderId: "s", commandId: UUID(), now: Date(), unreadCap: 10)
            #expect(try await store.markRead(notificationId: mine.id, userId: "intruder", now: Date()) == .notOwner)
            #expect(try await store.markRead(notificationId: "nope", userId: "u", now: Date()) == .notFound)
            let now = Date(timeIntervalSince1970: 1_800_000_000.123)
            guard case .marked(let marked) = try await store.markRead(notificationId: mine.id, userId: "u", now: now)
            else { throw FixtureError("not marked") }
            #expect(marked.readAt == now.truncatedToMilliseconds)
            #expect(try await store.markRead(notificationId: mine.id, userId: "u", now: Date()) == .alreadyRead(marked))
            #expect(try await store.markAllRead(userId: "u", now: Date()) == 1)
            #expect(try await store.markAllRead(userId: "u", now: Date()) == 0)
            #expect(try await store.unread(userId: "u", limit: 10, before: nil).unreadCount == 0)
        }
    }

    @Test("the unread cap drops the oldest unread notifications and reports how many")
    func unreadCap() async throws {
        try await withStore { store, _ in
            var ids: [String] = []
            for index in 0..<3 {
                ids.append(try created(try await store.create(content("u", "n\(index)"), senderId: "s",
                                                              commandId: UUID(), now: Date(), unreadCap: 3)).id)
            }
            _ = try await store.markRead(notificationId: ids[0], userId: "u", now: Date())
            let fourth = try await store.create(content("u", "n3"), senderId: "s", commandId: UUID(), now: Date(),
                                                unreadCap: 3)
            guard case .created(_, let droppedBefore) = fourth else { throw FixtureError("not created") }
            #expect(droppedBefore == 0, "read ones do not count against the cap")
            let fifth = try await store.create(content("u", "n4"), senderId: "s", commandId: UUID(), now: Date(),
                                               unreadCap: 3)
            guard case .created(_, let dropped) = fifth else { throw FixtureError("not created") }
            #expect(dropped == 1)
            let page = try await store.unread(userId: "u", limit: 10, before: nil)
            #expect(page.notifications.map(\.title) == ["n4", "n3", "n2"])
            #expect(try await store.markRead(notificationId: ids[1], userId: "u", now: Date()) == .notFound)
        }
    }

    @Test("retention purges read notifications past the age and old command ids, never unread ones")
    func retention() async throws {
        try await withStore { store, _ in
            let old = Date(timeIntervalSinceNow: -10 * 86_400)
            let readOld = try created(try await store.create(content("u", "old read"), senderId: "s", commandId: UUID(),
                                                             now: old, unreadCap: 10))
            _ = try await store.markRead(notificationId: readOld.id, userId: "u", now: old)
            let unreadOld = try created(try await store.create(content("u", "old unread"), senderId: "s",
                                                               commandId: UUID(), now: old, unreadCap: 10))
            let readNew = try created(try await store.create(content("u", "new read"), senderId: "s", commandId: UUID(),
                                                             now: Date(), unreadCap: 10))
            _ = try await store.markRead(notificationId: readNew.id, userId: "u", now: Date())
            let job = RetentionJob(store: store, interval: .seconds(60), readRetention: .seconds(86_400),
                                   idempotencyRetention: .seconds(5 * 86_400), logger: .init(label: "t"))
            let outcome = try #require(await job.runOnce())
            #expect(outcome == PurgeOutcome(notifications: 1, commands: 2))
            #expect(try await store.markRead(notificationId: readOld.id, userId: "u", now: Date()) == .notFound)
            #expect(try await store.unread(userId: "u", limit: 10, before: nil).notifications.map(\.id) == [unreadOld.id])
            guard case .alreadyRead = try await store.markRead(notificationId: readNew.id, userId: "u", now: Date())
            else { throw FixtureError("recent read notification purged") }
        }
    }

    @Test("WAL mode, FULL sync, one recorded migration, the unread query uses its index, and a reopen keeps everything")
    func fileAndSchema() async throws {
        try await withStore { store, path in
            let id = try created(try await store.create(content("u", "kept"), senderId: "s", commandId: UUID(),
                                                        now: Date(), unreadCap: 10)).id
            #expect(try await store.appliedMigrations() == ["v1: notifications, handled commands"])
            let plan = try await store.unreadQueryPlan().joined(separator: " | ")
            #expect(plan.contains("notification_unread_by_user"), "plan: \(plan)")
            #expect(!plan.contains("TEMP B-TREE"), "no sort step: \(plan)")
            try store.close()
            let reopened = try SQLiteNotificationStore(path: path)
            defer { try? reopened.close() }
            #expect(try await reopened.unread(userId: "u", limit: 10, before: nil).notifications.map(\.id) == [id])
            let queue = try DatabaseQueue(path: path)
            defer { try? queue.close() }
            #expect(try await queue.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") } == "wal")
            #expect(await reopened.isHealthy())
        }
    }
}

@Suite("Notification service configuration")
struct NotificationConfigurationTests {
    @Test("defaults, and bad values refused naming the variable")
    func configuration() throws {
        let defaults = try NotificationServiceConfiguration(environment: EnvironmentReader([:]))
        #expect(defaults.common.httpPort == 9102)
        #expect(defaults.databasePath == "notifications.sqlite")
        #expect(defaults.groupId == "notification-service")
        #expect(defaults.openCategories == ["announcements"])
        #expect(defaults.categoryScopePrefix == "notifications:category:")
        #expect(defaults.defaultPageSize == 50)
        #expect(defaults.maxUnreadPerUser == 1000)
        #expect(defaults.readRetention == .seconds(30 * 86_400))
        for (variable, value) in [
            ("NOTIFICATION_CATEGORIES", "ok,not:allowed"), ("NOTIFICATION_PAGE_SIZE", "101"),
            ("NOTIFICATION_MAX_UNREAD_PER_USER", "0"),
            ("NOTIFICATION_PURGE_INTERVAL_SECONDS", "soon"),
        ] {
            #expect {
                _ = try NotificationServiceConfiguration(environment: EnvironmentReader([variable: value]))
            } throws: { error in
                (error as? ConfigurationError)?.variable == variable
            }
        }
        let noGrants = try NotificationServiceConfiguration(environment: EnvironmentReader([
            "NOTIFICATION_CATEGORY_SCOPE_PREFIX": "", "NOTIFICATION_CATEGORIES": "",
        ]))
        let granted = Principal(userId: "o", scopes: ["notifications:category:security"])
        #expect(!noGrants.maySubscribe(granted, to: "security"))
        #expect(defaults.maySubscribe(granted, to: "security"))
        #expect(!defaults.maySubscribe(granted, to: "billing"))
        #expect(defaults.maySubscribe(Principal(userId: "p"), to: "announcements"))
        #expect(NotificationServiceConfiguration.maySend(Principal(userId: "a", roles: ["ADMIN"])))
        #expect(NotificationServiceConfiguration.maySend(Principal(userId: "s", scopes: ["notifications:send"])))
        #expect(!NotificationServiceConfiguration.maySend(Principal(userId: "n", scopes: ["notifications:read"])))
    }
}

extension Date {
    /// This date at millisecond precision (what the store keeps).
    var truncatedToMilliseconds: Date {
        Date(timeIntervalSince1970: (timeIntervalSince1970 * 1000).rounded(.down) / 1000)
    }
}
