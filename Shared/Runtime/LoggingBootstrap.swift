import Logging
import Synchronization

/// Bootstraps swift-log once per process from `LOG_LEVEL` / `LOG_FORMAT`.
public enum LoggingBootstrap {
    private static let done = Mutex(false)

    /// Installs the process-wide log handler; returns `false` (and changes nothing) if already done.
    ///
    /// `.text` uses swift-log's `StreamLogHandler` on standard error, `.json` uses ``JSONLogHandler``.
    @discardableResult
    public static func bootstrap(level: Logger.Level, format: LogFormat) -> Bool {
        done.withLock { done in
            guard !done else { return false }
            done = true
            LoggingSystem.bootstrap(
                { label, provider in
                    switch format {
                    case .text:
                        var handler = StreamLogHandler.standardError(label: label, metadataProvider: provider)
                        handler.logLevel = level
                        return handler
                    case .json:
                        var handler = JSONLogHandler(label: label, metadataProvider: provider)
                        handler.logLevel = level
                        return handler
                    }
                },
                metadataProvider: nil
            )
            return true
        }
    }

    /// Installs the log handler described by `configuration`; returns `false` if already done.
    @discardableResult
    public static func bootstrap(_ configuration: CommonConfiguration) -> Bool {
        bootstrap(level: configuration.logLevel, format: configuration.logFormat)
    }

    /// Whether the process-wide log handler has been installed through this type.
    public static var isBootstrapped: Bool { done.withLock { $0 } }
}
