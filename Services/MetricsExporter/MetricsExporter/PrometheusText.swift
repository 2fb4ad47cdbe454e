/// Parses and writes the Prometheus text exposition format 0.0.4, strictly: a malformed line is an error naming it.
public enum PrometheusText {
    /// Parses `text` into families in order of first appearance.
    ///
    /// Samples follow their family's `# TYPE` line (histogram `_bucket`/`_sum`/`_count` and summary `_sum`/`_count`
    /// included); a sample with no declared family gets an untyped family of its own name. A second `# TYPE` or
    /// `# HELP` for one name, a `# TYPE` after that family's samples, or a sample of a family already closed by
    /// another family is an error, as in Prometheus itself.
    public static func parse(_ text: String) throws(PrometheusTextError) -> [MetricFamily] {
        var parser = Parser()
        var number = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            number += 1
            do throws(PrometheusTextError.Problem) {
                try parser.consume(line)
            } catch {
                throw PrometheusTextError(line: number, text: String(line.prefix(200)), problem: error)
            }
        }
        return parser.families
    }

    /// Writes families in the text format (HELP, TYPE, then samples), escaping help texts and label values.
    public static func render(_ families: [MetricFamily]) -> String {
        var out = ""
        for family in families {
            if let help = family.help {
                out += "# HELP \(family.name) \(escapeHelp(help))\n"
            }
            out += "# TYPE \(family.name) \(family.type.rawValue)\n"
            for sample in family.samples {
                out += sample.name
                if !sample.labels.isEmpty {
                    out += "{"
                    out += sample.labels.map { "\($0.name)=\"\(escapeLabelValue($0.value))\"" }.joined(separator: ",")
                    out += "}"
                }
                out += " " + formatValue(sample.value)
                if let timestamp = sample.timestamp { out += " \(timestamp)" }
                out += "\n"
            }
        }
        return out
    }

    /// A value as the format writes it: integers without a fraction, `+Inf`, `-Inf`, `NaN`.
    public static func formatValue(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }

    static func escapeHelp(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
    }

    static func escapeLabelValue(_ text: String) -> String {
        escapeHelp(text).replacingOccurrences(of: "\"", with: "\\\"")
    }

    /// Whether `name` is a valid metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`).
    public static func isMetricName(_ name: Substring) -> Bool {
        guard let first = name.utf8.first, isNameStart(first) || first == UInt8(ascii: ":") else { return false }
        return name.utf8.allSatisfy { isNameStart($0) || isDigit($0) || $0 == UInt8(ascii: ":") }
    }

    /// Whether `name` is a valid label name (`[a-zA-Z_][a-zA-Z0-9_]*`).
    public static func isLabelName(_ name: Substring) -> Bool {
        guard let first = name.utf8.first, isNameStart(first) else { return false }
        return name.utf8.allSatisfy { isNameStart($0) || isDigit($0) }
    }

    static func isNameStart(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
            || byte == UInt8(ascii: "_")
    }

    static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    static func parseValue(_ text: Substring) -> Double? {
        switch text {
        case "+Inf", "Inf": return .infinity
        case "-Inf": return -.infinity
        case "NaN": return .nan
        default:
            // Double(_:) also takes "inf", "nan" and hex floats, which the format does not.
            guard text.utf8.allSatisfy({ isDigit($0) || "+-.eE".utf8.contains($0) }) else { return nil }
            return Double(text)
        }
    }
}

/// A line of Prometheus text that does not parse.
public struct PrometheusTextError: Error, Sendable, CustomStringConvertible {
    /// What is wrong with the line.
    public enum Problem: Error, Sendable, Hashable {
        /// A `# TYPE` or `# HELP` line without the right parts, or an unknown type.
        case badDirective(String)
        /// A second `# TYPE`/`# HELP` for one family, or `# TYPE` after its samples.
        case duplicate(String)
        /// A sample line that does not parse.
        case badSample(String)
        /// A sample of a family that an earlier, different family already closed.
        case interleaved(String)
    }

    /// 1-based line number.
    public var line: Int
    /// The line (cut to 200 characters).
    public var text: String
    /// What is wrong.
    public var problem: Problem

