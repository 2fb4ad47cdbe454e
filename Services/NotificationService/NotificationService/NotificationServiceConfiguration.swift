import Foundation
import Messages
import Runtime

/// Everything the notification service reads from the environment, with documented defaults (README,
/// "Notification service").
public struct NotificationServiceConfiguration: Sendable {
    /// The service name in logs, metrics and envelopes.
    public static let serviceName = "notification-service"
    /// The ops endpoint's default port.
    public static let defaultHTTPPort = 9102
    /// Every variable this service reads (besides `KAFKA_*` librdkafka properties); the deploy test checks the env
    /// file and the README against it.
    public static let environmentVariables = CommonConfiguration.environmentVariables + [
        "NOTIFICATION_DB_PATH", "NOTIFICATION_GROUP_ID", "NOTIFICATION_CATEGORIES", "NOTIFICATION_CATEGORY_SCOPE_PREFIX",
        "NOTIFICATION_PAGE_SIZE", "NOTIFICATION_MAX_UNREAD_PER_USER", "NOTIFICATION_READ_RETENTION_SECONDS",
        "NOTIFICATION_IDEMPOTENCY_RETENTION_SECONDS", "NOTIFICATION_PURGE_INTERVAL_SECONDS",
    ]
    /// The scope that allows creating notifications (`notification:send`, `notification:create`).
    public static let sendScope = "notifications:send"
    /// The role that allows creating notifications.
    public static let adminRole = "ADMIN"

    /// Shared service settings (Kafka, logging, instance id, `HTTP_PORT` default 9102).
    public var common: CommonConfiguration
    /// `NOTIFICATION_DB_PATH` (`notifications.sqlite`): the SQLite file (created, with its `-wal` and `-shm`
    /// companions, if missing; its directory must exist).
    public var databasePath: String
    /// `NOTIFICATION_GROUP_ID` (`notification-service`): the shared consumer group on `notification.commands`.
    public var groupId: String
    /// `NOTIFICATION_CATEGORIES` (`announcements`): categories any user may subscribe to.
    public var openCategories: Set<String>
    /// `NOTIFICATION_CATEGORY_SCOPE_PREFIX` (`notifications:category:`): a token scope `<prefix><category>` also
    /// allows subscribing to that category; empty turns token grants off.
    public var categoryScopePrefix: String?
    /// `NOTIFICATION_PAGE_SIZE` (50, at most 100): `notification:get-unread` page size when the client names none.
    public var defaultPageSize: Int
    /// `NOTIFICATION_MAX_UNREAD_PER_USER` (1000): unread notifications kept per user; beyond it the oldest unread
    /// ones are dropped (and counted).
    public var maxUnreadPerUser: Int
    /// `NOTIFICATION_READ_RETENTION_SECONDS` (2592000, 30 days): read notifications older than this are purged.
    public var readRetention: Duration
    /// `NOTIFICATION_IDEMPOTENCY_RETENTION_SECONDS` (1209600, 14 days): how long handled command ids are kept to
    /// recognise redeliveries (longer than `notification.commands` retention, 7 days).
    public var idempotencyRetention: Duration
    /// `NOTIFICATION_PURGE_INTERVAL_SECONDS` (3600): period of the retention job (it also runs at start).
    public var purgeInterval: Duration

    /// Reads the configuration; a bad variable is a ``ConfigurationError`` naming it.
    public init(environment: EnvironmentReader = EnvironmentReader()) throws {
        common = try CommonConfiguration(
            serviceName: Self.serviceName, defaultHTTPPort: Self.defaultHTTPPort, environment: environment)
        databasePath = environment.string("NOTIFICATION_DB_PATH", default: "notifications.sqlite")
        groupId = environment.string("NOTIFICATION_GROUP_ID", default: Self.serviceName)
        let categories = environment.list("NOTIFICATION_CATEGORIES", default: ["announcements"])
        for category in categories {
            do {
                try NotificationSubscribe(categories: [category]).validate()
            } catch {
                throw ConfigurationError.invalid(
                    "NOTIFICATION_CATEGORIES", value: category,
                    problem: "is not a category (1-\(MessageLimits.maxRoomIdLength) of \(MessageLimits.roomIdCharacters))")
            }
        }
        openCategories = Set(categories)
        let prefix = environment.variables["NOTIFICATION_CATEGORY_SCOPE_PREFIX"] ?? "notifications:category:"
        categoryScopePrefix = prefix.isEmpty ? nil : prefix
        defaultPageSize = try environment.int(
            "NOTIFICATION_PAGE_SIZE", default: 50, range: 1...MessageLimits.maxUnreadLimit)
        maxUnreadPerUser = try environment.int("NOTIFICATION_MAX_UNREAD_PER_USER", default: 1000, range: 1...1_000_000)
        readRetention = try environment.durationSeconds(
            "NOTIFICATION_READ_RETENTION_SECONDS", default: .seconds(30 * 86_400),
            range: .seconds(1)...(.seconds(3650 * 86_400)))
        idempotencyRetention = try environment.durationSeconds(
            "NOTIFICATION_IDEMPOTENCY_RETENTION_SECONDS", default: .seconds(14 * 86_400),
            range: .seconds(60)...(.seconds(3650 * 86_400)))
        purgeInterval = try environment.durationSeconds(
            "NOTIFICATION_PURGE_INTERVAL_SECONDS", default: .seconds(3600), range: .seconds(1)...(.seconds(86_400)))
    }

    /// Whether `principal` may create notifications: scope `notifications:send` or role ADMIN.
    public static func maySend(_ principal: Principal) -> Bool {
        principal.hasScope(sendScope) || principal.hasRole(adminRole)
    }

    /// Whether `principal` may subscribe to `category`: an open category, or a token scope granting it.
    public func maySubscribe(_ principal: Principal, to category: String) -> Bool {
        if openCategories.contains(category) { return true }
        guard let categoryScopePrefix else { return false }
        return principal.hasScope(categoryScopePrefix + category)
    }
}
