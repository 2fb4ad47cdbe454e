import ArgumentParser

/// `biometricsctl soak` (placeholder until the soak runner lands).
struct SoakCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "soak", abstract: "Soak.", shouldDisplay: false)
}
