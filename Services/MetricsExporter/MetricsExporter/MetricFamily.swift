/// The type a `# TYPE` line declares (untyped when there is none).
public enum MetricType: String, Sendable, Hashable, CaseIterable {
    /// A monotonically increasing count.
    case counter
    /// A value that goes up and down.
    case gauge
    /// Buckets, `_sum` and `_count`.
    case histogram
    /// Quantiles, `_sum` and `_count`.
    case summary
    /// No declared type.
    case untyped
}

/// One label of a sample.
public struct MetricLabel: Sendable, Hashable {
    /// Label name, e.g. `topic`.
    public var name: String
    /// Label value (unescaped).
    public var value: String

    /// Creates a label.
    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// One sample line: `name{labels} value [timestamp]`.
public struct MetricSample: Sendable, Hashable {
    /// The sample's name (for histograms `x_bucket`, `x_sum`, `x_count`).
    public var name: String
    /// Labels in the order given.
    public var labels: [MetricLabel]
    /// The value (`+Inf`, `-Inf`, `NaN` allowed).
    public var value: Double
    /// Milliseconds since the epoch, if the line had one.
    public var timestamp: Int64?

    /// Creates a sample.
    public init(name: String, labels: [MetricLabel] = [], value: Double, timestamp: Int64? = nil) {
        self.name = name
        self.labels = labels
        self.value = value
        self.timestamp = timestamp
    }

    /// The value of label `name`, if present.
    public func label(_ name: String) -> String? {
        labels.first { $0.name == name }?.value
    }
}

/// A metric family: its name, type, help text and samples.
public struct MetricFamily: Sendable, Hashable {
    /// The family name (without `_bucket`/`_sum`/`_count` suffixes).
    public var name: String
    /// Its declared type.
    public var type: MetricType
    /// Its help text (unescaped), if given.
    public var help: String?
    /// Its samples.
    public var samples: [MetricSample]

    /// Creates a family.
    public init(name: String, type: MetricType, help: String? = nil, samples: [MetricSample] = []) {
        self.name = name
        self.type = type
        self.help = help
        self.samples = samples
    }

    /// Whether a sample called `sampleName` belongs to a family called `name` of type `type`.
    static func owns(_ sampleName: String, name: String, type: MetricType) -> Bool {
        if sampleName == name { return type != .histogram }
        switch type {
        case .histogram: return sampleName == name + "_bucket" || sampleName == name + "_sum" || sampleName == name + "_count"
        case .summary: return sampleName == name + "_sum" || sampleName == name + "_count"
        case .counter, .gauge, .untyped: return false
        }
    }
}
