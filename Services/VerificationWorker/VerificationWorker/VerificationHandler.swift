import Crypto
import Foundation
import Kafka
import Logging
import Messages
import Metrics
import Redis
import Runtime

/// Decides every `verification.commands` command and answers it through `gateway.deliveries`, once per envelope id
/// as clients see it: the decision is stored in Redis (`verification:done:<envelopeId>`) before anything is sent, a
/// redelivery re-sends a decision not yet marked delivered instead of deciding again, and every envelope it sends has
/// an id derived from the command's, so a re-sent copy is dropped by the gateways (and audit readers).
public struct VerificationHandler: Sendable {
    private let registry: RecordRegistry
    private let challenges: ChallengeStore
    private let grants: GrantBook
    private let redis: RedisClient
    private let producer: EnvelopeProducer
    private let idempotencyTTL: Duration
    private let logger: Logger

    /// Creates the handler.
    public init(registry: RecordRegistry, challenges: ChallengeStore, grants: GrantBook, redis: RedisClient,
                producer: EnvelopeProducer, idempotencyTTL: Duration, logger: Logger) {
        self.registry = registry
        self.challenges = challenges
        self.grants = grants
        self.redis = redis
        self.producer = producer
        self.idempotencyTTL = idempotencyTTL
        self.logger = logger
    }

    static func doneKey(_ id: UUID) -> String { "verification:done:\(id.uuidString.lowercased())" }

    /// Handles one command; throwing sends it to the dead-letter topic (a verify is answered `unavailable` first).
    public func handle(_ message: DecodedMessage) async throws {
        await registry.waitUntilCaughtUp()
        do {
            try await process(message)
        } catch {
            // A cancelled worker answers nothing: the command is not committed and its redelivery answers it.
            if !Task.isCancelled, !(error is CancellationError),
               let verify = message.payload as? BiometricVerify, let principal = message.header.principal {
                let reply = Reply(principal: principal, reply: message.header.reply)
                let data = Self.resultData(recordId: verify.recordId, reason: .unavailable)
                // Best effort (the command goes to deadletter anyway), under the id of the planned result: if that
                // result did reach the gateway, this answer is dropped there as its duplicate.
                if let delivery = reply.event(.biometricVerificationResult, data) {
                    _ = try? await producer.send(
                        delivery, key: reply.key, id: Self.deliveryId(message.header.id, Purpose.result))
                }
            }
            throw error
        }
    }

    private func process(_ message: DecodedMessage) async throws {
        let key = Self.doneKey(message.header.id)
        var plan: CommandPlan
        if let stored = try await redis.get(key) {
            do {
                plan = try MessageCoding.decode(CommandPlan.self, from: Data(stored.utf8))
            } catch {
                throw VerificationWorkerError(.corruptState, "\(key): \(error)")
            }
            Counter(label: "verification_commands_redelivered_total", dimensions: [("stage", plan.stage.rawValue)])
                .increment()
            logger.info("redelivered command: resuming", metadata: [
                "envelope.id": "\(message.header.id)", "verification.stage": "\(plan.stage.rawValue)"])
            if plan.stage == .delivered { return }
        } else {
            plan = try await decide(message)
            try await store(plan, key: key)
        }
        // Sent as one batch (usually one produce request) and awaited together: one broker round trip per command.
        // A crash before the plan is marked delivered re-sends them under the same ids, which gateways (and audit
        // readers) drop.
        var outgoing: [OutgoingMessage] = []
        if plan.stage < .audited, let audit = plan.audit {
            outgoing.append(try producer.message(audit, key: audit.recordId, id: plan.auditId ?? .random()))
        }
        for (index, delivery) in plan.deliveries.enumerated() {
            let id = delivery.id ?? Self.deliveryId(message.header.id, "\(index)")
            outgoing.append(try producer.message(delivery.delivery, key: delivery.key, id: id))
        }
        try await producer.send(outgoing)
        // What a redelivery needs to know from now on is only that it is done.
        try await store(CommandPlan.delivered, key: key)
    }

