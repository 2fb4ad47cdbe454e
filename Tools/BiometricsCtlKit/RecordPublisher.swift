import ArgumentParser
import Crypto
import Foundation
import Kafka
import Logging
import Messages
import Runtime

/// Publishes and reads enrolled biometric records on `biometric.records` (what `enroll` and `revoke` do).
public struct RecordPublisher: Sendable {
    private let kafka: KafkaConfiguration
    private let logger: Logger

    /// Creates a publisher for the cluster in `kafka`.
    public init(kafka: KafkaConfiguration, logger: Logger) {
        self.kafka = kafka
        self.logger = logger
    }

    /// Produces `record` keyed by its id and waits for the broker's acknowledgement.
    public func publish(_ record: BiometricRecord) async throws {
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(kafka: kafka), logger: logger)
        let envelopes = EnvelopeProducer(producer: producer, source: Source(service: "biometricsctl", instance: "cli"))
        do {
            try await envelopes.send(record, key: record.recordId)
        } catch {
            await producer.close()
            throw error
        }
        await producer.close()
    }

    /// The latest version of record `recordId` on the topic (read from the beginning up to the end), if any.
    public func current(_ recordId: String) async throws -> BiometricRecord? {
        let admin = try KafkaAdmin(configuration: kafka, logger: logger)
        let count = Topics.spec(named: Topics.biometricRecords)?.partitions ?? 1
        var assignment: [TopicPartition: KafkaOffset] = [:]
        var remaining: [Int32: Int64] = [:]
        for index in 0..<count {
            let partition = TopicPartition(topic: Topics.biometricRecords, partition: Int32(index))
            let marks = try await admin.watermarks(partition)
            if marks.high > marks.low {
                assignment[partition] = .beginning
                remaining[partition.partition] = marks.high
            }
        }
        guard !assignment.isEmpty else { return nil }
        let consumer = try KafkaConsumer(
            configuration: KafkaConsumerConfiguration(kafka: kafka, mode: .assign(assignment)), logger: logger)
        var latest: BiometricRecord?
        let deadline = ContinuousClock.now + .seconds(30)
        while !remaining.isEmpty, ContinuousClock.now < deadline,
              let message = await consumer.nextMessage(timeout: deadline - ContinuousClock.now) {
            if let target = remaining[message.partition], message.offset + 1 >= target {
                remaining[message.partition] = nil
            }
            guard message.keyString == recordId else { continue }
            if message.value.isEmpty {
                latest = nil
            } else if let decoded = try? MessageCoding.decodeMessage(from: Data(message.value), topic: Topics.biometricRecords),
                      let record = decoded.payload as? BiometricRecord, record.recordId == recordId {
                latest = record
            }
        }
        await consumer.close()
        guard remaining.isEmpty else { throw ValidationError("\(Topics.biometricRecords) could not be read to its end in 30 s") }
        return latest
    }

    /// The JWK of a PEM P-256 public key (`-----BEGIN PUBLIC KEY-----`) or of the public half of a PEM private key.
    public static func jwk(fromPEM pem: String) throws -> PublicKeyJWK {
        if let key = try? P256.Signing.PublicKey(pemRepresentation: pem) { return jwk(key) }
        if let key = try? P256.Signing.PrivateKey(pemRepresentation: pem) { return jwk(key.publicKey) }
        throw ValidationError("not a PEM P-256 (ES256) public key")
    }

    /// The JWK of a P-256 public key.
    public static func jwk(_ key: P256.Signing.PublicKey) -> PublicKeyJWK {
        let raw = key.rawRepresentation  // x ‖ y
        return PublicKeyJWK(x: base64url(raw.prefix(32)), y: base64url(raw.suffix(32)))
    }

    static func base64url(_ bytes: Data) -> String {
        bytes.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
