import Foundation
import Kafka
import Testing

@Suite("Kafka client with kcat and the admin API", .timeLimit(.minutes(1)))
struct KafkaInteropTests {
    @Test("messages we produce are read by kcat with key, value and headers")
    func kcatReadsOurMessages() async throws {
        let fixture = try await KafkaFixture(topics: [NewTopic(name: "events", partitions: 1)])
        let producer = try fixture.producer()
        for index in 0..<3 {
            try await producer.send(OutgoingMessage(
                topic: "events", key: "key-\(index)", value: bytes("value-\(index)"),
                headers: [KafkaHeader(name: "h", string: "v\(index)")]))
        }
        await producer.close()
        let output = try await kcat(["-b", fixture.broker.bootstrapServers, "-C", "-t", "events", "-o", "beginning", "-e",
                               "-q", "-f", "%k|%s|%h\\n"])
        #expect(output.split(separator: "\n") == ["key-0|value-0|h=v0", "key-1|value-1|h=v1", "key-2|value-2|h=v2"])
    }

    @Test("messages kcat produces are read by our consumer in a group")
    func weReadKcatMessages() async throws {
        let fixture = try await KafkaFixture(topics: [NewTopic(name: "events", partitions: 2)])
        _ = try await kcat(["-b", fixture.broker.bootstrapServers, "-P", "-t", "events", "-K", ":", "-H", "origin=kcat"],
                     input: "a:1\nb:2\nc:3\n")
        let consumer = try fixture.consumer(.group(id: "interop"))
        let messages = await fixture.read(3, from: consumer)
        #expect(Set(messages.map { "\($0.keyString ?? ""):\(String(decoding: $0.value, as: UTF8.self))" })
                == ["a:1", "b:2", "c:3"])
        #expect(messages.allSatisfy { $0.headers.string("origin") == "kcat" })
        await consumer.close()
    }

    @Test("listTopics and watermarks describe the cluster")
    func metadataAndWatermarks() async throws {
        let fixture = try await KafkaFixture(topics: [NewTopic(name: "events", partitions: 3), NewTopic(name: "other", partitions: 1)])
        let admin = try KafkaAdmin(configuration: fixture.kafka, logger: fixture.logger)
        let topics = try await admin.listTopics()
        #expect(topics.first { $0.name == "events" }?.partitions == [0, 1, 2])
        #expect(topics.first { $0.name == "other" }?.partitions == [0])
        let producer = try fixture.producer()
        for _ in 0..<5 { try await producer.send(OutgoingMessage(topic: "other", key: "k", value: bytes("x"))) }
        await producer.close()
        let marks = try await admin.watermarks(TopicPartition(topic: "other", partition: 0))
        #expect(marks.low == 0 && marks.high == 5)
    }

    @Test("an offset is found by timestamp: the embedded broker cannot answer, so the client binary-searches")
    func offsetByTimestamp() async throws {
        let fixture = try await KafkaFixture(topics: [NewTopic(name: "events", partitions: 1)])
        let producer = try fixture.producer()
        let base = Date(timeIntervalSince1970: 1_790_000_000)
        for index in 0..<100 {  // one message per second of a made-up timeline
            try await producer.send(OutgoingMessage(topic: "events", partition: 0, key: "k", value: bytes("\(index)"),
                                                    timestamp: base.addingTimeInterval(Double(index))))
        }
        await producer.close()
        let admin = try KafkaAdmin(configuration: fixture.kafka, logger: fixture.logger)
        let partition = TopicPartition(topic: "events", partition: 0)
        let brokerAnswer = try await admin.offsetsForTimes(base.addingTimeInterval(42), partitions: [partition])
        #expect(brokerAnswer[partition] == .some(nil), "the mock broker is expected to answer -1")
        #expect(try await admin.offset(for: base.addingTimeInterval(42), in: partition) == 42)
        #expect(try await admin.offset(for: base.addingTimeInterval(41.5), in: partition) == 42)
        #expect(try await admin.offset(for: base.addingTimeInterval(-10), in: partition) == 0)
        #expect(try await admin.offset(for: base.addingTimeInterval(99), in: partition) == 99)
        #expect(try await admin.offset(for: base.addingTimeInterval(1000), in: partition) == 100)
        // Many partitions at once: searched, or read whole (the low watermark) when smaller than the limit.
        let searched = try await admin.offsets(for: base.addingTimeInterval(42), in: [partition])
        #expect(searched[partition]?.offset == 42 && searched[partition]?.high == 100)
        let whole = try await admin.offsets(for: base.addingTimeInterval(42), in: [partition], readWholeBelow: 1_000)
        #expect(whole[partition]?.offset == 0 && whole[partition]?.high == 100)
    }

    @Test("the binary search is exact over 20,000 messages, wherever the timestamp falls")
    func offsetByTimestampLarge() async throws {
        let fixture = try await KafkaFixture(topics: [NewTopic(name: "events", partitions: 1)])
        let producer = try fixture.producer()
        let base = Date(timeIntervalSince1970: 1_790_000_000)
        let count = 20_000
        for chunk in stride(from: 0, to: count, by: 1_000) {  // one message per 10 ms of a made-up timeline
            try await producer.send((chunk..<chunk + 1_000).map { index in
                OutgoingMessage(topic: "events", partition: 0, key: "k", value: bytes("\(index)"),
                                timestamp: base.addingTimeInterval(Double(index) / 100))
            })
        }
        await producer.close()
        let admin = try KafkaAdmin(configuration: fixture.kafka, logger: fixture.logger)
        let partition = TopicPartition(topic: "events", partition: 0)
        for target in [0, 1, 5_871, 9_999, 10_000, 14_321, 19_998, 19_999] {
            let found = try await admin.offset(for: base.addingTimeInterval(Double(target) / 100), in: partition)
            #expect(found == Int64(target), "searching for message \(target)")
        }
        #expect(try await admin.offset(for: base.addingTimeInterval(Double(count)), in: partition) == Int64(count))
    }

    /// Why an early reconnect-storm run recovered only 71 % of 10,000 sockets: every `gateway.connections` record of
    /// one gateway has its id as key, so 20,000 records of ~500 B landed in one partition, and the mock cluster keeps
    /// at most 5 MiB (or 100,000 message sets) per partition, dropping the oldest. The recovery index started at the
    /// low watermark, correctly; the records before it were gone. The search was exact all along (test above).
    @Test("the embedded broker keeps about 5 MiB per partition: the oldest records go and the low watermark moves")
    func embeddedBrokerRetention() async throws {
        let fixture = try await KafkaFixture(topics: [NewTopic(name: "events", partitions: 1)])
        let producer = try fixture.producer()
        let value = [UInt8](repeating: UInt8(ascii: "x"), count: 500)
        for _ in 0..<20 {
            try await producer.send((0..<1_000).map { _ in
                OutgoingMessage(topic: "events", partition: 0, key: "gateway-a", value: value)
            })
        }
        await producer.close()
        let admin = try KafkaAdmin(configuration: fixture.kafka, logger: fixture.logger)
        let marks = try await admin.watermarks(TopicPartition(topic: "events", partition: 0))
        #expect(marks.high == 20_000)
        // ~10 MB written, at most 5 MiB kept: roughly the oldest half is gone.
        #expect(marks.low > 5_000 && marks.low < 15_000, "low watermark \(marks.low)")
        #expect(Int(marks.high - marks.low) * 500 <= 5 * 1024 * 1024)
    }

    /// librdkafka 2.0's mock cluster has no CreateTopics handler (topics are pre-created instead), so here the
    /// request must fail cleanly within its timeout; on a real cluster the same call creates the topics.
    @Test("createTopics fails cleanly where the broker cannot create topics, and rejects bad specs up front")
    func createTopics() async throws {
        let fixture = try await KafkaFixture(topics: [NewTopic(name: "events", partitions: 1)])
        let admin = try KafkaAdmin(configuration: fixture.kafka, logger: fixture.logger)
        let start = ContinuousClock.now
        await #expect(throws: KafkaError.self) {
            try await admin.createTopics([NewTopic(name: "records", partitions: 2, config: ["cleanup.policy": "compact"])],
                                         timeout: .seconds(2))
        }
        #expect(ContinuousClock.now - start < .seconds(30), "the call gives up by its timeout instead of hanging")
        let error = await #expect(throws: KafkaError.self) {
            try await admin.createTopics([NewTopic(name: "bad", partitions: 0)])
        }
        #expect(error?.code == "configuration")
    }
}