    private func store(_ plan: CommandPlan, key: String) async throws {
        let seconds = Int(idempotencyTTL.components.seconds)
        try await redis.set(key, String(decoding: try MessageCoding.encode(plan), as: UTF8.self),
                            expiration: .seconds(max(1, seconds)))
    }

    // MARK: Decisions

    /// Where answers go: the socket that asked (on its gateway), with the ack when it asked for one.
    typealias Reply = ReplyRoute

    func decide(_ message: DecodedMessage) async throws -> CommandPlan {
        guard let principal = message.header.principal else {
            throw VerificationWorkerError(.missingPrincipal, "\(message.type) without a principal")
        }
        let reply = Reply(principal: principal, reply: message.header.reply)
        let commandId = message.header.id
        func plan(_ deliveries: [(purpose: String, delivery: Delivery?)], audit: BiometricVerification? = nil)
            -> CommandPlan
        {
            CommandPlan(
                audit: audit, auditId: audit.map { _ in Self.derivedId(commandId, "audit") },
                deliveries: deliveries.compactMap { entry in
                    entry.delivery.map {
                        CommandPlan.Outgoing(delivery: $0, key: reply.key, id: Self.deliveryId(commandId, entry.purpose))
                    }
                })
        }
        func refusal(_ reason: VerificationReason, recordId: String? = nil, deviceId: String? = nil) -> CommandPlan {
            var data: [String: JSONValue] = ["message": .string(reason.message), "reason": .string(reason.rawValue)]
            if let recordId { data["recordId"] = .string(recordId) }
            if let deviceId { data["deviceId"] = .string(deviceId) }
            Counter(label: "verification_refusals_total", dimensions: [("event", message.type), ("reason", reason.rawValue)])
                .increment()
            return plan([(Purpose.result, reply.event(.biometricError, .object(data)))])
        }

        switch message.payload {
        case let command as BiometricChallenge:
            if let refused = access(command.recordId, principal) { return refusal(refused, recordId: command.recordId) }
            let issued = try await challenges.issue(userId: principal.userId, recordId: command.recordId)
            Counter(label: "verification_challenges_issued_total").increment()
            return plan([(Purpose.result, reply.event(.biometricChallengeIssued, [
                "recordId": .string(command.recordId), "challenge": .string(issued.challenge),
                "expiresAt": .string(Timestamp.string(from: issued.expiresAt)),
            ]))])

        case let command as BiometricVerify:
            return try await verify(command, principal: principal, reply: reply, commandId: message.header.id, plan: plan)

        case let command as BiometricSubscribe:
            if let refused = access(command.recordId, principal) {
                return refusal(refused, recordId: command.recordId)
            }
            if let grant = reply.grant(.room, principal: principal, role: role(command.recordId, principal)) {
                // Recorded before the join goes out, then checked again: a revocation applied meanwhile either sees
                // the grant (and withdraws it) or is seen here (and the join never goes out).
                try await grants.add(grant, recordId: command.recordId)
                if let refused = access(command.recordId, principal) {
                    try await grants.remove(grant, recordId: command.recordId)
                    return refusal(refused, recordId: command.recordId)
                }
            }
            return plan([
                (Purpose.control, reply.control(DeliveryControl(action: .join, room: Rooms.biometric(command.recordId)))),
                (Purpose.result, reply.event(.biometricSubscribed, ["recordId": .string(command.recordId)])),
            ])

        case let command as BiometricUnsubscribe:
            // Leaving is always allowed: it can only take the socket out of a room.
            if let grant = reply.grant(.room, principal: principal) {
                try await grants.remove(.room, gatewayId: grant.gatewayId, socketId: grant.socketId,
                                        recordId: command.recordId)
            }
            return plan([
                (Purpose.control, reply.control(DeliveryControl(action: .leave, room: Rooms.biometric(command.recordId)))),
                (Purpose.result, reply.ack(["recordId": .string(command.recordId), "subscribed": false])),
            ])

        case let command as BiometricStreamStart:
            func owned() -> [String] {
                registry.activeRecords(forDevice: command.deviceId).filter { $0.ownerUserId == principal.userId }
                    .map(\.recordId).sorted()
            }
            let records = owned()
            guard !records.isEmpty else {
                return refusal(.notOwner, deviceId: command.deviceId)
            }
            if let grant = reply.grant(.stream, principal: principal, deviceId: command.deviceId) {
                // As for subscribe: recorded under every record listing the device, then checked again.
                for recordId in records { try await grants.add(grant, recordId: recordId) }
                if owned().isEmpty {
                    for recordId in records { try await grants.remove(grant, recordId: recordId) }
                    return refusal(.notOwner, deviceId: command.deviceId)
                }
            }
            return plan([
                (Purpose.control, reply.control(DeliveryControl(action: .grantStream, deviceId: command.deviceId))),
                (Purpose.result, reply.ack(["deviceId": .string(command.deviceId), "streaming": true])),
            ])

        case let command as BiometricStreamStop:
            if let grant = reply.grant(.stream, principal: principal, deviceId: command.deviceId) {
                for record in registry.records(forDevice: command.deviceId) {
                    try await grants.remove(.stream, gatewayId: grant.gatewayId, socketId: grant.socketId,
                                            deviceId: command.deviceId, recordId: record.recordId)
                }
            }
            return plan([
                (Purpose.control, reply.control(
                    DeliveryControl(action: .revokeStream, deviceId: command.deviceId, reason: "stream stopped"))),
                (Purpose.result, reply.ack(["deviceId": .string(command.deviceId), "streaming": false])),
            ])

        default:
            throw VerificationWorkerError(.unexpectedCommand, "\(message.type) is not a verification command")
        }
    }

