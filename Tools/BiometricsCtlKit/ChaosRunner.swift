import Foundation
import Logging
import Runtime

#if canImport(Glibc)
import Glibc
#endif

/// One fault of `biometricsctl chaos`: what is done to which process of the stack.
struct ChaosScenario: Sendable {
    /// Short id (`kill-worker`), for `--scenarios`.
    let id: String
    /// What happens, for the table.
    let fault: String
    /// Injects the fault and undoes it (restart, bring back); returns when the process is back (ready), with notes
    /// on what did not go as planned on the way (a start that failed before a retry worked).
    let inject: @Sendable (ServiceStack) async throws -> [String]

    /// `kill -9` of process `name`, restarted under its old configuration after `down`.
    static func kill(_ id: String, _ name: String, down: Duration = .seconds(2)) -> ChaosScenario {
        ChaosScenario(id: id, fault: "kill -9 \(name), restarted after \(Int(down.seconds)) s") { stack in
            guard let process = stack.process(named: name) else { throw BenchError("no process \(name) in the stack") }
            await process.kill()
            try await Task.sleep(for: down)
            return try await restart(process)
        }
    }

    /// Starts `process` again as a supervisor (systemd `Restart=on-failure`) would: up to 3 attempts, 2 s apart.
    /// Returns a note per failed attempt; throws when no attempt worked.
    static func restart(_ process: StackProcess) async throws -> [String] {
        var failures: [String] = []
        for attempt in 1...3 {
            do {
                try await process.start()
                return failures
            } catch {
                let last = String(describing: error).split(separator: "\n").last.map(String.init) ?? ""
                failures.append("\(process.name) start \(attempt) failed: \(last)")
                if attempt < 3 { try await Task.sleep(for: .seconds(2)) }
            }
        }
        throw BenchError(failures.joined(separator: "; ") + "; not running")
    }

    /// Every scenario, in run order.
    static let all: [ChaosScenario] = [
        ChaosScenario(id: "baseline", fault: "none (steady load)") { _ in [] },
        kill("kill-gateway-a", "gateway-a"),
        kill("kill-worker", StackService.verificationWorker.rawValue),
        kill("kill-presence", StackService.presence.rawValue),
        kill("kill-notification", StackService.notification.rawValue),
        ChaosScenario(id: "restart-redis", fault: "redis-server stopped (SIGTERM, AOF kept), restarted after 10 s") {
            stack in
            await stack.redis.stop()
            try await Task.sleep(for: .seconds(10))
            return try await restart(stack.redis)
        },
        ChaosScenario(id: "broker-down", fault: "broker down 30 s (connections refused, log kept), then back") {
            stack in
            stack.broker.setDown()
            try await Task.sleep(for: .seconds(30))
            stack.broker.setUp()
            return []
        },
        kill("kill-gateway-b", "gateway-b", down: .seconds(20)),
    ]
}

/// What one scenario did to the clients and what it lost (times in seconds from the fault).
struct ChaosScenarioResult: Sendable, Codable {
    var id: String
    var fault: String
    /// Operations started during the scenario, and those that failed (by error code).
    var operations = 0
    var failed = 0
    var errors: [String: Int] = [:]
    /// Clients whose socket dropped; reconnects; of those, recovered sockets (same id, missed deliveries replayed).
    var clientsDropped = 0
    var reconnects = 0
    var recovered = 0
    /// Acknowledged but not found afterwards.
    var lostNotifications = 0
    var lostVerifications = 0
    var lostSessions = 0
    /// Acknowledged notifications, answered verifies, sessions created / checked.
    var notificationsAcked = 0
    var verifiesAnswered = 0
    var sessionsChecked = 0
    /// Notifications visible twice in the unread list (same marker, two ids): a duplicate idempotency did not absorb.
    var duplicateNotifications = 0
    /// `notification:new` pushed twice with the same id (absorbed by a client that keys by id).
    var duplicatePushes = 0
    /// Audit records (distinct envelope ids) beyond answered + unanswered verifies (a verify decided twice).
    var extraVerifications = 0
    /// Audit records seen again with the same envelope id (a redelivered outcome, absorbed by id).
    var repeatedAudits = 0
    /// Verifies answered `unavailable` (refused before a decision; try again).
    var unavailableVerifies = 0
    /// Unanswered notifications / verifies (the client cannot know whether they happened).
    var unansweredNotifications = 0
    var unansweredVerifies = 0
    /// Frames sent / received back.
    var framesSent = 0
    var framesReceived = 0
    /// How long the fault took to inject and undo.
    var faultSeconds = 0.0
    /// From the fault until every kind of operation that failed worked again; `nil` when nothing failed.
    var recoveredAfter: Double?
    /// From the fault until every dropped client was connected again; `nil` when none dropped.
    var allBackAfter: Double?
    /// Set when the scenario could not run to the end.
    var error: String?
    /// What did not go as planned but was overcome (a restart that needed a retry).
    var notes: [String] = []

    /// Whether nothing acknowledged was lost and no duplicate became visible.
    var isClean: Bool {
        error == nil && lostNotifications == 0 && lostVerifications == 0 && lostSessions == 0
            && duplicateNotifications == 0
    }
}

