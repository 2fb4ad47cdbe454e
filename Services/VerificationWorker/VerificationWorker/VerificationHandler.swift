import Crypto
import Foundation
import Kafka
import Logging
import Messages
import Metrics
import Redis
import Runtime

/// Decides every `verification.commands` command and answers it through `gateway.deliveries`, once per envelope id
/// as clients see it: the decision is stored in Redis (`verification:done:<envelopeId>`: the plan, or a verify's
/// verdict) before anything is sent, a redelivery re-sends a decision not yet marked delivered instead of deciding
/// again, and every envelope it sends has an id derived from the command's, so a re-sent copy is dropped by the
/// gateways (and audit readers).
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
        // Before the handler's metrics (made once) can be: one made before the bootstrap stays a no-op for good.
        MetricsBootstrap.bootstrap()
        self.registry = registry
        self.challenges = challenges
        self.grants = grants
        self.redis = redis
        self.producer = producer
        self.idempotencyTTL = idempotencyTTL
        self.logger = logger
    }

    // Made once: a metric looked up by label and dimensions per verify costs a lock and hashing each time.
    private static let verifyDuration = Timer(label: "verification_verify_duration_seconds", preferredDisplayUnit: .seconds)
    private static let verifications = Dictionary(uniqueKeysWithValues: VerificationReason.allCases.map { reason in
        (reason, Counter(label: "verification_verifications_total", dimensions: [
            ("result", reason.isSuccess ? "success" : "failure"), ("reason", reason.rawValue),
        ]))
    })

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
        let plan: CommandPlan
        if let command = message.payload as? BiometricVerify {
            guard let decided = try await verify(command, message: message, key: key) else { return }
            plan = decided
        } else if let stored = try await redis.get(key) {
            guard let resumed = try resume(stored, key: key, message: message) else { return }
            plan = resumed
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

    /// A stored plan to carry out, or nil when it was delivered already.
    private func resume(_ stored: String, key: String, message: DecodedMessage) throws -> CommandPlan? {
        let plan: CommandPlan
        do {
            plan = try MessageCoding.decode(CommandPlan.self, from: Data(stored.utf8))
        } catch {
            throw VerificationWorkerError(.corruptState, "\(key): \(error)")
        }
        Self.redelivered(stage: plan.stage.rawValue)
        logger.info("redelivered command: resuming", metadata: [
            "envelope.id": "\(message.header.id)", "verification.stage": "\(plan.stage.rawValue)"])
        return plan.stage == .delivered ? nil : plan
    }

    private static func redelivered(stage: String) {
        Counter(label: "verification_commands_redelivered_total", dimensions: [("stage", stage)]).increment()
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
            // `biometric:verify` is decided by ``verify(_:message:key:)``, never here.
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

    /// Decides a verify in one Redis round trip and returns its plan, or nil when it was delivered already.
    ///
    /// Everything that needs no shared state comes first: the record checks and the ES256 signature over the
    /// challenge the client sent. Then one script (``verdictScript``) returns the command's stored state if it has
    /// one (a redelivery), or takes the challenge and stores the verdict — `verdict:<reason>` under the done key —
    /// atomically. The plan is rebuilt from the verdict, so a redelivery answers the same reason under the same
    /// envelope ids, and the plan itself is never stored: 4 Redis round trips per verify became 2 (this one and the
    /// delivered mark).
    private func verify(_ command: BiometricVerify, message: DecodedMessage, key: String) async throws -> CommandPlan? {
        guard let principal = message.header.principal else {
            throw VerificationWorkerError(.missingPrincipal, "\(message.type) without a principal")
        }
        let clock = ContinuousClock()
        let start = clock.now
        let commandId = message.header.id
        let (refused, ifTaken) = localVerdict(command, principal: principal)
        let reply = try await redis.run(Self.verdictScript, keys: [
            key, ChallengeStore.challengeKey(command.challenge), ChallengeStore.usedKey(command.challenge),
        ], arguments: [
            commandId.uuidString.lowercased(), principal.userId, command.recordId,
            String(Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))),
            String(challenges.retentionMilliseconds), String(max(1, Int(idempotencyTTL.components.seconds))),
            refused?.rawValue ?? "", ifTaken.rawValue,
        ] + ChallengeStore.refusals.map(\.reason.rawValue))
        guard let stored = reply.string else {
            throw VerificationWorkerError(.corruptState, "the verdict script answered \(reply)")
        }
        let elapsed = clock.now - start
        let latencyMs = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        let reason: VerificationReason
        if let decided = stored.removingPrefix("decided:").flatMap(VerificationReason.init(rawValue:)) {
            reason = decided
            Self.verifyDuration.recordNanoseconds(Int64(latencyMs * 1_000_000))
            Self.verifications[reason]?.increment()
        } else if let earlier = stored.removingPrefix("verdict:").flatMap(VerificationReason.init(rawValue:)) {
            reason = earlier
            Self.redelivered(stage: CommandPlan.Stage.planned.rawValue)
        } else {
            return try resume(stored, key: key, message: message)  // a plan stored by an earlier version
        }
        logger.info("verification", metadata: [
            "biometric.record_id": "\(command.recordId)", "enduser.id": "\(principal.userId)",
            "verification.reason": "\(reason.rawValue)", "verification.latency_ms": "\(latencyMs)",
        ])
        return Self.verifyPlan(command, reason: reason, principal: principal,
                               reply: Reply(principal: principal, reply: message.header.reply), commandId: commandId,
                               latencyMs: latencyMs)
    }

    /// What a verify comes to without shared state: the reason it is refused before its challenge is taken (nil when
    /// the challenge is to be taken), and the reason if it is taken (the ES256 signature over the challenge sent).
    private func localVerdict(_ command: BiometricVerify, principal: Principal)
        -> (refused: VerificationReason?, ifTaken: VerificationReason)
    {
        if let refused = access(command.recordId, principal) { return (refused, .ok) }
        guard let record = registry.record(command.recordId) else { return (.unknownRecord, .ok) }
        guard record.algorithm == .es256 else { return (.unsupportedAlgorithm, .ok) }
        guard let key = registry.verificationKey(record.recordId) else { return (.invalidKey, .ok) }
        guard let bytes = Base64URL.decode(command.challenge), bytes.count == ChallengeStore.challengeBytes else {
            return (.challengeUnknown, .ok)
        }
        return (nil, SignatureVerifier.verify(signature: command.signature, over: bytes, with: key) ? .ok : .badSignature)
    }

    /// KEYS: done key, challenge, used marker. ARGV: command marker, user, record, now (ms), challenge retention (ms),
    /// done TTL (s), the reason refused before the challenge ('' when none), the reason if the challenge is taken,
    /// then the reasons for ``ChallengeStore/refusals`` in order. Answers the done key's value when there is one,
    /// else `decided:<reason>` after storing `verdict:<reason>` there.
    static let verdictScript = RedisScript(ChallengeStore.takeFunction + #"""
        local done = redis.call('GET', KEYS[1])
        if done then return done end
        local verdict = ARGV[7]
        if verdict == '' then
          local outcome = take(KEYS[2], KEYS[3], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5])
          if outcome == 'taken' then
            verdict = ARGV[8]
          else
            for i, name in ipairs({\#(ChallengeStore.refusals.map { "'\($0.outcome)'" }.joined(separator: ", "))}) do
              if name == outcome then verdict = ARGV[8 + i] end
            end
          end
        end
        redis.call('SET', KEYS[1], 'verdict:' .. verdict, 'EX', ARGV[6])
        return 'decided:' .. verdict
        """#)

    /// The answers to a verify with this reason: `verification-started` to the record room once the record was found
    /// usable by the caller, the result to the socket, and the audit record.
    static func verifyPlan(_ command: BiometricVerify, reason: VerificationReason, principal: Principal, reply: Reply,
                           commandId: UUID, latencyMs: Double) -> CommandPlan {
        var deliveries: [CommandPlan.Outgoing] = []
        if ![.unknownRecord, .notOwner, .revoked].contains(reason) {
            deliveries.append(CommandPlan.Outgoing(
                delivery: Delivery.event(
                    ServerEvent.biometricVerificationStarted.rawValue,
                    data: ["recordId": .string(command.recordId), "timestamp": .string(Timestamp.string(from: Date()))],
                    to: .room(Rooms.biometric(command.recordId))),
                key: reply.key, id: deliveryId(commandId, Purpose.started)))
        }
        if let result = reply.event(.biometricVerificationResult, resultData(recordId: command.recordId, reason: reason)) {
            deliveries.append(CommandPlan.Outgoing(delivery: result, key: reply.key,
                                                   id: deliveryId(commandId, Purpose.result)))
        }
        let audit = BiometricVerification(
            recordId: command.recordId, userId: principal.userId, success: reason.isSuccess, reason: reason.rawValue,
            confidence: reason.isSuccess ? 1 : 0, latencyMs: max(0, latencyMs), gatewayId: reply.gatewayId,
            socketId: reply.socketId)
        return CommandPlan(audit: audit, auditId: derivedId(commandId, "audit"), deliveries: deliveries)
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

extension String {
    /// The rest after `prefix`, or nil when the string does not start with it.
    fileprivate func removingPrefix(_ prefix: String) -> String? {
        hasPrefix(prefix) ? String(dropFirst(prefix.count)) : nil
    }
}
