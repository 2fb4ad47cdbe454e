import Dispatch

/// Runs blocking librdkafka calls (metadata, commit, close, flush) on Dispatch threads, never on Swift's
/// cooperative pool, where a blocked thread would stall unrelated tasks.
///
/// Each call gets a new serial queue: on Linux the cooperative pool *is* Dispatch's default global queue (threads
/// capped at the CPU count), and a concurrent queue runs on those same threads; a serial queue runs on the
/// overcommitting root queue, which adds a thread while others block (a gateway's start runs a dozen watermark
/// queries at once).
enum BlockingCalls {
    static func run<T: Sendable>(_ body: @escaping @Sendable () throws(KafkaError) -> T) async throws(KafkaError) -> T {
        let result: Result<T, KafkaError> = await withCheckedContinuation { continuation in
            DispatchQueue(label: "kafka.blocking").async {
                do throws(KafkaError) {
                    continuation.resume(returning: .success(try body()))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        return try result.get()
    }
}
