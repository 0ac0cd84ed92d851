import Foundation

/// The fuzz executables' `main` in ordinary builds: each argument is a file (or a directory whose regular files
/// are all taken, in name order) run once through the same entry libFuzzer calls. A crash is a crash of this
/// process; otherwise it prints how many inputs ran. This is how a reproducer is checked without the sanitizer
/// build (`swift run FuzzKServe Fuzz/Regressions/FuzzKServe`).
public enum Replayer {
    public static func run(name: String, entry: (UnsafeRawBufferPointer) -> Void) {
        let arguments = CommandLine.arguments.dropFirst()
        guard !arguments.isEmpty else {
            FileHandle.standardError.write(Data("usage: \(name) FILE|DIRECTORY...\n  runs each input through the \(name) fuzz entry once\n".utf8))
            exit(2)
        }
        var count = 0
        for path in arguments {
            for file in files(at: path) {
                guard let data = FileManager.default.contents(atPath: file) else {
                    FileHandle.standardError.write(Data("\(name): cannot read \(file)\n".utf8))
                    exit(1)
                }
                data.withUnsafeBytes { entry($0) }
                count += 1
            }
        }
        print("\(name): \(count) inputs ran without a crash")
    }

    private static func files(at path: String) -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else { return [path] }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.sorted().filter { !$0.hasPrefix(".") }.map { "\(path)/\($0)" }.filter {
            var nested: ObjCBool = false
            return FileManager.default.fileExists(atPath: $0, isDirectory: &nested) && !nested.boolValue
        }
    }
}
