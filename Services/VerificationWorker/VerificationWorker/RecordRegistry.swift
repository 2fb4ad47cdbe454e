import Crypto
import Foundation
import Kafka
import Logging
import Messages
import Metrics
import ServiceLifecycle
import Synchronization

/// The worker's view of `biometric.records` (log-compacted by record id): read from the beginning at start and
/// followed live. Its partitions come from the cluster's metadata (not from the project's default count, so a topic
/// provisioned with more partitions is still read whole). It is caught up — and the worker ready — once every
/// partition has been read up to the high watermark measured at start. A record's latest version wins; a revocation
/// takes effect with the next lookup.
public final class RecordRegistry: Service, Sendable, CustomStringConvertible {
    /// A record that changed after the registry caught up (nil record: deleted by a tombstone).
    public struct Change: Sendable {
        /// The record's id.
        public var recordId: String
        /// Its new version, or nil when it was deleted.
        public var record: BiometricRecord?
    }

    private struct State {
        var records: [String: BiometricRecord] = [:]
        /// Each record's parsed public key (absent when its JWK is not a P-256 point), parsed once per version:
        /// point decoding and validation per verify cost more than the base64 work around it.
        var keys: [String: P256.Signing.PublicKey] = [:]
        /// Where each record's current version is on the topic (`partition:offset`): names that version.
        var versions: [String: String] = [:]
        /// Per partition, the offset to reach (high watermark at start) before the registry counts as caught up.
        var targets: [Int32: Int64]?
        var caughtUp = false
    }

    private let kafka: KafkaConfiguration
    private let admin: KafkaAdmin
    private let catchUpTimeout: Duration
    private let logger: Logger
    private let state = Mutex(State())
    private let caughtUpSignal = AsyncSignal()
    private let changeContinuation: AsyncStream<Change>.Continuation
    /// Every change applied after the registry caught up, in topic order per partition (unbounded: records change
    /// rarely; the grant withdrawer reads it).
    public let changes: AsyncStream<Change>

    /// Creates a registry; ``run()`` reads every partition from the beginning with a consumer of its own.
    public init(kafka: KafkaConfiguration, admin: KafkaAdmin, catchUpTimeout: Duration, logger: Logger) throws {
        self.kafka = kafka
        (changes, changeContinuation) = AsyncStream.makeStream(of: Change.self)
        self.admin = admin
        self.catchUpTimeout = catchUpTimeout
        self.logger = logger
    }

    /// A short description for service group logs.
    public var description: String { "RecordRegistry(\(Topics.biometricRecords))" }

    /// Whether every partition has been read up to its high watermark at start.
    public var isCaughtUp: Bool { state.withLock { $0.caughtUp } }

    /// Waits until the registry is caught up.
    public func waitUntilCaughtUp() async {
        await caughtUpSignal.wait()
    }

    /// The current version of a record.
    public func record(_ recordId: String) -> BiometricRecord? {
        state.withLock { $0.records[recordId] }
    }

    /// The public key of a record's current version; nil when the record is unknown or its key is not usable.
    public func verificationKey(_ recordId: String) -> P256.Signing.PublicKey? {
        state.withLock { $0.keys[recordId] }
    }

    /// Names the current version of a record (`partition:offset` on the topic), nil when it is unknown.
    public func version(of recordId: String) -> String? {
        state.withLock { $0.versions[recordId] }
    }

    /// Every record listing `deviceId`, whatever its status.
    public func records(forDevice deviceId: String) -> [BiometricRecord] {
        state.withLock { state in state.records.values.filter { $0.deviceIds.contains(deviceId) } }
    }

    /// The active records listing `deviceId`.
    public func activeRecords(forDevice deviceId: String) -> [BiometricRecord] {
        state.withLock { state in
            state.records.values.filter { $0.status == .active && $0.deviceIds.contains(deviceId) }
        }
    }