    /// Why `principal` may not use record `recordId`, or nil when it may (owner or granted role, and active).
    func access(_ recordId: String, _ principal: Principal) -> VerificationReason? {
        guard let record = registry.record(recordId) else { return .unknownRecord }
        let allowed = record.ownerUserId == principal.userId || record.grantedRoles.contains(where: principal.hasRole)
        guard allowed else { return .notOwner }
        if record.status != .active { return .revoked }
        return nil
    }

    /// The record role `principal` uses `recordId` through: nil for its owner, else the first granted role it holds.
    func role(_ recordId: String, _ principal: Principal) -> String? {
        guard let record = registry.record(recordId), record.ownerUserId != principal.userId else { return nil }
        return record.grantedRoles.first(where: principal.hasRole)
    }

    private func verify(
        _ command: BiometricVerify, principal: Principal, reply: Reply, commandId: UUID,
        plan: ([(purpose: String, delivery: Delivery?)], BiometricVerification?) -> CommandPlan
    ) async throws -> CommandPlan {
        let clock = ContinuousClock()
        let start = clock.now
        var deliveries: [(purpose: String, delivery: Delivery?)] = []
        let reason: VerificationReason
        if let refused = access(command.recordId, principal) {
            reason = refused
        } else if let record = registry.record(command.recordId) {
            deliveries.append((Purpose.started, Delivery.event(
                ServerEvent.biometricVerificationStarted.rawValue,
                data: ["recordId": .string(command.recordId), "timestamp": .string(Timestamp.string(from: Date()))],
                to: .room(Rooms.biometric(command.recordId)))))
            reason = try await check(command, record: record, principal: principal, commandId: commandId)
        } else {
            reason = .unknownRecord
        }
        let elapsed = clock.now - start
        let latencyMs = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        Timer(label: "verification_verify_duration_seconds", preferredDisplayUnit: .seconds)
            .recordNanoseconds(Int64(latencyMs * 1_000_000))
        Counter(label: "verification_verifications_total", dimensions: [
            ("result", reason.isSuccess ? "success" : "failure"), ("reason", reason.rawValue),
        ]).increment()
        logger.info("verification", metadata: [
            "biometric.record_id": "\(command.recordId)", "enduser.id": "\(principal.userId)",
            "verification.reason": "\(reason.rawValue)", "verification.latency_ms": "\(latencyMs)",
        ])
        deliveries.append((Purpose.result, reply.event(
            .biometricVerificationResult, Self.resultData(recordId: command.recordId, reason: reason))))
        let audit = BiometricVerification(
            recordId: command.recordId, userId: principal.userId, success: reason.isSuccess, reason: reason.rawValue,
            confidence: reason.isSuccess ? 1 : 0, latencyMs: max(0, latencyMs), gatewayId: reply.gatewayId,
            socketId: reply.socketId)
        return plan(deliveries, audit)
    }

