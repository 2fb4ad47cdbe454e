import Foundation
import Logging
import Messages
import Metrics
import Runtime

/// Handles every `notification.commands` command and answers through `gateway.deliveries`.
///
/// Creates are persisted first (with the command's envelope id, so a redelivery never creates a second
/// notification), then delivered live as `notification:new` to `user:<target>` and `notifications:<category>`;
/// once those deliveries are on Kafka the command is marked delivered, so a redelivery after that sends nothing
/// again. Reads answer the asking socket (and its ack); read-state changes also go to the user's other sockets.
public struct NotificationHandler: Sendable {
    private let store: any NotificationStore
    private let producer: EnvelopeProducer
    private let configuration: NotificationServiceConfiguration
    private let logger: Logger

    /// Creates the handler.
    public init(store: any NotificationStore, producer: EnvelopeProducer,
                configuration: NotificationServiceConfiguration, logger: Logger) {
        self.store = store
        self.producer = producer
        self.configuration = configuration
        self.logger = logger
    }

    /// Handles one command; throwing sends it to the dead-letter topic (the client is told `unavailable` first).
    public func handle(_ message: DecodedMessage) async throws {
        do {
            try await process(message)
        } catch {
            // A cancelled service answers nothing: the command is not committed and its redelivery answers it.
            if !Task.isCancelled, !(error is CancellationError), let principal = message.header.principal,
               message.type != NotificationCreate.messageType
            {
                let reply = ReplyRoute(principal: principal, reply: message.header.reply)
                if let answer = reply.event(.notificationError, Self.error("the notification service could not handle "
                    + "\(message.type), try again", reason: "unavailable", event: message.type)) {
                    _ = try? await producer.send(answer, key: Self.key(answer))  // best effort: it goes to deadletter anyway
                }
            }
            throw error
        }
    }

    private func process(_ message: DecodedMessage) async throws {
        guard let principal = message.header.principal else {
            throw NotificationServiceError(.missingPrincipal, "\(message.type) without a principal")
        }
        let reply = ReplyRoute(principal: principal, reply: message.header.reply)
        switch message.payload {
        case let send as NotificationSend:
            guard NotificationServiceConfiguration.maySend(principal) else {
                refused("forbidden")
                return try await deliver([reply.event(.notificationError, Self.error(
                    "sending notifications needs scope \(NotificationServiceConfiguration.sendScope) or role "
                        + NotificationServiceConfiguration.adminRole, reason: "forbidden", event: message.type))])
            }
            try await create(send.content, principal: principal, commandId: message.header.id, reply: reply,
                             origin: "client")
        case let create as NotificationCreate:
            guard NotificationServiceConfiguration.maySend(principal) else {
                refused("forbidden")
                throw NotificationServiceError(
                    .forbidden, "principal \(principal.userId) has neither scope "
                        + "\(NotificationServiceConfiguration.sendScope) nor role \(NotificationServiceConfiguration.adminRole)")
            }
            try await self.create(create.content, principal: principal, commandId: message.header.id, reply: reply,
                                  origin: "backend")
        case let query as NotificationGetUnread:
            try await unread(query, principal: principal, reply: reply)
        case let mark as NotificationMarkRead:
            try await markRead(mark.notificationId, principal: principal, reply: reply)
        case is NotificationMarkAllRead:
            let now = Date()
            let count = try await store.markAllRead(userId: principal.userId, now: now)
            Counter(label: "notification_read_total", dimensions: [("how", "all")]).increment(by: Int64(count))
            let data: JSONValue = ["count": .number(Double(count)), "readAt": .string(Timestamp.string(from: now))]
            try await deliver([
                reply.event(.notificationAllMarkedRead, data),
                count == 0 ? nil : Self.toUser(principal.userId, except: reply.socketId, .notificationAllMarkedRead, data),
            ])
        case let subscribe as NotificationSubscribe:
            try await self.subscribe(subscribe.categories, principal: principal, reply: reply)
        default:
            throw NotificationServiceError(.unexpectedCommand, "\(message.type) is not a notification command")
        }
    }

    // MARK: Create

    private func create(_ content: NotificationContent, principal: Principal, commandId: UUID, reply: ReplyRoute,
                        origin: String) async throws {
        let outcome = try await store.create(
            content, senderId: principal.userId, commandId: commandId, now: Date(),
            unreadCap: configuration.maxUnreadPerUser)
        let notification: StoredNotification
        switch outcome {
        case .created(let created, let dropped):
            notification = created
            Counter(label: "notification_created_total", dimensions: [("origin", origin)]).increment()
            if dropped > 0 {
                Counter(label: "notification_unread_dropped_total").increment(by: Int64(dropped))
                logger.info("unread cap reached: oldest unread notifications dropped", metadata: [
                    "enduser.id": "\(created.userId)", "notification.dropped": "\(dropped)"])
            }
            logger.debug("notification created", metadata: [
                "notification.id": "\(created.id)", "enduser.id": "\(created.userId)",
                "notification.category": "\(created.category)", "envelope.id": "\(commandId)"])
        case .duplicate(let existing, let delivered):
            Counter(label: "notification_commands_redelivered_total", dimensions: [("delivered", "\(delivered)")])
                .increment()
            logger.info("redelivered create: already stored", metadata: [
                "envelope.id": "\(commandId)", "notification.delivered": "\(delivered)"])
            guard !delivered else { return }
            guard let existing else {  // dropped or purged since: nothing left to deliver
                return try await store.markDelivered(commandId: commandId, now: Date())
            }
            notification = existing
        }
        let data = notification.json
        try await deliver([
            Delivery.event(ServerEvent.notificationNew.rawValue, data: data, to: .user(notification.userId)),
            Delivery.event(ServerEvent.notificationNew.rawValue, data: data,
                           to: .room(Rooms.notifications(notification.category))),
            reply.ack(["notificationId": .string(notification.id), "targetUserId": .string(notification.userId),
                       "category": .string(notification.category),
                       "createdAt": .string(Timestamp.string(from: notification.createdAt))]),
        ])
        Counter(label: "notification_delivered_total").increment()
        try await store.markDelivered(commandId: commandId, now: Date())
    }