    /// A human-readable summary.
    public var description: String {
        let detail: String
        switch problem {
        case .badDirective(let reason), .duplicate(let reason), .badSample(let reason), .interleaved(let reason):
            detail = reason
        }
        return "line \(line): \(detail): \(text)"
    }
}

private struct Parser {
    var families: [MetricFamily] = []
    var index: [String: Int] = [:]
    /// Families that have samples; after another family's samples they are closed.
    var sampled: Set<String> = []
    var current: String?
    var helpSeen: Set<String> = []

    mutating func consume(_ line: Substring) throws(PrometheusTextError.Problem) {
        let trimmed = line.drop { $0 == " " || $0 == "\t" }
        if trimmed.isEmpty { return }
        if trimmed.first == "#" {
            try directive(trimmed.dropFirst())
        } else {
            try sample(trimmed)
        }
    }

    private mutating func directive(_ rest: Substring) throws(PrometheusTextError.Problem) {
        let body = rest.drop { $0 == " " || $0 == "\t" }
        let parts = body.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
        guard let keyword = parts.first, keyword == "HELP" || keyword == "TYPE" else { return }  // a comment
        guard parts.count >= 2, PrometheusText.isMetricName(parts[1]) else {
            throw .badDirective("\(keyword) needs a valid metric name")
        }
        let name = String(parts[1])
        if keyword == "HELP" {
            guard !helpSeen.contains(name) else { throw .duplicate("second HELP for \(name)") }
            helpSeen.insert(name)
            let help = parts.count > 2 ? try unescapeHelp(parts[2]) : ""
            let position = try family(named: name, declaring: nil)
            families[position].help = help
        } else {
            guard parts.count == 3, let type = MetricType(rawValue: String(parts[2].trimmingTrailingSpaces)) else {
                throw .badDirective("TYPE needs one of counter, gauge, histogram, summary, untyped")
            }
            _ = try family(named: name, declaring: type)
        }
    }

    /// The index of family `name`, created if new; `declaring` sets its type (once, before any sample).
    private mutating func family(named name: String, declaring type: MetricType?) throws(PrometheusTextError.Problem)
        -> Int
    {
        if let position = index[name] {
            if let type {
                guard !typeDeclared.contains(name) else { throw .duplicate("second TYPE for \(name)") }
                guard !sampled.contains(name) else { throw .duplicate("TYPE for \(name) after its samples") }
                families[position].type = type
                typeDeclared.insert(name)
            }
            return position
        }
        families.append(MetricFamily(name: name, type: type ?? .untyped))
        index[name] = families.count - 1
        if type != nil { typeDeclared.insert(name) }
        return families.count - 1
    }

    var typeDeclared: Set<String> = []

    private mutating func sample(_ line: Substring) throws(PrometheusTextError.Problem) {
        var cursor = line.startIndex
        while cursor < line.endIndex, line[cursor] != "{", line[cursor] != " ", line[cursor] != "\t" {
            cursor = line.index(after: cursor)
        }
        let name = line[line.startIndex..<cursor]
        guard PrometheusText.isMetricName(name) else { throw .badSample("invalid metric name") }
        var labels: [MetricLabel] = []
        if cursor < line.endIndex, line[cursor] == "{" {
            cursor = line.index(after: cursor)
            labels = try parseLabels(line, &cursor)
        }
        let rest = line[cursor...].split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard rest.count == 1 || rest.count == 2 else { throw .badSample("expected a value and an optional timestamp") }
        guard let value = PrometheusText.parseValue(rest[0]) else { throw .badSample("invalid value '\(rest[0])'") }
        var timestamp: Int64?
        if rest.count == 2 {
            guard let stamp = Int64(rest[1]) else { throw .badSample("invalid timestamp '\(rest[1])'") }
            timestamp = stamp
        }
        var seen: Set<String> = []
        for label in labels {
            guard seen.insert(label.name).inserted else { throw .badSample("label \(label.name) given twice") }
        }
        let sampleName = String(name)
        let owner = ownerFamily(of: sampleName)
        if let current, current != owner, sampled.contains(owner) {
            throw .interleaved("sample of \(owner) after samples of \(current)")
        }
        let position = try family(named: owner, declaring: nil)
        let type = families[position].type
        if type == .histogram, sampleName == owner + "_bucket", !labels.contains(where: { $0.name == "le" }) {
            throw .badSample("histogram bucket without le")
        }
        if type == .summary, sampleName == owner, !labels.contains(where: { $0.name == "quantile" }) {
            throw .badSample("summary sample without quantile")
        }
        families[position].samples.append(MetricSample(name: sampleName, labels: labels, value: value, timestamp: timestamp))
        sampled.insert(owner)
        current = owner
    }

