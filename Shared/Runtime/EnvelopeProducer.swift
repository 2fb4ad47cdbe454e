import Foundation
import Kafka
import Logging
import Messages

/// Produces validated envelopes to their payload's topic, stamped with this process as `source`.
public struct EnvelopeProducer: Sendable {
    /// The underlying Kafka producer (run it in the service group so it flushes on shutdown).
    public let producer: KafkaProducer
    /// This process, as every envelope's `source`.
    public let source: Source

    /// Creates an envelope producer.
    public init(producer: KafkaProducer, source: Source) {
        self.producer = producer
        self.source = source
    }

    /// Creates an envelope producer for a service's configuration.
    public init(configuration: CommonConfiguration, logger: Logger) throws {
        self.init(
            producer: try KafkaProducer(configuration: KafkaProducerConfiguration(kafka: configuration.kafka), logger: logger),
            source: Source(service: configuration.serviceName, instance: configuration.instanceId))
    }

    /// Encodes (validating first) and sends a payload to `P.topic`, waiting for the broker's acknowledgement.
    @discardableResult
    public func send<P: MessagePayload>(
        _ payload: P, key: String, id: UUID = .random(), principal: Principal? = nil, reply: ReplyTo? = nil,
        headers: [KafkaHeader] = []
    ) async throws -> DeliveryReport {
        try await producer.send(message(payload, key: key, id: id, principal: principal, reply: reply, headers: headers))
    }

    /// Sends envelopes made with ``message(_:key:id:principal:reply:headers:)`` back to back (usually one produce
    /// request), in order, and waits for every acknowledgement.
    @discardableResult
    public func send(_ messages: [OutgoingMessage]) async throws -> [DeliveryReport] {
        try await producer.send(messages)
    }

    /// Like ``send(_:key:id:principal:reply:headers:)`` but without waiting for the acknowledgement (back-pressure only).
    public func enqueue<P: MessagePayload>(
        _ payload: P, key: String, id: UUID = .random(), principal: Principal? = nil, reply: ReplyTo? = nil,
        headers: [KafkaHeader] = []
    ) async throws {
        try await producer.enqueue(message(payload, key: key, id: id, principal: principal, reply: reply, headers: headers))
    }

    /// The Kafka message of an envelope around `payload` (validated and encoded), for a batched ``send(_:)``.
    public func message<P: MessagePayload>(
        _ payload: P, key: String, id: UUID = .random(), principal: Principal? = nil, reply: ReplyTo? = nil,
        headers: [KafkaHeader] = []
    ) throws -> OutgoingMessage {
        let envelope = Envelope(id: id, source: source, principal: principal, reply: reply, payload: payload)
        let value = try MessageCoding.encode(envelope)
        return OutgoingMessage(topic: P.topic, key: key, value: Array(value), headers: headers)
    }
}
