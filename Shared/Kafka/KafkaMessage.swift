import Foundation

/// One Kafka record header. Values are bytes; most project headers are UTF-8 text.
public struct KafkaHeader: Sendable, Hashable {
    /// The header name.
    public var name: String
    /// The header value, or nil for a null header.
    public var value: [UInt8]?

    /// Creates a header with a byte value.
    public init(name: String, value: [UInt8]?) {
        self.name = name
        self.value = value
    }

    /// Creates a header with a UTF-8 text value.
    public init(name: String, string: String) {
        self.init(name: name, value: Array(string.utf8))
    }

    /// The value decoded as UTF-8, if it is valid text.
    public var stringValue: String? {
        value.flatMap { String(bytes: $0, encoding: .utf8) }
    }
}

extension Array where Element == KafkaHeader {
    /// The first header with this name, as UTF-8 text.
    public func string(_ name: String) -> String? {
        first { $0.name == name }?.stringValue
    }
}

/// A topic and a partition.
public struct TopicPartition: Sendable, Hashable, CustomStringConvertible {
    /// The topic name.
    public var topic: String
    /// The partition number.
    public var partition: Int32

    /// Creates a topic-partition pair.
    public init(topic: String, partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    /// `topic[partition]`.
    public var description: String { "\(topic)[\(partition)]" }
}

/// A message to produce.
public struct OutgoingMessage: Sendable {
    /// Destination topic.
    public var topic: String
    /// Explicit partition, or nil to let the partitioner choose (by key).
    public var partition: Int32?
    /// The key; it decides the partition and so the ordering.
    public var key: [UInt8]?
    /// The value.
    public var value: [UInt8]
    /// Record headers.
    public var headers: [KafkaHeader]
    /// Record timestamp; nil means "now".
    public var timestamp: Date?

    /// Creates a message with byte key and value.
    public init(topic: String, partition: Int32? = nil, key: [UInt8]? = nil, value: [UInt8],
                headers: [KafkaHeader] = [], timestamp: Date? = nil) {
        self.topic = topic
        self.partition = partition
        self.key = key
        self.value = value
        self.headers = headers
        self.timestamp = timestamp
    }

    /// Creates a message with a text key.
    public init(topic: String, partition: Int32? = nil, key: String?, value: [UInt8],
                headers: [KafkaHeader] = [], timestamp: Date? = nil) {
        self.init(topic: topic, partition: partition, key: key.map { Array($0.utf8) }, value: value,
                  headers: headers, timestamp: timestamp)
    }
}

/// Where a produced message landed.
public struct DeliveryReport: Sendable, Hashable {
    /// Topic and partition.
    public var topicPartition: TopicPartition
    /// Offset assigned by the broker.
    public var offset: Int64
}

/// A consumed message; its bytes are copied out of librdkafka so it outlives the C message.
public struct KafkaMessage: Sendable, Hashable {
    /// The topic it was read from.
    public var topic: String
    /// The partition it was read from.
    public var partition: Int32
    /// Its offset in the partition.
    public var offset: Int64
    /// The key, if any.
    public var key: [UInt8]?
    /// The value (empty for a null value).
    public var value: [UInt8]
    /// Record headers.
    public var headers: [KafkaHeader]
    /// Record timestamp (create or log-append time), if the broker set one.
    public var timestamp: Date?

    /// Creates a message (tests and tools build these too).
    public init(topic: String, partition: Int32, offset: Int64, key: [UInt8]?, value: [UInt8],
                headers: [KafkaHeader], timestamp: Date?) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.key = key
        self.value = value
        self.headers = headers
        self.timestamp = timestamp
    }

    /// Topic and partition.
    public var topicPartition: TopicPartition { TopicPartition(topic: topic, partition: partition) }
    /// The key as UTF-8 text, if it is text.
    public var keyString: String? { key.flatMap { String(bytes: $0, encoding: .utf8) } }
}
