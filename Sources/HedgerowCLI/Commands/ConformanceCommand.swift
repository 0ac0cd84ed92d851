import ArgumentParser
import Foundation
import HedgerowRuntime

struct ConformanceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conformance",
        abstract: "Run the ONNX backend test cases whose operators the runtime supports; print per-operator results."
    )

    @Option(help: "Directory of ONNX test cases (<case>/model.onnx with test_data_set_*), e.g. from Debian's libonnx-testdata.")
    var testdata = "/usr/share/libonnx-testdata/data"

    @Option(help: "Fail unless at least this many cases pass (a guard against a directory or an operator table that silently stopped matching).")
    var minimumPassed = 0

    func run() throws {
        guard FileManager.default.fileExists(atPath: testdata) else {
            throw ValidationError("no test cases at \(testdata): install the libonnx-testdata package or pass --testdata DIR")
        }
        let results = ConformanceSuite(root: testdata).run()
        print(ConformanceSuite.report(results))
        if results.contains(where: { if case .failed = $0.outcome { true } else { false } }) { throw ExitCode(1) }
        let passed = results.filter { if case .passed = $0.outcome { true } else { false } }.count
        if passed < minimumPassed {
            print("only \(passed) cases passed; at least \(minimumPassed) were expected")
            throw ExitCode(1)
        }
    }
}
