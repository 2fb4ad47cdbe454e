import Foundation

/// What the benchmark reports (`bench kafka`, `bench gateway`) share: number formats, aligned text rows, Markdown
/// tables and goal verdicts.
enum BenchReport {
    /// Writes `value` as pretty, key-sorted JSON (ISO 8601 dates) to `path`, creating its directory.
    static func writeJSON(_ value: some Encodable, to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        try write(try encoder.encode(value), to: path)
    }

    /// Writes `text` to `path`, creating its directory.
    static func writeText(_ text: String, to path: String) throws {
        try write(Data(text.utf8), to: path)
    }

    private static func write(_ data: Data, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try data.write(to: url, options: .atomic)
    }

    /// `text` left-aligned in `width` columns (never cut).
    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }

    /// `text` right-aligned in `width` columns (never cut; a space before it when it fills them).
    static func lpad(_ text: String, _ width: Int) -> String {
        text.count >= width ? " " + text : String(repeating: " ", count: width - text.count) + text
    }

    /// `value` with `decimals` decimals; whole numbers with thousands separators (`1,234,567`).
    static func format(_ value: Double, _ decimals: Int) -> String {
        guard decimals == 0 else { return String(format: "%.\(decimals)f", value) }
        let digits = String(Int(value.rounded()))
        var result = ""
        for (index, character) in digits.reversed().enumerated() {
            if index > 0 && index % 3 == 0 && character != "-" { result.append(",") }
            result.append(character)
        }
        return String(result.reversed())
    }

    /// A share as `64 %`.
    static func percent(_ value: Double) -> String { String(format: "%.0f %%", value * 100) }

    /// Bytes as `12.3 MiB`.
    static func mib(_ bytes: Int) -> String { String(format: "%.1f MiB", Double(bytes) / 1_048_576) }

    /// The middle value (mean of the two middle values for an even count); 0 for none.
    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return 0 }
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    /// One terminal table row: `label` left-aligned in `labelWidth`, each cell right-aligned in its width.
    static func textRow(_ label: String, _ cells: [String], labelWidth: Int, cellWidths: [Int]) -> String {
        pad(label, labelWidth) + zip(cells, cellWidths).map { lpad($0, $1) }.joined()
    }

    /// One terminal table row whose cells share one width.
    static func textRow(_ label: String, _ cells: [String], labelWidth: Int, cellWidth: Int) -> String {
        textRow(label, cells, labelWidth: labelWidth, cellWidths: Array(repeating: cellWidth, count: cells.count))
    }

    /// A Markdown table: the first column left-aligned, the others right-aligned.
    static func markdownTable(_ header: [String], _ rows: [[String]]) -> [String] {
        ["| " + header.joined(separator: " | ") + " |", "|---|" + String(repeating: "--:|", count: header.count - 1)]
            + rows.map { "| " + $0.joined(separator: " | ") + " |" }
    }

    /// `PASS` or `MISS`.
    static func verdict(_ pass: Bool) -> String { pass ? "PASS" : "MISS" }
}

/// One goal checked against the measurements.
struct BenchVerdict: Sendable, Codable {
    var goal: String
    /// The value the verdict is based on (a ratio, or milliseconds).
    var measured: Double
    /// The same measurement from the median run.
    var medianRun: Double
    var pass: Bool
}
