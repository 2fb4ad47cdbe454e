// swift-tools-version:6.1
// The JWT fuzz target: a package of its own because libFuzzer supplies `main` and jwt-kit (with swift-crypto) must be
// compiled with the fuzzer and address sanitizer too. `Auth` is the main package's `Shared/Auth` (symlinked), at the
// jwt-kit version pinned by the main package (Package.resolved is a copy). Built and run by `Fuzz/run.sh`.
import PackageDescription

let package = Package(
    name: "jwt-fuzz",
    dependencies: [
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.8.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.0.0"),
    ],
    targets: [
        .target(name: "Auth", dependencies: [.product(name: "JWTKit", package: "jwt-kit")], path: "Auth"),
        .executableTarget(
            name: "jwt-fuzz", dependencies: ["Auth", .product(name: "Crypto", package: "swift-crypto")], path: "Entry",
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]),
    ],
    swiftLanguageModes: [.v6]
)
