import Foundation
import Kafka
import Logging
import Runtime

#if canImport(Glibc)
import Glibc
#endif

/// `biometricsctl bench kafka`: the Kafka wrapper against `kcat` on one embedded broker, in one run.
///
/// Each measurement is a function returning a result value; ``run()`` strings them together and the command only
/// prints and saves the ``KafkaBenchmarkReport``.
struct KafkaBenchmark: Sendable {
    /// What to measure and how much.
    struct Options: Sendable, Codable {
        /// Messages per throughput phase.
        var messages: Int
        /// Bytes in each message value.
        var messageBytes: Int
        /// Partitions of every benchmark topic.
        var partitions: Int
        /// Awaited sends timed for the latency percentiles.
        var latencySamples: Int
        /// Awaited sends before timing starts.
        var latencyWarmup: Int
        /// Repetitions of every phase; the report shows best and median.
        var runs: Int
        /// CPU for the broker process, or nil for no pinning.
        var brokerCPU: Int?
        /// CPU for the measured clients (this process and kcat), or nil for no pinning.
        var clientCPU: Int?
        /// The kcat executable.
        var kcatPath: String
        /// Seed of the workload generator.
        var seed: UInt64
    }

    let options: Options
    let logger: Logger
    let progress: @Sendable (String) -> Void

    /// Producer properties both clients share, except `linger.ms` (this project's producer defaults).
    static let producerProperties: [String: String] = [
        "enable.idempotence": "true", "acks": "all", "queue.buffering.max.messages": "100000",
        "message.max.bytes": "2000000", "socket.nagle.disable": "true",
    ]

