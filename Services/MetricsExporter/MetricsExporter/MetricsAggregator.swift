import Foundation
import Messages
import Synchronization

/// The latest snapshot of every service instance, merged into one exposition.
///
/// Each instance's series get `service` and `instance` labels (labels of those names a service set itself are kept as
/// `exported_service`/`exported_instance`, as Prometheus does). Families are merged by name across instances with
/// HELP and TYPE written once; an instance whose family has another TYPE than the first one seen loses that family
/// from the output and the conflict is counted. An instance silent for longer than `staleAfter` is dropped.
public final class MetricsAggregator: Sendable {
    /// One instance's last snapshot, parsed.
    public struct InstanceSnapshot: Sendable {
        /// The service.
        public var service: String
        /// The instance.
        public var instance: String
        /// Its families.
        public var families: [MetricFamily]
        /// When it arrived.
        public var receivedAt: Date
    }

    struct InstanceKey: Hashable, Comparable {
        var service: String
        var instance: String
        static func < (lhs: Self, rhs: Self) -> Bool { (lhs.service, lhs.instance) < (rhs.service, rhs.instance) }
    }

    private struct State {
        var instances: [InstanceKey: InstanceSnapshot] = [:]
        var snapshotsAccepted = 0
        var snapshotsRejected = 0
        var instancesExpired = 0
    }

    /// How long an instance may be silent before its series disappear.
    public let staleAfter: Duration
    private let state = Mutex(State())

    /// Creates an empty aggregator.
    public init(staleAfter: Duration) {
        self.staleAfter = staleAfter
    }

    /// Takes a snapshot as the instance's latest; a snapshot whose text does not parse is rejected (counted, thrown)
    /// and the instance keeps its previous one.
    public func ingest(_ snapshot: ServiceMetrics, at now: Date = Date()) throws(PrometheusTextError) {
        let families: [MetricFamily]
        do {
            families = try PrometheusText.parse(snapshot.text)
        } catch {
            state.withLock { $0.snapshotsRejected += 1 }
            throw error
        }
        let key = InstanceKey(service: snapshot.service, instance: snapshot.instance)
        let entry = InstanceSnapshot(service: snapshot.service, instance: snapshot.instance, families: families, receivedAt: now)
        state.withLock {
            $0.instances[key] = entry
            $0.snapshotsAccepted += 1
        }
    }

    /// Drops instances silent for longer than ``staleAfter``; returns how many were dropped.
    @discardableResult
    public func expire(now: Date = Date()) -> Int {
        let limit = staleAfterSeconds
        return state.withLock { state in
            let stale = state.instances.filter { now.timeIntervalSince($0.value.receivedAt) > limit }.map(\.key)
            for key in stale { state.instances.removeValue(forKey: key) }
            state.instancesExpired += stale.count
            return stale.count
        }
    }

    /// ``staleAfter`` in seconds.
    public var staleAfterSeconds: Double {
        Double(staleAfter.components.seconds) + Double(staleAfter.components.attoseconds) / 1e18
    }

    /// `first` followed by the families of `more` whose names are new: a generated family (lag, freshness) never
    /// repeats a name a service already used, which would make the exposition invalid.
    public static func merged(_ first: [MetricFamily], _ more: [MetricFamily]) -> [MetricFamily] {
        let names = Set(first.map(\.name))
        return first + more.filter { !names.contains($0.name) }
    }

    /// The `(service, instance)` pairs currently held.
    public var instances: [(service: String, instance: String)] {
        state.withLock { $0.instances.keys.sorted().map { ($0.service, $0.instance) } }
    }

