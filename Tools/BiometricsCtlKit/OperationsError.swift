/// Why an operations command (replay, tail, deadletter) cannot go on: a missing topic, a bad replay file line.
struct OperationsError: Error, CustomStringConvertible {
    /// What went wrong, for the operator.
    let description: String

    init(_ description: String) { self.description = description }
}
