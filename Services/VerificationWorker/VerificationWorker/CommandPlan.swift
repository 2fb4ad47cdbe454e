import Foundation
import Messages

/// What handling one command produces: an optional audit record and the deliveries to send, in order. It is
/// stored (with how far it got) under the command's envelope id, so a redelivered command replays the rest of
/// it instead of deciding again.
public struct CommandPlan: Codable, Sendable {
    /// How far a plan has been carried out.
    public enum Stage: String, Codable, Sendable, Comparable {
        /// Decided; nothing sent yet.
        case planned
        /// The audit record is on `biometric.verifications` (written by earlier versions; the plan now goes from
        /// planned to delivered, re-sent copies being harmless under their derived ids).
        case audited
        /// Every delivery is on `gateway.deliveries`.
        case delivered

        private var order: Int {
            switch self {
            case .planned: 0
            case .audited: 1
            case .delivered: 2
            }
        }

        /// Planned < audited < delivered.
        public static func < (lhs: Stage, rhs: Stage) -> Bool { lhs.order < rhs.order }
    }

    /// One delivery, its envelope id and its Kafka key.
    public struct Outgoing: Codable, Sendable {
        /// The delivery.
        public var delivery: Delivery
        /// Its key (all deliveries of one command share it, so they stay in order).
        public var key: String
        /// Its envelope id, derived from the command's envelope id and the delivery's purpose: a re-sent copy carries
        /// the same id, and gateways drop it (nil only in plans stored before ids were derived).
        public var id: UUID?

        /// Creates an outgoing delivery.
        public init(delivery: Delivery, key: String, id: UUID?) {
            self.delivery = delivery
            self.key = key
            self.id = id
        }
    }

    /// How far it got.
    public var stage: Stage
    /// The audit record, for verifications.
    public var audit: BiometricVerification?
    /// The audit envelope's id (derived from the command's, so a re-sent audit is recognisably the same).
    public var auditId: UUID?
    /// The deliveries, in order.
    public var deliveries: [Outgoing]

    /// A carried-out plan as stored: nothing is left to send, so nothing else is kept.
    public static var delivered: CommandPlan {
        var plan = CommandPlan(deliveries: [])
        plan.stage = .delivered
        return plan
    }

    /// Creates a plan at stage `planned`.
    public init(audit: BiometricVerification? = nil, auditId: UUID? = nil, deliveries: [Outgoing]) {
        stage = .planned
        self.audit = audit
        self.auditId = auditId
        self.deliveries = deliveries
    }
}
