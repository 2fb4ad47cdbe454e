import Crypto
import Foundation
import Logging
import Messages
import NIOCore
import Redis
import Runtime
import SocketIO
import VerificationWorker

#if canImport(Glibc)
import Glibc
#endif

/// `biometricsctl bench verify`: verification round trips through gateway → Kafka → worker → Kafka → gateway, with
/// real processes (embedded broker, redis-server, gateway, verification worker) and the Swift load generator.
///
/// Method, per Kafka setting (`--fetch-waits`, the consumers' `fetch.wait.max.ms` of gateway and worker):
/// 1. Start the stack; each of `clients` users owns one ES256 record (enrolled before the worker starts) and holds
///    one Socket.IO connection. Warm up with a few verifies.
/// 2. Fixed load (open loop): store and sign `rate × seconds` challenges, then send verifies at `rate`/s evenly
///    spaced from one event loop; each latency runs from the verify's *scheduled* send to its ack (the
///    `verification-result` answer), so a stall counts against the server. p50/p99 and both cores' busy share.
/// 3. Throughput (closed loop): issue challenges (`biometric:challenge` with an ack), sign each with the user's key
///    in this process, then keep `concurrency` verifies outstanding (`biometric:verify` with an ack) until all are
///    answered: verifies/s = answered / wall time. Challenge issuing is timed the same way.
/// The fixed load runs on nearly empty logs, before the throughput phase, and its challenges are stored in
/// redis-server by the worker's own `ChallengeStore` (exactly what `biometric:challenge` stores) instead of being
/// asked for over Kafka: the embedded broker finds a fetch's start by walking the partition's message sets from the
/// first (68–77 % of its CPU at 1000 verifies/s, profiled), so every record logged before the measured phase would
/// slow each of its fetches. A real broker indexes its log.
/// Every answer is checked: a verify that does not succeed is counted as a failure. Beside it, the ES256 verify cost
/// alone (swift-crypto P-256 `isValidSignature`, µs per op) in this process.
struct VerifyBenchmark: Sendable {
    /// What to measure and how much.
    struct Options: Sendable, Codable {
        /// Socket.IO clients, each a user owning one record.
        var clients: Int
        /// Verifies in the throughput phase.
        var throughputVerifies: Int
        /// Outstanding verifies in the throughput phase (and challenges while issuing).
        var concurrency: Int
        /// Offered load of the fixed-load phase, verifies per second.
        var rate: Double
        /// Length of the fixed-load phase.
        var seconds: Double
        /// Untimed verifies first.
        var warmupVerifies: Int
        /// The `fetch.wait.max.ms` settings to run (each a fresh stack).
        var fetchWaits: [Int]
        /// ES256 verifications timed in-process.
        var es256Iterations: Int
        /// CPU of gateway and worker, or nil for no pinning.
        var serverCPU: Int?
        /// CPU of this process (load generator), the broker and redis-server, or nil.
        var clientCPU: Int?
        /// Where to write every fixed-load verify's client and latency (which users wait finds a hot lane), or nil.
        var latenciesFile: String?
    }

    let options: Options
    let programs: StackPrograms
    let logger: Logger
    let progress: @Sendable (String) -> Void

    /// Pins this process, measures ES256, then every Kafka setting in turn.
    func run() async throws -> VerifyBenchmarkReport {
        var notes: [String] = []
        if let cpu = options.clientCPU, let taskset = ChildProcess.findExecutable("taskset") {
            let pin = try await KafkaBenchmark.runClient([taskset, "-a", "-p", "-c", "\(cpu)", "\(getpid())"],
                                                         scratch: programs.scratch)
            if !pin.status.isSuccess { notes.append("could not pin the load generator to CPU \(cpu): \(pin.stderr)") }
        } else if options.clientCPU != nil {
            notes.append("taskset not found: servers and load generator are not pinned")
        }
        let facts = await MachineFacts.collect(kcatPath: "kcat", scratch: programs.scratch)
        let es256 = Self.measureES256(iterations: options.es256Iterations)
        progress(String(format: "ES256 alone: verify %.1f µs/op, sign %.1f µs/op", es256.verifyMicroseconds,
                        es256.signMicroseconds))
        var runs: [VerifyRunResult] = []
        for fetchWait in options.fetchWaits {
            runs.append(await measure(fetchWait: fetchWait))
        }
        return VerifyBenchmarkReport(date: Date(), machine: facts, options: options, notes: notes, es256: es256,
                                     runs: runs)
    }

