import Foundation
import Messages

/// What creating a notification did.
public enum CreateOutcome: Sendable, Hashable {
    /// Stored now; `droppedUnread` of the user's oldest unread notifications were dropped to keep the cap.
    case created(StoredNotification, droppedUnread: Int)
    /// The command was handled before (a redelivery): its notification (nil if since dropped or purged) and
    /// whether its live deliveries were already sent.
    case duplicate(StoredNotification?, delivered: Bool)
}

/// One page of a user's unread notifications, newest first.
public struct UnreadPage: Sendable, Hashable {
    /// The notifications, newest first.
    public var notifications: [StoredNotification]
    /// How many unread notifications the user has in all.
    public var unreadCount: Int
    /// The cursor for the next (older) page (`before`), nil on the last page.
    public var nextCursor: String?

    /// Creates a page.
    public init(notifications: [StoredNotification], unreadCount: Int, nextCursor: String?) {
        self.notifications = notifications
        self.unreadCount = unreadCount
        self.nextCursor = nextCursor
    }
}

/// What marking one notification read did.
public enum MarkReadOutcome: Sendable, Hashable {
    /// Marked read now.
    case marked(StoredNotification)
    /// It was already read (the answer is the same; nothing changed).
    case alreadyRead(StoredNotification)
    /// No notification with this id exists (or it was purged).
    case notFound
    /// It belongs to another user: refused, and told to the client exactly like `notFound`.
    case notOwner
}

/// What one retention pass removed.
public struct PurgeOutcome: Sendable, Hashable {
    /// Read notifications removed.
    public var notifications: Int
    /// Handled command ids forgotten.
    public var commands: Int

    /// Creates an outcome.
    public init(notifications: Int, commands: Int) {
        self.notifications = notifications
        self.commands = commands
    }
}

/// Durable notifications, read state and handled command ids. ``SQLiteNotificationStore`` is the default; a
/// shared SQL server implementation would make the service horizontally scalable (README, "Notification service").
///
/// Every method is one transaction; `create` stores the command id with the notification in the same
/// transaction, under a unique constraint, so a redelivered command never creates a second notification.
public protocol NotificationStore: Sendable {
    /// Stores a notification for `content.targetUserId` unless command `commandId` was handled before; keeps at
    /// most `unreadCap` unread notifications for the user (dropping the oldest).
    func create(_ content: NotificationContent, senderId: String, commandId: UUID, now: Date, unreadCap: Int)
        async throws -> CreateOutcome
    /// Records that command `commandId`'s live deliveries were sent.
    func markDelivered(commandId: UUID, now: Date) async throws
    /// A page of `userId`'s unread notifications, newest first, older than notification `before` when given.
    func unread(userId: String, limit: Int, before: String?) async throws -> UnreadPage
    /// Marks notification `notificationId` read if it belongs to `userId`.
    func markRead(notificationId: String, userId: String, now: Date) async throws -> MarkReadOutcome
    /// Marks every unread notification of `userId` read; returns how many.
    func markAllRead(userId: String, now: Date) async throws -> Int
    /// Removes read notifications read before `readBefore` and command ids handled before `commandsBefore`.
    func purge(readBefore: Date, commandsBefore: Date) async throws -> PurgeOutcome
    /// Whether the store answers (readiness).
    func isHealthy() async -> Bool
}
