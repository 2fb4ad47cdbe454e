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

    /// A broker with `presence.commands` and `deadletter` (one partition each) and a producer as a gateway.
    private func startBroker() async throws -> (EmbeddedBroker, KafkaConfiguration, EnvelopeProducer) {
        let broker = try await EmbeddedBroker.start(
            topics: [NewTopic(name: Topics.presenceCommands, partitions: 1), NewTopic(name: Topics.deadletter, partitions: 1)],
            logger: logger)
        let kafka = KafkaConfiguration(bootstrapServers: broker.bootstrapServers, statisticsInterval: nil)
        let producer = EnvelopeProducer(
            producer: try KafkaProducer(configuration: KafkaProducerConfiguration(kafka: kafka), logger: logger),
            source: Source(service: "gateway", instance: "gw-1"))
        return (broker, kafka, producer)
    }

    /// A processor of `presence.commands` in group `presence-service`, handing each `session:create` to `handle`.
    private func processor(kafka: KafkaConfiguration, producer: EnvelopeProducer,
                           handle: @escaping @Sendable (SessionCreate) async throws -> Void) throws
        -> (KafkaConsumer, TopicProcessor)
    {
        let consumer = try KafkaConsumer(
            configuration: KafkaConsumerConfiguration(kafka: kafka, mode: .group(id: "presence-service"),
                                                      topics: [Topics.presenceCommands]),
            logger: logger)
        let processor = TopicProcessor(
            topic: Topics.presenceCommands, consumer: consumer, deadLetters: DeadLetterSink(producer: producer),
            logger: logger
        ) { message, _ in
            try await handle(try #require(message.payload as? SessionCreate))
        }
        return (consumer, processor)
    }

    @Test("valid records are handled; malformed ones and handler failures go to deadletter with the reason; offsets commit")
    func deadLettersBadRecordsAndMovesOn() async throws {
        let (broker, kafka, producer) = try await startBroker()
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
        let (_, processor) = try processor(kafka: kafka, producer: producer) { create in
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

    @Test("records of other keys in the same partition overtake a slow one; one key keeps its order; the commit waits")
    func keyLanes() async throws {
        let (broker, kafka, producer) = try await startBroker()
        // One partition: 0 slow (alice), 1–3 bob in order, 4 alice after her slow one.
        for (user, device) in [("alice", "slow"), ("bob", "b1"), ("bob", "b2"), ("bob", "b3"), ("alice", "a2")] {
            try await producer.send(SessionCreate(deviceInfo: device), key: user,
                                    principal: Principal(userId: user, socketId: "s-\(user)", gatewayId: "gw-1"))
        }

        let handled = Mutex<[String]>([])
        let release = AsyncStream.makeStream(of: Void.self)
        let (consumer, processor) = try processor(kafka: kafka, producer: producer) { create in
            if create.deviceInfo == "slow" { for await _ in release.stream { break } }
            handled.withLock { $0.append(create.deviceInfo) }
        }
        let partition = TopicPartition(topic: Topics.presenceCommands, partition: 0)

        let group = ServiceRunner.makeServiceGroup(services: [processor], logger: logger, handlesSignals: false)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let deadline = ContinuousClock.now + .seconds(30)
            while handled.withLock({ $0.count }) < 3, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            // Bob's three are handled while alice's first is still running; her second waits behind it.
            #expect(handled.withLock { $0 } == ["b1", "b2", "b3"])
            // Auto-commit runs every second: nothing may be committed past the unfinished record 0.
            try await Task.sleep(for: .milliseconds(1500))
            // (Asked through the member itself: a second member would rebalance the group.)
            #expect(try await consumer.committed([partition], timeout: .seconds(20))[partition] == .some(nil))

            release.continuation.yield()
            while handled.withLock({ $0.count }) < 5, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        #expect(handled.withLock { $0 } == ["b1", "b2", "b3", "slow", "a2"])
        let check = try KafkaConsumer(
            configuration: KafkaConsumerConfiguration(kafka: kafka, mode: .group(id: "presence-service"),
                                                      topics: [Topics.presenceCommands]),
            logger: logger)
        #expect(try await check.committed([partition], timeout: .seconds(20))[partition] == 5)
        await check.close()
        await producer.producer.close()
    }

    @Test("a partition is committed past a record only once every record dispatched before it is handled")
    func commitPoint() {
        func record(_ partition: Int32, _ offset: Int64) -> KafkaMessage {
            KafkaMessage(topic: "t", partition: partition, offset: offset, key: nil, value: [], headers: [], timestamp: nil)
        }
        var point = CommitPoint()
        for (partition, offset) in [(0, 0), (0, 1), (0, 2), (1, 7)] as [(Int32, Int64)] {
            point.dispatched(record(partition, offset))
        }
        #expect(point.handled(record(0, 1)) == nil)
        #expect(point.handled(record(0, 0))?.offset == 1)
        #expect(point.handled(record(1, 7))?.offset == 7)
        #expect(point.handled(record(0, 2))?.offset == 2)
        #expect(point.handled(record(0, 2)) == nil)  // not pending (any more): nothing to commit
        // A redelivered offset (after a rebalance) is pending again and committed in dispatch order.
        point.dispatched(record(0, 1))
        point.dispatched(record(0, 2))
        #expect(point.handled(record(0, 2)) == nil)
        #expect(point.handled(record(0, 1))?.offset == 2)
    }
}
