import Foundation
import Logging
import Synchronization

/// A `LogHandler` that writes one JSON object per line:
/// `{"timestamp":"2026-01-02T03:04:05.678Z","level":"info","label":"gateway","message":"…","metadata":{"kafka.topic":"…"},"source":"Gateway"}`.
///
/// Nested metadata dictionaries are flattened with dotted keys (`["kafka": ["topic": "t"]]` becomes
/// `"kafka.topic": "t"`); arrays stay JSON arrays. An attached error is written as `"error"`.
public struct JSONLogHandler: LogHandler {
    /// Receives one complete line (with its trailing newline).
    public typealias Writer = @Sendable (String) -> Void

    /// The logger's label.
    public let label: String
    /// Handler-level metadata, merged under call-site metadata.
    public var metadata: Logger.Metadata = [:]
    /// Supplies task-local or constant metadata at log time.
    public var metadataProvider: Logger.MetadataProvider?
    /// Minimum level this handler is asked to emit.
    public var logLevel: Logger.Level = .info

    private let write: Writer

    /// Creates a handler for `label` that hands each line to `write` (standard error by default).
    public init(
        label: String,
        metadataProvider: Logger.MetadataProvider? = nil,
        write: @escaping Writer = JSONLogHandler.standardError
    ) {
        self.label = label
        self.metadataProvider = metadataProvider
        self.write = write
    }

    /// Handler-level metadata for `metadataKey`.
    public subscript(metadataKey metadataKey: String) -> Logger.Metadata.Value? {
        get { metadata[metadataKey] }
        set { metadata[metadataKey] = newValue }
    }

    /// Writes `event` as one JSON line.
    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() {
            merged.merge(provided) { _, new in new }
        }
        if let explicit = event.metadata {
            merged.merge(explicit) { _, new in new }
        }
        write(Self.render(event: event, label: label, metadata: merged, date: Date()))
    }

    /// The JSON line (with trailing newline) for `event`; exposed for tests and custom writers.
    public static func render(event: LogEvent, label: String, metadata: Logger.Metadata, date: Date) -> String {
        var out = "{\"timestamp\":"
        JSONText.append(Self.timestamp(date), to: &out)
        out += ",\"level\":"
        JSONText.append(event.level.rawValue, to: &out)
        out += ",\"label\":"
        JSONText.append(label, to: &out)
        out += ",\"message\":"
        JSONText.append(event.message.description, to: &out)
        if !metadata.isEmpty {
            var flat: [(String, Logger.Metadata.Value)] = []
            flatten(metadata, prefix: "", into: &flat)
            flat.sort { $0.0 < $1.0 }
            out += ",\"metadata\":{"
            for (index, (key, value)) in flat.enumerated() {
                if index > 0 { out += "," }
                JSONText.append(key, to: &out)
                out += ":"
                appendValue(value, to: &out)
            }
            out += "}"
        }
        if let error = event.error {
            out += ",\"error\":"
            JSONText.append(String(describing: error), to: &out)
        }
        out += ",\"source\":"
        JSONText.append(event.source, to: &out)
        out += "}\n"
        return out
    }

    // MARK: Rendering

    private static func flatten(_ metadata: Logger.Metadata, prefix: String, into result: inout [(String, Logger.Metadata.Value)]) {
        for (key, value) in metadata {
            let path = prefix.isEmpty ? key : prefix + "." + key
            if case .dictionary(let nested) = value, !nested.isEmpty {
                flatten(nested, prefix: path, into: &result)
            } else {
                result.append((path, value))
            }
        }
    }

    private static func appendValue(_ value: Logger.Metadata.Value, to out: inout String) {
        switch value {
        case .string(let string):
            JSONText.append(string, to: &out)
        case .stringConvertible(let convertible):
            JSONText.append(convertible.description, to: &out)
        case .array(let items):
            out += "["
            for (index, item) in items.enumerated() {
                if index > 0 { out += "," }
                appendValue(item, to: &out)
            }
            out += "]"
        case .dictionary(let nested):
            out += "{"
            for (index, (key, item)) in nested.sorted(by: { $0.key < $1.key }).enumerated() {
                if index > 0 { out += "," }
                JSONText.append(key, to: &out)
                out += ":"
                appendValue(item, to: &out)
            }
            out += "}"
        }
    }

    /// RFC 3339 UTC timestamp with milliseconds, e.g. `2026-01-02T03:04:05.678Z`.
    static func timestamp(_ date: Date) -> String {
        let totalMilliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded())
        var seconds = time_t(totalMilliseconds.floorDivided(by: 1000))
        let milliseconds = Int(totalMilliseconds - Int64(seconds) * 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))"
            + "T\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(milliseconds), 3))Z"
    }

    // MARK: Output

    private static let standardErrorLock = Mutex(())

    /// Writes `line` to standard error with one `write(2)` call per line, serialized across threads.
    public static let standardError: Writer = { line in
        var bytes = Array(line.utf8)
        standardErrorLock.withLock { _ in
            bytes.withUnsafeMutableBytes { buffer in
                var offset = 0
                while offset < buffer.count {
                    let written = Foundation.write(2, buffer.baseAddress! + offset, buffer.count - offset)
                    if written > 0 {
                        offset += written
                    } else if written < 0 && errno == EINTR {
                        continue
                    } else {
                        return
                    }
                }
            }
        }
    }
}

extension Int64 {
    /// Division rounding towards negative infinity (for dates before 1970).
    fileprivate func floorDivided(by divisor: Int64) -> Int64 {
        let (quotient, remainder) = quotientAndRemainder(dividingBy: divisor)
        return remainder < 0 ? quotient - 1 : quotient
    }
}
