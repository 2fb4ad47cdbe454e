import Foundation

/// How many CPUs this process may run on.
///
/// Neither NIO's `System.coreCount` nor Foundation's `activeProcessorCount` reads the scheduler affinity on Linux: a
/// process started with `taskset -c 0` on a 2-CPU machine still gets two event loops, which then take turns on one
/// CPU, a context switch per hand-off. So thread counts default to this instead.
public enum ProcessCPUs {
    /// CPUs in this process's affinity mask (`Cpus_allowed_list` of `/proc/self/status`), capped by the machine's
    /// count; the machine's count where the mask cannot be read.
    public static var available: Int {
        let machine = ProcessInfo.processInfo.activeProcessorCount
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed_list:") }),
              let allowed = count(list: line.dropFirst("Cpus_allowed_list:".count))
        else { return machine }
        return max(1, min(allowed, machine))
    }

    /// The number of CPUs in a Linux CPU list such as `0-3,8,10-11`; nil when it does not parse.
    static func count(list: Substring) -> Int? {
        var total = 0
        for part in list.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ",") {
            let bounds = part.split(separator: "-", maxSplits: 1).map { Int($0) }
            switch bounds.count {
            case 1:
                guard bounds[0] != nil else { return nil }
                total += 1
            case 2:
                guard let low = bounds[0], let high = bounds[1], low <= high else { return nil }
                total += high - low + 1
            default:
                return nil
            }
        }
        return total > 0 ? total : nil
    }
}
