@testable import BiometricsCtlKit
import Foundation
import Kafka
import Messages
import Runtime
import Testing
import TestSupport
import VerificationWorker

@Suite("Dead letters", .serialized, .timeLimit(.minutes(4)))
struct DeadLetterTests {
    static func worker(_ fixture: OpsFixture, redis: RedisServerProcess) async throws
        -> RunningApplication<VerificationWorkerApplication>
    {
        let configuration = try VerificationWorkerConfiguration(environment: EnvironmentReader([
            "KAFKA_BOOTSTRAP_SERVERS": fixture.broker.bootstrapServers, "KAFKA_SESSION_TIMEOUT_MS": "6000",
            "REDIS_URL": redis.url, "HTTP_PORT": "0", "STATS_INTERVAL_SECONDS": "60", "INSTANCE_ID": "vw-dead-1",
        ]))
        let application = try VerificationWorkerApplication(configuration: configuration, logger: fixture.logger)
        let running = RunningApplication(application, services: application.services, logger: fixture.logger)
        try await waitUntil("worker registry caught up", timeout: .seconds(30)) { application.registry.isCaughtUp }
        return running
    }

    static func list(_ fixture: OpsFixture, _ arguments: [String] = []) async throws -> [String] {
        try await DeadLetterCommand.List.parse(arguments).execute(kafka: fixture.kafka, logger: fixture.logger)
    }

    /// The records on `topic` carrying a `redriven-from` header.
    static func redriven(_ fixture: OpsFixture, on topic: String, count: Int) async throws -> [KafkaMessage] {
        try await TopicReader(bootstrapServers: fixture.broker.bootstrapServers, logger: fixture.logger)
            .records(on: topic, count: count, timeout: .seconds(20)) { record in
                record.headers.contains { $0.name == DeadLetterCommand.redrivenFromHeader }
            }
    }