    /// Runs every phase `options.runs` times against one broker process and returns the report.
    func run() async throws -> KafkaBenchmarkReport {
        let scratch = FileManager.default.temporaryDirectory
            .appendingPathComponent("biometrics-bench-\(getpid())", isDirectory: true)
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let facts = await MachineFacts.collect(kcatPath: options.kcatPath, scratch: scratch)
        var notes: [String] = []
        let taskset = ChildProcess.findExecutable("taskset")
        if options.clientCPU != nil || options.brokerCPU != nil, taskset == nil {
            notes.append("taskset not found: broker and clients are not pinned to CPUs")
        }
        if let cpu = options.clientCPU, let taskset {
            // Pin every existing thread of this process; threads created later inherit it from their creator.
            let pin = try await Self.runClient([taskset, "-a", "-p", "-c", "\(cpu)", "\(getpid())"], scratch: scratch)
            if !pin.status.isSuccess { notes.append("could not pin this process to CPU \(cpu): \(pin.stderr)") }
        }
        let clientPrefix = options.clientCPU.flatMap { cpu in taskset.map { [$0, "-c", "\(cpu)"] } } ?? []

        let workload = BenchWorkload(count: options.messages, valueBytes: options.messageBytes, seed: options.seed)
        let kcatInput = scratch.appendingPathComponent("messages.txt").path
        try workload.writeKcatFile(to: kcatInput)
        let kcatSingle = scratch.appendingPathComponent("one-message.txt").path
        try workload.writeKcatFile(to: kcatSingle, count: 1)

        let runs = 1...options.runs
        let topics = BenchTopics(runs: options.runs)
        progress("starting the broker process")
        let broker = try await BrokerProcess.start(
            topics: topics.all, partitions: options.partitions, directory: scratch.path,
            prefix: options.brokerCPU.flatMap { cpu in taskset.map { [$0, "-c", "\(cpu)"] } } ?? [])
        defer { broker.stop() }
        let kafka = KafkaConfiguration(bootstrapServers: broker.bootstrapServers, clientId: "bench",
                                       statisticsInterval: nil)
        let admin = try KafkaAdmin(configuration: kafka, logger: logger)
        try await waitForTopics(topics.all, admin: admin)
        let counter = MessageCounter(admin: admin, partitions: options.partitions)

        progress("filling \(topics.consume) with \(options.messages) messages")
        _ = try await produceOurs(workload.outgoing(topic: topics.consume), kafka: kafka, lingerMs: 5)
        try await counter.expect(options.messages, in: topics.consume)

        var produceKcat: [ThroughputSample] = []
        var produceOurs0: [ThroughputSample] = []
        var produceOurs5: [ThroughputSample] = []
        var consumeKcat: [ThroughputSample] = []
        var consumeOurs: [ThroughputSample] = []
        var latency: [LatencyResult] = []
        var fixedKcat: [Double] = []
        var fixedOurs: [Double] = []
        for run in runs {
            progress("run \(run)/\(options.runs): fixed cost (one message, kcat and ours)")
            let kcatOne = try await self.produceKcat(file: kcatSingle, topic: topics.produce("kcat1", run), count: 1,
                                                     bootstrap: broker.bootstrapServers, prefix: clientPrefix,
                                                     scratch: scratch)
            fixedKcat.append(kcatOne.seconds * 1000)
            let oursOne = try await produceOurs(workload.outgoing(topic: topics.produce("ours1", run), count: 1),
                                                kafka: kafka, lingerMs: 0)
            fixedOurs.append(oursOne.seconds * 1000)
            progress("run \(run)/\(options.runs): produce (kcat, ours linger.ms=0, ours linger.ms=5)")
            let kcatTopic = topics.produce("kcat", run)
            produceKcat.append(try await self.produceKcat(file: kcatInput, topic: kcatTopic, count: options.messages,
                                                          bootstrap: broker.bootstrapServers, prefix: clientPrefix,
                                                          scratch: scratch))
            try await counter.expect(options.messages, in: kcatTopic)
            for (linger, topic) in [(0, topics.produce("ours0", run)), (5, topics.produce("ours5", run))] {
                let messages = workload.outgoing(topic: topic)
                let sample = try await produceOurs(messages, kafka: kafka, lingerMs: linger)
                try await counter.expect(options.messages, in: topic)
                if linger == 0 { produceOurs0.append(sample) } else { produceOurs5.append(sample) }
            }
            progress("run \(run)/\(options.runs): consume (kcat, ours)")
            consumeKcat.append(try await self.consumeKcat(topic: topics.consume, bootstrap: broker.bootstrapServers,
                                                          prefix: clientPrefix, scratch: scratch))
            consumeOurs.append(try await self.consumeOurs(topic: topics.consume, kafka: kafka))
            progress("run \(run)/\(options.runs): delivery latency (\(options.latencySamples) awaited sends)")
            latency.append(try await deliveryLatency(topic: topics.latency(run), kafka: kafka, workload: workload))
        }
        return KafkaBenchmarkReport(
            date: Date(), machine: facts, options: options, notes: notes,
            produce: [
                ThroughputSeries(name: "kcat -P -l (linger.ms=5, default)", label: "kcat", client: "kcat",
                                 samples: produceKcat),
                ThroughputSeries(name: "ours enqueue (linger.ms=0, default)", label: "produce, linger.ms=0",
                                 client: "ours", samples: produceOurs0),
                ThroughputSeries(name: "ours enqueue (linger.ms=5)", label: "produce, linger.ms=5", client: "ours",
                                 samples: produceOurs5),
            ],
            consume: [
                ThroughputSeries(name: "kcat -C -o beginning -e", label: "kcat", client: "kcat", samples: consumeKcat),
                ThroughputSeries(name: "ours assign + messages", label: "consume", client: "ours",
                                 samples: consumeOurs),
            ],
            latency: LatencySummary(runs: latency),
            fixedCost: FixedCost(kcatMilliseconds: fixedKcat, oursMilliseconds: fixedOurs))
    }

    // MARK: Measurements