    /// The merged families of every live instance plus `local` (the exporter's own, labelled like an instance), then
    /// freshness and the aggregator's own counters. Expires stale instances first.
    public func families(now: Date = Date(), local: InstanceSnapshot? = nil) -> [MetricFamily] {
        expire(now: now)
        let (held, counters) = state.withLock { state in
            (state.instances.sorted { $0.key < $1.key }.map(\.value), state)
        }
        var snapshots = held
        if let local { snapshots.append(local) }
        var merged: [MetricFamily] = []
        var position: [String: Int] = [:]
        var conflicts = 0
        for snapshot in snapshots {
            for family in snapshot.families {
                let samples = family.samples.map { Self.relabel($0, service: snapshot.service, instance: snapshot.instance) }
                if let index = position[family.name] {
                    guard merged[index].type == family.type else {
                        conflicts += 1
                        continue
                    }
                    if merged[index].help == nil { merged[index].help = family.help }
                    merged[index].samples += samples
                } else {
                    position[family.name] = merged.count
                    merged.append(MetricFamily(name: family.name, type: family.type, help: family.help, samples: samples))
                }
            }
        }
        return Self.merged(
            merged, freshness(of: local == nil ? snapshots : Array(snapshots.dropLast()), now: now)
                + own(counters, conflicts: conflicts))
    }

    /// The families for `local` as a snapshot record (the exporter's own registry).
    public static func localSnapshot(service: String, instance: String, text: String, at now: Date = Date())
        -> InstanceSnapshot?
    {
        guard let families = try? PrometheusText.parse(text) else { return nil }
        return InstanceSnapshot(service: service, instance: instance, families: families, receivedAt: now)
    }

    static func relabel(_ sample: MetricSample, service: String, instance: String) -> MetricSample {
        var labels = [MetricLabel("service", service), MetricLabel("instance", instance)]
        for label in sample.labels {
            switch label.name {
            case "service": labels.append(MetricLabel("exported_service", label.value))
            case "instance": labels.append(MetricLabel("exported_instance", label.value))
            default: labels.append(label)
            }
        }
        var result = sample
        result.labels = labels
        return result
    }

    private func freshness(of snapshots: [InstanceSnapshot], now: Date) -> [MetricFamily] {
        var newest: [String: Date] = [:]
        var count: [String: Int] = [:]
        for snapshot in snapshots {
            newest[snapshot.service] = max(newest[snapshot.service] ?? .distantPast, snapshot.receivedAt)
            count[snapshot.service, default: 0] += 1
        }
        let services = newest.keys.sorted()
        return [
            MetricFamily(
                name: "service_metrics_snapshot_age_seconds", type: .gauge,
                help: "Seconds since the newest service.metrics snapshot of the service arrived.",
                samples: services.map {
                    MetricSample(name: "service_metrics_snapshot_age_seconds", labels: [MetricLabel("service", $0)],
                                 value: max(0, now.timeIntervalSince(newest[$0]!)))
                }),
            MetricFamily(
                name: "service_metrics_instances", type: .gauge,
                help: "Instances of the service whose snapshots are live (not yet stale).",
                samples: services.map {
                    MetricSample(name: "service_metrics_instances", labels: [MetricLabel("service", $0)],
                                 value: Double(count[$0]!))
                }),
        ]
    }

    private func own(_ counters: State, conflicts: Int) -> [MetricFamily] {
        func counter(_ name: String, _ help: String, _ value: Int) -> MetricFamily {
            MetricFamily(name: name, type: .counter, help: help,
                         samples: [MetricSample(name: name, value: Double(value))])
        }
        return [
            counter("metrics_exporter_snapshots_accepted_total", "Snapshots taken as an instance's latest.",
                    counters.snapshotsAccepted),
            counter("metrics_exporter_snapshots_rejected_total", "Snapshots whose text did not parse or decode.",
                    counters.snapshotsRejected),
            counter("metrics_exporter_instances_expired_total", "Instances dropped after being silent too long.",
                    counters.instancesExpired),
            MetricFamily(
                name: "metrics_exporter_type_conflicts", type: .gauge,
                help: "Instance families left out of this exposition: their TYPE differs from the first one seen.",
                samples: [MetricSample(name: "metrics_exporter_type_conflicts", value: Double(conflicts))]),
        ]
    }

    /// Counts a snapshot that could not even be decoded as a `service:metrics` envelope.
    public func countRejected() {
        state.withLock { $0.snapshotsRejected += 1 }
    }
}