    /// The challenge and signature checks, once the record is known to be usable by the caller.
    private func check(_ command: BiometricVerify, record: BiometricRecord, principal: Principal, commandId: UUID)
        async throws -> VerificationReason
    {
        guard record.algorithm == .es256 else { return .unsupportedAlgorithm }
        guard let key = registry.verificationKey(record.recordId) else { return .invalidKey }
        switch try await challenges.take(command.challenge, userId: principal.userId, recordId: record.recordId,
                                         commandId: commandId) {
        case .refused(let reason):
            return reason
        case .taken:
            guard let bytes = Base64URL.decode(command.challenge) else { return .challengeUnknown }
            return SignatureVerifier.verify(signature: command.signature, over: bytes, with: key) ? .ok : .badSignature
        }
    }

    static func resultData(recordId: String, reason: VerificationReason) -> JSONValue {
        [
            "recordId": .string(recordId), "success": .bool(reason.isSuccess),
            "confidence": .number(reason.isSuccess ? 1 : 0), "reason": .string(reason.rawValue),
            "timestamp": .string(Timestamp.string(from: Date())),
        ]
    }

    /// What each delivery of a command is for; with the command's envelope id it names the delivery's envelope id.
    enum Purpose {
        /// The answer to the socket (result, error, subscribed, ack).
        static let result = "result"
        /// A control (join, leave, grant, revoke) that precedes the answer.
        static let control = "control"
        /// `biometric:verification-started` to the record room.
        static let started = "started"
    }

    /// The envelope id of the delivery of command `commandId` for `purpose`: the same on every redelivery.
    static func deliveryId(_ commandId: UUID, _ purpose: String) -> UUID {
        derivedId(commandId, "delivery:\(purpose)")
    }

    /// A UUID derived from another (SHA-256 of purpose and id), stable across redeliveries.
    static func derivedId(_ id: UUID, _ purpose: String) -> UUID {
        derivedId(named: "\(purpose):\(id.uuidString.lowercased())")
    }

    /// A UUID derived from a name (SHA-256, UUIDv5-style): the same name always gives the same id.
    static func derivedId(named name: String) -> UUID {
        var bytes = Array(SHA256.hash(data: Data(name.utf8)).prefix(16))
        bytes[6] = (bytes[6] & 0x0F) | 0x50  // version 5 style (name-based)
        bytes[8] = (bytes[8] & 0x3F) | 0x80  // RFC 4122 variant
        return UUID(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7], bytes[8],
                           bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
    }
}

extension ReplyRoute {
    /// Every delivery of one command shares this key, so they stay in order.
    var key: String { socketId ?? "verification-worker" }

    /// What giving this socket `kind` records in the grant book; nil without a socket to give it to.
    func grant(_ kind: GrantBook.Grant.Kind, principal: Principal, deviceId: String? = nil, role: String? = nil)
        -> GrantBook.Grant?
    {
        guard let socketId else { return nil }
        return GrantBook.Grant(kind: kind, gatewayId: gatewayId ?? "", socketId: socketId, userId: principal.userId,
                               deviceId: deviceId, role: role)
    }
}
