/// The process that produced an envelope.
public struct Source: ValidatedMessage, Hashable {
    /// Service name (`gateway`, `verification-worker`).
    public var service: String
    /// Instance id (host or pod name).
    public var instance: String

    /// Creates a source.
    public init(service: String, instance: String) {
        self.service = service
        self.instance = instance
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case service, instance }

    /// Decodes strictly and validates.
    public init(from decoder: any Decoder) throws {
        let c = try StrictContainer<CodingKeys>(decoder)
        self.init(service: try c.required(.service), instance: try c.required(.instance))
        try validate(at: decoder)
    }

    /// Checks the service name and instance id.
    public func validate() throws(MessageError) {
        try Check.serviceName(service, "service")
        try Check.id(instance, "instance")
    }
}