/// Runs scenarios one after another on one ``ServiceStack`` under one ``MixedLoad``: steady load, fault, observation,
/// then the load pauses and everything acknowledged is checked (notifications read back, verification audit
/// counted, sessions listed during the run).
struct ChaosRunner: Sendable {
    /// Steady load before each fault.
    var warmup: Duration = .seconds(8)
    /// Load after the fault is undone, before the check.
    var observe: Duration = .seconds(25)
    /// Prints progress.
    let progress: @Sendable (String) -> Void

    /// Runs `scenario` and checks what it lost.
    func run(_ scenario: ChaosScenario, stack: ServiceStack, load: MixedLoad, audit: VerificationAuditTail) async
        -> ChaosScenarioResult
    {
        var result = ChaosScenarioResult(id: scenario.id, fault: scenario.fault)
        _ = load.takeLedger()
        let auditBefore = audit.snapshot
        load.resume()
        try? await Task.sleep(for: warmup)
        let faultAt = load.now()
        progress("[\(scenario.id)] \(scenario.fault)")
        do {
            result.notes = try await scenario.inject(stack)
            for note in result.notes { progress("[\(scenario.id)] \(note)") }
        } catch {
            result.error = "\(error)"
            progress("[\(scenario.id)] fault injection failed: \(error)")
        }
        result.faultSeconds = load.now() - faultAt
        try? await Task.sleep(for: observe)
        await load.pause()
        // Let the audit consumer catch up with the last answers.
        try? await Task.sleep(for: .seconds(3))
        var ledger = load.takeLedger()
        do {
            let found = try await load.readBackNotifications()
            result.lostNotifications = ledger.notificationsAcked.keys.filter { found[$0] == nil }.count
            result.duplicateNotifications = found.values.filter { $0 > 1 }.count
        } catch {
            result.error = (result.error.map { $0 + "; " } ?? "") + "notification read-back failed: \(error)"
        }
        // Operations of the read-back are not the load's.
        ledger.operations = ledger.operations.filter { $0.start <= load.now() }
        let auditAfter = audit.snapshot
        Self.account(ledger, into: &result, faultAt: faultAt, auditBefore: auditBefore.perUser,
                     auditAfter: auditAfter.perUser)
        result.repeatedAudits = auditAfter.repeated - auditBefore.repeated
        progress("[\(scenario.id)] " + ChaosReport.summaryLine(result))
        return result
    }

    /// Fills the counts of `result` from the ledger and the audit counts before and after.
    static func account(_ ledger: LoadLedger, into result: inout ChaosScenarioResult, faultAt: Double,
                        auditBefore: [String: Int], auditAfter: [String: Int]) {
        result.operations = ledger.operations.count
        let failures = ledger.operations.filter { $0.error != nil }
        result.failed = failures.count
        for failure in failures { result.errors[failure.kind.rawValue + " " + (failure.error ?? ""), default: 0] += 1 }
        result.notificationsAcked = ledger.notificationsAcked.count
        result.unansweredNotifications = ledger.notificationsUncertain.count
        result.duplicatePushes = ledger.notificationPushes.values.reduce(0) { $0 + max(0, $1 - 1) }
        result.sessionsChecked = ledger.sessionsChecked
        result.unavailableVerifies = ledger.verifiesUnavailable
        result.lostSessions = ledger.sessionsLost.count
        result.framesSent = ledger.framesSent
        result.framesReceived = ledger.framesReceived
        for user in Set(ledger.verifiesAnswered.keys).union(ledger.verifiesUncertain.keys).union(auditAfter.keys) {
            let audited = auditAfter[user, default: 0] - auditBefore[user, default: 0]
            let answered = ledger.verifiesAnswered[user, default: 0]
            let unanswered = ledger.verifiesUncertain[user, default: 0]
            result.verifiesAnswered += answered
            result.unansweredVerifies += unanswered
            result.lostVerifications += max(0, answered - audited)
            result.extraVerifications += max(0, audited - answered - unanswered)
        }
        let dropped = Set(ledger.connections.filter { if case .down = $0.change { true } else { false } }.map(\.client))
        result.clientsDropped = dropped.count
        let ups = ledger.connections.compactMap { event -> (Int, Double, Bool)? in
            if case .up(let recovered) = event.change { return (event.client, event.at, recovered) }
            return nil
        }
        result.reconnects = ups.count
        result.recovered = ups.filter(\.2).count
        if !dropped.isEmpty {
            // Every dropped client's last connection change is an `up`: then all are back.
            var last: [Int: ConnectionEvent] = [:]
            for event in ledger.connections { last[event.client] = event }
            let allUp = last.values.allSatisfy { if case .up = $0.change { true } else { false } }
            result.allBackAfter = allUp ? (ups.map(\.1).max() ?? faultAt) - faultAt : nil
        }
        var recovered: Double?
        for kind in LoadOperationKind.allCases {
            let ofKind = ledger.operations.filter { $0.kind == kind && $0.end >= faultAt }
            guard let lastFailure = ofKind.filter({ $0.error != nil }).map(\.end).max() else { continue }
            let firstSuccess = ofKind.filter { $0.error == nil && $0.start >= lastFailure }.map(\.end).min()
            // No success after the last failure: not recovered within the observation (reported as the window end).
            let at = firstSuccess ?? ledger.operations.map(\.end).max() ?? lastFailure
            recovered = max(recovered ?? 0, at - faultAt)
        }
        result.recoveredAfter = recovered
    }
}