    /// swift-crypto P-256: sign and verify a 32-byte challenge, `iterations` times each.
    static func measureES256(iterations: Int) -> ES256Cost {
        let key = P256.Signing.PrivateKey()
        let message = Data((0..<32).map { _ in UInt8.random(in: 0...255) })
        let signature = try! key.signature(for: message)  // a fresh key signing 32 bytes cannot fail
        var valid = 0
        let verifyStart = ContinuousClock.now
        for _ in 0..<iterations where key.publicKey.isValidSignature(signature, for: message) { valid += 1 }
        let verifyTime = ContinuousClock.now - verifyStart
        let signStart = ContinuousClock.now
        for _ in 0..<iterations { _ = try? key.signature(for: message) }
        let signTime = ContinuousClock.now - signStart
        return ES256Cost(iterations: iterations, valid: valid,
                         verifyMicroseconds: verifyTime.seconds * 1e6 / Double(max(iterations, 1)),
                         signMicroseconds: signTime.seconds * 1e6 / Double(max(iterations, 1)))
    }

    /// One Kafka setting: start the stack, warm up, throughput, fixed load; stops the stack whatever happens.
    func measure(fetchWait: Int) async -> VerifyRunResult {
        var result = VerifyRunResult(fetchWaitMs: fetchWait)
        let name = "fetch.wait.max.ms=\(fetchWait)"
        progress("[\(name)] starting broker, redis-server, gateway, worker; enrolling \(options.clients) records")
        let stack: VerifyBenchStack
        do {
            stack = try await VerifyBenchStack.start(
                users: options.clients, kafkaEnvironment: ["KAFKA_FETCH_WAIT_MAX_MS": "\(fetchWait)"],
                programs: programs, logger: logger)
        } catch {
            progress("[\(name)] did not start: \(error)")
            result.error = "\(error)"
            return result
        }
        let generator = SocketIOLoadGenerator(threads: 1)
        do {
            let outcome = await generator.connect(
                count: options.clients,
                to: LoadTarget(port: stack.port, perClientAuth: stack.auth, sourceAddresses: ["127.0.0.1"]),
                // One at a time: the held clients are then in user order (client i is user i).
                concurrency: 1, timeout: .seconds(30)) { _, _ in }
            guard outcome.connected == options.clients else {
                throw BenchError("only \(outcome.connected) of \(options.clients) clients connected: "
                    + (outcome.firstError ?? "no error"))
            }
            let clients = generator.heldClients
            progress("[\(name)] \(clients.count) clients connected; warm-up (\(options.warmupVerifies) verifies)")
            _ = try await closedLoop(verifies: options.warmupVerifies, stack: stack, clients: clients)

            let count = Int(options.rate * options.seconds)
            progress("[\(name)] fixed load: storing \(count) challenges in redis-server")
            let signed = try await storedSignedVerifies(count: count, stack: stack, users: clients.count)
            progress("[\(name)] fixed load: \(Int(options.rate)) verifies/s for \(options.seconds) s")
            result.load = try await fixedLoad(signed, stack: stack, clients: clients)
            if let load = result.load {
                progress("[\(name)] " + String(
                    format: "fixed load: p50 %.2f ms, p99 %.2f ms, max %.2f ms; %d ok, %d failed; CPU busy %.0f %% / %.0f %%",
                    load.latency.p50, load.latency.p99, load.latency.max, load.succeeded, load.failed,
                    load.serverCoreBusy * 100, load.clientCoreBusy * 100)
                    + "; p99 by second " + load.p99BySecondMs.map { String(format: "%.1f", $0) }.joined(separator: " "))
            }

            progress("[\(name)] throughput: \(options.throughputVerifies) verifies, \(options.concurrency) outstanding")
            let (challenges, throughput) = try await closedLoop(
                verifies: options.throughputVerifies, stack: stack, clients: clients)
            result.challenges = challenges
            result.throughput = throughput
            progress("[\(name)] " + String(format: "challenges %.0f/s; verifies %.0f/s (%d ok, %d failed)",
                                           challenges.perSecond, throughput.perSecond, throughput.succeeded,
                                           throughput.failed))
        } catch {
            progress("[\(name)] failed: \(error)")
            result.error = "\(error); worker log: \(stack.worker.logTail(lines: 8)); gateway log: "
                + stack.gateway.logTail(lines: 8)
        }
        await generator.closeAll()
        await generator.shutdown()
        await stack.stop()
        progress("[\(name)] stopped")
        return result
    }

