import Foundation
import Logging
import Testing
import TestSupport

@testable import Runtime

@Suite("JSONLogHandler", .timeLimit(.minutes(1)))
struct JSONLogHandlerTests {
    struct Failure: Error, CustomStringConvertible {
        var description: String { "broker down" }
    }

    private func makeLogger(_ lines: Collector<String>, level: Logger.Level = .info) -> Logger {
        var logger = Logger(label: "gateway") { label in
            JSONLogHandler(label: label, write: { lines.append($0) })
        }
        logger.logLevel = level
        return logger
    }

    private func object(_ line: String) throws -> [String: Any] {
        #expect(line.hasSuffix("\n"))
        #expect(line.dropLast().contains("\n") == false)
        let value = try JSONSerialization.jsonObject(with: Data(line.utf8))
        return try #require(value as? [String: Any])
    }

    @Test func writesOneJSONObjectPerLine() throws {
        let lines = Collector<String>()
        var logger = makeLogger(lines)
        logger[metadataKey: "service.name"] = "gateway"
        logger.info(
            "client \"connected\"\nsecond line",
            metadata: [
                "socketio.sid": "abc",
                "kafka": ["topic": "gateway.deliveries", "partition": .stringConvertible(3)],
                "rooms": ["user:1", "room:team-1"],
                "empty": [:],
            ]
        )
        logger.debug("not emitted at info")
        #expect(lines.count == 1)
        let json = try object(try #require(lines.values.first))
        #expect(json["level"] as? String == "info")
        #expect(json["label"] as? String == "gateway")
        #expect(json["message"] as? String == "client \"connected\"\nsecond line")
        #expect(json["source"] as? String == "RuntimeTests")
        let metadata = try #require(json["metadata"] as? [String: Any])
        #expect(metadata["socketio.sid"] as? String == "abc")
        #expect(metadata["kafka.topic"] as? String == "gateway.deliveries")
        #expect(metadata["kafka.partition"] as? String == "3")
        #expect(metadata["rooms"] as? [String] == ["user:1", "room:team-1"])
        #expect(metadata["service.name"] as? String == "gateway")
        #expect((metadata["empty"] as? [String: Any])?.isEmpty == true)
        let timestamp = try #require(json["timestamp"] as? String)
        #expect(timestamp.wholeMatch(of: /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z/) != nil)
    }

    @Test func callSiteMetadataWinsAndProviderIsUsed() throws {
        let lines = Collector<String>()
        let provider = Logger.MetadataProvider { ["trace.id": "t-1", "key": "provider"] }
        var logger = Logger(label: "x") { label in
            JSONLogHandler(label: label, metadataProvider: provider, write: { lines.append($0) })
        }
        logger[metadataKey: "key"] = "handler"
        logger.warning("w", metadata: ["key": "call"])
        logger.error("e")
        let first = try object(lines.values[0])
        let second = try object(lines.values[1])
        #expect((first["metadata"] as? [String: String]) == ["key": "call", "trace.id": "t-1"])
        #expect((second["metadata"] as? [String: String]) == ["key": "provider", "trace.id": "t-1"])
        #expect(second["level"] as? String == "error")
    }

    @Test func rendersErrorsAndControlCharacters() throws {
        let event = LogEvent(
            level: .critical, message: "tab\there \u{1}", error: Failure(), metadata: nil, source: "Kafka",
            file: #fileID, function: #function, line: #line)
        let line = JSONLogHandler.render(event: event, label: "l", metadata: [:], date: Date(timeIntervalSince1970: 1_767_323_045.678))
        let json = try object(line)
        #expect(json["error"] as? String == "broker down")
        #expect(json["message"] as? String == "tab\there \u{1}")
        #expect(json["source"] as? String == "Kafka")
        #expect(json["metadata"] == nil)
        #expect(json["timestamp"] as? String == "2026-01-02T03:04:05.678Z")
        #expect(line.contains(#"\u0001"#))
    }

    @Test func timestampsAreUTCWithMilliseconds() {
        #expect(JSONLogHandler.timestamp(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.000Z")
        #expect(JSONLogHandler.timestamp(Date(timeIntervalSince1970: 951_782_400.5)) == "2000-02-29T00:00:00.500Z")
    }

    @Test func bootstrapHappensOnce() {
        // The first call installs the handler for this test process; later ones change nothing.
        _ = LoggingBootstrap.bootstrap(level: .critical, format: .json)
        #expect(LoggingBootstrap.isBootstrapped)
        #expect(LoggingBootstrap.bootstrap(level: .debug, format: .text) == false)
    }
}