    /// Our producer: `enqueue` every message, then `flush`; the clock runs from creating the producer to the last
    /// delivery report. `close()` is timed separately.
    func produceOurs(_ messages: [OutgoingMessage], kafka: KafkaConfiguration, lingerMs: Int) async throws
        -> ThroughputSample
    {
        var kafka = kafka
        kafka.properties = Self.producerProperties.merging(["linger.ms": "\(lingerMs)"]) { $1 }
        let before = CPUTime.ofThisProcess()
        let start = ContinuousClock.now
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(kafka: kafka), logger: logger)
        for message in messages { try await producer.enqueue(message) }
        try await producer.flush(timeout: .seconds(120))
        let elapsed = ContinuousClock.now - start
        let cpu = CPUTime.ofThisProcess() - before
        let closeStart = ContinuousClock.now
        await producer.close()
        let closeTime = ContinuousClock.now - closeStart
        return ThroughputSample(messages: messages.count, seconds: elapsed.seconds, cpuSeconds: cpu,
                                closeSeconds: closeTime.seconds)
    }

    /// `kcat -P -l FILE`: the clock runs from spawning kcat until it exited (it exits once everything is delivered).
    func produceKcat(file: String, topic: String, count: Int, bootstrap: String, prefix: [String], scratch: URL)
        async throws -> ThroughputSample
    {
        var command = prefix + [options.kcatPath, "-P", "-q", "-b", bootstrap, "-t", topic, "-K", ":", "-l", file]
        for (name, value) in Self.producerProperties.sorted(by: { $0.key < $1.key }) {
            command += ["-X", "\(name)=\(value)"]
        }
        let result = try await Self.runClient(command, scratch: scratch)
        guard result.status.isSuccess else {
            throw BenchError("kcat -P failed (\(result.status)): \(result.stderr)")
        }
        return ThroughputSample(messages: count, seconds: result.wallSeconds, cpuSeconds: result.cpuSeconds,
                                closeSeconds: nil)
    }

    /// Our consumer: assign every partition from the beginning and iterate `messages` until `options.messages`
    /// arrived; the clock runs from creating the consumer to the last message. `close()` is timed separately.
    func consumeOurs(topic: String, kafka: KafkaConfiguration) async throws -> ThroughputSample {
        let target = options.messages
        let assignment = Dictionary(uniqueKeysWithValues: (0..<options.partitions).map {
            (TopicPartition(topic: topic, partition: Int32($0)), KafkaOffset.beginning)
        })
        let before = CPUTime.ofThisProcess()
        let start = ContinuousClock.now
        let consumer = try KafkaConsumer(
            configuration: KafkaConsumerConfiguration(kafka: kafka, mode: .assign(assignment)), logger: logger)
        let watchdog = Task {
            try await Task.sleep(for: .seconds(120))
            await consumer.close()  // ends `messages`: the loop below sees too few messages
        }
        var count = 0
        var bytes = 0
        var firstMessage: Duration?
        for await message in consumer.messages {
            if count == 0 { firstMessage = ContinuousClock.now - start }
            count += 1
            bytes &+= message.value.count
            if count == target { break }
        }
        let elapsed = ContinuousClock.now - start
        let cpu = CPUTime.ofThisProcess() - before
        watchdog.cancel()
        let closeStart = ContinuousClock.now
        await consumer.close()
        let closeTime = ContinuousClock.now - closeStart
        guard count == target, bytes == target * options.messageBytes else {
            throw BenchError("our consumer read \(count) of \(target) messages (\(bytes) value bytes) from \(topic)")
        }
        var sample = ThroughputSample(messages: count, seconds: elapsed.seconds, cpuSeconds: cpu,
                                      closeSeconds: closeTime.seconds)
        sample.firstMessageSeconds = firstMessage?.seconds
        return sample
    }

    /// `kcat -C -o beginning -e -c N`: the clock runs from spawning kcat until it exited. It prints one byte per
    /// message (`-f .`) into a file, so the count can be checked without formatting 200-byte payloads.
    func consumeKcat(topic: String, bootstrap: String, prefix: [String], scratch: URL) async throws
        -> ThroughputSample
    {
        let output = scratch.appendingPathComponent("kcat-consume.out")
        let command = prefix + [options.kcatPath, "-C", "-q", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e",
                                "-c", "\(options.messages)", "-f", ".", "-X", "socket.nagle.disable=true"]
        let result = try await Self.runClient(command, standardOutput: .file(output, append: false), scratch: scratch)
        let read = (try? FileManager.default.attributesOfItem(atPath: output.path)[.size] as? Int) ?? -1
        guard result.status.isSuccess, read == options.messages else {
            throw BenchError("kcat -C read \(read) of \(options.messages) messages (\(result.status)): "
                + result.stderr)
        }
        return ThroughputSample(messages: options.messages, seconds: result.wallSeconds, cpuSeconds: result.cpuSeconds,
                                closeSeconds: nil)
    }

    /// Sequential awaited `send`s with our default producer settings (linger.ms=0): produce → delivery report.
    func deliveryLatency(topic: String, kafka: KafkaConfiguration, workload: BenchWorkload) async throws
        -> LatencyResult
    {
        var kafka = kafka
        kafka.properties = Self.producerProperties
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(kafka: kafka), logger: logger)
        let total = options.latencyWarmup + options.latencySamples
        let messages = workload.outgoing(topic: topic, count: total)
        for message in messages.prefix(options.latencyWarmup) { try await producer.send(message) }
        var milliseconds: [Double] = []
        milliseconds.reserveCapacity(options.latencySamples)
        let before = CPUTime.ofThisProcess()
        for message in messages.dropFirst(options.latencyWarmup) {
            let start = ContinuousClock.now
            try await producer.send(message)
            milliseconds.append((ContinuousClock.now - start).seconds * 1000)
        }
        let cpu = CPUTime.ofThisProcess() - before
        await producer.close()
        return LatencyResult(milliseconds: milliseconds, cpuSeconds: cpu)
    }

    // MARK: Client processes

    /// A client process that ran to completion.
    struct ClientRun: Sendable {
        var status: ChildProcess.ExitStatus
        /// From spawning the process until it exited.
        var wallSeconds: Double
        /// User + system CPU time of the process (0 if its status was collected elsewhere).
        var cpuSeconds: Double
        /// Its standard error, trimmed.
        var stderr: String
    }

    /// Runs `command` (a program, looked up on `PATH` if it has no `/`, then its arguments) to completion with
    /// standard input `/dev/null`; standard error is captured through a file in `scratch`.
    static func runClient(_ command: [String], standardOutput: ChildProcess.Output = .discard, scratch: URL)
        async throws -> ClientRun
    {
        let errors = scratch.appendingPathComponent("client-\(UUID().uuidString).err")
        defer { try? FileManager.default.removeItem(at: errors) }
        let start = ContinuousClock.now
        let process = try ChildProcess(
            executable: command[0], arguments: Array(command.dropFirst()),
            standardOutput: standardOutput, standardError: .file(errors, append: false))
        let status = await process.waitForExit()
        let wall = (ContinuousClock.now - start).seconds
        let stderr = (try? String(contentsOf: errors, encoding: .utf8)) ?? ""
        return ClientRun(status: status, wallSeconds: wall, cpuSeconds: process.resourceUsage?.cpuSeconds ?? 0,
                         stderr: stderr.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// The standard output of a short command, trimmed; nil if it could not run or failed.
    static func output(_ command: [String], scratch: URL) async -> String? {
        let output = scratch.appendingPathComponent("output-\(UUID().uuidString).out")
        defer { try? FileManager.default.removeItem(at: output) }
        guard let result = try? await runClient(command, standardOutput: .file(output, append: false),
                                                scratch: scratch),
              result.status.isSuccess, let text = try? String(contentsOf: output, encoding: .utf8)
        else { return nil }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private func waitForTopics(_ names: [String], admin: KafkaAdmin) async throws {
        let deadline = ContinuousClock.now + .seconds(15)
        while true {
            let topics = try await admin.listTopics()
            let ready = Set(topics.filter { $0.partitions.count == options.partitions }.map(\.name))
            if names.allSatisfy(ready.contains) { return }
            guard ContinuousClock.now < deadline else {
                throw BenchError("the broker did not report all \(names.count) benchmark topics")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}

/// Topic names: a fresh topic per producer and run, one shared pre-filled topic for consuming.
struct BenchTopics: Sendable {
    let runs: Int
    let consume = "bench-consume"

    func produce(_ client: String, _ run: Int) -> String { "bench-produce-\(client)-\(run)" }
    func latency(_ run: Int) -> String { "bench-latency-\(run)" }

    var all: [String] {
        [consume] + (1...runs).flatMap { run in
            ["kcat", "ours0", "ours5", "kcat1", "ours1"].map { produce($0, run) } + [latency(run)]
        }
    }
}

/// Counts the messages in a topic from its high watermarks (each benchmark topic starts empty).
struct MessageCounter: Sendable {
    let admin: KafkaAdmin
    let partitions: Int

    func expect(_ count: Int, in topic: String) async throws {
        var total: Int64 = 0
        for partition in 0..<partitions {
            total += try await admin.watermarks(TopicPartition(topic: topic, partition: Int32(partition))).high
        }
        guard total == Int64(count) else {
            throw BenchError("\(topic) holds \(total) messages, expected \(count)")
        }
    }
}

/// The benchmark messages: random keys over 100 000 device ids and a pool of random 200-byte values.
struct BenchWorkload: Sendable {
    let keys: [[UInt8]]
    let values: [[UInt8]]

    init(count: Int, valueBytes: Int, seed: UInt64) {
        var random = SplitMix64(seed: seed)
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".utf8)
        keys = (0..<count).map { _ in Array("dev-\(random.next() % 100_000)".utf8) }
        values = (0..<4096).map { _ in (0..<valueBytes).map { _ in alphabet[Int(random.next() % 62)] } }
    }

    /// Messages for our producer; `count` beyond the key count wraps around.
    func outgoing(topic: String, count: Int? = nil) -> [OutgoingMessage] {
        (0..<(count ?? keys.count)).map { index in
            OutgoingMessage(topic: topic, key: keys[index % keys.count], value: values[index % values.count])
        }
    }

    /// The first `count` messages (all by default) as `key:value` lines for `kcat -P -K : -l`.
    func writeKcatFile(to path: String, count: Int? = nil) throws {
        var data = [UInt8]()
        data.reserveCapacity(keys.count * (values[0].count + 16))
        for (index, key) in keys.prefix(count ?? keys.count).enumerated() {
            data += key
            data.append(UInt8(ascii: ":"))
            data += values[index % values.count]
            data.append(UInt8(ascii: "\n"))
        }
        try Data(data).write(to: URL(fileURLWithPath: path))
    }
}

/// A small, seedable generator so every run produces the same workload.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

// MARK: Results

/// One timed throughput phase.
struct ThroughputSample: Sendable, Codable {
    var messages: Int
    /// Wall time of the phase.
    var seconds: Double
    /// User + system CPU time of the client during the phase.
    var cpuSeconds: Double
    /// Our clients only: how long `close()` took after the phase (not included in `seconds`).
    var closeSeconds: Double?
    /// Our consumer only: time from creating the consumer to its first message.
    var firstMessageSeconds: Double?
    var messagesPerSecond: Double
    var cpuMicrosecondsPerMessage: Double

    init(messages: Int, seconds: Double, cpuSeconds: Double, closeSeconds: Double?) {
        self.messages = messages
        self.seconds = seconds
        self.cpuSeconds = cpuSeconds
        self.closeSeconds = closeSeconds
        messagesPerSecond = Double(messages) / max(seconds, 1e-9)
        cpuMicrosecondsPerMessage = cpuSeconds * 1e6 / Double(max(messages, 1))
    }
}

/// The runs of one throughput row.
struct ThroughputSeries: Sendable, Codable {
    var name: String
    var label: String
    var client: String
    var samples: [ThroughputSample]
    var bestMessagesPerSecond: Double
    var medianMessagesPerSecond: Double
    var medianCpuMicrosecondsPerMessage: Double
    var medianCloseMilliseconds: Double?
    var medianFirstMessageMilliseconds: Double?

    init(name: String, label: String, client: String, samples: [ThroughputSample]) {
        self.name = name
        self.label = label
        self.client = client
        self.samples = samples
        bestMessagesPerSecond = samples.map(\.messagesPerSecond).max() ?? 0
        medianMessagesPerSecond = BenchReport.median(samples.map(\.messagesPerSecond))
        medianCpuMicrosecondsPerMessage = BenchReport.median(samples.map(\.cpuMicrosecondsPerMessage))
        let closes = samples.compactMap(\.closeSeconds)
        medianCloseMilliseconds = closes.isEmpty ? nil : BenchReport.median(closes) * 1000
        let firsts = samples.compactMap(\.firstMessageSeconds)
        medianFirstMessageMilliseconds = firsts.isEmpty ? nil : BenchReport.median(firsts) * 1000
    }
}

/// Latency percentiles of one run, in milliseconds (nearest rank).
struct LatencyResult: Sendable, Codable {
    var samples: Int
    var p50: Double
    var p90: Double
    var p99: Double
    var max: Double
    var mean: Double
    var cpuMicrosecondsPerMessage: Double

    init(milliseconds: [Double], cpuSeconds: Double) {
        let sorted = milliseconds.sorted()
        func percentile(_ p: Double) -> Double {
            guard !sorted.isEmpty else { return 0 }
            let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
            return sorted[Swift.min(Swift.max(rank, 1), sorted.count) - 1]
        }
        samples = sorted.count
        p50 = percentile(50)
        p90 = percentile(90)
        p99 = percentile(99)
        max = sorted.last ?? 0
        mean = sorted.isEmpty ? 0 : sorted.reduce(0, +) / Double(sorted.count)
        cpuMicrosecondsPerMessage = cpuSeconds * 1e6 / Double(Swift.max(sorted.count, 1))
    }
}

/// Latency over all runs: each percentile's best and median across runs.
struct LatencySummary: Sendable, Codable {
    var runs: [LatencyResult]
    var best: [String: Double]
    var median: [String: Double]

    init(runs: [LatencyResult]) {
        self.runs = runs
        let columns: [(String, KeyPath<LatencyResult, Double>)] =
            [("p50", \.p50), ("p90", \.p90), ("p99", \.p99), ("max", \.max), ("mean", \.mean)]
        best = Dictionary(uniqueKeysWithValues: columns.map { column in
            (column.0, runs.map { $0[keyPath: column.1] }.min() ?? 0)
        })
        median = Dictionary(uniqueKeysWithValues: columns.map { column in
            (column.0, BenchReport.median(runs.map { $0[keyPath: column.1] }))
        })
    }
}

/// Wall time of producing one message and waiting for its report, client start and connect included: the part of
/// every produce row that does not depend on the message count. kcat's includes its process start and teardown.
struct FixedCost: Sendable, Codable {
    var kcatMilliseconds: [Double]
    var oursMilliseconds: [Double]
}

/// Facts about the machine the numbers came from.
struct MachineFacts: Sendable, Codable {
    var cpus: Int
    var cpuModel: String
    var kernel: String
    var librdkafka: String
    var kcat: String

    static func collect(kcatPath: String, scratch: URL) async -> MachineFacts {
        let model = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
            .split(separator: "\n").first { $0.hasPrefix("model name") }?
            .split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown"
        let kernel = (try? String(contentsOfFile: "/proc/sys/kernel/osrelease", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "unknown"
        let rdkafka = await KafkaBenchmark.output(["pkg-config", "--modversion", "rdkafka"], scratch: scratch)
            ?? "unknown (no pkg-config)"
        // "Version 1.7.1 (JSON, …, librdkafka 2.0.2 builtin.features=…)" → "1.7.1"
        let kcat = await KafkaBenchmark.output([kcatPath, "-V"], scratch: scratch)?.split(separator: "\n")
            .first { $0.hasPrefix("Version") }?.split(separator: " ").dropFirst().first.map(String.init) ?? "unknown"
        return MachineFacts(cpus: ProcessInfo.processInfo.activeProcessorCount, cpuModel: model, kernel: kernel,
                            librdkafka: rdkafka, kcat: kcat)
    }
}

/// Everything one `bench kafka` invocation measured.
struct KafkaBenchmarkReport: Sendable, Codable {
    /// Goal: our throughput at least this share of kcat's (best run against best run).
    static let throughputGoal = 0.8
    /// Goal: delivery latency p50 at most this many milliseconds (median of the runs' p50).
    static let latencyGoalMs = 1.0

    var date: Date
    var machine: MachineFacts
    var options: KafkaBenchmark.Options
    var notes: [String]
    var produce: [ThroughputSeries]
    var consume: [ThroughputSeries]
    var latency: LatencySummary
    var fixedCost: FixedCost
    var verdicts: [BenchVerdict]

    init(date: Date, machine: MachineFacts, options: KafkaBenchmark.Options, notes: [String],
         produce: [ThroughputSeries], consume: [ThroughputSeries], latency: LatencySummary, fixedCost: FixedCost) {
        self.fixedCost = fixedCost
        self.date = date
        self.machine = machine
        self.options = options
        self.notes = notes
        self.produce = produce
        self.consume = consume
        self.latency = latency
        var verdicts: [BenchVerdict] = []
        for series in [produce, consume] {
            guard let kcat = series.first(where: { $0.client == "kcat" }) else { continue }
            for ours in series where ours.client == "ours" {
                let best = ours.bestMessagesPerSecond / kcat.bestMessagesPerSecond
                verdicts.append(BenchVerdict(
                    goal: "\(ours.label): ours/kcat ≥ \(BenchReport.percent(Self.throughputGoal))", measured: best,
                    medianRun: ours.medianMessagesPerSecond / kcat.medianMessagesPerSecond,
                    pass: best >= Self.throughputGoal))
            }
        }
        let p50 = latency.median["p50"] ?? .infinity
        verdicts.append(BenchVerdict(goal: "delivery latency p50 ≤ \(BenchReport.format(Self.latencyGoalMs, 0)) ms",
                                     measured: p50, medianRun: p50, pass: p50 <= Self.latencyGoalMs))
        self.verdicts = verdicts
    }

    /// The human-readable table.
    func renderTable() -> String {
        typealias R = BenchReport
        var lines: [String] = []
        let o = options
        lines.append("Kafka benchmark: \(o.messages) messages × \(o.messageBytes) B, random keys, \(o.partitions) "
            + "partitions; \(o.runs) run(s), best and median")
        lines.append("machine: \(machine.cpus) CPUs (\(machine.cpuModel)), Linux \(machine.kernel), "
            + "librdkafka \(machine.librdkafka), kcat \(machine.kcat)")
        lines.append("pinning: broker process on CPU \(o.brokerCPU.map(String.init) ?? "any"), "
            + "clients (this process, kcat) on CPU \(o.clientCPU.map(String.init) ?? "any")")
        for note in notes { lines.append("note: \(note)") }
        let width = 38
        let widths = [12, 11, 12, 12, 10]
        func header(_ title: String) -> String {
            R.textRow(title, ["best msg/s", "median", "CPU µs/msg", "1st msg ms", "close ms"], labelWidth: width,
                      cellWidths: widths)
        }
        func row(_ s: ThroughputSeries) -> String {
            R.textRow("  " + s.name, [
                R.format(s.bestMessagesPerSecond, 0), R.format(s.medianMessagesPerSecond, 0),
                R.format(s.medianCpuMicrosecondsPerMessage, 2),
                s.medianFirstMessageMilliseconds.map { R.format($0, 1) } ?? "-",
                s.medianCloseMilliseconds.map { R.format($0, 1) } ?? "-",
            ], labelWidth: width, cellWidths: widths)
        }
        func ratioRows(_ series: [ThroughputSeries]) -> [String] {
            guard let kcat = series.first(where: { $0.client == "kcat" }) else { return [] }
            return series.filter { $0.client == "ours" }.map { ours in
                let best = ours.bestMessagesPerSecond / kcat.bestMessagesPerSecond
                let median = ours.medianMessagesPerSecond / kcat.medianMessagesPerSecond
                return R.textRow("  ratio ours/kcat, \(ours.label)", [R.percent(best), R.percent(median)],
                                 labelWidth: width, cellWidths: widths)
                    + "   \(R.verdict(best >= Self.throughputGoal)) (goal ≥ \(R.percent(Self.throughputGoal)))"
            }
        }
        lines.append("")
        lines.append(header("PRODUCE, to the last delivery report"))
        lines += produce.map(row)
        lines += ratioRows(produce)
        lines.append("  fixed cost in each row (start, connect, 1 message, report), median ms: kcat "
            + "\(R.format(R.median(fixedCost.kcatMilliseconds), 1)), ours \(R.format(R.median(fixedCost.oursMilliseconds), 1))")
        lines.append("")
        lines.append(header("CONSUME, from the beginning"))
        lines += consume.map(row)
        lines += ratioRows(consume)
        lines.append("")
        let columns = ["p50", "p90", "p99", "max", "mean"]
        lines.append(R.textRow("DELIVERY LATENCY, ms", columns, labelWidth: width, cellWidth: 9))
        lines.append(R.textRow("  awaited send, best run", columns.map { R.format(latency.best[$0] ?? 0, 3) },
                               labelWidth: width, cellWidth: 9))
        lines.append(R.textRow("  awaited send, median run", columns.map { R.format(latency.median[$0] ?? 0, 3) },
                               labelWidth: width, cellWidth: 9))
        let p50 = latency.median["p50"] ?? .infinity
        lines.append("  linger.ms=0, \(o.latencySamples) samples after \(o.latencyWarmup) warm-up; CPU µs per send "
            + "\(R.format(R.median(latency.runs.map(\.cpuMicrosecondsPerMessage)), 1)); p50 \(R.format(p50, 3)) ms "
            + "\(R.verdict(p50 <= Self.latencyGoalMs)) (goal ≤ \(R.format(Self.latencyGoalMs, 0)) ms)")
        lines.append("")
        lines.append("msg/s: messages ÷ wall time from creating the client (ours) or spawning kcat until the last "
            + "delivery report / N-th message; kcat's includes its process start and teardown, ours excludes close. "
            + "CPU: user+sys of the client process during the phase.")
        return lines.joined(separator: "\n")
    }
}

/// A benchmark failure with a plain message.
struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension Duration {
    /// The duration in seconds.
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}

// MARK: Processes and CPU time

/// User + system CPU seconds.
enum CPUTime {
    /// CPU time of every thread of this process so far.
    static func ofThisProcess() -> Double {
        var usage = rusage()
        getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
        return seconds(usage)
    }

    static func seconds(_ usage: rusage) -> Double {
        Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
            + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    }
}

/// The embedded broker in a child process (`biometricsctl bench broker-process`), optionally pinned to a CPU.
///
/// Its standard input is a pipe this process holds open: if this process dies, the broker sees EOF and exits,
/// so no broker outlives the benchmark; the same pipe carries ``setDown()`` / ``setUp()``. ``stop()`` ends it with
/// SIGTERM.
///
/// `@unchecked Sendable`: `process` is `Sendable` and `stdinWriter` immutable; `stopped` is only touched under `lock`.
final class BrokerProcess: @unchecked Sendable {
    let bootstrapServers: String
    private let process: ChildProcess
    private let stdinWriter: Int32
    private let lock = NSLock()
    private var stopped = false

    private init(process: ChildProcess, bootstrapServers: String, stdinWriter: Int32) {
        self.process = process
        self.bootstrapServers = bootstrapServers
        self.stdinWriter = stdinWriter
    }

    deinit { stop() }

    /// The broker process's id (for CPU accounting).
    var pid: pid_t { process.pid }

    /// Spawns the broker process and waits until it wrote its address (its topics exist by then).
    /// `executable` is the `biometricsctl` to run; `nil` means this process's own executable.
    static func start(topics: [String], partitions: Int, directory: String, prefix: [String],
                      executable: String? = nil) async throws -> BrokerProcess
    {
        let addressFile = directory + "/broker.address"
        let logFile = URL(fileURLWithPath: directory + "/broker.log")
        unlink(addressFile)
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw BenchError("pipe failed: errno \(errno)") }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        let executable = executable
            ?? (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let command = prefix + [executable, "bench", "broker-process", "--address-file", addressFile,
                                "--partitions", "\(partitions)", "--watch-stdin"]
            + topics.flatMap { ["--topic", $0] }
        let process: ChildProcess
        do {
            defer { close(fds[0]) }
            process = try ChildProcess(
                executable: command[0], arguments: Array(command.dropFirst()), standardInput: fds[0],
                standardOutput: .discard, standardError: .file(logFile, append: false))
        } catch {
            close(fds[1])
            throw error
        }
        do {
            let deadline = ContinuousClock.now + .seconds(15)
            while true {
                if let address = try? String(contentsOfFile: addressFile, encoding: .utf8) {
                    return BrokerProcess(
                        process: process, bootstrapServers: address.trimmingCharacters(in: .whitespacesAndNewlines),
                        stdinWriter: fds[1])
                }
                if let status = process.exitStatus {
                    throw BenchError("the broker process did not start (\(status)): \(process.logTail(lines: 40))")
                }
                guard ContinuousClock.now < deadline else {
                    throw BenchError("the broker process wrote no address within 15 s: \(process.logTail(lines: 40))")
                }
                try await Task.sleep(for: .milliseconds(20))
            }
        } catch {
            process.terminateBlocking(grace: .zero)
            close(fds[1])
            throw error
        }
    }

    /// Takes the broker down: it drops every connection and refuses new ones, keeping its topics, logs and committed
    /// offsets (librdkafka's `rd_kafka_mock_broker_set_down`), as a broker that is down and comes back with its disk.
    func setDown() { command("down") }

    /// Brings the broker back after ``setDown()``.
    func setUp() { command("up") }

    private func command(_ line: String) {
        lock.withLock {
            guard !stopped, process.isRunning else { return }  // a dead reader would raise SIGPIPE
            let bytes = Array((line + "\n").utf8)
            _ = bytes.withUnsafeBytes { write(stdinWriter, $0.baseAddress, $0.count) }
        }
    }

    /// Ends the broker (SIGTERM, SIGKILL after 3 s) and reaps it. Idempotent.
    func stop() {
        let first = lock.withLock {
            defer { stopped = true }
            return !stopped
        }
        guard first else { return }
        process.terminateBlocking(grace: .seconds(3))
        close(stdinWriter)
    }
}
