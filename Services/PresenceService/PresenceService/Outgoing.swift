import Messages

/// One delivery to produce and its Kafka key (deliveries sharing a key stay in order).
public struct Outgoing: Sendable, Hashable {
    /// The delivery.
    public var delivery: Delivery
    /// Its key.
    public var key: String

    /// Creates an outgoing delivery.
    public init(_ delivery: Delivery, key: String) {
        self.delivery = delivery
        self.key = key
    }
}
