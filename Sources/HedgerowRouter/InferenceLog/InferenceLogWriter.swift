#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HedgerowMetrics
import Logging
import Metrics
import NIOConcurrencyHelpers

/// Writes sampled inference records to `<directory>/<policy path>/<model>.jsonl` off the request path.
///
/// Requests only append a record to a bounded in-memory queue (a lock and an array append); one thread encodes,
/// writes and rotates files. When the queue is full (the disk is slower than the sampled traffic) or a write fails (full disk,
/// unwritable path), the record is dropped and counted in `hedgerow_router_inference_log_dropped_total{model,
/// reason}`, and a warning is logged at most once a minute: a request never waits for, or fails because of, its log.
/// A file past `maxFileBytes` is renamed `<model>.jsonl.1` (older ones shift up, `keptFiles` are kept).
public final class InferenceLogWriter: Sendable {
    public struct Settings: Sendable {
        public var directory: String
        public var maxFileBytes: Int
        public var keptFiles: Int
        /// Bytes of records waiting to be written before new ones are dropped.
        public var queueBytes: Int

        public init(directory: String, maxFileBytes: Int = 64 << 20, keptFiles: Int = 5, queueBytes: Int = 32 << 20) {
            self.directory = directory
            self.maxFileBytes = max(maxFileBytes, 1)
            self.keptFiles = max(keptFiles, 1)
            self.queueBytes = max(queueBytes, 1)
        }
    }

    struct Pending {
        var file: String
        var model: String
        var record: InferenceLogRecord
        var bytes: Int
    }

    private struct Queue {
        var items: [Pending] = []
        var bytes = 0
        var stopped = false
    }

    let settings: Settings
    private let queue = NIOLockedValueBox(Queue())
    private let wake = DispatchSemaphore(value: 0)
    private let done = DispatchSemaphore(value: 0)
    private let logger: Logger
    private let written = MetricHandles<String, Counter> { Counter(label: MetricNames.routerInferenceLogRecords, dimensions: [("model", $0)]) }
    private let dropped = MetricHandles<DropKey, Counter> { Counter(label: MetricNames.routerInferenceLogDropped, dimensions: [("model", $0.model), ("reason", $0.reason)]) }

    struct DropKey: Hashable, Sendable {
        var model: String
        var reason: String
    }

    public init(settings: Settings, logger: Logger) {
        self.settings = settings
        self.logger = logger
        let thread = Thread { [self] in run() }
        thread.name = "inference-log"
        thread.start()
    }

    /// Queues one record for `model` under the policy directory `path`; false when it was dropped.
    @discardableResult
    func enqueue(_ record: InferenceLogRecord, path: String, model: String) -> Bool {
        let file = "\(settings.directory)/\(path)/\(model).jsonl"
        let bytes = record.approximateBytes
        let accepted = queue.withLockedValue { queue in
            guard !queue.stopped, queue.bytes + bytes <= settings.queueBytes else { return false }
            queue.items.append(Pending(file: file, model: model, record: record, bytes: bytes))
            queue.bytes += bytes
            return true
        }
        if accepted { wake.signal() } else { drop(model, reason: "queue_full", detail: "the write queue is full (\(settings.queueBytes) bytes): the disk is slower than the sampled traffic") }
        return accepted
    }

    /// Writes what is queued, then stops the thread (bounded wait).
    public func stop() {
        queue.withLockedValue { $0.stopped = true }
        wake.signal()
        _ = done.wait(timeout: .now() + 5)
    }

    private let lastWarning = NIOLockedValueBox<ContinuousClock.Instant?>(nil)
    private let droppedTotal = NIOLockedValueBox(0)

    /// Records dropped since the writer started, for any reason.
    var droppedRecords: Int { droppedTotal.withLockedValue { $0 } }

    private func drop(_ model: String, reason: String, detail: String) {
        dropped[DropKey(model: model, reason: reason)].increment()
        droppedTotal.withLockedValue { $0 += 1 }
        let now = ContinuousClock.now
        let warn = lastWarning.withLockedValue { last in
            if let last, now - last < .seconds(60) { return false }
            last = now
            return true
        }
        if warn { logger.warning("inference log records dropped (requests are unaffected)", metadata: ["model": "\(model)", "reason": "\(detail)"]) }
    }

    // MARK: The writing thread

    private final class OpenFile {
        let handle: UnsafeMutablePointer<FILE>
        var size: Int
        init(handle: UnsafeMutablePointer<FILE>, size: Int) {
            self.handle = handle
            self.size = size
        }
    }

    private func run() {
        var files: [String: OpenFile] = [:]
        let encoder = InferenceLogRecord.makeEncoder()
        while true {
            _ = wake.wait(timeout: .now() + 1)
            let (batch, stopped) = queue.withLockedValue { queue -> ([Pending], Bool) in
                let items = queue.items
                queue.items = []
                queue.bytes = 0
                return (items, queue.stopped)
            }
            for item in batch {
                guard let line = item.record.line(with: encoder) else {
                    drop(item.model, reason: "write_error", detail: "a record could not be encoded")
                    continue
                }
                write(line, of: item, files: &files)
            }
            for file in files.values { fflush(file.handle) }
            if stopped { break }
        }
        for file in files.values { fclose(file.handle) }
        done.signal()
    }

    private func write(_ line: [UInt8], of item: Pending, files: inout [String: OpenFile]) {
        if let open = files[item.file], open.size > 0, open.size + line.count > settings.maxFileBytes {
            fclose(open.handle)
            files[item.file] = nil
            rotate(item.file)
        }
        guard let file = files[item.file] ?? open(item.file) else {
            drop(item.model, reason: "write_error", detail: "cannot open \(item.file): \(String(cString: strerror(errno)))")
            return
        }
        files[item.file] = file
        let count = line.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file.handle) }
        guard count == line.count else {
            drop(item.model, reason: "write_error", detail: "writing \(item.file): \(String(cString: strerror(errno)))")
            fclose(file.handle)
            files[item.file] = nil
            return
        }
        file.size += count
        written[item.model].increment()
    }

    private func open(_ path: String) -> OpenFile? {
        let directory = (path as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        guard let handle = fopen(path, "a") else { return nil }
        fseek(handle, 0, SEEK_END)
        return OpenFile(handle: handle, size: max(ftell(handle), 0))
    }

    /// `x.jsonl` → `x.jsonl.1`, `x.jsonl.1` → `x.jsonl.2`, …; the file past `keptFiles` is replaced.
    private func rotate(_ path: String) {
        for k in stride(from: settings.keptFiles - 1, through: 1, by: -1) {
            Glibc.rename("\(path).\(k)", "\(path).\(k + 1)")
        }
        Glibc.rename(path, "\(path).1")
    }
}