    /// Issues `count` challenges (closed loop) and signs each: the verify requests, and how issuing went.
    private func signedVerifies(count: Int, stack: VerifyBenchStack, clients: [LoadClient]) async throws
        -> (requests: [AckDriver.Request], issuing: PhaseResult)
    {
        let users = clients.count
        let asks = (0..<count).map { index in
            AckDriver.Request(client: index % users, event: ClientEvent.biometricChallenge.rawValue,
                              argument: ["recordId": .string(VerifyBenchStack.record(index % users))])
        }
        let issued = try await AckDriver.run(asks, on: clients, pacing: .outstanding(options.concurrency),
                                             timeout: .seconds(300))
        var requests: [AckDriver.Request] = []
        requests.reserveCapacity(count)
        for (index, outcome) in issued.outcomes.enumerated() {
            guard let challenge = outcome?.answer?.objectValue?["challenge"]?.stringValue else {
                throw BenchError("challenge \(index) not issued: \(String(describing: outcome?.answer))")
            }
            requests.append(try Self.signedVerify(user: index % users, challenge: challenge, stack: stack))
        }
        return (requests, PhaseResult(issued, succeeded: count))
    }

    /// The `biometric:verify` request of client `user` for `challenge`, signed with that user's key.
    private static func signedVerify(user: Int, challenge: String, stack: VerifyBenchStack) throws -> AckDriver.Request {
        guard let bytes = base64URLDecode(challenge) else { throw BenchError("challenge \(challenge) not base64url") }
        let signature = try stack.keys[user].signature(for: bytes).rawRepresentation
        return AckDriver.Request(client: user, event: ClientEvent.biometricVerify.rawValue, argument: [
            "recordId": .string(VerifyBenchStack.record(user)), "challenge": .string(challenge),
            "signature": .string(RecordPublisher.base64url(signature)),
        ])
    }

    /// Stores `count` challenges the way the worker issues them (its `ChallengeStore`, straight into redis-server) and
    /// signs each: the verify requests of the fixed-load phase, without a challenge round trip each in the broker's log.
    private func storedSignedVerifies(count: Int, stack: VerifyBenchStack, users: Int) async throws
        -> [AckDriver.Request]
    {
        let redis = try RedisClient(configuration: try RedisConfiguration(url: stack.stack.redisURL), logger: logger)
        let store = ChallengeStore(redis: redis, ttl: VerifyBenchStack.challengeTTL, memory: .seconds(600))
        var requests: [AckDriver.Request] = []
        requests.reserveCapacity(count)
        do {
            for index in 0..<count {
                let user = index % users
                let (challenge, _) = try await store.issue(userId: VerifyBenchStack.user(user),
                                                           recordId: VerifyBenchStack.record(user))
                requests.append(try Self.signedVerify(user: user, challenge: challenge, stack: stack))
            }
        } catch {
            await redis.close()
            throw error
        }
        await redis.close()
        return requests
    }

