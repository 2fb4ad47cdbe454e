import Foundation
import Kafka
import Testing

@Suite("Kafka client against the embedded broker", .timeLimit(.minutes(1)))
struct KafkaClientTests {
    @Test("send awaits the delivery report; keys, headers and partitions arrive intact")
    func produceConsumeKeysHeaders() async throws {
        let fixture = try await KafkaFixture()
        let producer = try fixture.producer()
        let report = try await producer.send(OutgoingMessage(
            topic: "events", partition: 2, key: "user-1", value: bytes("hello"),
            headers: [KafkaHeader(name: "device-id", string: "d1"), KafkaHeader(name: "empty", value: nil)]))
        #expect(report.topicPartition == TopicPartition(topic: "events", partition: 2))
        #expect(report.offset == 0)

        let consumer = try fixture.consumer(.assign([TopicPartition(topic: "events", partition: 2): .beginning]))
        let message = try #require(await fixture.read(1, from: consumer).first)
        #expect(message.keyString == "user-1")
        #expect(message.value == bytes("hello"))
        #expect(message.headers.string("device-id") == "d1")
        #expect(message.headers.contains(KafkaHeader(name: "empty", value: nil)))
        #expect(message.offset == 0 && message.partition == 2)
        #expect(message.timestamp.map { abs($0.timeIntervalSinceNow) < 60 } == true)
        await consumer.close()
        await producer.close()
    }

    @Test("the same key always lands on the same partition, in order")
    func keyOrdering() async throws {
        let fixture = try await KafkaFixture()
        let producer = try fixture.producer()
        var partitions = Set<Int32>()
        for index in 0..<20 {
            let report = try await producer.send(OutgoingMessage(topic: "events", key: "user-7", value: bytes("\(index)")))
            partitions.insert(report.topicPartition.partition)
            #expect(report.offset == Int64(index))
        }
        #expect(partitions.count == 1)
        await producer.close()
    }

