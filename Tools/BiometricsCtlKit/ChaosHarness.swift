import Foundation
import Logging
import Runtime

#if canImport(Glibc)
import Glibc
#endif

/// What `chaos` and `soak` run on: a ``ServiceStack`` with two gateways and every service (Redis with its
/// append-only file, so a restarted redis-server keeps its data), the ``VerificationAuditTail`` and the
/// ``MixedLoad`` of one SDK client per user, started and stopped together.
final class ChaosHarness: Sendable {
    /// The processes.
    let stack: ServiceStack
    /// Counts audit records of verifications.
    let audit: VerificationAuditTail
    /// The clients.
    let load: MixedLoad

    private init(stack: ServiceStack, audit: VerificationAuditTail, load: MixedLoad) {
        self.stack = stack
        self.audit = audit
        self.load = load
    }

    /// The stack's options for `clients` users.
    static func stackOptions(clients: Int) -> ServiceStackOptions {
        var options = ServiceStackOptions(users: clients)
        options.userPrefix = "load-"
        options.gateways = 2
        options.services = StackService.allCases
        options.redisAppendOnly = true
        options.tokenScope = "notifications:send"
        // Liveness every 2 s: the presence service counts a killed gateway dead after 6 s (3 intervals). That grace
        // must exceed the time a gateway's producer needs to reconnect after a broker outage, so librdkafka's
        // reconnect back-off is capped at 1 s (its default cap, 10 s, is below the default grace of 30 s).
        options.commonEnvironment = ["KAFKA_RECONNECT_BACKOFF_MAX_MS": "1000"]
        options.gatewayEnvironment = ["LIVENESS_INTERVAL_SECONDS": "2"]
        // Every acknowledged notification stays unread until the check reads it back.
        options.serviceEnvironment[.notification] = ["NOTIFICATION_MAX_UNREAD_PER_USER": "100000"]
        return options
    }

    /// Finds `redis-server` and the service executables (next to `biometricsctl`, or in `serviceDirectory`).
    static func programs(scratch: URL, serviceDirectory: URL? = nil, biometricsctl: String? = nil) throws
        -> StackPrograms
    {
        guard let redisServer = ChildProcess.findExecutable("redis-server") else {
            throw BenchError("redis-server not found (make deps, or apt-get install redis-server)")
        }
        let executable = biometricsctl
            ?? (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let directory = serviceDirectory ?? URL(fileURLWithPath: executable).deletingLastPathComponent()
        for service in ["gateway"] + StackService.allCases.map(\.rawValue) {
            let path = directory.appendingPathComponent(service).path
            guard FileManager.default.isExecutableFile(atPath: path) else {
                throw BenchError("\(path) is not built (swift build builds every service)")
            }
        }
        return StackPrograms(serviceDirectory: directory, redisServer: redisServer, biometricsctl: biometricsctl,
                             scratch: scratch)
    }

    /// Starts the stack (the gateways with `gatewayEnvironment` on top), the audit tail and the load (every client
    /// connected).
    static func start(load options: MixedLoadOptions, gatewayEnvironment: [String: String] = [:],
                      programs: StackPrograms, logger: Logger) async throws -> ChaosHarness
    {
        var stackOptions = stackOptions(clients: options.clients)
        stackOptions.gatewayEnvironment.merge(gatewayEnvironment) { $1 }
        let stack = try await ServiceStack.start(options: stackOptions, programs: programs, logger: logger)
        do {
            let audit = try await VerificationAuditTail.start(
                bootstrapServers: stack.broker.bootstrapServers, logger: logger)
            let urls = stack.gatewayPorts.map { "http://127.0.0.1:\($0)" }
            let load = MixedLoad(options: options, users: stack.users, gatewayURLs: urls, logger: logger)
            do {
                try await load.start()
            } catch {
                await load.stop()
                await audit.stop()
                throw error
            }
            return ChaosHarness(stack: stack, audit: audit, load: load)
        } catch {
            await stack.stop()
            throw error
        }
    }

    /// SIGKILLs every process of the stack at once, from a signal handler's thread (Ctrl-C, SIGTERM): nothing of
    /// the stack outlives the tool.
    func killAll() {
        for process in stack.processes { process.signal(SIGKILL) }
        stack.broker.stop()
    }

    /// On SIGINT or SIGTERM: ``killAll()``, then exit with 128 + the signal. Keep the returned sources alive.
    func killAllOnInterrupt() -> [any DispatchSourceSignal] {
        [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [self] in
                killAll()
                exit(128 + number)
            }
            source.resume()
            return source
        }
    }

    /// Stops the load, the audit tail and the stack.
    func stop() async {
        await load.stop()
        await audit.stop()
        await stack.stop()
    }
}