    /// The family a sample name belongs to: a declared family that owns it, else its own name.
    private func ownerFamily(of sampleName: String) -> String {
        if let position = index[sampleName], MetricFamily.owns(sampleName, name: sampleName, type: families[position].type) {
            return sampleName
        }
        for suffix in ["_bucket", "_sum", "_count"] where sampleName.hasSuffix(suffix) {
            let base = String(sampleName.dropLast(suffix.count))
            if let position = index[base], MetricFamily.owns(sampleName, name: base, type: families[position].type) {
                return base
            }
        }
        return sampleName
    }

    private func parseLabels(_ line: Substring, _ cursor: inout Substring.Index) throws(PrometheusTextError.Problem)
        -> [MetricLabel]
    {
        var labels: [MetricLabel] = []
        func skipSpaces() {
            while cursor < line.endIndex, line[cursor] == " " || line[cursor] == "\t" { cursor = line.index(after: cursor) }
        }
        while true {
            skipSpaces()
            guard cursor < line.endIndex else { throw .badSample("unterminated label set") }
            if line[cursor] == "}" {
                cursor = line.index(after: cursor)
                return labels
            }
            let nameStart = cursor
            while cursor < line.endIndex, line[cursor] != "=", line[cursor] != " ", line[cursor] != "}" {
                cursor = line.index(after: cursor)
            }
            let name = line[nameStart..<cursor]
            guard PrometheusText.isLabelName(name) else { throw .badSample("invalid label name '\(name)'") }
            skipSpaces()
            guard cursor < line.endIndex, line[cursor] == "=" else { throw .badSample("expected = after \(name)") }
            cursor = line.index(after: cursor)
            skipSpaces()
            guard cursor < line.endIndex, line[cursor] == "\"" else { throw .badSample("label value must be quoted") }
            cursor = line.index(after: cursor)
            var value = ""
            var closed = false
            while cursor < line.endIndex {
                let character = line[cursor]
                cursor = line.index(after: cursor)
                if character == "\"" { closed = true; break }
                if character == "\\" {
                    guard cursor < line.endIndex else { break }
                    let escaped = line[cursor]
                    cursor = line.index(after: cursor)
                    switch escaped {
                    case "\\": value.append("\\")
                    case "\"": value.append("\"")
                    case "n": value.append("\n")
                    default: throw .badSample("invalid escape \\\(escaped) in label \(name)")
                    }
                } else {
                    value.append(character)
                }
            }
            guard closed else { throw .badSample("unterminated label value of \(name)") }
            labels.append(MetricLabel(String(name), value))
            skipSpaces()
            guard cursor < line.endIndex else { throw .badSample("unterminated label set") }
            if line[cursor] == "," { cursor = line.index(after: cursor) } else if line[cursor] != "}" {
                throw .badSample("expected , or } after label \(name)")
            }
        }
    }

    private func unescapeHelp(_ text: Substring) throws(PrometheusTextError.Problem) -> String {
        var out = ""
        var escaping = false
        for character in text {
            if escaping {
                switch character {
                case "\\": out.append("\\")
                case "n": out.append("\n")
                default: out.append("\\"); out.append(character)  // the format keeps other escapes literally
                }
                escaping = false
            } else if character == "\\" {
                escaping = true
            } else {
                out.append(character)
            }
        }
        if escaping { out.append("\\") }
        return out
    }
}

extension Substring {
    fileprivate var trimmingTrailingSpaces: Substring {
        var result = self
        while let last = result.last, last == " " || last == "\t" { result = result.dropLast() }
        return result
    }
}
