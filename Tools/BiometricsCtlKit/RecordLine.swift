import Foundation
import Kafka
import Messages

/// One Kafka record as a JSONL line (`replay` files, `tail --raw`): bytes are kept exactly — text when they are valid
/// UTF-8, else base64 with `"…Encoding": "base64"`.
///
/// ```json
/// {"topic":"t","partition":0,"offset":7,"timestamp":"2026-11-28T10:00:00.000Z","key":"user-1","value":"{…}",
///  "headers":[{"name":"trace","value":"abc"},{"name":"raw","value":"/wA=","encoding":"base64"}]}
/// ```
struct RecordLine: Codable, Sendable, Equatable {
    /// A header; `value` nil is a header without a value.
    struct Header: Codable, Sendable, Equatable {
        var name: String
        var value: String?
        var encoding: Encoding?
    }

    /// How a byte field is written.
    enum Encoding: String, Codable, Sendable {
        case utf8, base64
    }

    var topic: String
    var partition: Int32
    var offset: Int64
    var timestamp: String?
    var key: String?
    var keyEncoding: Encoding?
    var value: String
    var valueEncoding: Encoding?
    var headers: [Header]

    /// The line for a consumed record.
    init(_ message: KafkaMessage) {
        topic = message.topic
        partition = message.partition
        offset = message.offset
        timestamp = message.timestamp.map(Timestamp.string(from:))
        (key, keyEncoding) = message.key.map(Self.encode) ?? (nil, nil)
        (value, valueEncoding) = Self.encode(message.value)
        headers = message.headers.map { header in
            guard let bytes = header.value else { return Header(name: header.name, value: nil, encoding: nil) }
            let (text, encoding) = Self.encode(bytes)
            return Header(name: header.name, value: text, encoding: encoding)
        }
    }

    /// Text if the bytes are UTF-8 (encoding omitted), else base64.
    static func encode(_ bytes: [UInt8]) -> (String, Encoding?) {
        if let text = String(validating: bytes, as: UTF8.self) { return (text, nil) }
        return (Data(bytes).base64EncodedString(), .base64)
    }

    static func decode(_ text: String, _ encoding: Encoding?, field: String) throws -> [UInt8] {
        switch encoding ?? .utf8 {
        case .utf8: return Array(text.utf8)
        case .base64:
            guard let data = Data(base64Encoded: text) else { throw OperationsError("\(field) is not valid base64") }
            return Array(data)
        }
    }

    /// The record's key bytes.
    func keyBytes() throws -> [UInt8]? { try key.map { try Self.decode($0, keyEncoding, field: "key") } }

    /// The record's value bytes.
    func valueBytes() throws -> [UInt8] { try Self.decode(value, valueEncoding, field: "value") }

    /// The record's headers.
    func kafkaHeaders() throws -> [KafkaHeader] {
        try headers.map { header in
            KafkaHeader(name: header.name,
                        value: try header.value.map { try Self.decode($0, header.encoding, field: "header \(header.name)") })
        }
    }

    /// The record as a consumed message again (filters and producing work on that).
    func message() throws -> KafkaMessage {
        KafkaMessage(topic: topic, partition: partition, offset: offset, key: try keyBytes(), value: try valueBytes(),
                     headers: try kafkaHeaders(), timestamp: timestamp.flatMap(Timestamp.date(from:)))
    }

    /// One compact JSON line (no trailing newline), keys sorted so files diff well.
    func jsonLine() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// Reads a JSONL file of records; blank lines are skipped, a bad line is an error naming it.
    static func read(file: URL) throws -> [RecordLine] {
        let text = try String(contentsOf: file, encoding: .utf8)
        var records: [RecordLine] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
        where !line.trimmingCharacters(in: .whitespaces).isEmpty {
            do {
                records.append(try JSONDecoder().decode(RecordLine.self, from: Data(line.utf8)))
            } catch {
                throw OperationsError("\(file.path):\(index + 1): not a replay record (\(error))")
            }
        }
        return records
    }
}
