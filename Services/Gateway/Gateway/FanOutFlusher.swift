import NIOCore

/// Flushes, once per burst, the WebSockets of one event loop that fan-out wrote to without flushing.
///
/// Fan-out writes an event to its recipients without flushing and asks for a flush here. The flush runs in a later
/// task of the loop, after the tasks queued meanwhile (the rest of a burst from Kafka), so a socket gets one write
/// syscall for the burst instead of one per event; a lone event is flushed by the very next task. One flush task is
/// queued at a time and it visits only the sessions that wrote.
///
/// `@unchecked Sendable`: the mutable state is touched only on ``eventLoop``.
final class FanOutFlusher: @unchecked Sendable {
    /// The loop whose sessions this flusher serves.
    let eventLoop: any EventLoop
    private var waiting: [GatewaySession] = []
    private var flushing: [GatewaySession] = []
    private var scheduled = false

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    /// Flushes `session` in the loop's next flush task, queuing that task if none is queued. On the loop.
    func flushLater(_ session: GatewaySession) {
        waiting.append(session)
        guard !scheduled else { return }
        scheduled = true
        eventLoop.execute { self.flushWaiting() }
    }

    private func flushWaiting() {
        scheduled = false
        swap(&waiting, &flushing)
        for session in flushing { session.flushFanOut() }
        flushing.removeAll(keepingCapacity: true)
    }
}