    // MARK: Read side

    private func unread(_ query: NotificationGetUnread, principal: Principal, reply: ReplyRoute) async throws {
        let page: UnreadPage
        do {
            page = try await store.unread(
                userId: principal.userId, limit: query.limit ?? configuration.defaultPageSize, before: query.before)
        } catch let error as NotificationServiceError where error.code == .unknownCursor {
            refused("unknown_cursor")
            return try await deliver([reply.event(.notificationError, Self.error(
                "unknown cursor: no unread page before \(query.before ?? "")", reason: "unknown_cursor",
                event: ClientEvent.notificationGetUnread.rawValue))])
        }
        var data: [String: JSONValue] = [
            "notifications": .array(page.notifications.map(\.json)), "unreadCount": .number(Double(page.unreadCount)),
        ]
        if let cursor = page.nextCursor { data["nextCursor"] = .string(cursor) }
        try await deliver([reply.event(.notificationUnreadList, .object(data))])
    }

    private func markRead(_ notificationId: String, principal: Principal, reply: ReplyRoute) async throws {
        let outcome = try await store.markRead(notificationId: notificationId, userId: principal.userId, now: Date())
        switch outcome {
        case .marked(let notification), .alreadyRead(let notification):
            let data: JSONValue = [
                "notificationId": .string(notification.id),
                "readAt": .string(Timestamp.string(from: notification.readAt ?? Date())),
            ]
            var deliveries: [Delivery?] = [reply.event(.notificationMarkedRead, data)]
            if case .marked = outcome {
                Counter(label: "notification_read_total", dimensions: [("how", "one")]).increment()
                deliveries.append(Self.toUser(principal.userId, except: reply.socketId, .notificationMarkedRead, data))
            }
            try await deliver(deliveries)
        case .notFound, .notOwner:
            // Someone else's notification is answered exactly like a missing one: ids are not an existence oracle.
            refused(outcome == .notFound ? "not_found" : "not_owner")
            try await deliver([reply.event(.notificationError, [
                "message": "notification not found", "reason": "not_found",
                "event": .string(ClientEvent.notificationMarkRead.rawValue), "notificationId": .string(notificationId),
            ])])
        }
    }

    private func subscribe(_ categories: [String], principal: Principal, reply: ReplyRoute) async throws {
        var accepted: [String] = []
        var refusedCategories: [String] = []
        for category in categories where !accepted.contains(category) && !refusedCategories.contains(category) {
            if configuration.maySubscribe(principal, to: category) {
                accepted.append(category)
            } else {
                refusedCategories.append(category)
            }
        }
        var deliveries: [Delivery?] = accepted.map { reply.control(DeliveryControl(action: .join, room: Rooms.notifications($0))) }
        if !refusedCategories.isEmpty {
            refused("category_not_allowed")
            deliveries.append(reply.event(.notificationError, [
                "message": .string("not allowed to subscribe to: \(refusedCategories.joined(separator: ", "))"),
                "reason": "category_not_allowed", "event": .string(ClientEvent.notificationSubscribe.rawValue),
                "categories": .array(refusedCategories.map(JSONValue.string)),
            ], answersAck: false))
        }
        deliveries.append(reply.event(.notificationSubscribed, [
            "categories": .array(accepted.map(JSONValue.string)),
            "refused": .array(refusedCategories.map(JSONValue.string)),
        ]))
        try await deliver(deliveries)
    }

    // MARK: Deliveries

    /// An event to every socket of `userId` but the asking one.
    private static func toUser(_ userId: String, except socketId: String?, _ name: ServerEvent, _ data: JSONValue)
        -> Delivery
    {
        Delivery.event(name.rawValue, data: data, to: .user(userId, except: socketId))
    }

    /// A delivery's Kafka key, `<target kind>:<target id>`: one target's deliveries stay in order.
    static func key(_ delivery: Delivery) -> String {
        "\(delivery.target.kind.rawValue):\(delivery.target.id ?? "all")"
    }

    /// `notification:error {message, reason, event}`.
    private static func error(_ message: String, reason: String, event: String) -> JSONValue {
        ["message": .string(message), "reason": .string(reason), "event": .string(event)]
    }

    private func refused(_ reason: String) {
        Counter(label: "notification_refused_total", dimensions: [("reason", reason)]).increment()
    }

    /// Sends the deliveries one after another, in order, and returns once the broker has every one.
    ///
    /// Not concurrently: two produce requests in flight on one broker connection can cost a 40 ms Nagle/delayed-ACK
    /// stall on a broker without TCP_NODELAY (the embedded broker), far more than the ~0.1 ms a sequential send costs.
    private func deliver(_ deliveries: [Delivery?]) async throws {
        for case let delivery? in deliveries {
            try await producer.send(delivery, key: Self.key(delivery))
        }
    }
}
