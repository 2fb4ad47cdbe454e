import Foundation
import Messages
import Runtime
import TestSupport

/// One instance to validate against one schema file under `schemas/`.
struct SchemaCase: Encodable, Sendable {
    let schema: String
    let instance: JSONValue
}

/// The validator's verdict on one case.
struct SchemaVerdict: Decodable, Sendable {
    let valid: Bool
    let errors: [String]
}

/// The output of one run of `Tests/contract/validate.py`.
struct ValidationRun: Decodable, Sendable {
    let schemaErrors: [String: String]
    let results: [SchemaVerdict]
}

/// A failure to run the real validator (missing Python or jsonschema, bad output): the test fails.
struct ValidatorError: Error, CustomStringConvertible {
    let description: String
}

/// Runs the Python `jsonschema` validator (Draft 2020-12, format checking) over a batch of cases.
enum SchemaValidator {
    static let script = RepoPaths.root.appendingPathComponent("Tests/contract/validate.py")

    static func validate(_ cases: [SchemaCase]) async throws -> ValidationRun {
        let python = try RepoPaths.python()
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("messages-contract-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let casesFile = directory.appendingPathComponent("cases.json")
        let stdoutFile = directory.appendingPathComponent("stdout.json")
        let stderrFile = directory.appendingPathComponent("stderr.txt")
        try JSONEncoder().encode(cases).write(to: casesFile)
        // Waiting asynchronously keeps the cooperative pool free for the tests running beside this one.
        let process = try ChildProcess(
            executable: python.path, arguments: [script.path, RepoPaths.schemas.path, casesFile.path],
            standardOutput: .file(stdoutFile, append: false), standardError: .file(stderrFile, append: false))
        let status = await process.waitForExit()

        let errorText = (try? String(contentsOf: stderrFile, encoding: .utf8)) ?? ""
        guard status.isSuccess else {
            throw ValidatorError(description: "validate.py (\(python.path)) ended with \(status): \(errorText)")
        }
        let output = try Data(contentsOf: stdoutFile)
        let run: ValidationRun
        do {
            run = try JSONDecoder().decode(ValidationRun.self, from: output)
        } catch {
            throw ValidatorError(description: "validate.py printed no result (\(error)); stderr: \(errorText)")
        }
        guard run.results.count == cases.count else {
            throw ValidatorError(description: "validate.py answered \(run.results.count) of \(cases.count) cases")
        }
        return run
    }
}

extension JSONValue {
    /// A copy with the member at `path` set to `value`, or removed when `value` is nil.
    func with(_ path: [String], _ value: JSONValue?) -> JSONValue {
        guard let key = path.first, case .object(var members) = self else { return self }
        if path.count == 1 {
            members[key] = value
        } else {
            members[key] = (members[key] ?? .object([:])).with(Array(path.dropFirst()), value)
        }
        return .object(members)
    }

    /// A copy with member `key` set to `value`, or removed when `value` is nil.
    func with(_ key: String, _ value: JSONValue?) -> JSONValue {
        with([key], value)
    }

    /// The JSON bytes of this value.
    var data: Data {
        get throws { try JSONEncoder().encode(self) }
    }
}

/// A string of `count` copies of `character`.
func repeated(_ character: String, _ count: Int) -> String {
    String(repeating: character, count: count)
}

/// An object's members `k0...k(count-1)`, all `1`.
func members(_ count: Int) -> [String: JSONValue] {
    Dictionary(uniqueKeysWithValues: (0..<count).map { ("k\($0)", JSONValue.number(1)) })
}
