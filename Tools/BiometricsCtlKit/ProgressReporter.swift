import Foundation

/// Prints `replay: n/total messages (r msg/s), remaining m` on standard error at most once a second.
struct ProgressReporter {
    let label: String
    let total: Int64?
    private let start = ContinuousClock.now
    private var last = ContinuousClock.now
    private(set) var done: Int64 = 0

    init(label: String, total: Int64?) {
        self.label = label
        self.total = total
    }

    mutating func advance() {
        done += 1
        let now = ContinuousClock.now
        if now - last >= .seconds(1) {
            last = now
            ToolEnvironment.printError(line(now: now))
        }
    }

    func finish(_ summary: String) {
        ToolEnvironment.printError(line(now: ContinuousClock.now) + " — " + summary)
    }

    private func line(now: ContinuousClock.Instant) -> String {
        let elapsed = now - start
        let seconds = max(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18, 0.001)
        let rate = Int(Double(done) / seconds)
        if let total { return "\(label): \(done)/\(total) messages (\(rate) msg/s), remaining \(max(0, total - done))" }
        return "\(label): \(done) messages (\(rate) msg/s)"
    }
}
