import Foundation
import GRDB
import Messages
import Metrics

/// The default ``NotificationStore``: one SQLite file through GRDB, in WAL mode with `synchronous = FULL` (a
/// transaction is on disk when `create` returns, so the command's offset may be committed after it).
///
/// Writes are serialized on GRDB's writer queue and reads run on its reader pool, off Swift's cooperative pool
/// (GRDB's async APIs suspend the caller). Schema changes are versioned migrations (``migrator``). Only one process
/// may use a file: run a single instance of the service per file.
public final class SQLiteNotificationStore: NotificationStore {
    /// The database file.
    public let path: String
    private let pool: DatabasePool

    /// Opens (creating and migrating if needed) the database at `path`.
    public init(path: String) throws {
        self.path = path
        var configuration = Configuration()
        configuration.label = "notifications"
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            // WAL (DatabasePool's default) with FULL: a commit is durable, even across a power loss.
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        pool = try DatabasePool(path: path, configuration: configuration)
        try Self.migrator.migrate(pool)
    }

    /// Closes the database (further calls fail).
    public func close() throws {
        try pool.close()
    }

    /// The schema, one registered migration per version; applied migrations are recorded in the file.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: notifications, handled commands") { db in
            try db.execute(sql: """
                CREATE TABLE notification (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- creation order: newest first is seq DESC
                    id TEXT NOT NULL UNIQUE,
                    user_id TEXT NOT NULL,
                    type TEXT NOT NULL,
                    category TEXT NOT NULL,
                    title TEXT NOT NULL,
                    body TEXT NOT NULL,
                    data TEXT,                              -- JSON object
                    sender_id TEXT NOT NULL,
                    created_at INTEGER NOT NULL,            -- Unix milliseconds
                    read_at INTEGER                         -- Unix milliseconds; NULL while unread
                );
                CREATE INDEX notification_unread_by_user ON notification (user_id, seq DESC) WHERE read_at IS NULL;
                CREATE INDEX notification_read_at ON notification (read_at) WHERE read_at IS NOT NULL;
                CREATE TABLE command (
                    command_id TEXT PRIMARY KEY NOT NULL,   -- the envelope id: a redelivery finds its row
                    notification_id TEXT NOT NULL,
                    received_at INTEGER NOT NULL,
                    delivered_at INTEGER                    -- live deliveries sent
                ) WITHOUT ROWID;
                CREATE INDEX command_received_at ON command (received_at);
                """)
        }
        return migrator
    }

    /// The migrations applied to the file, oldest first.
    public func appliedMigrations() async throws -> [String] {
        try await pool.read { db in try Self.migrator.appliedMigrations(db) }
    }

    // MARK: NotificationStore

    public func create(_ content: NotificationContent, senderId: String, commandId: UUID, now: Date, unreadCap: Int)
        async throws -> CreateOutcome
    {
        try await measured("create") { pool in
            try await pool.write { db -> CreateOutcome in
                let command = commandId.uuidString.lowercased()
                if let row = try Row.fetchOne(
                    db, sql: "SELECT notification_id, delivered_at FROM command WHERE command_id = ?", arguments: [command])
                {
                    let existing = try Self.notification(db, id: row["notification_id"])
                    return .duplicate(existing, delivered: (row["delivered_at"] as Int64?) != nil)
                }
                let notification = StoredNotification(
                    id: UUID().uuidString.lowercased(), userId: content.targetUserId, type: content.type,
                    category: content.category, title: content.title, body: content.body, data: content.data,
                    senderId: senderId, createdAt: Self.date(Self.milliseconds(now)))
                try db.execute(
                    sql: """
                        INSERT INTO notification (id, user_id, type, category, title, body, data, sender_id, created_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        notification.id, notification.userId, notification.type, notification.category,
                        notification.title, notification.body, try content.data.map(Self.text), senderId,
                        Self.milliseconds(now),
                    ])
                try db.execute(
                    sql: "INSERT INTO command (command_id, notification_id, received_at) VALUES (?, ?, ?)",
                    arguments: [command, notification.id, Self.milliseconds(now)])
                let unread = try Int.fetchOne(
                    db, sql: "SELECT COUNT(*) FROM notification WHERE user_id = ? AND read_at IS NULL",
                    arguments: [notification.userId]) ?? 0
                var dropped = 0
                if unread > unreadCap {
                    try db.execute(
                        sql: """
                            DELETE FROM notification WHERE seq IN (
                                SELECT seq FROM notification WHERE user_id = ? AND read_at IS NULL ORDER BY seq LIMIT ?)
                            """,
                        arguments: [notification.userId, unread - unreadCap])
                    dropped = db.changesCount
                }
                return .created(notification, droppedUnread: dropped)
            }
        }
    }

    public func markDelivered(commandId: UUID, now: Date) async throws {
        try await measured("mark_delivered") { pool in
            try await pool.write { db in
                try db.execute(
                    sql: "UPDATE command SET delivered_at = ? WHERE command_id = ? AND delivered_at IS NULL",
                    arguments: [Self.milliseconds(now), commandId.uuidString.lowercased()])
            }
        }
    }

    public func unread(userId: String, limit: Int, before: String?) async throws -> UnreadPage {
        try await measured("unread") { pool in
            try await pool.read { db -> UnreadPage in
                var beforeSeq = Int64.max
                if let before {
                    guard let seq = try Int64.fetchOne(
                        db, sql: "SELECT seq FROM notification WHERE id = ? AND user_id = ?", arguments: [before, userId])
                    else {
                        throw NotificationServiceError(.unknownCursor, "no notification \(before) of this user")
                    }
                    beforeSeq = seq
                }
                let rows = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT * FROM notification WHERE user_id = ? AND read_at IS NULL AND seq < ?
                        ORDER BY seq DESC LIMIT ?
                        """,
                    arguments: [userId, beforeSeq, limit + 1])
                let notifications = try rows.prefix(limit).map(Self.notification(from:))
                let count = try Int.fetchOne(
                    db, sql: "SELECT COUNT(*) FROM notification WHERE user_id = ? AND read_at IS NULL",
                    arguments: [userId]) ?? 0
                return UnreadPage(
                    notifications: notifications, unreadCount: count,
                    nextCursor: rows.count > limit ? notifications.last?.id : nil)
            }
        }
    }

    public func markRead(notificationId: String, userId: String, now: Date) async throws -> MarkReadOutcome {
        try await measured("mark_read") { pool in
            try await pool.write { db -> MarkReadOutcome in
                guard var notification = try Self.notification(db, id: notificationId) else { return .notFound }
                guard notification.userId == userId else { return .notOwner }
                if notification.readAt != nil { return .alreadyRead(notification) }
                let readAt = Self.milliseconds(now)
                try db.execute(sql: "UPDATE notification SET read_at = ? WHERE id = ?", arguments: [readAt, notificationId])
                notification.readAt = Self.date(readAt)
                return .marked(notification)
            }
        }
    }

    public func markAllRead(userId: String, now: Date) async throws -> Int {
        try await measured("mark_all_read") { pool in
            try await pool.write { db -> Int in
                try db.execute(
                    sql: "UPDATE notification SET read_at = ? WHERE user_id = ? AND read_at IS NULL",
                    arguments: [Self.milliseconds(now), userId])
                return db.changesCount
            }
        }
    }

    /// Deletes in batches of 1000 rows, one transaction each, so creates are never held up for long.
    public func purge(readBefore: Date, commandsBefore: Date) async throws -> PurgeOutcome {
        try await measured("purge") { pool in
            let batch = 1000
            var outcome = PurgeOutcome(notifications: 0, commands: 0)
            while true {
                let removed = try await pool.write { db -> Int in
                    try db.execute(
                        sql: """
                            DELETE FROM notification WHERE seq IN (
                                SELECT seq FROM notification WHERE read_at IS NOT NULL AND read_at < ? LIMIT ?)
                            """,
                        arguments: [Self.milliseconds(readBefore), batch])
                    return db.changesCount
                }
                outcome.notifications += removed
                if removed < batch { break }
            }
            while true {
                let removed = try await pool.write { db -> Int in
                    try db.execute(
                        sql: """
                            DELETE FROM command WHERE command_id IN (
                                SELECT command_id FROM command WHERE received_at < ? LIMIT ?)
                            """,
                        arguments: [Self.milliseconds(commandsBefore), batch])
                    return db.changesCount
                }
                outcome.commands += removed
                if removed < batch { break }
            }
            return outcome
        }
    }

    public func isHealthy() async -> Bool {
        (try? await pool.read { db in try Int.fetchOne(db, sql: "SELECT 1") }) == 1
    }

    /// The query plan SQLite picks for a page of unread notifications (tests check it uses the index).
    func unreadQueryPlan() async throws -> [String] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    EXPLAIN QUERY PLAN SELECT * FROM notification WHERE user_id = ? AND read_at IS NULL AND seq < ?
                    ORDER BY seq DESC LIMIT ?
                    """,
                arguments: ["u", Int64.max, 10]
            ).map { $0["detail"] as String? ?? "" }
        }
    }

    // MARK: Rows

    private func measured<T: Sendable>(_ operation: String, _ body: (DatabasePool) async throws -> T) async throws -> T {
        let start = ContinuousClock.now
        defer {
            let elapsed = ContinuousClock.now - start
            Timer(label: "notification_store_duration_seconds", dimensions: [("operation", operation)],
                  preferredDisplayUnit: .seconds)
                .recordNanoseconds(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
        }
        return try await body(pool)
    }

    private static func notification(_ db: Database, id: String) throws -> StoredNotification? {
        try Row.fetchOne(db, sql: "SELECT * FROM notification WHERE id = ?", arguments: [id]).map(notification(from:))
    }

    private static func notification(from row: Row) throws -> StoredNotification {
        var data: JSONValue?
        if let text = row["data"] as String? {
            do {
                data = try MessageCoding.decode(JSONValue.self, from: Data(text.utf8))
            } catch {
                throw NotificationServiceError(.corruptState, "notification \(row["id"] as String? ?? "?"): data: \(error)")
            }
        }
        return StoredNotification(
            id: row["id"], userId: row["user_id"], type: row["type"], category: row["category"], title: row["title"],
            body: row["body"], data: data, senderId: row["sender_id"], createdAt: date(row["created_at"]),
            readAt: (row["read_at"] as Int64?).map(date))
    }

    private static func text(_ json: JSONValue) throws -> String {
        String(decoding: try MessageCoding.encode(json), as: UTF8.self)
    }

    static func milliseconds(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
    }

    static func date(_ milliseconds: Int64) -> Date {
        Date(timeIntervalSince1970: Double(milliseconds) / 1000)
    }
}
