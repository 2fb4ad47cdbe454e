@testable import BiometricsCtlKit
import Foundation
import Kafka
import Testing
import TestSupport

@Suite("biometricsctl replay", .serialized, .timeLimit(.minutes(3)))
struct ReplayTests {
    /// A known slice on `replay.source`: partition 0 gets messages 0-5, partition 1 gets 6-9; messages 0-2 and 6-7 are
    /// stamped at `early`, the rest at `late`. Message 4 has a binary value, 8 has no key, headers include bytes that
    /// are not UTF-8.
    struct Slice {
        static let early = Date(timeIntervalSince1970: 1_800_000_000)
        static let late = early.addingTimeInterval(3600)

        let messages: [OutgoingMessage]

        init() {
            var messages: [OutgoingMessage] = []
            for index in 0..<10 {
                let partition: Int32 = index < 6 ? 0 : 1
                let stamp = (index < 3 || index == 6 || index == 7) ? Self.early : Self.late
                let type = index % 2 == 0 ? "biometric:verify" : "session:create"
                let value: [UInt8] = index == 4
                    ? [0x00, 0xFF, 0xFE, 0x80, 0x7B]
                    : Array(#"{"id":"\#(index)","type":"\#(type)","payload":{"n":\#(index),"text":"é\n\"x\""}}"#.utf8)
                let key: [UInt8]? = index == 8 ? nil : Array("user-\(index % 3)".utf8)
                let headers = [
                    KafkaHeader(name: "trace", string: "t-\(index)"),
                    KafkaHeader(name: "raw", value: [0xC3, 0x28, UInt8(index)]),
                    KafkaHeader(name: "empty", value: nil),
                ]
                messages.append(OutgoingMessage(topic: "replay.source", partition: partition, key: key, value: value,
                                                 headers: headers, timestamp: stamp))
            }
            self.messages = messages
        }

        /// Index of the message a record carries (by partition and offset).
        static func index(of record: KafkaMessage) -> Int {
            Int(record.partition == 0 ? record.offset : 6 + record.offset)
        }
    }

    static func produce(_ fixture: OpsFixture) async throws -> Slice {
        let slice = Slice()
        let producer = try fixture.producer()
        for message in slice.messages { _ = try await producer.send(message) }
        await producer.close()
        return slice
    }

    static func replay(_ fixture: OpsFixture, _ arguments: [String]) async throws -> ReplayCommand.Summary {
        let command = try ReplayCommand.parse(arguments)
        return try await command.execute(kafka: fixture.kafka, logger: fixture.logger)
    }

    /// Every record of `topic` (all partitions), in partition/offset order.
    static func readAll(_ fixture: OpsFixture, _ topic: String, count: Int) async throws -> [KafkaMessage] {
        let records = try await TopicReader(bootstrapServers: fixture.broker.bootstrapServers, logger: fixture.logger)
            .records(on: topic, count: count, timeout: .seconds(20))
        return records.sorted { ($0.partition, $0.offset) < ($1.partition, $1.offset) }
    }

    /// Key, value and headers of `record` equal those of `original` byte for byte (plus `replayed-from` if `replayed`).
    static func expectSame(_ record: KafkaMessage, as original: OutgoingMessage, replayedFrom: String? = nil,
                           sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(record.key == original.key, sourceLocation: sourceLocation)
        #expect(record.value == original.value, sourceLocation: sourceLocation)
        var expected = original.headers
        if let replayedFrom { expected.append(KafkaHeader(name: "replayed-from", string: replayedFrom)) }
        #expect(record.headers == expected, sourceLocation: sourceLocation)
    }

