import Foundation
import Kafka
import Logging
import Messages
import Metrics
import ServiceLifecycle
import SocketIO
import Synchronization

/// Reads `gateway.deliveries` and `biometric.frames` (every partition: every gateway sees everything) and hands each
/// event or control to the sockets it targets on this gateway. A delivery whose envelope id was read lately is a
/// duplicate (a service re-sent it after a crash): it is neither relayed nor kept for recoveries
/// (``RecentEnvelopeIDs``).
final class DeliveryRelay: Service, Sendable {
    private let consumer: KafkaConsumer
    private let context: GatewayContext
    /// With recovery: where the consumer starts (a window back) and where the backlog ends.
    private let backlog: (starts: [Int64], ends: [Int64])?
    private let recent: Mutex<RecentEnvelopeIDs>
    private static let duplicates = Counter(label: "gateway_deliveries_duplicate_total")

    init(consumer: KafkaConsumer, context: GatewayContext, backlog: (starts: [Int64], ends: [Int64])?) {
        self.consumer = consumer
        self.context = context
        self.backlog = backlog
        recent = Mutex(RecentEnvelopeIDs(capacity: context.configuration.deliveryDedupCapacity,
                                         window: context.configuration.deliveryDedupWindow))
    }

    /// Marks the gateway ready once its partitions are assigned, then relays until graceful shutdown.
    func run() async throws {
        try await withGracefulShutdownHandler {
            _ = try await consumer.waitForAssignment(timeout: .seconds(60))
            let backlogEnds = backlog?.ends ?? []
            if let backlog { context.deliveryCut.start(at: backlog.starts) }
            await becomeReady(after: backlogEnds)
            var lastEviction = ContinuousClock.now
            for await record in consumer.messages {
                if record.topic == Topics.biometricFrames {
                    relayFrame(record)
                } else {
                    let delivery = decodeDelivery(record)
                    context.deliveryCut.relay(partition: record.partition, offset: record.offset, delivery: delivery) {
                        position in
                        if let delivery { relayDelivery(delivery, position: position) }
                    }
                    if !context.isReady, !backlogEnds.isEmpty { await becomeReady(after: backlogEnds) }
                }
                if ContinuousClock.now - lastEviction > .seconds(1) {
                    lastEviction = .now
                    context.deliveryCut.evict(readBefore: .now - context.configuration.recoveryWindow * 1.5)
                }
            }
        } onGracefulShutdown: { [consumer] in
            Task { await consumer.close() }
        }
        await consumer.close()
    }

    /// Marks the gateway ready once the relay has read up to `ends` (the backlog for recoveries) and the recovery
    /// index has caught up; at once without recovery.
    private func becomeReady(after ends: [Int64]) async {
        guard !context.isReady else { return }
        if !ends.isEmpty {
            let position = context.deliveryCut.current
            guard zip(position.next, ends).allSatisfy({ $0 >= $1 }) else { return }
            while let index = context.recovery?.index, !index.isCaughtUp, !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(20))
            }
        }
        context.markReady()
        context.logger.info("gateway ready: deliveries assigned")
    }

    /// The delivery in `record`; nil when it is invalid or a duplicate of one read lately.
    private func decodeDelivery(_ record: KafkaMessage) -> Delivery? {
        do {
            let decoded = try MessageCoding.decodeMessage(from: Data(record.value), topic: Topics.gatewayDeliveries)
            guard recent.withLock({ $0.insert(decoded.header.id, now: .now) }) else {
                Self.duplicates.increment()
                context.logger.debug("duplicate delivery dropped", metadata: ["envelope.id": "\(decoded.header.id)"])
                return nil
            }
            return decoded.payload as? Delivery
        } catch {
            Counter(label: "gateway_deliveries_invalid_total").increment()
            context.logger.warning("invalid delivery ignored", metadata: [
                "kafka.partition": "\(record.partition)", "kafka.offset": "\(record.offset)", "error.message": "\(error)",
            ])
            return nil
        }
    }

    /// Hands one delivery to its targets; `position` (just past it) goes to recoverable sockets with each event.
    func relayDelivery(_ delivery: Delivery, position: DeliveryPosition) {
        if let gatewayId = delivery.gatewayId, gatewayId != context.gatewayId, !isRecoveredSocket(delivery.target) {
            return
        }
        switch delivery.content {
        case .event(let event):
            // Encoded once (WebSocket frames included), written to every recipient; recoverable sockets get the
            // delivery position as one more argument (Socket.IO's recovery offset).
            let recipients = context.hub.recipients(for: delivery.target)
            var arguments = [JSONBridge.socketIO(event.data)]
            if !recipients.plain.isEmpty {
                let packet = OutboundPacket(SocketIOPacket.event(
                    namespace: SocketIOPacket.defaultNamespace, name: event.name, arguments: arguments, ackID: nil
                ).encode())
                GatewaySession.emit(packet, to: recipients.plain, droppable: false)
            }
            if !recipients.recoverable.isEmpty {
                arguments.append(.string(position.description))
                let packet = OutboundPacket(SocketIOPacket.event(
                    namespace: SocketIOPacket.defaultNamespace, name: event.name, arguments: arguments, ackID: nil
                ).encode())
                GatewaySession.emit(packet, to: recipients.recoverable, droppable: false)
            }
            if let ackId = event.ackId {
                for session in recipients.sessions { session.answerAck(ackId, data: event.data) }
            }
        case .control(let control):
            apply(control, to: context.hub.resolve(delivery.target))
        }
    }

    /// A reply addressed to a socket on another gateway still reaches it here if it was recovered here.
    private func isRecoveredSocket(_ target: DeliveryTarget) -> Bool {
        guard target.kind == .socket, let id = target.id else { return false }
        return context.hub.hasSocket(id)
    }

    private func apply(_ control: DeliveryControl, to targets: [GatewayHub.Target]) {
        defer {
            // Recoverable sockets record their rooms where any gateway can find them after a reconnect.
            if [.join, .leave, .grantStream, .revokeStream].contains(control.action) {
                for target in targets where target.recoverable { target.session.recordRooms(disconnected: false) }
            }
        }
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
        GatewaySession.emit(packet, to: recipients.all, droppable: true)
    }
}
