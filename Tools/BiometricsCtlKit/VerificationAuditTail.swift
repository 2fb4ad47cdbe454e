import Foundation
import Kafka
import Logging
import Messages
import Synchronization

/// Counts the `biometric.verifications` audit records per user from the moment it starts, once per envelope id: every
/// answered verify must have one (the worker publishes it before it answers), so fewer records than answers means a
/// lost verification, and more means a command decided twice.
final class VerificationAuditTail: Sendable {
    private let consumer: KafkaConsumer
    private let counts = Mutex<(perUser: [String: Int], total: Int, repeated: Int, seen: Set<String>)>(([:], 0, 0, []))
    private let task = Mutex<Task<Void, Never>?>(nil)

    private init(consumer: KafkaConsumer) {
        self.consumer = consumer
    }

    /// Assigns every partition of the topic at its end and starts counting.
    static func start(bootstrapServers: String, logger: Logger) async throws -> VerificationAuditTail {
        let kafka = KafkaConfiguration(bootstrapServers: bootstrapServers, clientId: "audit-tail", statisticsInterval: nil)
        let admin = try KafkaAdmin(configuration: kafka, logger: logger)
        guard let topic = try await admin.listTopics().first(where: { $0.name == Topics.biometricVerifications })
        else { throw BenchError("no topic \(Topics.biometricVerifications)") }
        var assignment: [TopicPartition: KafkaOffset] = [:]
        for partition in topic.partitions {
            assignment[TopicPartition(topic: topic.name, partition: partition)] = .end
        }
        let consumer = try KafkaConsumer(
            configuration: KafkaConsumerConfiguration(kafka: kafka, mode: .assign(assignment), bufferCapacity: 4096),
            logger: logger)
        let tail = VerificationAuditTail(consumer: consumer)
        tail.task.withLock { $0 = Task { await tail.run() } }
        return tail
    }

    /// The counts so far: distinct audit records (by envelope id) per user and in all, and records seen again with
    /// an id already counted (a producer's retry or a replayed outcome: the same decision, absorbed by id).
    var snapshot: (perUser: [String: Int], total: Int, repeated: Int) {
        counts.withLock { ($0.perUser, $0.total, $0.repeated) }
    }

    /// Stops counting and closes the consumer.
    func stop() async {
        let running = task.withLock { $0 }
        running?.cancel()
        await running?.value
        await consumer.close()
    }

    private func run() async {
        while !Task.isCancelled {
            guard let message = await consumer.nextMessage(timeout: .milliseconds(500)) else { continue }
            guard case .object(let envelope)? = try? JSONDecoder().decode(JSONValue.self, from: Data(message.value)),
                  case .string(let id)? = envelope["id"],
                  case .object(let payload)? = envelope["payload"], case .string(let user)? = payload["userId"]
            else { continue }
            counts.withLock {
                guard $0.seen.insert(id).inserted else {
                    $0.repeated += 1
                    return
                }
                $0.perUser[user, default: 0] += 1
                $0.total += 1
            }
        }
    }
}
