import Foundation

/// The model repository on disk: `<root>/<model>/<version>/model.onnx` (+ optional `config.yaml`).
///
/// Two layers keep reads inside the repository:
/// - names and versions are validated types (`ModelName`, `ModelVersion`), so a path built here is
///   `root` + two plain components + a fixed file name, never `..` or `/` smuggled in a name;
/// - symbolic links are resolved before a file is read (`verifiedModelFile`, `verifiedConfigFile`): the real
///   version directory must lie inside the real repository root, and the real file inside the real version
///   directory. A `model.onnx` linking to `/etc/passwd`, or a version directory linking out of the repository,
///   is refused with a message that names the version, not the target (the target is the host's business).
///   Links that stay inside (a version directory pointing to a sibling version) are allowed.
///
/// Not covered: hard links (they are files of the directory by definition) and a file swapped between the check
/// and the read by someone who can already write the repository.
public struct ModelRepository: Sendable {
    public let root: String

    /// The files a version directory may hold that Hedgerow reads.
    public static let modelFileName = "model.onnx"
    public static let configFileName = "config.yaml"
    /// Inputs and the outputs the version must give for them, checked before it serves (the golden-output gate).
    public static let referenceFileName = "reference.json"

    public init(root: String) {
        self.root = root
    }

    /// The path where a version's model is expected, as written (not resolved): for messages and existence checks.
    /// Read through `verifiedModelFile`.
    public func modelFile(_ id: ModelVersionID) -> String {
        "\(versionDirectory(id))/\(Self.modelFileName)"
    }

    /// The version's optional settings file, next to its model, as written (not resolved). Read through
    /// `verifiedConfigFile`.
    public func configFile(_ id: ModelVersionID) -> String {
        "\(versionDirectory(id))/\(Self.configFileName)"
    }

    public func versionDirectory(_ id: ModelVersionID) -> String {
        "\(root)/\(id.model.rawValue)/\(id.version.number)"
    }

    /// The real path of the version's `model.onnx`, after checking that neither the version directory nor the
    /// file leads out of the repository, and that it is a regular file (not a FIFO or device that would hang or
    /// flood the load).
    public func verifiedModelFile(_ id: ModelVersionID) throws(HedgerowError) -> String {
        let directory = try verifiedVersionDirectory(id)
        guard let path = try verifiedFile(Self.modelFileName, in: directory, of: id) else {
            throw HedgerowError(.notFound, "model repository has no \(id.model) version \(id.version) (looked for \(id.model)/\(id.version)/\(Self.modelFileName))")
        }
        return path
    }

    /// The real path of the version's `config.yaml`, nil when the version has none; the same checks as the model.
    public func verifiedConfigFile(_ id: ModelVersionID) throws(HedgerowError) -> String? {
        try verifiedFile(Self.configFileName, in: try verifiedVersionDirectory(id), of: id)
    }

    /// The real path of the version's `reference.json`, nil when the version has none; the same checks as the model.
    public func verifiedReferenceFile(_ id: ModelVersionID) throws(HedgerowError) -> String? {
        try verifiedFile(Self.referenceFileName, in: try verifiedVersionDirectory(id), of: id)
    }

    /// The real path of the version directory; refused when it resolves outside the real repository root.
    public func verifiedVersionDirectory(_ id: ModelVersionID) throws(HedgerowError) -> String {
        guard let realRoot = Self.realPath(root) else {
            throw HedgerowError(.notFound, "model repository \(root) does not exist or cannot be read")
        }
        guard let realDirectory = Self.realPath(versionDirectory(id)) else {
            throw HedgerowError(.notFound, "model repository has no \(id.model) version \(id.version) (looked for \(id.model)/\(id.version)/)")
        }
        guard Self.isInside(realDirectory, realRoot) else {
            throw HedgerowError(.loadFailed, "refusing \(id.model)/\(id.version): the version directory is a link that resolves outside the model repository")
        }
        return realDirectory
    }

