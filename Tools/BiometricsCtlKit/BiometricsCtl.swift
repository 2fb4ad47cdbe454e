import ArgumentParser

/// `biometricsctl`: the operator's and developer's command line for the Biometrics Realtime stack.
public struct BiometricsCtl: AsyncParsableCommand {
    /// Command description and subcommands.
    public static let configuration = CommandConfiguration(
        commandName: "biometricsctl",
        abstract: "Run the dev broker, provision topics, mint dev tokens and benchmark the Kafka client.",
        subcommands: [
            DevCommand.self, BrokerCommand.self, TopicsCommand.self, TokenCommand.self, EnrollCommand.self,
            RevokeCommand.self, ClientCommand.self, BenchCommand.self, ChaosCommand.self, SoakCommand.self,
            ReplayCommand.self, TailCommand.self,
            DeadLetterCommand.self,
        ])

    /// Creates the command (ArgumentParser needs it).
    public init() {}
}
