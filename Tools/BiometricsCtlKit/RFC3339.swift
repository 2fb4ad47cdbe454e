import ArgumentParser
import Foundation

/// RFC 3339 times for `--from`/`--to`/`--since`: `2026-11-28T10:00:00Z`, with or without fractional seconds or an offset.
enum RFC3339 {
    static func parse(_ text: String, option: String) throws -> Date {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime]
        if let date = formatter.date(from: text) { return date }
        throw ValidationError("\(option) '\(text)' is not an RFC 3339 time like 2026-11-28T10:00:00Z")
    }
}
