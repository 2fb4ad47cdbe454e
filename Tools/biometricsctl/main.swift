import BiometricsCtlKit

await BiometricsCtl.main()
