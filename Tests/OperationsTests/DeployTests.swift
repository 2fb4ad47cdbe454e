import Foundation
import Gateway
import MetricsExporter
import NotificationService
import PresenceService
import Runtime
import Testing
import TestSupport
import VerificationWorker

/// Every service in `deploy/` against the variables its `Configuration` type declares.
///
/// A new service adds one entry to ``services``: its deploy directory name, its Configuration's
/// `environmentVariables`, and where its sources live (scanned so a variable read but not declared fails the test).
@Suite("Deploy files")
struct DeployTests {
    struct Service: Sendable {
        var variables: [String]
        var sources: String
    }

    static let services: [String: Service] = [
        "gateway": Service(variables: GatewayConfiguration.environmentVariables, sources: "Services/Gateway"),
        "verification-worker": Service(
            variables: VerificationWorkerConfiguration.environmentVariables, sources: "Services/VerificationWorker"),
        "notification-service": Service(
            variables: NotificationServiceConfiguration.environmentVariables, sources: "Services/NotificationService"),
        "metrics-exporter": Service(
            variables: MetricsExporterConfiguration.environmentVariables, sources: "Services/MetricsExporter"),
        "presence-service": Service(
            variables: PresenceServiceConfiguration.environmentVariables, sources: "Services/PresenceService"),
    ]

    static var deploy: URL { RepoPaths.root.appendingPathComponent("deploy") }

    @Test func everyServiceHasParsingUnitManifestAndEnvFileListingItsVariables() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("deploy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let variablesFile = directory.appendingPathComponent("variables.json")
        try JSONEncoder().encode(Self.services.mapValues(\.variables)).write(to: variablesFile)
        let output = try await runOpsScript("check_deploy.py", arguments: [Self.deploy.path, variablesFile.path])
        let report = try #require(try JSONSerialization.jsonObject(with: output) as? [String: Any])
        let services = try #require(report["services"] as? [String])
        let problems = try #require(report["problems"] as? [String])
        #expect(Set(Self.services.keys).isSubset(of: Set(services)), "deploy/ lacks a directory for a service")
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
    }

    @Test func everyVariableIsInTheReadme() throws {
        let readme = try String(contentsOf: RepoPaths.root.appendingPathComponent("README.md"), encoding: .utf8)
        for (name, service) in Self.services.sorted(by: { $0.key < $1.key }) {
            for variable in service.variables {
                let listed = readme.contains("`\(variable)`")
                #expect(listed, "\(variable) (read by \(name)) is not in README.md")
            }
        }
    }

    /// The declared lists cannot drift from the parsers: every `environment.<reader>("NAME"…)` in a service's sources
    /// (and in CommonConfiguration) is declared.
    @Test func declaredVariablesCoverEveryVariableTheSourcesRead() throws {
        let pattern = try Regex(#"environment\.[A-Za-z]+\(\s*"([A-Z][A-Z0-9_]*)""#)
        func read(in directory: URL) throws -> Set<String> {
            var names: Set<String> = []
            let files = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: nil)?
                .compactMap { $0 as? URL }.filter { $0.pathExtension == "swift" } ?? []
            for file in files {
                let text = try String(contentsOf: file, encoding: .utf8)
                for match in text.matches(of: pattern) {
                    if let name = match.output[1].substring { names.insert(String(name)) }
                }
            }
            return names
        }
        let common = try read(in: RepoPaths.root.appendingPathComponent("Shared/Runtime/CommonConfiguration.swift")
            .deletingLastPathComponent()).intersection(Set(CommonConfiguration.environmentVariables))
        #expect(common == Set(CommonConfiguration.environmentVariables))
        for (name, service) in Self.services.sorted(by: { $0.key < $1.key }) {
            let used = try read(in: RepoPaths.root.appendingPathComponent(service.sources))
            #expect(!used.isEmpty, "no environment reads found in \(service.sources)")
            let undeclared = used.subtracting(service.variables)
            #expect(undeclared.isEmpty, "\(name) reads \(undeclared.sorted()) without declaring them")
        }
    }
}
