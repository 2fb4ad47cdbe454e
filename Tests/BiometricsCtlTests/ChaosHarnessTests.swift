import Foundation
import TestSupport
import Testing

@testable import BiometricsCtlKit

@Suite("chaos and soak harness", .serialized)
struct ChaosHarnessTests {
    // MARK: Accounting (pure)

    @Test("an answered verify without audit record is lost; an audit beyond answered + unanswered is extra")
    func verificationAccounting() {
        var ledger = LoadLedger()
        ledger.verifiesAnswered = ["u1": 5, "u2": 3]
        ledger.verifiesUncertain = ["u2": 1]
        var result = ChaosScenarioResult(id: "t", fault: "t")
        ChaosRunner.account(ledger, into: &result, faultAt: 0, auditBefore: ["u1": 10, "u2": 0],
                            auditAfter: ["u1": 14, "u2": 6])
        #expect(result.verifiesAnswered == 8)
        #expect(result.lostVerifications == 1, "u1: 5 answered, 4 audited")
        #expect(result.extraVerifications == 2, "u2: 6 audited, 3 answered + 1 unanswered")
        #expect(!result.isClean)
    }

    @Test("recovery is when every failing kind of operation worked again; all back when every dropped client is up")
    func recoveryTimes() {
        var ledger = LoadLedger()
        ledger.operations = [
            LoadOperationRecord(kind: .verify, client: 0, start: 9, end: 9.5, error: nil),
            LoadOperationRecord(kind: .verify, client: 0, start: 10.5, end: 12, error: "timeout"),
            LoadOperationRecord(kind: .notify, client: 1, start: 11, end: 13, error: "connection_lost"),
            LoadOperationRecord(kind: .verify, client: 0, start: 12.5, end: 13, error: nil),
            LoadOperationRecord(kind: .notify, client: 1, start: 14, end: 16, error: nil),
            LoadOperationRecord(kind: .presence, client: 1, start: 14, end: 14.1, error: nil),
        ]
        ledger.connections = [
            ConnectionEvent(client: 1, at: 10.2, change: .down),
            ConnectionEvent(client: 1, at: 13.5, change: .up(recovered: true)),
        ]
        ledger.notificationPushes = ["n1": 2, "n2": 1]
        var result = ChaosScenarioResult(id: "t", fault: "t")
        ChaosRunner.account(ledger, into: &result, faultAt: 10, auditBefore: [:], auditAfter: [:])
        #expect(result.operations == 6)
        #expect(result.failed == 2)
        #expect(result.errors == ["verify timeout": 1, "notify connection_lost": 1])
        #expect(result.recoveredAfter == 6, "the first notify after the failed one ended at 16")
        #expect(result.allBackAfter == 3.5)
        #expect(result.clientsDropped == 1)
        #expect(result.recovered == 1)
        #expect(result.duplicatePushes == 1)
        #expect(result.isClean, "failures and absorbed duplicates are not losses")
    }

    @Test("a series is flat when its fitted growth after the warm-up stays within the allowance")
    func trend() {
        let flat = (0..<30).map { (Double($0) * 10, 100 + Double($0 % 3)) }
        let growing = (0..<30).map { (Double($0) * 10, 100 + Double($0) * 2) }
        #expect(SoakTrend.judge("flat", flat, from: 100) { max($0 * 0.1, 8) }.flat)
        let warmingUp = (0..<30).map { (Double($0) * 10, $0 < 10 ? Double($0) * 20 : 200) }
        #expect(!SoakTrend.judge("warming up", warmingUp, from: 0) { max($0 * 0.1, 8) }.flat)
        #expect(SoakTrend.judge("warmed up", warmingUp, from: 100) { max($0 * 0.1, 8) }.flat)
        let judged = SoakTrend.judge("growing", growing, from: 100) { max($0 * 0.1, 8) }
        #expect(!judged.flat)
        #expect(abs(judged.slopePerHour - 720) < 0.001, "2 per 10 s is 720 per hour")
    }

    @Test("the report prints one row per scenario and a verdict")
    func report() {
        var lost = ChaosScenarioResult(id: "kill-worker", fault: "kill -9 verification-worker")
        lost.lostNotifications = 1
        let report = ChaosReport(date: "2026-11-29T00:00:00Z", command: "biometricsctl chaos", clients: 4, gateways: 2,
                                 roundIntervalSeconds: 1,
                                 scenarios: [ChaosScenarioResult(id: "baseline", fault: "none"), lost])
        #expect(report.table.split(separator: "\n").count == 4)
        #expect(report.markdown.contains("| kill-worker | 0 | 0 | 0 | 0 (0) | – | – | 1/0/0 | 0 | 0 | 0 (0) | 0/0 |"))
        #expect(report.markdown.contains("**see the rows with losses or visible duplicates**"))
        #expect(!report.isClean)
    }

    // MARK: End to end

    @Test("kill -9 of the verification worker under load, real processes: nothing acknowledged is lost",
          .timeLimit(.minutes(3)))
    func killWorkerEndToEnd() async throws {
        let biometricsctl = try RepoPaths.builtExecutable("biometricsctl")
        let directory = URL(fileURLWithPath: biometricsctl).deletingLastPathComponent()
        let scenario = try #require(ChaosScenario.all.first { $0.id == "kill-worker" })
        let lines = LockedLines()
        let report = try await ChaosCommand.execute(
            clients: 4, interval: 1, scenarios: [scenario], warmup: 3, observe: 12, serviceDirectory: directory,
            biometricsctl: biometricsctl, command: "test") { lines.append($0) }
        let result = try #require(report.scenarios.first)
        #expect(result.error == nil, "\(lines.all)")
        #expect(result.verifiesAnswered > 0)
        #expect(result.notificationsAcked > 0)
        #expect(result.sessionsChecked > 0)
        #expect(result.lostNotifications == 0)
        #expect(result.lostVerifications == 0)
        #expect(result.lostSessions == 0)
        #expect(result.duplicateNotifications == 0)
    }
}

/// Progress lines collected from another task.
final class LockedLines: @unchecked Sendable {  // every access holds `lock`
    private let lock = NSLock()
    private var lines: [String] = []

    func append(_ line: String) { lock.withLock { lines.append(line) } }
    var all: String { lock.withLock { lines.joined(separator: "\n") } }
}
