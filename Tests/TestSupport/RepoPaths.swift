import Foundation

/// Paths in the repository that tests need: the root, `schemas/`, and the Python interpreter for contract tests.
public enum RepoPaths {
    /// The repository root: the nearest directory above this source file that holds `Package.swift`.
    public static let root: URL = {
        var directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while directory.path != "/" {
            if FileManager.default.fileExists(atPath: directory.appendingPathComponent("Package.swift").path) {
                return directory
            }
            directory = directory.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    }()

    /// The JSON Schemas, `<root>/schemas`.
    public static var schemas: URL { root.appendingPathComponent("schemas") }

    /// The interpreter for `Tests/contract/validate.py`: `$BIOMETRICS_PYTHON` if set, else `<root>/.venv/bin/python3`.
    /// Throws (so the test fails, never skips) when it is not an executable file.
    public static func python() throws -> URL {
        let environment = ProcessInfo.processInfo.environment["BIOMETRICS_PYTHON"].flatMap { $0.isEmpty ? nil : $0 }
        let url = environment.map { URL(fileURLWithPath: $0) } ?? root.appendingPathComponent(".venv/bin/python3")
        guard FileManager.default.isExecutableFile(atPath: url.path) else {
            throw RepoPathsError(
                "no Python at \(url.path)"
                    + (environment == nil ? "" : " (from BIOMETRICS_PYTHON)")
                    + "; create it with `python3 -m venv .venv && .venv/bin/pip install jsonschema` in \(root.path)"
                    + " (make deps does this) or set BIOMETRICS_PYTHON to a python3 that has jsonschema")
        }
        return url
    }
}

/// A path that a test needs is missing.
public struct RepoPathsError: Error, CustomStringConvertible {
    /// What is missing and how to provide it.
    public let description: String

    /// Creates the error.
    public init(_ description: String) {
        self.description = description
    }
}

extension RepoPaths {
    /// A product built next to the test bundle (`swift build --build-tests` builds every executable), for tests
    /// that run a service as a real process (to kill it with SIGKILL, say). Throws with the places it looked.
    public static func builtExecutable(_ name: String) throws -> String {
        var candidates: [URL] = []
        if let first = CommandLine.arguments.first {
            candidates.append(URL(fileURLWithPath: first).resolvingSymlinksInPath().deletingLastPathComponent())
        }
        candidates.append(Bundle.main.bundleURL.resolvingSymlinksInPath())
        candidates += Bundle.allBundles.filter { $0.bundlePath.hasSuffix(".xctest") }
            .map { $0.bundleURL.resolvingSymlinksInPath().deletingLastPathComponent() }
        candidates.append(root.appendingPathComponent(".build/debug"))
        let paths = candidates.map { $0.appendingPathComponent(name).path }
        guard let path = paths.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw RepoPathsError(
                "no built \(name) next to the test bundle (looked at \(Set(paths).sorted().joined(separator: ", "))); "
                    + "build it first: swift build --build-tests (which builds every product)")
        }
        return path
    }
}