    @Test func byOffsetsIntoAFileAndBackIntoATopic() async throws {
        let fixture = try await OpsFixture()
        let slice = try await Self.produce(fixture)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("replay-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("slice.jsonl")

        // Partition 0, offsets [1, 5): messages 1-4, binary value included.
        let summary = try await Self.replay(fixture, [
            "--topic", "replay.source", "--partition", "0", "--from-offset", "1", "--to-offset", "5",
            "--output", file.path,
        ])
        #expect(summary == ReplayCommand.Summary(read: 4, matched: 4, failed: 0))
        let lines = try RecordLine.read(file: file)
        #expect(lines.map(\.offset) == [1, 2, 3, 4])
        #expect(lines[3].valueEncoding == .base64)
        #expect(lines[0].valueEncoding == nil)
        for line in lines {
            let original = slice.messages[Int(line.offset)]
            #expect(try line.keyBytes() == original.key)
            #expect(try line.valueBytes() == original.value)
            #expect(try line.kafkaHeaders() == original.headers)
            #expect(line.timestamp != nil)
        }

        // The file, replayed into another topic, reproduces the slice.
        let again = try await Self.replay(fixture, ["--from-file", file.path, "--into", "replay.again"])
        #expect(again == ReplayCommand.Summary(read: 4, matched: 4, failed: 0))
        let reproduced = try await Self.readAll(fixture, "replay.again", count: 4)
        #expect(reproduced.count == 4)
        let byOrigin = Dictionary(reproduced.map { ($0.headers.last?.stringValue ?? "", $0) }, uniquingKeysWith: { a, _ in a })
        for offset in 1...4 {
            let record = try #require(byOrigin["replay.source/0/\(offset)"])
            Self.expectSame(record, as: slice.messages[offset], replayedFrom: "replay.source/0/\(offset)")
        }
    }

    @Test func byTimestampsIntoATopic() async throws {
        let fixture = try await OpsFixture()
        let slice = try await Self.produce(fixture)
        // [early, late): messages 0-2 and 6-7 — found by timestamp search (the embedded broker answers -1).
        let summary = try await Self.replay(fixture, [
            "--topic", "replay.source", "--from", "2027-01-15T08:00:00Z", "--to", "2027-01-15T08:30:00.000Z",
            "--into", "replay.target",
        ])
        #expect(summary == ReplayCommand.Summary(read: 5, matched: 5, failed: 0))
        let records = try await Self.readAll(fixture, "replay.target", count: 5)
        #expect(records.count == 5)
        let origins = records.compactMap { $0.headers.last?.stringValue }.sorted()
        #expect(origins == ["replay.source/0/0", "replay.source/0/1", "replay.source/0/2", "replay.source/1/0",
                            "replay.source/1/1"])
        for record in records {
            let origin = try #require(record.headers.last?.stringValue).split(separator: "/")
            let index = origin[1] == "0" ? Int(origin[2])! : 6 + Int(origin[2])!
            Self.expectSame(record, as: slice.messages[index], replayedFrom: origin.joined(separator: "/"))
        }
    }

    @Test func filtersSelectExactlyTheMatchingRecords() async throws {
        let fixture = try await OpsFixture()
        let slice = try await Self.produce(fixture)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("replay-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        func indexes(_ arguments: [String]) async throws -> [Int] {
            let file = directory.appendingPathComponent("\(UUID().uuidString).jsonl")
            _ = try await Self.replay(fixture, ["--topic", "replay.source", "--output", file.path] + arguments)
            return try RecordLine.read(file: file).map { Int($0.partition == 0 ? $0.offset : 6 + $0.offset) }.sorted()
        }
        func expected(_ predicate: (Int, OutgoingMessage) -> Bool) -> [Int] {
            slice.messages.enumerated().filter { predicate($0.offset, $0.element) }.map(\.offset)
        }
        let user1 = Array("user-1".utf8)
        #expect(try await indexes(["--key", "user-1"]) == expected { $1.key == user1 })
        #expect(try await indexes(["--type", "biometric:verify"]) == expected { index, _ in index % 2 == 0 && index != 4 })
        #expect(try await indexes(["--key", "user-1", "--key", "user-2", "--type", "session:create"])
            == expected { index, message in index % 2 == 1 && message.key != nil && message.key != Array("user-0".utf8) })
        let dry = try await Self.replay(fixture, ["--topic", "replay.source", "--type", "session:create", "--dry-run"])
        #expect(dry == ReplayCommand.Summary(read: 10, matched: 5, failed: 0))
    }

    @Test func refusesContradictoryOptions() {
        #expect(throws: (any Error).self) { try ReplayCommand.parse(["--topic", "t"]) }
        #expect(throws: (any Error).self) { try ReplayCommand.parse(["--topic", "t", "--dry-run", "--into", "u"]) }
        #expect(throws: (any Error).self) { try ReplayCommand.parse(["--from-file", "f", "--output", "g"]) }
        #expect(throws: (any Error).self) { try ReplayCommand.parse(["--topic", "t", "--from", "yesterday", "--dry-run"]) }
        #expect(throws: (any Error).self) {
            try ReplayCommand.parse(["--topic", "t", "--from-offset", "5", "--to-offset", "2", "--dry-run"])
        }
    }
}

