import Foundation
import Kafka
import Logging
import Messages
import Metrics
import ServiceLifecycle
import SocketIO

/// Reads `gateway.deliveries` and `biometric.frames` (a group of its own, from the end: every gateway sees
/// everything) and hands each event or control to the sockets it targets on this gateway.
final class DeliveryRelay: Service, Sendable {
    private let consumer: KafkaConsumer
    private let context: GatewayContext

    init(consumer: KafkaConsumer, context: GatewayContext) {
        self.consumer = consumer
        self.context = context
    }

    /// Marks the gateway ready once its partitions are assigned, then relays until graceful shutdown.
    func run() async throws {
        try await withGracefulShutdownHandler {
            _ = try await consumer.waitForAssignment(timeout: .seconds(60))
            context.markReady()
            context.logger.info("gateway ready: deliveries assigned")
            for await record in consumer.messages {
                if record.topic == Topics.biometricFrames {
                    relayFrame(record)
                } else {
                    relayDelivery(record)
                }
            }
        } onGracefulShutdown: { [consumer] in
            Task { await consumer.close() }
        }
        await consumer.close()
    }

    func relayDelivery(_ record: KafkaMessage) {
        let delivery: Delivery
        do {
            let decoded = try MessageCoding.decodeMessage(from: Data(record.value), topic: Topics.gatewayDeliveries)
            guard let payload = decoded.payload as? Delivery else { return }
            delivery = payload
        } catch {
            Counter(label: "gateway_deliveries_invalid_total").increment()
            context.logger.warning("invalid delivery ignored", metadata: [
                "kafka.partition": "\(record.partition)", "kafka.offset": "\(record.offset)", "error.message": "\(error)",
            ])
            return
        }
        if let gatewayId = delivery.gatewayId, gatewayId != context.gatewayId { return }
        switch delivery.content {
        case .event(let event):
            let recipients = context.hub.recipients(for: delivery.target)
            if !recipients.isEmpty {
                // Encoded once (WebSocket frames included), written to every recipient.
                let packet = OutboundPacket(SocketIOPacket.event(
                    namespace: SocketIOPacket.defaultNamespace, name: event.name,
                    arguments: [JSONBridge.socketIO(event.data)], ackID: nil
                ).encode())
                GatewaySession.emit(packet, to: recipients, droppable: false)
            }
            if let ackId = event.ackId {
                for session in recipients.sessions { session.answerAck(ackId, data: event.data) }
            }
        case .control(let control):
            apply(control, to: context.hub.resolve(delivery.target))
        }
    }

    private func apply(_ control: DeliveryControl, to targets: [(socketID: String, session: GatewaySession)]) {
        switch control.action {
        case .join:
            guard let room = control.room else { return }
            for target in targets { context.hub.join(target.socketID, room) }
        case .leave:
            guard let room = control.room else { return }
            for target in targets { context.hub.leave(target.socketID, room) }
        case .disconnect:
            for target in targets { target.session.disconnect() }
        case .grantStream, .revokeStream:
            // A grant lets the socket publish frames for the device and joins it to the device's stream room.
            guard let deviceId = control.deviceId else { return }
            let granted = control.action == .grantStream
            for target in targets {
                target.session.setStreamGrant(deviceId, granted: granted)
                if granted {
                    context.hub.join(target.socketID, Rooms.stream(deviceId))
                } else {
                    context.hub.leave(target.socketID, Rooms.stream(deviceId))
                }
            }
        case .ack:
            guard let ackId = control.ackId else { return }
            for target in targets { target.session.answerAck(ackId, data: control.data ?? .null) }
        }
    }

    func relayFrame(_ record: KafkaMessage) {
        let headers: FrameHeaders
        do {
            headers = try FrameHeaders(headers: record.headers.compactMap { header in
                header.stringValue.map { (name: header.name, value: $0) }
            })
        } catch {
            Counter(label: "gateway_frames_invalid_total").increment()
            return
        }
        let recipients = context.hub.recipients(for: .room(Rooms.stream(headers.deviceId)))
        guard !recipients.isEmpty else { return }
        let data: SocketIOValue = [
            "deviceId": .string(headers.deviceId), "frame": .binary(Data(record.value)),
            "timestamp": .string(Timestamp.string(from: headers.timestamp)), "userId": .string(headers.userId),
        ]
        let packet = OutboundPacket(SocketIOPacket.event(
            namespace: SocketIOPacket.defaultNamespace, name: ServerEvent.biometricStreamFrame.rawValue,
            arguments: [data], ackID: nil
        ).encode())
        GatewaySession.emit(packet, to: recipients, droppable: true)
    }
}
