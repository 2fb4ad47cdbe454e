// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "biometrics-realtime",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "biometricsctl", targets: ["biometricsctl"]),
        .executable(name: "gateway", targets: ["gateway"]),
        .executable(name: "verification-worker", targets: ["verification-worker"]),
        .executable(name: "notification-service", targets: ["notification-service"]),
        .executable(name: "presence-service", targets: ["presence-service"]),
        .executable(name: "metrics-exporter", targets: ["metrics-exporter"]),
        .library(name: "Kafka", targets: ["Kafka"]),
        .library(name: "Redis", targets: ["Redis"]),
        .library(name: "Messages", targets: ["Messages"]),
        .library(name: "Runtime", targets: ["Runtime"]),
        .library(name: "Auth", targets: ["Auth"]),
        .library(name: "SocketIO", targets: ["SocketIO"]),
        .library(name: "BiometricsClient", targets: ["BiometricsClient"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.8.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.0.0"),
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
    ],
    targets: [
        // C libraries, reached only through the Kafka and Redis targets.
        .systemLibrary(
            name: "CRdKafka", path: "Shared/CRdKafka",
            providers: [.apt(["librdkafka-dev"])]),
        .systemLibrary(
            name: "CHiredis", path: "Shared/CHiredis",
            providers: [.apt(["libhiredis-dev"])]),

        .target(
            name: "Kafka",
            dependencies: [
                "CRdKafka",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Shared/Kafka"),
        .target(
            name: "Redis",
            dependencies: [
                "CHiredis",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Shared/Redis"),
        .target(name: "Messages", dependencies: ["JSONText"], path: "Shared/Messages"),
        // Engine.IO v4 / Socket.IO v5 codec and session state machines: pure, no I/O (gateway and Swift client).
        .target(name: "SocketIO", dependencies: ["JSONText"], path: "Shared/SocketIO"),
        // JSON text parsing and writing over any value tree (Socket.IO packets, message envelopes): pure, no I/O.
        .target(name: "JSONText", path: "Shared/JSONText"),
        .target(
            name: "Auth",
            dependencies: [.product(name: "JWTKit", package: "jwt-kit")],
            path: "Shared/Auth"),
        .target(
            name: "Runtime",
            dependencies: [
                "Kafka", "Messages", "Redis",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Shared/Runtime"),

        // Services: each a library with the logic (tests import it) and a thin executable.
        .target(
            name: "Gateway",
            dependencies: [
                "Kafka", "Messages", "Runtime", "Auth", "SocketIO",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Services/Gateway/Gateway"),
        .executableTarget(name: "gateway", dependencies: ["Gateway"], path: "Services/Gateway/Main"),
        .target(
            name: "VerificationWorker",
            dependencies: [
                "Kafka", "Messages", "Runtime", "Redis",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Services/VerificationWorker/VerificationWorker"),
        .executableTarget(
            name: "verification-worker", dependencies: ["VerificationWorker"],
            path: "Services/VerificationWorker/Main"),
        .target(
            name: "PresenceService",
            dependencies: [
                "Kafka", "Messages", "Runtime", "Redis",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Services/PresenceService/PresenceService"),
        .executableTarget(
            name: "presence-service", dependencies: ["PresenceService"],
            path: "Services/PresenceService/Main"),

        .target(
            name: "NotificationService",
            dependencies: [
                "Kafka", "Messages", "Runtime",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Services/NotificationService/NotificationService"),
        .executableTarget(
            name: "notification-service", dependencies: ["NotificationService"],
            path: "Services/NotificationService/Main"),

        .target(
            name: "MetricsExporter",
            dependencies: [
                "Kafka", "Messages", "Runtime",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Services/MetricsExporter/MetricsExporter"),
        .executableTarget(
            name: "metrics-exporter", dependencies: ["MetricsExporter"], path: "Services/MetricsExporter/Main"),

        // The Swift client SDK: the shared codec over a NIO WebSocket, reconnects, typed calls.
        .target(
            name: "BiometricsClient",
            dependencies: [
                "SocketIO",
                "Messages",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            path: "Clients/BiometricsClient"),

        // The CLI's commands live in a library so tests can run them; the executable only calls `main()`.
        .target(
            name: "BiometricsCtlKit",
            dependencies: [
                "Kafka", "Messages", "Runtime", "Auth", "SocketIO", "BiometricsClient",
                "NotificationService",  // `bench notify` times the store in process
                "MetricsExporter",  // `soak` samples consumer lag with the exporter's collector
                "Redis", "VerificationWorker",  // `bench verify` stores its fixed load's challenges as the worker does
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                // `bench gateway`: the WebSocket load generator and the raw broadcast server.
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ],
            path: "Tools/BiometricsCtlKit"),
        .executableTarget(
            name: "biometricsctl",
            dependencies: ["BiometricsCtlKit"],
            path: "Tools/biometricsctl"),

        .target(
            name: "TestSupport",
            dependencies: [
                "Runtime", "Kafka", "Messages",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Tests/TestSupport"),
        .testTarget(name: "KafkaTests", dependencies: ["Kafka", "Runtime", "TestSupport"]),
        .testTarget(name: "RedisTests", dependencies: ["Redis", "TestSupport"]),
        .testTarget(name: "MessagesTests", dependencies: ["Messages", "Runtime", "TestSupport"]),
        .testTarget(name: "SocketIOTests", dependencies: ["SocketIO"]),
        .testTarget(
            name: "BiometricsClientTests",
            dependencies: [
                "BiometricsClient", "BiometricsCtlKit", "VerificationWorker", "PresenceService", "NotificationService",
                "Kafka", "Messages", "Runtime", "Auth",
                "SocketIO", "TestSupport", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]),
        .testTarget(
            name: "GatewayTests",
            dependencies: [
                "Gateway", "Kafka", "Messages", "Runtime", "Auth", "SocketIO", "TestSupport",
                .product(name: "Crypto", package: "swift-crypto"),  // hand-made tokens for the attack matrix
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ]),
        .testTarget(
            name: "VerificationWorkerTests",
            dependencies: [
                "VerificationWorker", "Gateway", "BiometricsCtlKit", "Kafka", "Messages", "Runtime", "Redis", "Auth",
                "TestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
        .testTarget(
            name: "NotificationServiceTests",
            dependencies: [
                "NotificationService", "Gateway", "Kafka", "Messages", "Runtime", "Auth", "TestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
        .testTarget(
            name: "PresenceServiceTests",
            dependencies: [
                "PresenceService", "Gateway", "Kafka", "Messages", "Runtime", "Redis", "Auth", "TestSupport",
                // A recovering client (connection-state recovery) through the SDK's transport.
                "BiometricsClient", "SocketIO", .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
        .testTarget(
            name: "AuthTests",
            dependencies: ["Auth", .product(name: "JWTKit", package: "jwt-kit")],
            resources: [.copy("Fixtures")]),
        .testTarget(
            name: "RuntimeTests",
            dependencies: [
                "Runtime", "Kafka", "Messages", "Redis", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
        .testTarget(
            name: "OperationsTests",
            dependencies: [
                "MetricsExporter", "BiometricsCtlKit", "Gateway", "VerificationWorker", "NotificationService",
                "PresenceService", "Kafka", "Messages", "Runtime", "Redis", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
        .testTarget(
            name: "BiometricsCtlTests",
            dependencies: ["BiometricsCtlKit", "Kafka", "Redis", "Auth", "Runtime", "TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