    /// Finds the partitions, measures their high watermarks, reads up to them (then ready), and follows the topic
    /// until graceful shutdown.
    public func run() async throws {
        let topic = try await admin.listTopics(timeout: .seconds(10)).first { $0.name == Topics.biometricRecords }
        guard let topic, !topic.partitions.isEmpty else {
            throw VerificationWorkerError(.registryUnavailable, "topic \(Topics.biometricRecords) does not exist")
        }
        let partitions = topic.partitions.map { TopicPartition(topic: Topics.biometricRecords, partition: $0) }
        let consumer = try KafkaConsumer(
            configuration: KafkaConsumerConfiguration(
                kafka: kafka, mode: .assign(Dictionary(uniqueKeysWithValues: partitions.map { ($0, .beginning) })),
                latency: .background),
            logger: logger)
        try await withGracefulShutdownHandler {
            var targets: [Int32: Int64] = [:]
            for partition in partitions {
                let marks = try await admin.watermarks(partition, timeout: .seconds(10))
                if marks.high > marks.low { targets[partition.partition] = marks.high }
            }
            state.withLock { $0.targets = targets }
            checkCaughtUp()
            let deadline = ContinuousClock.now + catchUpTimeout
            let watchdog = Task { [weak self] in
                try? await Task.sleep(until: deadline)
                guard let self, !Task.isCancelled, !self.isCaughtUp else { return }
                self.logger.error("record registry not caught up in time", metadata: [
                    "kafka.topic": "\(Topics.biometricRecords)"])
            }
            defer { watchdog.cancel() }
            for await message in consumer.messages {
                apply(message)
            }
        } onGracefulShutdown: { [consumer] in
            Task { await consumer.close() }
        }
        await consumer.close()
        changeContinuation.finish()
    }

    /// Applies one record of the topic (tests feed records directly).
    func apply(_ message: KafkaMessage) {
        defer { advance(message.partition, offset: message.offset) }
        if message.value.isEmpty {  // a tombstone: the record is deleted
            if let recordId = message.keyString {
                state.withLock { state in
                    state.records.removeValue(forKey: recordId)
                    state.keys.removeValue(forKey: recordId)
                    state.versions[recordId] = "\(message.partition):\(message.offset)"
                }
                publish(Change(recordId: recordId, record: nil))
            }
            return
        }
        do {
            let decoded = try MessageCoding.decodeMessage(from: Data(message.value), topic: Topics.biometricRecords)
            guard let record = decoded.payload as? BiometricRecord else { return }
            let key = SignatureVerifier.publicKey(record.publicKey)
            state.withLock { state in
                state.records[record.recordId] = record
                state.keys[record.recordId] = key
                state.versions[record.recordId] = "\(message.partition):\(message.offset)"
            }
            publish(Change(recordId: record.recordId, record: record))
            Counter(label: "verification_records_applied_total", dimensions: [("status", record.status.rawValue)])
                .increment()
            logger.debug("biometric record applied", metadata: [
                "biometric.record_id": "\(record.recordId)", "biometric.status": "\(record.status.rawValue)"])
        } catch {
            Counter(label: "verification_records_invalid_total").increment()
            logger.warning("invalid biometric record ignored", metadata: [
                "kafka.partition": "\(message.partition)", "kafka.offset": "\(message.offset)",
                "error.message": "\(error)"])
        }
    }

    /// Hands a change to the withdrawer once caught up (before, the withdrawer checks every granted record once).
    private func publish(_ change: Change) {
        if isCaughtUp { changeContinuation.yield(change) }
    }

    private func advance(_ partition: Int32, offset: Int64) {
        state.withLock { state in
            guard let target = state.targets?[partition], offset + 1 >= target else { return }
            state.targets?[partition] = nil
        }
        checkCaughtUp()
    }

    private func checkCaughtUp() {
        let becameReady = state.withLock { state -> Bool in
            guard !state.caughtUp, let targets = state.targets, targets.isEmpty else { return false }
            state.caughtUp = true
            return true
        }
        if becameReady {
            logger.info("record registry caught up", metadata: [
                "biometric.records": "\(state.withLock { $0.records.count })"])
            caughtUpSignal.fire()
        }
    }
}

/// A one-shot signal: `wait()` returns once `fire()` has been called (before or after).
final class AsyncSignal: Sendable {
    private let state = Mutex<(fired: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func fire() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            guard !state.fired else { return [] }
            state.fired = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    func wait() async {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state -> Bool in
                if state.fired { return true }
                state.waiters.append(continuation)
                return false
            }
            if ready { continuation.resume() }
        }
    }
}
