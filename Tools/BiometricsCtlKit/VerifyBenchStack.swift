import Crypto
import Foundation
import Logging
import Runtime
import SocketIO

#if canImport(Glibc)
import Glibc
#endif

/// The path `bench verify` measures, each part its own process (a ``ServiceStack``): embedded broker, redis-server,
/// gateway and one verification worker, with `clients` users who each own one enrolled ES256 record
/// (`bench-verify-<i>`).
final class VerifyBenchStack: Sendable {
    /// The processes.
    let stack: ServiceStack

    private init(stack: ServiceStack) {
        self.stack = stack
    }

    /// The gateway.
    var gateway: StackProcess { stack.gateways[0] }
    /// The verification worker.
    var worker: StackProcess { stack.services[.verificationWorker]! }
    /// The gateway's port.
    var port: Int { stack.gatewayPorts[0] }
    /// One CONNECT auth object per user.
    var auth: [SocketIOObject] { stack.users.map { ["token": .string($0.token)] } }
    /// One private key per user (signs that user's challenges).
    var keys: [P256.Signing.PrivateKey] { stack.users.map(\.key) }

    /// How long the worker's challenges live (they are issued in bulk before a phase and used during it).
    static let challengeTTL = Duration.seconds(900)

    /// The user of client `index`.
    static func user(_ index: Int) -> String { "bench-verify-\(index)" }
    /// The record of client `index`.
    static func record(_ index: Int) -> String { "bench-verify-\(index)" }

    /// The server-side processes, for CPU accounting.
    var serverProcesses: [(name: String, pid: pid_t)] {
        [("gateway", gateway.pid ?? 0), ("verification-worker", worker.pid ?? 0), ("redis-server", stack.redis.pid ?? 0),
         ("broker", stack.broker.pid)]
    }

    /// Starts everything: broker, redis-server, enrolment of `users` records (before the worker starts, so its
    /// start-up read has them), gateway and worker, each ready; both services get `kafkaEnvironment` (`KAFKA_*`).
    static func start(users: Int, kafkaEnvironment: [String: String], programs: StackPrograms, logger: Logger)
        async throws -> VerifyBenchStack
    {
        var options = ServiceStackOptions(users: users)
        options.userPrefix = "bench-verify-"
        options.commonEnvironment = kafkaEnvironment
        options.gatewayEnvironment = [
            // A benchmark client sends far more than a person would: lift the per-socket rate limit.
            "RATE_LIMIT_EVENTS_PER_SECOND": "100000", "RATE_LIMIT_BURST": "100000", "ACK_TIMEOUT_MS": "30000",
        ]
        // Challenges are issued in bulk before a phase and used during it.
        options.serviceEnvironment[.verificationWorker] = [
            "CHALLENGE_TTL_SECONDS": "\(Int(challengeTTL.components.seconds))",
        ]
        return VerifyBenchStack(stack: try await ServiceStack.start(options: options, programs: programs, logger: logger))
    }

    /// Stops worker, gateway, redis-server and broker (SIGTERM, then SIGKILL after 10 s).
    func stop() async {
        await stack.stop()
    }
}
