import Foundation

/// `deadletter:entry` on deadletter: a record that failed validation or processing, with the reason.
public struct DeadLetter: MessagePayload {
    /// The envelope type.
    public static let messageType = "deadletter:entry"
    /// The topic it travels on.
    public static let topic = Topics.deadletter
    /// Its payload schema.
    public static let schema = "messages/deadletter.entry.schema.json"

    /// Topic of the failed record.
    public var originalTopic: String
    /// Its partition.
    public var partition: Int
    /// Its offset.
    public var offset: Int
    /// Its key, if it had one (base64 on the wire).
    public var key: Data?
    /// Its headers.
    public var headers: [String: String]
    /// Its value, or the first `maxDeadLetterValueBytes` of it (base64 on the wire).
    public var value: Data
    /// True when `value` was cut to `maxDeadLetterValueBytes`.
    public var valueTruncated: Bool?
    /// What went wrong (a `MessageError` description or a processing error).
    public var error: String
    /// The service that gave up on it.
    public var service: String
    /// The instance that gave up on it.
    public var instance: String
    /// When it gave up.
    public var failedAt: Date

    /// Creates an entry as given (`validate()` checks the bounds).
    public init(
        originalTopic: String, partition: Int, offset: Int, key: Data?, headers: [String: String], value: Data,
        valueTruncated: Bool? = nil, error: String, service: String, instance: String, failedAt: Date = Date()
    ) {
        self.originalTopic = originalTopic
        self.partition = partition
        self.offset = offset
        self.key = key
        self.headers = headers
        self.value = value
        self.valueTruncated = valueTruncated
        self.error = error
        self.service = service
        self.instance = instance
        self.failedAt = failedAt
    }

    /// Creates an entry that always fits the bounds: value, key, error and headers are cut to size.
    public static func bounded(
        originalTopic: String, partition: Int, offset: Int, key: Data?, headers: [String: String], value: Data,
        error: String, service: String, instance: String, failedAt: Date = Date()
    ) -> DeadLetter {
        func cut(_ string: String, _ max: Int) -> String {
            string.unicodeScalars.count <= max
                ? string : String(String.UnicodeScalarView(string.unicodeScalars.prefix(max)))
        }
        let keptHeaders = headers.keys.sorted().prefix(MessageLimits.maxDeadLetterHeaders).map {
            (
                cut($0, MessageLimits.maxDeadLetterHeaderNameLength),
                cut(headers[$0] ?? "", MessageLimits.maxDeadLetterHeaderValueLength)
            )
        }
        let truncated = value.count > MessageLimits.maxDeadLetterValueBytes
        return DeadLetter(
            originalTopic: originalTopic, partition: max(partition, 0), offset: max(offset, 0),
            key: key.map { Data($0.prefix(MessageLimits.maxDeadLetterKeyLength / 4 * 3)) },
            headers: Dictionary(keptHeaders, uniquingKeysWith: { first, _ in first }),
            value: truncated ? Data(value.prefix(MessageLimits.maxDeadLetterValueBytes)) : value,
            valueTruncated: truncated ? true : nil,
            error: cut(error.isEmpty ? "unknown error" : error, MessageLimits.maxErrorLength),
            service: service, instance: instance, failedAt: failedAt)
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case originalTopic, partition, offset, key, headers, value, valueTruncated, error, service, instance, failedAt
    }

    /// Decodes strictly and validates.
    public init(from decoder: any Decoder) throws {
        let c = try StrictContainer<CodingKeys>(decoder)
        func field(_ key: CodingKeys) -> String { CodingPath.render(decoder.codingPath, key) }
        func bytes(_ text: String, _ key: CodingKeys, max: Int) throws -> Data {
            try Check.base64(text, field(key), max: max)
            guard let data = Data(base64Encoded: text) else {
                throw MessageError(.invalidValue, field: field(key), "must be base64 with padding")
            }
            return data
        }
        let keyText: String? = try c.optional(.key)
        self.init(
            originalTopic: try c.required(.originalTopic), partition: try c.required(.partition),
            offset: try c.required(.offset),
            key: try keyText.map { try bytes($0, .key, max: MessageLimits.maxDeadLetterKeyLength) },
            headers: try c.required(.headers),
            value: try bytes(try c.required(.value), .value, max: MessageLimits.maxDeadLetterValueLength),
            valueTruncated: try c.optional(.valueTruncated), error: try c.required(.error),
            service: try c.required(.service), instance: try c.required(.instance),
            failedAt: try Check.timestamp(try c.required(.failedAt, as: String.self), field(.failedAt)))
        try validate(at: decoder)
    }

    /// Encodes key and value as base64 and `failedAt` as an RFC 3339 millisecond timestamp.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(originalTopic, forKey: .originalTopic)
        try c.encode(partition, forKey: .partition)
        try c.encode(offset, forKey: .offset)
        try c.encodeIfPresent(key?.base64EncodedString(), forKey: .key)
        try c.encode(headers, forKey: .headers)
        try c.encode(value.base64EncodedString(), forKey: .value)
        try c.encodeIfPresent(valueTruncated, forKey: .valueTruncated)
        try c.encode(error, forKey: .error)
        try c.encode(service, forKey: .service)
        try c.encode(instance, forKey: .instance)
        try c.encode(Timestamp.string(from: failedAt), forKey: .failedAt)
    }

    /// Checks the topic, position, sizes and names.
    public func validate() throws(MessageError) {
        try Check.topicName(originalTopic, "originalTopic")
        try Check.range(partition, "partition", min: 0)
        try Check.range(offset, "offset", min: 0)
        if let key, (key.count + 2) / 3 * 4 > MessageLimits.maxDeadLetterKeyLength {
            throw MessageError(
                .tooLarge, field: "key", "must be at most \(MessageLimits.maxDeadLetterKeyLength) base64 characters")
        }
        guard headers.count <= MessageLimits.maxDeadLetterHeaders else {
            throw MessageError(
                .tooLarge, field: "headers", "must have at most \(MessageLimits.maxDeadLetterHeaders) entries")
        }
        for (name, value) in headers {
            guard name.unicodeScalars.count <= MessageLimits.maxDeadLetterHeaderNameLength else {
                throw MessageError(
                    .tooLarge, field: "headers",
                    "names must be at most \(MessageLimits.maxDeadLetterHeaderNameLength) characters")
            }
            try Check.text(value, "headers.\(name)", min: 0, max: MessageLimits.maxDeadLetterHeaderValueLength)
        }
        if (value.count + 2) / 3 * 4 > MessageLimits.maxDeadLetterValueLength {
            throw MessageError(
                .tooLarge, field: "value", "must be at most \(MessageLimits.maxDeadLetterValueLength) base64 characters"
            )
        }
        try Check.text(error, "error", max: MessageLimits.maxErrorLength)
        try Check.serviceName(service, "service")
        try Check.id(instance, "instance")
    }
}
