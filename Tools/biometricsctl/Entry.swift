import BiometricsCtlKit

/// The executable is only the entry point; every command lives in BiometricsCtlKit.
@main
extension BiometricsCtl {}
