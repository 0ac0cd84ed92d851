import Foundation
import HedgerowCore
import Logging
import NIOCore
import Testing
@testable import HedgerowRouter

@Suite struct InferenceLogTests {
    @Test func samplingFollowsTheRequestIdAndItsShare() {
        let ids = (0..<10_000).map { "req-\($0)" }
        let sampled = ids.filter { InferenceLogSampler.isSampled(requestId: $0, percent: 1) }
        // Binomial(10,000, 0.01): mean 100, standard deviation 9.95; three of them either side.
        #expect((70...130).contains(sampled.count), "\(sampled.count)")
        #expect(sampled == ids.filter { InferenceLogSampler.isSampled(requestId: $0, percent: 1) }, "the same ids every time")
        let tenth = ids.filter { InferenceLogSampler.isSampled(requestId: $0, percent: 10) }.count
        #expect((910...1090).contains(tenth), "\(tenth)")
        #expect(ids.allSatisfy { !InferenceLogSampler.isSampled(requestId: $0, percent: 0) })
        #expect(ids.allSatisfy { InferenceLogSampler.isSampled(requestId: $0, percent: 100) })
    }

    @Test func aRecordIsOneLineOfJSONWithTheBodiesReadable() throws {
        let record = InferenceLogRecord(
            time: Date(timeIntervalSince1970: 1_764_000_000.5), requestId: "r1", model: "digits", version: 2,
            api: "v2", status: 200, latencyMs: 1.5, hedged: true, replica: "127.0.0.1:8701",
            request: .init(ByteBuffer(string: #"{"inputs":[{"name":"input","data":[1,2]}]}"#), contentType: "application/json"),
            response: .init(ByteBuffer(bytes: [0xff, 0x00, 0x41]), contentType: nil)
        )
        let line = try #require(record.line(with: InferenceLogRecord.makeEncoder()))
        #expect(line.last == UInt8(ascii: "\n") && line.dropLast().allSatisfy { $0 != UInt8(ascii: "\n") })
        let json = try #require(try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any])
        #expect(json["time"] as? String == "2025-11-24T16:00:00.500Z")
        #expect(json["model"] as? String == "digits" && json["version"] as? Int == 2 && json["hedged"] as? Bool == true)
        let request = try #require(json["request"] as? [String: Any])
        #expect(request["text"] as? String == #"{"inputs":[{"name":"input","data":[1,2]}]}"# && request["bytes"] as? Int == 42)
        let response = try #require(json["response"] as? [String: Any])
        #expect(response["base64"] as? String == "/wBB" && response["text"] == nil)
    }

    @Test func bodiesPastTheLimitAreCut() throws {
        let body = InferenceLogRecord.Body(ByteBuffer(repeating: UInt8(ascii: "a"), count: InferenceLogRecord.Body.maxLoggedBytes + 10), contentType: nil)
        let json = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(body)) as? [String: Any])
        #expect(json["truncated"] as? Bool == true && json["bytes"] as? Int == InferenceLogRecord.Body.maxLoggedBytes + 10)
        #expect((json["text"] as? String)?.utf8.count == InferenceLogRecord.Body.maxLoggedBytes)
    }

    @Test func timestampsAreUTCWithMilliseconds() {
        #expect(InferenceLogRecord.timestamp(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.000Z")
        #expect(InferenceLogRecord.timestamp(Date(timeIntervalSince1970: 1_795_555_230.0419)) == "2026-11-24T21:20:30.041Z")
        #expect(InferenceLogRecord.timestamp(Date(timeIntervalSince1970: -0.5)) == "1969-12-31T23:59:59.500Z")
    }

    /// A record whose request id carries `n`, with a padding body, to fill files.
    func record(_ n: Int, pad: Int = 0) -> InferenceLogRecord {
        InferenceLogRecord(
            time: Date(timeIntervalSince1970: 0), requestId: String(format: "n-%02d", n), model: "digits", version: 1, api: "v2", status: 200,
            latencyMs: 1, hedged: false, replica: nil, request: .init(ByteBuffer(string: String(repeating: "x", count: pad)), contentType: nil),
            response: .init(ByteBuffer(), contentType: nil)
        )
    }

    @Test func policyPathsStayInsideTheLogDirectory() throws {
        for good in ["logs", "logs/", "a/b-c_d.e"] { #expect(InferenceLogPolicy.problem(withPath: good) == nil, "\(good)") }
        for bad in ["", "/", "/etc", "../x", "a/../b", "a//b", "./a", "a b", "a/\u{0}"] {
            #expect(InferenceLogPolicy.problem(withPath: bad) != nil, "\(bad) accepted")
        }
        #expect(throws: HedgerowError.self) { try InferenceLogPolicy(samplePercent: 101) }
        #expect(throws: HedgerowError.self) { try InferenceLogPolicy(samplePercent: .nan) }
        #expect(throws: (any Error).self) { try JSONDecoder().decode(InferenceLogPolicy.self, from: Data(#"{"samplePercent": 1, "path": "/etc"}"#.utf8)) }
    }

    func scratch() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("inference-log-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    func lines(_ file: URL) -> [String] {
        ((try? String(contentsOf: file, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    @Test func filesRotateAndOnlyTheKeptOnesRemain() throws {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        // A record's line is about 250 bytes: one per file.
        let writer = InferenceLogWriter(settings: .init(directory: directory.path, maxFileBytes: 300, keptFiles: 2), logger: Logger(label: "test"))
        for i in 0..<20 { writer.enqueue(record(i), path: "logs", model: "digits") }
        writer.stop()
        let base = directory.appendingPathComponent("logs/digits.jsonl")
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.appendingPathComponent("logs").path).sorted()
        #expect(names == ["digits.jsonl", "digits.jsonl.1", "digits.jsonl.2"], "\(names)")
        // Newest last: the current file holds the last records, .1 the ones before, .2 the ones before those.
        let all = lines(URL(fileURLWithPath: base.path + ".2")) + lines(URL(fileURLWithPath: base.path + ".1")) + lines(base)
        let numbers = all.compactMap { ((try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["requestId"] as? String).flatMap { Int($0.dropFirst(2)) } }
        #expect(numbers == Array((20 - numbers.count)..<20) && numbers.count >= 3, "\(numbers)")
        #expect(writer.droppedRecords == 0)
    }

    @Test func anUnwritableDirectoryDropsAndCountsInsteadOfFailing() throws {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        // `blocked` is a file, so nothing can be created under it (also as root).
        try Data("x".utf8).write(to: directory.appendingPathComponent("blocked"))
        let writer = InferenceLogWriter(settings: .init(directory: directory.path), logger: Logger(label: "test"))
        for i in 0..<5 { #expect(writer.enqueue(record(i), path: "blocked/logs", model: "digits")) }
        writer.stop()
        #expect(writer.droppedRecords == 5)
    }

    @Test func aFullQueueDropsAtOnce() throws {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let writer = InferenceLogWriter(settings: .init(directory: directory.path, queueBytes: 10), logger: Logger(label: "test"))
        #expect(!writer.enqueue(record(0), path: "logs", model: "digits"))
        #expect(writer.droppedRecords == 1)
        writer.stop()
    }
}
