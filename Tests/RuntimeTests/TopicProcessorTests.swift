import Foundation
import Kafka
import Logging
import Messages
import ServiceLifecycle
import Synchronization
import Testing

@testable import Runtime

/// The consume → decode → handle → commit loop, with dead-lettering, against the embedded broker.
@Suite("TopicProcessor", .timeLimit(.minutes(1)))
struct TopicProcessorTests {
    let logger = Logger(label: "processor-test")

    @Test("valid records are handled; malformed ones and handler failures go to deadletter with the reason; offsets commit")
    func deadLettersBadRecordsAndMovesOn() async throws {
        let broker = try await EmbeddedBroker.start(
            topics: [NewTopic(name: Topics.presenceCommands, partitions: 1), NewTopic(name: Topics.deadletter, partitions: 1)],
            logger: logger)
        let kafka = KafkaConfiguration(bootstrapServers: broker.bootstrapServers, statisticsInterval: nil)
        let producer = EnvelopeProducer(
            producer: try KafkaProducer(configuration: KafkaProducerConfiguration(kafka: kafka), logger: logger),
            source: Source(service: "gateway", instance: "gw-1"))
        let principal = Principal(userId: "alice", socketId: "s1", gatewayId: "gw-1")

        // 0: valid  1: not JSON  2: valid JSON, wrong type for the topic  3: valid, but the handler fails  4: valid
        try await producer.send(SessionCreate(deviceInfo: "phone"), key: "alice", principal: principal)
        try await producer.producer.send(OutgoingMessage(topic: Topics.presenceCommands, key: "alice",
                                                         value: Array("not json".utf8),
                                                         headers: [KafkaHeader(name: "origin", string: "test")]))
        let foreign = Envelope(source: producer.source,
                               payload: ServiceMetrics(service: "gateway", instance: "gw-1", intervalSeconds: 5, text: ""))
        try await producer.producer.send(OutgoingMessage(topic: Topics.presenceCommands, key: "alice",
                                                         value: Array(try MessageCoding.encode(foreign))))
        try await producer.send(SessionCreate(deviceInfo: "explode"), key: "alice", principal: principal)
        try await producer.send(SessionCreate(deviceInfo: "laptop"), key: "alice", principal: principal)

        struct Boom: Error, CustomStringConvertible { var description: String { "boom" } }
        let handled = Mutex<[String]>([])
        let consumer = try KafkaConsumer(
            configuration: KafkaConsumerConfiguration(kafka: kafka, mode: .group(id: "presence-service"),
                                                      topics: [Topics.presenceCommands]),
            logger: logger)
        let processor = TopicProcessor(
            topic: Topics.presenceCommands, consumer: consumer, deadLetters: DeadLetterSink(producer: producer),
            logger: logger
        ) { message, _ in
            let create = try #require(message.payload as? SessionCreate)
            if create.deviceInfo == "explode" { throw Boom() }
            handled.withLock { $0.append(create.deviceInfo) }
        }

        let group = ServiceRunner.makeServiceGroup(services: [processor], logger: logger, handlesSignals: false)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let deadline = ContinuousClock.now + .seconds(30)
            while handled.withLock({ $0.count }) < 2, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        #expect(handled.withLock { $0 } == ["phone", "laptop"])

        // Dead letters: three, in order, each naming where it came from and why.
        let reader = try KafkaConsumer(
            configuration: KafkaConsumerConfiguration(
                kafka: kafka, mode: .assign([TopicPartition(topic: Topics.deadletter, partition: 0): .beginning])),
            logger: logger)
        var letters: [DeadLetter] = []
        while letters.count < 3, let record = await reader.nextMessage(timeout: .seconds(10)) {
            let envelope = try MessageCoding.decode(Envelope<DeadLetter>.self, from: Data(record.value))
            letters.append(envelope.payload)
        }
        await reader.close()
        try #require(letters.count == 3)
        #expect(letters.map(\.offset) == [1, 2, 3])
        #expect(letters.allSatisfy { $0.originalTopic == Topics.presenceCommands && $0.service == "gateway" })
        #expect(letters[0].error.contains("invalid message") && letters[0].value == Data("not json".utf8))
        #expect(letters[0].headers["origin"] == "test")
        #expect(letters[1].error.contains("service:metrics"))
        #expect(letters[2].error.contains("handler failed: boom"))

        // Everything was handled or dead-lettered, so the group's committed offset is past the last record.
        let check = try KafkaConsumer(
            configuration: KafkaConsumerConfiguration(kafka: kafka, mode: .group(id: "presence-service"),
                                                      topics: [Topics.presenceCommands]),
            logger: logger)
        let committed = try await check.committed([TopicPartition(topic: Topics.presenceCommands, partition: 0)],
                                                 timeout: .seconds(20))
        #expect(committed[TopicPartition(topic: Topics.presenceCommands, partition: 0)] == 5)
        await check.close()
        await producer.producer.close()
    }
}
