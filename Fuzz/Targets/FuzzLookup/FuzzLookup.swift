import HedgerowFuzzing

#if FUZZING
import FuzzDriver

/// libFuzzer calls this once per input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    FuzzEntries.lookup(UnsafeRawBufferPointer(start: start, count: count))
    return 0
}

/// SwiftPM links each executable with `main` aliased to `<module>_main` (so executables can be tested), a symbol
/// that `-parse-as-library` never emits. This is it: it hands the command line to libFuzzer's driver.
@_cdecl("FuzzLookup_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc, argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv, fuzzTestOneInput)
}
#else
/// Replayer: runs each file named on the command line (or every file of a named directory) through the entry.
@main struct Replay {
    static func main() { Replayer.run(name: "FuzzLookup", entry: FuzzEntries.lookup) }
}
#endif
