/// `service:metrics` on service.metrics: a snapshot of a service's Prometheus registry.
public struct ServiceMetrics: MessagePayload {
    /// The envelope type.
    public static let messageType = "service:metrics"
    /// The topic it travels on.
    public static let topic = Topics.serviceMetrics
    /// Its payload schema.
    public static let schema = "messages/service.metrics.schema.json"

    /// The service.
    public var service: String
    /// The instance.
    public var instance: String
    /// Seconds between snapshots.
    public var intervalSeconds: Int
    /// Always `prometheus-text-0.0.4`.
    public var format: String
    /// The registry in Prometheus text exposition format.
    public var text: String

    /// Creates the payload.
    public init(
        service: String, instance: String, intervalSeconds: Int, format: String = ServiceMetrics.prometheusTextFormat,
        text: String
    ) {
        self.service = service
        self.instance = instance
        self.intervalSeconds = intervalSeconds
        self.format = format
        self.text = text
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case service, instance, intervalSeconds, format, text }

    /// Decodes strictly (unknown fields and explicit nulls are errors) and validates.
    public init(from decoder: any Decoder) throws {
        let c = try StrictContainer<CodingKeys>(decoder)
        self.init(
            service: try c.required(.service),
            instance: try c.required(.instance),
            intervalSeconds: try c.required(.intervalSeconds),
            format: try c.required(.format),
            text: try c.required(.text))
        try validate(at: decoder)
    }

    /// Encodes the fields; absent optionals are omitted.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(service, forKey: .service)
        try c.encode(instance, forKey: .instance)
        try c.encode(intervalSeconds, forKey: .intervalSeconds)
        try c.encode(format, forKey: .format)
        try c.encode(text, forKey: .text)
    }

    /// Checks bounds, patterns and enums.
    public func validate() throws(MessageError) {
        try Check.serviceName(service, "service")
        try Check.id(instance, "instance")
        try Check.range(intervalSeconds, "intervalSeconds", min: 1, max: MessageLimits.maxIntervalSeconds)
        try Check.oneOf(format, "format", [ServiceMetrics.prometheusTextFormat])
        try Check.text(text, "text", min: 0, max: MessageLimits.maxMetricsTextLength)
    }

    /// The only snapshot format.
    public static let prometheusTextFormat = "prometheus-text-0.0.4"
}
