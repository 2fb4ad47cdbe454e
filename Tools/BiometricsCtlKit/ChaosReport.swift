import Foundation

/// The results of `biometricsctl chaos`: a terminal table, Markdown (for docs/RELIABILITY.md) and JSON.
struct ChaosReport: Sendable, Codable {
    /// When it ran (RFC 3339).
    var date: String
    /// The command that reproduces it.
    var command: String
    /// Clients, gateways and the round interval of the load.
    var clients: Int
    var gateways: Int
    var roundIntervalSeconds: Double
    /// One result per scenario, in run order.
    var scenarios: [ChaosScenarioResult]

    /// Whether every scenario lost nothing acknowledged and showed no duplicate.
    var isClean: Bool { scenarios.allSatisfy(\.isClean) }

    static let header = [
        "scenario", "ops", "failed", "dropped", "reconn. (recov.)", "recovered after", "all back after",
        "lost n/v/s", "dup visible", "dup pushes", "extra (rep.) audits", "frames",
    ]

    /// One table row.
    static func row(_ result: ChaosScenarioResult) -> [String] {
        [
            result.id, "\(result.operations)", "\(result.failed)", "\(result.clientsDropped)",
            "\(result.reconnects) (\(result.recovered))", seconds(result.recoveredAfter), seconds(result.allBackAfter),
            "\(result.lostNotifications)/\(result.lostVerifications)/\(result.lostSessions)",
            "\(result.duplicateNotifications)", "\(result.duplicatePushes)",
            "\(result.extraVerifications) (\(result.repeatedAudits))",
            "\(result.framesReceived)/\(result.framesSent)",
        ]
    }

    /// The progress line of one scenario.
    static func summaryLine(_ result: ChaosScenarioResult) -> String {
        "ops \(result.operations), failed \(result.failed), dropped \(result.clientsDropped), "
            + "recovered after \(seconds(result.recoveredAfter)), all back after \(seconds(result.allBackAfter)), "
            + "lost n/v/s \(result.lostNotifications)/\(result.lostVerifications)/\(result.lostSessions), "
            + "duplicates visible \(result.duplicateNotifications)"
            + (result.error.map { "; ERROR \($0)" } ?? "")
    }

    static func seconds(_ value: Double?) -> String {
        value.map { String(format: "%.1f s", $0) } ?? "–"
    }

    /// The table for a terminal.
    var table: String {
        let rows = [Self.header] + scenarios.map(Self.row)
        let widths = Self.header.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.enumerated().map { index, row in
            let line = row.enumerated().map { column, cell in BenchReport.pad(cell, widths[column]) }
                .joined(separator: "  ")
            return index == 0 ? line + "\n" + widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ") : line
        }.joined(separator: "\n")
    }

    /// Markdown: the table, the faults, the most frequent errors per scenario, the verdict.
    var markdown: String {
        var lines = [
            "Measured \(date) with `\(command)`: \(clients) SDK clients (`BiometricsClient`) over \(gateways) gateways, "
                + "each doing a round every \(String(format: "%g", roundIntervalSeconds)) s (verify with an enrolled "
                + "ES256 record, `notification:send` to a peer, `presence:update`, session create/list, one 64-byte "
                + "frame).",
            "",
        ]
        lines += BenchReport.markdownTable(Self.header, scenarios.map(Self.row))
        lines += ["", "Faults:", ""]
        lines += scenarios.map { result in
            "- `\(result.id)`: \(result.fault)" + (result.error.map { " — **did not complete**: \($0)" } ?? "")
                + result.notes.map { " — note: \($0)" }.joined()
        }
        lines += ["", "What the clients saw (most frequent failures per scenario):", ""]
        for result in scenarios where !result.errors.isEmpty {
            let top = result.errors.sorted { $0.value > $1.value }.prefix(4).map { "`\($0.key)` × \($0.value)" }
            lines.append("- `\(result.id)`: " + top.joined(separator: ", "))
        }
        lines += [
            "",
            "Verdict: " + (isClean
                ? "nothing acknowledged was lost and no duplicate was visible in any scenario."
                : "**see the rows with losses or visible duplicates**."),
        ]
        return lines.joined(separator: "\n") + "\n"
    }
}