    @Test func poisonOnTheVerificationTopicIsDeadLetteredListedAndRedriven() async throws {
        let fixture = try await OpsFixture()
        let redis = try await RedisServerProcess.start()
        let worker = try await Self.worker(fixture, redis: redis)
        let producer = try fixture.producer()
        defer { Task { try? await redis.stop() } }

        // 1. Poison: not an envelope. The worker dead-letters it with the reason; list shows it.
        let poison: [UInt8] = Array(#"{"not":"an envelope"}"#.utf8)
        _ = try await producer.send(OutgoingMessage(
            topic: Topics.verificationCommands, key: "user-9", value: poison,
            headers: [KafkaHeader(name: "trace", string: "poison-1")]))
        var lines: [String] = []
        try await waitUntil("poison dead-lettered", timeout: .seconds(30), interval: .milliseconds(200)) {
            lines = try await Self.list(fixture, ["--topic", Topics.verificationCommands])
            return lines.count == 1
        }
        #expect(lines[0].contains("verification-worker"))
        #expect(lines[0].contains("key=user-9"))
        #expect(lines[0].contains("error=invalid message"))
        let json = try await Self.list(fixture, ["--json", "--error-contains", "invalid message"])
        let entry = try #require(try JSONSerialization.jsonObject(with: Data(json[0].utf8)) as? [String: Any])
        #expect(entry["originalTopic"] as? String == Topics.verificationCommands)
        #expect(entry["headers"] as? [String: String] == ["trace": "poison-1"])
        #expect(entry["value"] as? String == Data(poison).base64EncodedString())
        #expect(try await Self.list(fixture, ["--service", "presence-service"]).isEmpty)

        // 2. A valid command while Redis is down: the handler fails, the worker dead-letters it.
        try await redis.stop()
        let command = Envelope(
            source: Source(service: "gateway", instance: "gw-1"),
            principal: Principal(userId: "user-7", socketId: "sock-7", gatewayId: "gw-1"),
            reply: ReplyTo(gatewayId: "gw-1", socketId: "sock-7", ackId: 3),
            payload: BiometricChallenge(recordId: "rec-unknown"))
        let value = Array(try MessageCoding.encode(command))
        _ = try await producer.send(OutgoingMessage(topic: Topics.verificationCommands, key: "user-7", value: value))
        var failed: [String] = []
        try await waitUntil("failed command dead-lettered", timeout: .seconds(60), interval: .milliseconds(300)) {
            failed = try await Self.list(fixture, ["--key", "user-7"])
            return failed.count == 1
        }
        #expect(failed[0].contains("error=handler failed"))
        let id = String(failed[0].prefix { $0 != " " })

        // 3. The fix: Redis is back. Redrive that entry by id: the worker handles it and answers the ack.
        try await redis.restart()
        let outcome = try await DeadLetterCommand.Redrive.parse(["--id", id]).execute(kafka: fixture.kafka, logger: fixture.logger)
        #expect(outcome.redriven == 1 && outcome.failed == 0 && outcome.missing.isEmpty)
        let redriven = try await Self.redriven(fixture, on: Topics.verificationCommands, count: 1)
        #expect(redriven.first?.value == value)
        #expect(redriven.first?.keyString == "user-7")
        let commandId = command.id
        let answers = try await TopicReader(bootstrapServers: fixture.broker.bootstrapServers, logger: fixture.logger)
            .records(on: Topics.gatewayDeliveries, count: 1, timeout: .seconds(40)) { record in
                let text = String(decoding: record.value, as: UTF8.self)
                return text.contains("sock-7") && text.contains("\"ackId\":3") || text.contains(commandId.uuidString.lowercased())
            }
        #expect(answers.count == 1, "the redriven command was handled and answered")

        // 4. Redrive --all of the poison (still poison: it is dead-lettered again, nothing is lost).
        let all = try await DeadLetterCommand.Redrive.parse(["--all", "--error-contains", "invalid message"])
            .execute(kafka: fixture.kafka, logger: fixture.logger)
        #expect(all.redriven == 1)
        let back = try await Self.redriven(fixture, on: Topics.verificationCommands, count: 2)
        let poisonAgain = try #require(back.first { $0.value == poison })
        #expect(poisonAgain.keyString == "user-9")
        #expect(poisonAgain.headers.first { $0.name == "trace" }?.stringValue == "poison-1")
        try await waitUntil("poison dead-lettered again", timeout: .seconds(30), interval: .milliseconds(300)) {
            try await Self.list(fixture, ["--key", "user-9"]).count == 2
        }
        #expect(throws: (any Error).self) { try DeadLetterCommand.Redrive.parse([]) }
        #expect(throws: (any Error).self) { try DeadLetterCommand.Redrive.parse(["--all", "--id", "x"]) }
        try await worker.stop()
        await worker.application.redis.close()
        await producer.close()
    }

    /// The presence and notification services arrive with their issues; their command topics go through the same
    /// `TopicProcessor`, run here with a stand-in handler: poison lands in `deadletter` and is redriven to its topic.
    @Test(arguments: [(Topics.presenceCommands, "presence-service"), (Topics.notificationCommands, "notification-service")])
    func poisonOnOtherCommandTopicsIsDeadLetteredAndRedriven(topic: String, service: String) async throws {
        let fixture = try await OpsFixture()
        let producer = try fixture.envelopeProducer(service: service, instance: "\(service)-1")
        var kafka = fixture.kafka
        kafka.properties = ["session.timeout.ms": "6000"]
        let consumer = try KafkaConsumer(
            configuration: KafkaConsumerConfiguration(kafka: kafka, mode: .group(id: service), topics: [topic]),
            logger: fixture.logger)
        let processor = TopicProcessor(
            topic: topic, consumer: consumer, deadLetters: DeadLetterSink(producer: producer), logger: fixture.logger
        ) { _, _ in }
        let running = RunningApplication(processor, services: [producer.producer, processor], logger: fixture.logger)
        let poison: [UInt8] = [0x7B, 0xFF, 0x00]
        _ = try await producer.producer.send(OutgoingMessage(
            topic: topic, key: "user-3", value: poison, headers: [KafkaHeader(name: "trace", string: "p-3")]))
        var lines: [String] = []
        try await waitUntil("poison dead-lettered", timeout: .seconds(40), interval: .milliseconds(300)) {
            lines = try await Self.list(fixture, ["--topic", topic])
            return lines.count == 1
        }
        #expect(lines[0].contains(service) && lines[0].contains("error=invalid message"))
        let outcome = try await DeadLetterCommand.Redrive.parse(["--all", "--topic", topic])
            .execute(kafka: fixture.kafka, logger: fixture.logger)
        #expect(outcome.redriven == 1)
        let back = try await Self.redriven(fixture, on: topic, count: 1)
        #expect(back.first?.value == poison)
        #expect(back.first?.keyString == "user-3")
        #expect(back.first?.headers.first { $0.name == "trace" }?.stringValue == "p-3")
        try await running.stop()
    }
}
