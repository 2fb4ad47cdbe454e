import ArgumentParser
import Foundation
import Kafka

/// `--key` and `--type` filters shared by `replay`, `tail` and `deadletter`: a record passes when its key is one of the
/// keys (if any are given) and its value is a JSON envelope whose `type` is one of the types (if any are given).
struct RecordFilter: Sendable {
    var keys: Set<String> = []
    var types: Set<String> = []

    /// Whether `message` passes.
    func matches(_ message: KafkaMessage) -> Bool {
        if !keys.isEmpty {
            guard let key = message.keyString, keys.contains(key) else { return false }
        }
        if !types.isEmpty {
            guard let type = Self.envelopeType(of: message.value), types.contains(type) else { return false }
        }
        return true
    }

    /// The `type` of a JSON envelope, nil when the value is not one.
    static func envelopeType(of value: [UInt8]) -> String? {
        guard value.first == UInt8(ascii: "{"),
              let object = try? JSONSerialization.jsonObject(with: Data(value)) as? [String: Any]
        else { return nil }
        return object["type"] as? String
    }
}

/// The filter options as ArgumentParser options.
struct RecordFilterOptions: ParsableArguments {
    @Option(name: .customLong("key"), help: "Only records with this key (repeatable).")
    var keys: [String] = []

    @Option(name: .customLong("type"), help: "Only envelopes of this type, e.g. biometric:verify (repeatable).")
    var types: [String] = []

    var filter: RecordFilter { RecordFilter(keys: Set(keys), types: Set(types)) }
}
