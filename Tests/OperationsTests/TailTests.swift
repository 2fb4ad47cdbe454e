@testable import BiometricsCtlKit
import Foundation
import Kafka
import Messages
import Synchronization
import Testing
import TestSupport

@Suite("biometricsctl tail", .serialized, .timeLimit(.minutes(2)))
struct TailTests {
    @Test func followsTopicsPrettyAndRawWithFilters() async throws {
        let fixture = try await OpsFixture()
        let producer = try fixture.producer()
        let command = Envelope(
            source: Source(service: "gateway", instance: "gw-1"),
            principal: Principal(userId: "user-1", socketId: "sock-1", gatewayId: "gw-1"),
            payload: BiometricChallenge(recordId: "rec-42"))
        let envelope = Array(try MessageCoding.encode(command))
        // Before the tail starts (seen with --from-beginning): one envelope, one binary record with another key.
        _ = try await producer.send(OutgoingMessage(topic: "replay.source", key: "user-1", value: envelope))
        _ = try await producer.send(OutgoingMessage(topic: "replay.target", key: "other", value: [0xFF, 0x00]))

        let lines = Mutex<[String]>([])
        let pretty = Task {
            try await TailCommand.parse(["replay.source", "replay.target", "--from-beginning", "--count", "3"])
                .execute(kafka: fixture.kafka, logger: fixture.logger) { line in lines.withLock { $0.append(line) } }
        }
        try await waitUntil("history tailed", timeout: .seconds(30)) { lines.withLock { $0.count } == 2 }
        // Live: a record produced while tailing.
        _ = try await producer.send(OutgoingMessage(topic: "replay.target", key: "user-1", value: envelope))
        try await pretty.value
        let seen = lines.withLock { $0 }
        #expect(seen.count == 3)
        let envelopeLine = try #require(seen.first { $0.contains("replay.source[") })
        #expect(envelopeLine.contains("biometric:challenge key=user-1 principal=user-1/sock-1 from=gateway"))
        #expect(envelopeLine.contains(#"{recordId: "rec-42"}"#))
        #expect(seen.contains { $0.contains("(not an envelope, 2 bytes) key=other 0xff00") })

        // Raw and filtered: only the envelope records of key user-1, as JSONL records.
        let raw = Mutex<[String]>([])
        try await TailCommand.parse([
            "replay.source", "replay.target", "--from-beginning", "--raw", "--key", "user-1", "--type",
            "biometric:challenge", "--count", "2",
        ]).execute(kafka: fixture.kafka, logger: fixture.logger) { line in raw.withLock { $0.append(line) } }
        let records = try raw.withLock { $0 }.map { try JSONDecoder().decode(RecordLine.self, from: Data($0.utf8)) }
        #expect(records.count == 2)
        #expect(records.allSatisfy { $0.key == "user-1" })
        #expect(try records.allSatisfy { try $0.valueBytes() == envelope })
        #expect(Set(records.map(\.topic)) == ["replay.source", "replay.target"])
        #expect(throws: (any Error).self) { try TailCommand.parse([]) }
        await producer.close()
    }
}