    /// Issues and signs `verifies` challenges, then verifies them with ``Options/concurrency`` outstanding.
    private func closedLoop(verifies: Int, stack: VerifyBenchStack, clients: [LoadClient]) async throws
        -> (challenges: PhaseResult, verifies: PhaseResult)
    {
        let (requests, issuing) = try await signedVerifies(count: verifies, stack: stack, clients: clients)
        let run = try await AckDriver.run(requests, on: clients, pacing: .outstanding(options.concurrency),
                                          timeout: .seconds(300))
        return (issuing, PhaseResult(run, succeeded: Self.successes(run)))
    }

    /// Sends `requests` at ``Options/rate`` and measures latency and both cores' load.
    private func fixedLoad(_ requests: [AckDriver.Request], stack: VerifyBenchStack, clients: [LoadClient])
        async throws -> LoadResult
    {
        let processes = stack.serverProcesses
        let cpuBefore = processes.map { ProcessProbe.cpuSeconds(pid: $0.pid) ?? 0 }
        let ownBefore = CPUTime.ofThisProcess()
        let loadBefore = Self.loadAverage()
        let coresBefore = CoreSample.now()
        let run = try await AckDriver.run(requests, on: clients, pacing: .rate(perSecond: options.rate),
                                          timeout: .seconds(options.seconds + 120))
        let cores = CoreSample.now()
        if let path = options.latenciesFile {
            // One line per verify: its index (scheduled at index / rate s), its client, its latency (-1: no answer).
            let lines = run.outcomes.enumerated().map { index, outcome in
                "\(index) \(requests[index].client) \(outcome.map { String(format: "%.3f", $0.latencyMs) } ?? "-1")"
            }
            try? (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        }
        let cpu = zip(processes, cpuBefore).map { process, before in
            ProcessCPU(name: process.name, seconds: (ProcessProbe.cpuSeconds(pid: process.pid) ?? 0) - before)
        }
        let answered = run.outcomes.compactMap { $0 }
        let serverCPU = cpu.reduce(0) { $0 + $1.seconds }
        return LoadResult(
            offeredPerSecond: options.rate, sent: requests.count, answered: answered.count,
            succeeded: Self.successes(run), failed: requests.count - Self.successes(run), seconds: run.seconds,
            worstSendLagMs: run.worstSendLagMs,
            latency: LatencyResult(milliseconds: answered.map(\.latencyMs), cpuSeconds: serverCPU),
            serverCoreBusy: cores.busyShare(of: options.serverCPU, since: coresBefore),
            clientCoreBusy: cores.busyShare(of: options.clientCPU, since: coresBefore),
            processCPU: cpu + [ProcessCPU(name: "load generator", seconds: CPUTime.ofThisProcess() - ownBefore)],
            loadAverage: [loadBefore, Self.loadAverage()],
            p99BySecondMs: Self.p99BySecond(run.outcomes, rate: options.rate))
    }

    /// p99 latency of the verifies scheduled in each second (request `i` is scheduled at `i / rate` s).
    static func p99BySecond(_ outcomes: [AckDriver.Outcome?], rate: Double) -> [Double] {
        let perSecond = max(1, Int(rate))
        return stride(from: 0, to: outcomes.count, by: perSecond).map { start in
            let window = outcomes[start..<min(start + perSecond, outcomes.count)].compactMap { $0?.latencyMs }
            return LatencyResult(milliseconds: window, cpuSeconds: 0).p99
        }
    }

    /// The 1-minute load average (`/proc/loadavg`), 0 when unknown.
    static func loadAverage() -> Double {
        let text = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? ""
        return text.split(separator: " ").first.flatMap { Double($0) } ?? 0
    }

    private static func successes(_ run: AckDriver.Run) -> Int {
        run.outcomes.filter { $0?.answer?.objectValue?["success"]?.boolValue == true }.count
    }

    static func base64URLDecode(_ text: String) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        return Data(base64Encoded: base64)
    }
}
