#if canImport(Glibc)
import Glibc
#endif
import NIOConcurrencyHelpers
import Prometheus

/// The standard process metrics every Prometheus client library exports (`process_cpu_seconds_total`,
/// `process_resident_memory_bytes`, …), read from `/proc/self` when `/metrics` is scraped, so that each scrape sees
/// the figures of that moment and nothing runs between scrapes.
///
/// swift-prometheus 2 has no process collector and swift-metrics-extras is not among the packages this project
/// builds with, so these few lines of procfs parsing live here. On a system without procfs the metrics stay absent
/// rather than wrong.
public final class ProcessMetrics: Sendable {
    /// The fields of `/proc/self/stat` that the metrics need, in the units the kernel gives them.
    public struct Sample: Equatable, Sendable {
        /// User plus system CPU time, clock ticks.
        public var cpuTicks: UInt64
        /// Start time after boot, clock ticks.
        public var startTicks: UInt64
        public var virtualBytes: UInt64
        /// Resident set, pages.
        public var residentPages: UInt64
    }

    private let cpuSeconds: Counter
    private let residentBytes, virtualBytes, startTimeSeconds, openFDs, maxFDs: Gauge
    /// CPU seconds already added to the counter (a Prometheus counter only goes up by increments).
    private let counted = NIOLockedValueBox<Double>(0)

    init(registry: PrometheusCollectorRegistry) {
        func name(_ base: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(namespace: "process", metricName: base, unitName: unit, helpText: help)
        }
        cpuSeconds = registry.makeCounter(descriptor: name("cpu", "seconds_total", "Total user and system CPU time spent in seconds."))
        residentBytes = registry.makeGauge(descriptor: name("resident_memory", "bytes", "Resident memory size in bytes."))
        virtualBytes = registry.makeGauge(descriptor: name("virtual_memory", "bytes", "Virtual memory size in bytes."))
        startTimeSeconds = registry.makeGauge(descriptor: name("start_time", "seconds", "Start time of the process since unix epoch in seconds."))
        openFDs = registry.makeGauge(descriptor: name("open", "fds", "Number of open file descriptors."))
        maxFDs = registry.makeGauge(descriptor: name("max", "fds", "Maximum number of open file descriptors."))
    }

    /// Reads procfs and sets every metric; called just before the registry is rendered.
    func update() {
        #if os(Linux)
        guard let stat = Self.readFile("/proc/self/stat"), let sample = Self.parseStat(stat) else { return }
        let ticksPerSecond = Double(max(sysconf(Int32(_SC_CLK_TCK)), 1))
        let pageSize = UInt64(max(sysconf(Int32(_SC_PAGESIZE)), 1))
        let cpu = Double(sample.cpuTicks) / ticksPerSecond
        counted.withLockedValue { counted in
            if cpu > counted {
                cpuSeconds.increment(by: cpu - counted)
                counted = cpu
            }
        }
        let (resident, overflow) = sample.residentPages.multipliedReportingOverflow(by: pageSize)
        if !overflow { residentBytes.set(Double(resident)) }
        virtualBytes.set(Double(sample.virtualBytes))
        if let bootTime = Self.readFile("/proc/stat").flatMap(Self.parseBootTime) {
            startTimeSeconds.set(Double(bootTime) + Double(sample.startTicks) / ticksPerSecond)
        }
        if let count = Self.countOpenFDs() { openFDs.set(Double(count)) }
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 { maxFDs.set(Double(limit.rlim_cur)) }
        #endif
    }

    /// Parses `/proc/<pid>/stat` (proc(5)). The command name, field 2, is in parentheses and may itself hold spaces
    /// and parentheses, so fields are counted from the last `)`. Returns nil for anything malformed.
    public static func parseStat(_ text: String) -> Sample? {
        guard let close = text.lastIndex(of: ")") else { return nil }
        // Fields 3, 4, …: after the command name.
        let fields = text[text.index(after: close)...].split(separator: " ", omittingEmptySubsequences: true)
        // utime is field 14, stime 15, starttime 22, vsize 23, rss 24: indices 11, 12, 19, 20, 21 here.
        guard fields.count > 21,
              let user = UInt64(fields[11]), let system = UInt64(fields[12]),
              let start = UInt64(fields[19]), let vsize = UInt64(fields[20]), let rss = Int64(fields[21]) else { return nil }
        let (cpu, overflow) = user.addingReportingOverflow(system)
        guard !overflow else { return nil }
        return Sample(cpuTicks: cpu, startTicks: start, virtualBytes: vsize, residentPages: UInt64(max(rss, 0)))
    }

    /// The `btime` line of `/proc/stat`: boot time, seconds since the epoch.
    public static func parseBootTime(_ text: String) -> UInt64? {
        for line in text.split(separator: "\n") where line.hasPrefix("btime ") {
            return UInt64(line.dropFirst("btime ".count).trimmingCharacters())
        }
        return nil
    }

    #if os(Linux)
    private static func readFile(_ path: String) -> String? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        // procfs files are small; the bound keeps a surprise from growing without end.
        while bytes.count < 1 << 20 {
            let n = fread(&chunk, 1, chunk.count, file)
            if n <= 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func countOpenFDs() -> Int? {
        guard let dir = opendir("/proc/self/fd") else { return nil }
        defer { closedir(dir) }
        var count = 0
        while let entry = readdir(dir) {
            let isDot = withUnsafeBytes(of: entry.pointee.d_name) { name in name.first == UInt8(ascii: ".") }
            if !isDot { count += 1 }
        }
        return max(count - 1, 0)  // the directory stream itself holds one
    }
    #endif
}

private extension Substring {
    func trimmingCharacters() -> Substring {
        var s = self
        while let c = s.first, c == " " || c == "\t" || c == "\r" { s.removeFirst() }
        while let c = s.last, c == " " || c == "\t" || c == "\r" { s.removeLast() }
        return s
    }
}