    /// `name` in the (already verified) real version directory: nil if absent; refused if it resolves outside
    /// the directory or is not a regular file.
    private func verifiedFile(_ name: String, in realDirectory: String, of id: ModelVersionID) throws(HedgerowError) -> String? {
        let path = "\(realDirectory)/\(name)"
        var link = stat()
        guard lstat(path, &link) == 0 else { return nil }
        guard let real = Self.realPath(path) else {
            throw HedgerowError(.loadFailed, "refusing \(id.model)/\(id.version)/\(name): it is a link to nothing (dangling)")
        }
        guard Self.isInside(real, realDirectory) else {
            throw HedgerowError(.loadFailed, "refusing \(id.model)/\(id.version)/\(name): it is a link that resolves outside its version directory")
        }
        var target = stat()
        guard stat(real, &target) == 0, (target.st_mode & S_IFMT) == S_IFREG else {
            throw HedgerowError(.loadFailed, "refusing \(id.model)/\(id.version)/\(name): not a regular file")
        }
        return real
    }

    /// Size of a version's model file and its external data files (ONNX's form for weights past 2 GiB: every other
    /// regular file under the version directory but its config and reference answers), bytes: the planner's memory
    /// estimate until a worker has measured it. nil for a version whose files are refused.
    public func fileSize(_ id: ModelVersionID) -> Int? {
        guard let path = try? verifiedModelFile(id), let directory = try? verifiedVersionDirectory(id),
              var total = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int else { return nil }
        let skipped: Set<String> = [Self.modelFileName, Self.configFileName, Self.referenceFileName]
        // Links are not followed (lstat): a data file outside the directory is refused at load anyway.
        guard let files = FileManager.default.enumerator(atPath: directory) else { return total }
        var seen = 0
        while seen < 10_000, let relative = files.nextObject() as? String {
            seen += 1
            var info = stat()
            guard !skipped.contains(relative), lstat("\(directory)/\(relative)", &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { continue }
            let (sum, overflow) = total.addingReportingOverflow(Int(info.st_size))
            total = overflow ? Int.max : sum
        }
        return total
    }

    /// Versions present on disk for a model, ascending. Directories that are not canonical positive integers, and
    /// versions whose files lead out of the repository, are ignored: they are never placed.
    public func versions(of model: ModelName) -> [ModelVersion] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "\(root)/\(model.rawValue)")) ?? []
        return entries.compactMap { try? ModelVersion(parsing: Substring($0)) }
            .filter { (try? verifiedModelFile(ModelVersionID(model: model, version: $0))) != nil }
            .sorted()
    }

    /// The canonical absolute path with every symbolic link resolved, nil if it does not exist.
    public static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Whether real path `path` lies strictly below real directory `directory`, compared by bytes and whole
    /// components (so `/models2/x` is not inside `/models`, and no Unicode normalisation makes two paths equal).
    public static func isInside(_ path: String, _ directory: String) -> Bool {
        let base = directory.hasSuffix("/") ? directory : directory + "/"
        return path.utf8.count > base.utf8.count && path.utf8.starts(with: base.utf8)
    }

    /// The inverse of `configFile(_:)`: the repository and version a config path was built for, nil when the path
    /// does not have that shape. Lets a reader handed only the path vet the version it belongs to.
    public static func locate(configFile path: String) -> (repository: ModelRepository, id: ModelVersionID)? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count >= 4, parts[parts.count - 1] == Substring(configFileName),
              let model = try? ModelName(String(parts[parts.count - 3])),
              let version = try? ModelVersion(parsing: parts[parts.count - 2]) else { return nil }
        let root = parts.dropLast(3).joined(separator: "/")
        let repository = ModelRepository(root: root)
        let id = ModelVersionID(model: model, version: version)
        guard repository.configFile(id) == path else { return nil }
        return (repository, id)
    }
}
