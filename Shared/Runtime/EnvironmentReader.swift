import Foundation

/// Reads typed configuration values from environment variables, failing with a `ConfigurationError`
/// that names the variable, says what is wrong and what was expected.
///
/// Conventions: a variable set to an empty (or all-whitespace) value counts as unset, except for
/// ``list(_:default:)``, where it means an empty list. Accessors without `default:` are required and
/// throw ``ConfigurationError/Code/missing`` when unset; the `optional…` accessors return `nil` instead.
///
/// Named `EnvironmentReader` rather than `Environment` so that code importing both `Runtime` and
/// `Hummingbird` (which has its own `Environment`) needs no module qualification.
public struct EnvironmentReader: Sendable {
    /// The raw variables this reader looks at.
    public let variables: [String: String]

    /// Creates a reader over `variables`, by default the process environment.
    public init(_ variables: [String: String] = ProcessInfo.processInfo.environment) {
        self.variables = variables
    }

    /// The value of `name` with surrounding whitespace trimmed, or `nil` if unset or empty.
    public func raw(_ name: String) -> String? {
        guard let value = variables[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty else {
            return nil
        }
        return value
    }

    /// Whether `name` is set to a non-empty value.
    public func isSet(_ name: String) -> Bool { raw(name) != nil }

    // MARK: Core

    /// Parses `name` with `parse`, returning `nil` when unset.
    public func optionalValue<Value>(
        _ name: String,
        parse: (String) throws -> Value
    ) rethrows -> Value? {
        guard let raw = raw(name) else { return nil }
        return try parse(raw)
    }

    /// Parses `name` with `parse`, throwing ``ConfigurationError/Code/missing`` when unset.
    public func requiredValue<Value>(
        _ name: String,
        expected: String,
        parse: (String) throws -> Value
    ) throws -> Value {
        guard let raw = raw(name) else { throw ConfigurationError.missing(name, expected: expected) }
        return try parse(raw)
    }

    // MARK: String

    /// The string value of a required variable.
    public func string(_ name: String) throws -> String {
        try requiredValue(name, expected: "a non-empty value") { $0 }
    }

    /// The string value of `name`, or `default` when unset.
    public func string(_ name: String, default: String) -> String {
        raw(name) ?? `default`
    }

    /// The string value of `name`, or `nil` when unset.
    public func optionalString(_ name: String) -> String? {
        raw(name)
    }

    // MARK: Int

    /// The integer value of a required variable, checked against `range` when given.
    public func int(_ name: String, range: ClosedRange<Int>? = nil) throws -> Int {
        try requiredValue(name, expected: Self.intExpectation(range)) { try parseInt(name, $0, range: range) }
    }

    /// The integer value of `name`, or `default` when unset; checked against `range` when given.
    public func int(_ name: String, default: Int, range: ClosedRange<Int>? = nil) throws -> Int {
        try optionalInt(name, range: range) ?? `default`
    }

    /// The integer value of `name`, or `nil` when unset; checked against `range` when given.
    public func optionalInt(_ name: String, range: ClosedRange<Int>? = nil) throws -> Int? {
        try optionalValue(name) { try parseInt(name, $0, range: range) }
    }

    private static func intExpectation(_ range: ClosedRange<Int>?) -> String {
        guard let range else { return "an integer" }
        return "an integer in \(range.lowerBound)–\(range.upperBound)"
    }

    private func parseInt(_ name: String, _ raw: String, range: ClosedRange<Int>?) throws -> Int {
        guard let value = Int(raw.hasPrefix("+") ? String(raw.dropFirst()) : raw) else {
            throw ConfigurationError.invalid(name, value: raw, problem: "is not an integer (expected \(Self.intExpectation(range)))")
        }
        if let range, !range.contains(value) {
            throw ConfigurationError.outOfRange(name, value: raw, expected: "\(range.lowerBound)–\(range.upperBound)")
        }
        return value
    }

    // MARK: Duration

    /// A required duration given in whole milliseconds (e.g. `25000`).
    public func durationMilliseconds(_ name: String, range: ClosedRange<Duration>? = nil) throws -> Duration {
        try requiredValue(name, expected: Self.millisecondsExpectation) { try parseMilliseconds(name, $0, range: range) }
    }

    /// A duration given in whole milliseconds, or `default` when unset.
    public func durationMilliseconds(_ name: String, default: Duration, range: ClosedRange<Duration>? = nil) throws -> Duration {
        try optionalDurationMilliseconds(name, range: range) ?? `default`
    }

    /// A duration given in whole milliseconds, or `nil` when unset.
    public func optionalDurationMilliseconds(_ name: String, range: ClosedRange<Duration>? = nil) throws -> Duration? {
        try optionalValue(name) { try parseMilliseconds(name, $0, range: range) }
    }

    /// A required duration given in seconds, fractions allowed (e.g. `15` or `0.5`).
    public func durationSeconds(_ name: String, range: ClosedRange<Duration>? = nil) throws -> Duration {
        try requiredValue(name, expected: Self.secondsExpectation) { try parseSeconds(name, $0, range: range) }
    }

    /// A duration given in seconds (fractions allowed), or `default` when unset.
    public func durationSeconds(_ name: String, default: Duration, range: ClosedRange<Duration>? = nil) throws -> Duration {
        try optionalDurationSeconds(name, range: range) ?? `default`
    }

    /// A duration given in seconds (fractions allowed), or `nil` when unset.
    public func optionalDurationSeconds(_ name: String, range: ClosedRange<Duration>? = nil) throws -> Duration? {
        try optionalValue(name) { try parseSeconds(name, $0, range: range) }
    }

    private static let millisecondsExpectation = "a whole number of milliseconds, e.g. 25000"
    private static let secondsExpectation = "a number of seconds, e.g. 15 or 0.5"

    private func parseMilliseconds(_ name: String, _ raw: String, range: ClosedRange<Duration>?) throws -> Duration {
        guard let value = Int64(raw), value >= 0 else {
            throw ConfigurationError.invalid(name, value: raw, problem: "is not a duration in milliseconds (expected \(Self.millisecondsExpectation))")
        }
        return try checked(name, raw, .milliseconds(value), range: range, unit: .milliseconds)
    }

    private func parseSeconds(_ name: String, _ raw: String, range: ClosedRange<Duration>?) throws -> Duration {
        let isNumeric = raw.allSatisfy { $0.isASCII && ($0.isNumber || $0 == ".") }
        guard isNumeric, let value = Double(raw), value.isFinite, value >= 0, value < 1e12 else {
            throw ConfigurationError.invalid(name, value: raw, problem: "is not a duration in seconds (expected \(Self.secondsExpectation))")
        }
        let milliseconds = (value * 1000).rounded()
        return try checked(name, raw, .milliseconds(Int64(milliseconds)), range: range, unit: .seconds)
    }

    private enum Unit { case milliseconds, seconds }

    private func checked(_ name: String, _ raw: String, _ value: Duration, range: ClosedRange<Duration>?, unit: Unit) throws -> Duration {
        guard let range, !range.contains(value) else { return value }
        func show(_ duration: Duration) -> String {
            let ms = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
            switch unit {
            case .milliseconds: return "\(ms)"
            case .seconds: return ms % 1000 == 0 ? "\(ms / 1000)" : "\(Double(ms) / 1000)"
            }
        }
        let suffix = unit == .milliseconds ? " ms" : " s"
        throw ConfigurationError.outOfRange(name, value: raw, expected: "\(show(range.lowerBound))–\(show(range.upperBound))\(suffix)")
    }

    // MARK: Bool

    private static let boolExpectation = "true or false (also 1/0, yes/no, on/off)"

    /// A required boolean: `true/false`, `1/0`, `yes/no`, `on/off`, any case.
    public func bool(_ name: String) throws -> Bool {
        try requiredValue(name, expected: Self.boolExpectation) { try parseBool(name, $0) }
    }

    /// A boolean, or `default` when unset.
    public func bool(_ name: String, default: Bool) throws -> Bool {
        try optionalBool(name) ?? `default`
    }

    /// A boolean, or `nil` when unset.
    public func optionalBool(_ name: String) throws -> Bool? {
        try optionalValue(name) { try parseBool(name, $0) }
    }

    private func parseBool(_ name: String, _ raw: String) throws -> Bool {
        switch raw.lowercased() {
        case "true", "1", "yes", "on": return true
        case "false", "0", "no", "off": return false
        default:
            throw ConfigurationError.invalid(name, value: raw, problem: "is not a boolean (expected \(Self.boolExpectation))")
        }
    }

    // MARK: URL

    /// A required absolute URL, optionally restricted to `schemes` (lowercase, e.g. `["redis", "rediss"]`).
    public func url(_ name: String, schemes: Set<String>? = nil) throws -> URL {
        try requiredValue(name, expected: Self.urlExpectation(schemes)) { try parseURL(name, $0, schemes: schemes) }
    }

    /// An absolute URL, or `default` when unset.
    public func url(_ name: String, default: URL, schemes: Set<String>? = nil) throws -> URL {
        try optionalURL(name, schemes: schemes) ?? `default`
    }

    /// An absolute URL, or `nil` when unset.
    public func optionalURL(_ name: String, schemes: Set<String>? = nil) throws -> URL? {
        try optionalValue(name) { try parseURL(name, $0, schemes: schemes) }
    }

    private static func urlExpectation(_ schemes: Set<String>?) -> String {
        guard let schemes, !schemes.isEmpty else { return "an absolute URL such as http://host:port/path" }
        return "a URL with scheme \(schemes.sorted().joined(separator: " or "))"
    }

    private func parseURL(_ name: String, _ raw: String, schemes: Set<String>?) throws -> URL {
        guard let url = URL(string: raw), let scheme = url.scheme?.lowercased(), !scheme.isEmpty,
            scheme == "file" || !(url.host ?? "").isEmpty
        else {
            throw ConfigurationError.invalid(name, value: raw, problem: "is not an absolute URL (expected \(Self.urlExpectation(schemes)))")
        }
        if let schemes, !schemes.isEmpty, !schemes.contains(scheme) {
            throw ConfigurationError.invalid(name, value: raw, problem: "has scheme \"\(scheme)\" (expected \(Self.urlExpectation(schemes)))")
        }
        return url
    }

    // MARK: List

    /// A comma-separated list with items trimmed and empty items dropped; `default` when unset.
    ///
    /// Unlike the other accessors, a variable set to the empty string yields an empty list, so an
    /// operator can explicitly configure "none" (e.g. `ALLOWED_ORIGINS=`).
    public func list(_ name: String, default: [String] = []) -> [String] {
        guard let value = variables[name] else { return `default` }
        return value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
    }

    /// A required comma-separated list that must have at least one item.
    public func requiredList(_ name: String) throws -> [String] {
        let items = list(name)
        guard !items.isEmpty else {
            throw ConfigurationError.missing(name, expected: "a comma-separated list with at least one item")
        }
        return items
    }

    // MARK: Port

    /// A required TCP port (1–65535, or 0–65535 when `allowZero`, 0 meaning "any free port").
    public func port(_ name: String, allowZero: Bool = false) throws -> Int {
        try requiredValue(name, expected: Self.portExpectation(allowZero)) { try parsePort(name, $0, allowZero: allowZero) }
    }

    /// A TCP port, or `default` when unset.
    public func port(_ name: String, default: Int, allowZero: Bool = false) throws -> Int {
        try optionalPort(name, allowZero: allowZero) ?? `default`
    }

    /// A TCP port, or `nil` when unset.
    public func optionalPort(_ name: String, allowZero: Bool = false) throws -> Int? {
        try optionalValue(name) { try parsePort(name, $0, allowZero: allowZero) }
    }

    private static func portExpectation(_ allowZero: Bool) -> String {
        allowZero ? "0–65535, 0 for any free port" : "1–65535"
    }

    private func parsePort(_ name: String, _ raw: String, allowZero: Bool) throws -> Int {
        let range = (allowZero ? 0 : 1)...65535
        guard raw.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int(raw), range.contains(value) else {
            throw ConfigurationError.invalid(name, value: raw, problem: "is not a port number (\(Self.portExpectation(allowZero)))")
        }
        return value
    }

    // MARK: Enum

    /// A required value among the raw values of `Value`, matched case-insensitively.
    public func `enum`<Value: RawRepresentable & CaseIterable>(_ name: String, as type: Value.Type = Value.self) throws -> Value
    where Value.RawValue == String {
        try requiredValue(name, expected: Self.enumExpectation(Value.self)) { try parseEnum(name, $0) }
    }

    /// A value among the raw values of `Value` (case-insensitive), or `default` when unset.
    public func `enum`<Value: RawRepresentable & CaseIterable>(_ name: String, default: Value) throws -> Value
    where Value.RawValue == String {
        try optionalEnum(name, as: Value.self) ?? `default`
    }

    /// A value among the raw values of `Value` (case-insensitive), or `nil` when unset.
    public func optionalEnum<Value: RawRepresentable & CaseIterable>(_ name: String, as type: Value.Type = Value.self) throws -> Value?
    where Value.RawValue == String {
        try optionalValue(name) { try parseEnum(name, $0) }
    }

    private static func enumExpectation<Value: RawRepresentable & CaseIterable>(_: Value.Type) -> String
    where Value.RawValue == String {
        "one of " + Value.allCases.map(\.rawValue).joined(separator: ", ")
    }

    private func parseEnum<Value: RawRepresentable & CaseIterable>(_ name: String, _ raw: String) throws -> Value
    where Value.RawValue == String {
        if let exact = Value(rawValue: raw) { return exact }
        if let match = Value.allCases.first(where: { $0.rawValue.lowercased() == raw.lowercased() }) { return match }
        throw ConfigurationError.invalid(name, value: raw, problem: "is not a valid value (expected \(Self.enumExpectation(Value.self)))")
    }
}