    @Test("a batch send returns every report in order, across topics, and keeps a key's order")
    func batchSend() async throws {
        let fixture = try await KafkaFixture(topics: [NewTopic(name: "events", partitions: 4), NewTopic(name: "other", partitions: 1)])
        let producer = try fixture.producer()
        #expect(try await producer.send([OutgoingMessage]()).isEmpty)
        let batch = (0..<5).map { OutgoingMessage(topic: "events", key: "user-9", value: bytes("\($0)")) }
            + [OutgoingMessage(topic: "other", partition: 0, key: "audit", value: bytes("audit"))]
        let reports = try await producer.send(batch)
        #expect(reports.map(\.topicPartition.topic) == ["events", "events", "events", "events", "events", "other"])
        #expect(reports.prefix(5).map(\.offset) == [0, 1, 2, 3, 4])
        #expect(Set(reports.prefix(5).map(\.topicPartition.partition)).count == 1)
        let partition = reports[0].topicPartition
        let consumer = try fixture.consumer(.assign([partition: .beginning]))
        #expect(await fixture.read(5, from: consumer).map { String(decoding: $0.value, as: UTF8.self) }
            == ["0", "1", "2", "3", "4"])
        await consumer.close()
        await producer.close()
    }

    @Test("enqueue applies back-pressure instead of failing, and close flushes everything")
    func enqueueBackPressure() async throws {
        let fixture = try await KafkaFixture()
        let producer = try fixture.producer(maxInFlight: 8)
        for index in 0..<2000 {
            try await producer.enqueue(OutgoingMessage(topic: "events", key: "k\(index % 10)", value: bytes("\(index)")))
        }
        await producer.close()
        let admin = try KafkaAdmin(configuration: fixture.kafka, logger: fixture.logger)
        var total: Int64 = 0
        for partition in 0..<4 {
            let marks = try await admin.watermarks(TopicPartition(topic: "events", partition: Int32(partition)))
            total += marks.high - marks.low
        }
        #expect(total == 2000)
        await #expect(throws: KafkaError.self) {
            try await producer.send(OutgoingMessage(topic: "events", key: "x", value: []))
        }
    }

    @Test("with the broker gone, close() purges what is undelivered and every waiting sender gets an error")
    func closePurgesUndelivered() async throws {
        let fixture = try await KafkaFixture()
        let producer = try KafkaProducer(
            configuration: KafkaProducerConfiguration(kafka: fixture.kafka, flushTimeout: .seconds(1)), logger: fixture.logger)
        try await producer.send(OutgoingMessage(topic: "events", key: "k", value: bytes("up")))
        await fixture.broker.setDown()
        let waiting = Task { try await producer.send(OutgoingMessage(topic: "events", key: "k", value: bytes("down"))) }
        try await Task.sleep(for: .milliseconds(200))
        await producer.close()
        let error = await #expect(throws: KafkaError.self) { try await waiting.value }
        #expect(error?.code == "delivery")
    }

    @Test("close() of a group member with the broker gone returns after closeTimeout instead of hanging")
    func closeIsBoundedWithoutBroker() async throws {
        let fixture = try await KafkaFixture()
        let consumer = try KafkaConsumer(
            configuration: KafkaConsumerConfiguration(kafka: fixture.kafka, mode: .group(id: "bounded-close"),
                                                      topics: ["events"], closeTimeout: .seconds(1)),
            logger: fixture.logger)
        _ = try await consumer.waitForAssignment()
        await fixture.broker.setDown()
        let start = ContinuousClock.now
        await consumer.close()
        // librdkafka alone would block for up to session.timeout.ms (45 s); the bound is 1 s plus scheduling.
        #expect(ContinuousClock.now - start < .seconds(20))
    }

    @Test("cancelling a waiting send ends the wait with CancellationError")
    func sendIsCancellable() async throws {
        let fixture = try await KafkaFixture()
        let producer = try KafkaProducer(
            configuration: KafkaProducerConfiguration(kafka: fixture.kafka, flushTimeout: .seconds(1)), logger: fixture.logger)
        await fixture.broker.setDown()
        let waiting = Task { try await producer.send(OutgoingMessage(topic: "events", key: "k", value: bytes("x"))) }
        try await Task.sleep(for: .milliseconds(200))
        waiting.cancel()
        await #expect(throws: CancellationError.self) { try await waiting.value }
        await producer.close()
    }

    @Test("a 1 MB message round-trips")
    func largeMessage() async throws {
        let fixture = try await KafkaFixture()
        let producer = try fixture.producer()
        let value = (0..<1_000_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try await producer.send(OutgoingMessage(topic: "events", partition: 0, key: "big", value: value))
        let consumer = try fixture.consumer(.assign([TopicPartition(topic: "events", partition: 0): .beginning]))
        let message = try #require(await fixture.read(1, from: consumer).first)
        #expect(message.value == value)
        await consumer.close()
        await producer.close()
    }

    @Test("two consumers in one group split the partitions; each message is read once")
    func groupSplitsPartitions() async throws {
        let fixture = try await KafkaFixture()
        let first = try fixture.consumer(.group(id: "split"))
        let second = try fixture.consumer(.group(id: "split"))
        // Wait until the group has settled with both members before producing.
        let deadline = ContinuousClock.now + .seconds(30)
        var a: [TopicPartition] = []
        var b: [TopicPartition] = []
        while ContinuousClock.now < deadline {
            a = try first.assignment()
            b = try second.assignment()
            if !a.isEmpty && !b.isEmpty && a.count + b.count == 4 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(!a.isEmpty && !b.isEmpty)
        #expect(Set(a).isDisjoint(with: Set(b)))
        #expect(a.count + b.count == 4)

        let producer = try fixture.producer()
        for index in 0..<100 {
            try await producer.send(OutgoingMessage(topic: "events", key: "key-\(index)", value: bytes("\(index)")))
        }
        let readA = Task { await Self.drain(first, quietFor: .seconds(2)) }
        let readB = Task { await Self.drain(second, quietFor: .seconds(2)) }
        let (gotA, gotB) = await (readA.value, readB.value)
        #expect(gotA.count + gotB.count == 100)
        #expect(Set(gotA.map(\.value)).isDisjoint(with: Set(gotB.map(\.value))))
        #expect(Set(gotA.map(\.partition)).isDisjoint(with: Set(gotB.map(\.partition))))
        await first.close()
        await second.close()
        await producer.close()
    }

    @Test("two groups each see every message")
    func twoGroupsSeeEverything() async throws {
        let fixture = try await KafkaFixture()
        let producer = try fixture.producer()
        for index in 0..<50 {
            try await producer.send(OutgoingMessage(topic: "events", key: "k\(index)", value: bytes("\(index)")))
        }
        let one = try fixture.consumer(.group(id: "one"))
        let two = try fixture.consumer(.group(id: "two"))
        let gotOne = await fixture.read(50, from: one)
        let gotTwo = await fixture.read(50, from: two)
        #expect(Set(gotOne.map(\.value)) == Set(gotTwo.map(\.value)))
        await one.close()
        await two.close()
        await producer.close()
    }

    @Test("broadcast consumers start at the end and each see everything produced after they joined")
    func broadcastMode() async throws {
        let fixture = try await KafkaFixture()
        let producer = try fixture.producer()
        try await producer.send(OutgoingMessage(topic: "events", key: "old", value: bytes("before")))
        let one = try fixture.consumer(.broadcast(groupPrefix: "gateway"))
        let two = try fixture.consumer(.broadcast(groupPrefix: "gateway"))
        _ = try await one.waitForAssignment()
        _ = try await two.waitForAssignment()
        // Assignment is visible before the start offset ("latest") is resolved; let that settle.
        try await Task.sleep(for: .milliseconds(500))
        for index in 0..<10 {
            try await producer.send(OutgoingMessage(topic: "events", key: "k\(index)", value: bytes("\(index)")))
        }
        let gotOne = await fixture.read(10, from: one)
        let gotTwo = await fixture.read(10, from: two)
        #expect(!gotOne.contains { $0.value == bytes("before") })
        #expect(Set(gotOne.map(\.value)) == Set((0..<10).map { bytes("\($0)") }))
        #expect(Set(gotTwo.map(\.value)) == Set(gotOne.map(\.value)))
        await one.close()
        await two.close()
        await producer.close()
    }

    @Test("after commit and restart, the group resumes after the last committed message (at-least-once)")
    func commitThenRestart() async throws {
        let fixture = try await KafkaFixture(topics: [NewTopic(name: "events", partitions: 1)])
        let producer = try fixture.producer()
        for index in 0..<10 {
            try await producer.send(OutgoingMessage(topic: "events", key: "k", value: bytes("\(index)")))
        }
        let first = try fixture.consumer(.group(id: "resume"))
        let firstBatch = await fixture.read(10, from: first)
        // Handle (commit) only the first six; the rest were read but not handled.
        for message in firstBatch.prefix(6) { first.commit(message) }
        try await first.commitNow()
        let committed = try await first.committed([TopicPartition(topic: "events", partition: 0)])
        #expect(committed[TopicPartition(topic: "events", partition: 0)] == 6)
        await first.close()

        let second = try fixture.consumer(.group(id: "resume"))
        let secondBatch = await fixture.read(4, from: second)
        #expect(secondBatch.map(\.offset) == [6, 7, 8, 9])
        await second.close()
        await producer.close()
    }

    @Test("seek moves the read position back and forth")
    func seek() async throws {
        let fixture = try await KafkaFixture(topics: [NewTopic(name: "events", partitions: 1)])
        let producer = try fixture.producer()
        for index in 0..<20 {
            try await producer.send(OutgoingMessage(topic: "events", key: "k", value: bytes("\(index)")))
        }
        let partition = TopicPartition(topic: "events", partition: 0)
        let consumer = try fixture.consumer(.assign([partition: .beginning]))
        let all = await fixture.read(20, from: consumer)
        #expect(all.map(\.offset) == Array(0..<20))
        try await consumer.seek([partition: .offset(5)])
        #expect(await fixture.read(3, from: consumer).map(\.offset) == [5, 6, 7])
        try await consumer.seek([partition: .offset(15)])
        #expect(await fixture.read(2, from: consumer).map(\.offset) == [15, 16])
        await consumer.close()
        await producer.close()
    }

    @Test("pause stops delivery until resume")
    func pauseResume() async throws {
        let fixture = try await KafkaFixture(topics: [NewTopic(name: "events", partitions: 1)])
        let partition = TopicPartition(topic: "events", partition: 0)
        let consumer = try fixture.consumer(.assign([partition: .beginning]))
        let producer = try fixture.producer()
        try await producer.send(OutgoingMessage(topic: "events", key: "k", value: bytes("a")))
        _ = await fixture.read(1, from: consumer)
        try await consumer.pause([partition])
        try await producer.send(OutgoingMessage(topic: "events", key: "k", value: bytes("b")))
        #expect(await consumer.nextMessage(timeout: .milliseconds(700)) == nil)
        try await consumer.resume([partition])
        #expect(await fixture.read(1, from: consumer).first?.value == bytes("b"))
        await consumer.close()
        await producer.close()
    }

    /// The mock coordinator lets a rebalance run for (session timeout − 1 s) before completing it, even after an
    /// explicit LeaveGroup. So a clean leave hands over after ≈ 9 s here, while a member that vanished without
    /// leaving is only expelled after the 10 s session timeout and then waits that rebalance too (≈ 19 s).
    @Test("closing a member leaves the group: the other takes over without waiting for its session to expire")
    func closeLeavesGroupPromptly() async throws {
        let fixture = try await KafkaFixture()
        let slow = ["session.timeout.ms": "10000"]
        let stay = try fixture.consumer(.group(id: "leave"), properties: slow)
        let leave = try fixture.consumer(.group(id: "leave"), properties: slow)
        let settle = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < settle {
            if try !stay.assignment().isEmpty && !leave.assignment().isEmpty { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(try stay.assignment().count < 4)
        let start = ContinuousClock.now
        await leave.close()
        while try stay.assignment().count < 4, ContinuousClock.now - start < .seconds(40) {
            try await Task.sleep(for: .milliseconds(50))
        }
        let took = ContinuousClock.now - start
        #expect(try stay.assignment().count == 4)
        print("group handover after clean leave took \(took)")
        #expect(took < .seconds(14), "took \(took): the member was expelled by session timeout, it did not leave")
        await stay.close()
    }

    static func drain(_ consumer: KafkaConsumer, quietFor quiet: Duration) async -> [KafkaMessage] {
        var result: [KafkaMessage] = []
        while let message = await consumer.nextMessage(timeout: quiet) { result.append(message) }
        return result
    }
}
