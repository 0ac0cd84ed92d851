import Prometheus
import Testing
@testable import HedgerowMetrics

@Suite struct ProcessMetricsTests {
    @Test func statIsReadAfterTheCommandNameWhateverItHolds() throws {
        // A command name with spaces and parentheses: fields are counted from the last ')'.
        let line = "4242 (we (ird) name) S 1 4242 4242 0 -1 4194560 1200 0 3 0 250 75 0 0 20 0 9 0 123456 987654321 2048 18446744073709551615 1 1 0 0 0 0 0 4096 17102 0 0 0 17 1 0 0 0 0 0\n"
        let sample = try #require(ProcessMetrics.parseStat(line))
        #expect(sample == .init(cpuTicks: 325, startTicks: 123456, virtualBytes: 987654321, residentPages: 2048))
    }

    @Test func malformedStatIsRefused() {
        #expect(ProcessMetrics.parseStat("") == nil)
        #expect(ProcessMetrics.parseStat("1 (x) S 1 2 3") == nil)
        #expect(ProcessMetrics.parseStat("1 (x) S 1 1 1 0 -1 0 0 0 0 0 notanumber 1 0 0 20 0 1 0 5 6 7") == nil)
        #expect(ProcessMetrics.parseStat("1 (x) S 1 1 1 0 -1 0 0 0 0 0 18446744073709551615 1 0 0 20 0 1 0 5 6 7") == nil, "utime + stime overflows")
    }

    @Test func bootTimeComesFromTheBtimeLine() {
        #expect(ProcessMetrics.parseBootTime("cpu  1 2 3\nintr 5\nbtime 1764000000\nprocesses 9\n") == 1_764_000_000)
        #expect(ProcessMetrics.parseBootTime("cpu 1\n") == nil)
    }

    @Test func thisProcessReadsAsItself() throws {
        #if os(Linux)
        let registry = PrometheusCollectorRegistry()
        let metrics = ProcessMetrics(registry: registry)
        metrics.update()
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        let text = String(decoding: buffer, as: UTF8.self)
        for name in ["process_cpu_seconds_total ", "process_resident_memory_bytes ", "process_start_time_seconds ", "process_open_fds ", "process_max_fds "] {
            let value = text.split(separator: "\n").first { $0.hasPrefix(name) }.flatMap { Double($0.dropFirst(name.count)) }
            #expect((value ?? 0) > 0, "\(name) in\n\(text)")
        }
        #endif
    }
}
