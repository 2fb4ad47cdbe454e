import Foundation
import Logging
import Messages
import Metrics
import Runtime
import ServiceLifecycle

/// Withdraws what a record no longer allows: when the registry sees a record revoked, deleted, given to another
/// owner or stripped of a device, every stream grant and `biometric:<recordId>` membership given under it (from the
/// ``GrantBook``) is taken back — `revoke-stream` (which also leaves `stream:<deviceId>`) or `leave`, then
/// `biometric:error {message, recordId, deviceId?, reason}` to the socket.
///
/// Once the registry has caught up it checks every record with grants (a revocation while no worker ran is
/// withdrawn at the next start), then follows the registry's changes. Every instance does this; the grant book's
/// `SREM` decides which instance sends each withdrawal, and the deliveries' ids are derived from the record version
/// and the grant, so a repeat is dropped by the gateways.
public struct GrantWithdrawer: Service {
    private let registry: RecordRegistry
    private let book: GrantBook
    private let producer: EnvelopeProducer
    private let logger: Logger

    /// Creates the withdrawer.
    public init(registry: RecordRegistry, book: GrantBook, producer: EnvelopeProducer, logger: Logger) {
        self.registry = registry
        self.book = book
        self.producer = producer
        self.logger = logger
    }

    /// Checks the granted records once caught up, then follows changes until graceful shutdown.
    public func run() async throws {
        await registry.waitUntilCaughtUp()
        do {
            for recordId in try await book.grantedRecords().sorted() {
                await withdraw(recordId: recordId, record: registry.record(recordId))
            }
        } catch {
            logger.error("granted records not checked", metadata: ["error.message": "\(error)"])
        }
        for await change in registry.changes.cancelOnGracefulShutdown() {
            await withdraw(recordId: change.recordId, record: change.record)
        }
    }

    /// Takes back every grant under `recordId` that `record` no longer allows. Failures are logged, never thrown: the
    /// record stays in the book and is checked again at the next start.
    func withdraw(recordId: String, record: BiometricRecord?) async {
        do {
            let grants = try await book.takeWithdrawn(recordId: recordId, record: record)
            guard !grants.isEmpty else { return }
            let version = registry.version(of: recordId) ?? "unknown"
            let reason: VerificationReason = record == nil ? .unknownRecord : record?.status == .revoked ? .revoked : .notOwner
            for grant in grants {
                for (purpose, delivery) in Self.deliveries(for: grant, recordId: recordId, reason: reason) {
                    let id = VerificationHandler.derivedId(named: "withdraw:\(recordId):\(version):\(grant.member):\(purpose)")
                    try await producer.send(delivery, key: grant.socketId, id: id)
                }
                Counter(label: "verification_grants_withdrawn_total", dimensions: [("kind", grant.kind.rawValue)]).increment()
            }
            logger.info("grants withdrawn", metadata: [
                "biometric.record_id": "\(recordId)", "verification.grants": "\(grants.count)",
                "verification.reason": "\(reason.rawValue)",
            ])
        } catch {
            logger.error("grants not withdrawn", metadata: [
                "biometric.record_id": "\(recordId)", "error.message": "\(error)"])
        }
    }

    /// The control taking the grant back, then the notice to the socket.
    static func deliveries(for grant: GrantBook.Grant, recordId: String, reason: VerificationReason)
        -> [(purpose: String, delivery: Delivery)]
    {
        var notice: [String: JSONValue] = [
            "message": .string(reason.message), "recordId": .string(recordId), "reason": .string(reason.rawValue),
        ]
        let control: DeliveryControl
        switch grant.kind {
        case .stream:
            let deviceId = grant.deviceId ?? ""
            notice["deviceId"] = .string(deviceId)
            control = DeliveryControl(action: .revokeStream, deviceId: deviceId, reason: reason.message)
        case .room:
            control = DeliveryControl(action: .leave, room: Rooms.biometric(recordId))
        }
        return [
            ("control", Delivery.control(control, to: .socket(grant.socketId), gatewayId: grant.gatewayId)),
            ("notice", Delivery.event(ServerEvent.biometricError.rawValue, data: .object(notice),
                                      to: .socket(grant.socketId), gatewayId: grant.gatewayId)),
        ]
    }
}
