import Synchronization

/// Collects values from concurrent code (watcher tasks, callbacks) for assertions.
public final class Collector<Value: Sendable>: Sendable {
    private let storage = Mutex<[Value]>([])

    /// An empty collector.
    public init() {}

    /// Adds a value.
    public func append(_ value: Value) { storage.withLock { $0.append(value) } }
    /// Everything collected, in order.
    public var values: [Value] { storage.withLock { $0 } }
    /// How many values were collected.
    public var count: Int { storage.withLock { $0.count } }
}
