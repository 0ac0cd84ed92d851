import Foundation
import HedgerowCore
import Testing

/// What one process reads from another (routing tables, heartbeats, worker state reports) is checked where it is
/// decoded: values a router or synchronizer would turn into overflowing arithmetic are refused (issue 11).
@Suite struct WireDecodingTests {
    func decodes<T: Decodable>(_ type: T.Type, _ json: String) -> Bool {
        (try? JSONDecoder().decode(T.self, from: Data(json.utf8))) != nil
    }

    let hedging = #""hedging": {"percentile": 95, "budgetPercent": 5, "minDelayMs": 1, "maxDelayMs": 1000}"#

    func table(_ routes: String, generation: String = "1") -> String {
        #"{"generation": \#(generation), "models": {"digits": \#(routes)}}"#
    }

    @Test func validTablesStillDecode() {
        #expect(decodes(RoutingTable.self, table(#"{"versions": {"1": ["127.0.0.1:8701", "[::1]:8702"]}, "labels": {"stable": 1}, "default": 1, \#(hedging), "zones": {"127.0.0.1:8701": "a"}}"#)))
        #expect(decodes(RoutingTable.self, #"{"generation": 0, "models": {}}"#))
    }

    @Test func hostileTablesAreRefused() {
        let bad = [
            table(#"{"versions": {}, "labels": {}, \#(hedging)}"#, generation: "-1"),
            table(#"{"versions": {"0": ["h:1"]}, "labels": {}, \#(hedging)}"#),
            table(#"{"versions": {"-3": ["h:1"]}, "labels": {}, \#(hedging)}"#),
            table(#"{"versions": {"99999999999999999999": ["h:1"]}, "labels": {}, \#(hedging)}"#),
            table(#"{"versions": {"1": ["nohost"]}, "labels": {}, \#(hedging)}"#),
            table(#"{"versions": {"1": ["h:99999999999999999999"]}, "labels": {}, \#(hedging)}"#),
            table(#"{"versions": {"1": ["h:1"]}, "labels": {"stable": 2}, \#(hedging)}"#),
            table(#"{"versions": {"1": ["h:1"]}, "labels": {}, "default": 2, \#(hedging)}"#),
            table(#"{"versions": {"1": ["h:1"]}, "labels": {}, "hedging": {"percentile": 95, "budgetPercent": 5, "minDelayMs": 1, "maxDelayMs": 9223372036854775807}}"#),
            table(#"{"versions": {"1": ["h:1"]}, "labels": {}, "hedging": {"percentile": 95, "budgetPercent": 5, "minDelayMs": 1, "maxDelayMs": 10, "timeoutMs": 9223372036854775807}}"#),
            table(#"{"versions": {"1": ["h:1"]}, "labels": {}, \#(hedging), "zones": {"h:1": ""}}"#),
            #"{"generation": 1, "models": {"../etc": {"versions": {}, "labels": {}, \#(hedging)}}}"#,
            #"{"generation": 1e300, "models": {}}"#,
        ]
        for json in bad {
            #expect(!decodes(RoutingTable.self, json), "accepted \(json)")
        }
    }

    @Test func workerMessagesAreBounded() {
        #expect(decodes(WorkerHeartbeat.self, #"{"name": "w1", "address": "127.0.0.1:8701", "zone": "a", "memoryMB": 2048}"#))
        #expect(decodes(WorkerHeartbeat.self, #"{"name": "w1", "address": "127.0.0.1:8701", "zone": "a", "memoryMB": 0}"#))
        for json in [
            #"{"name": "w1", "address": "127.0.0.1:8701", "zone": "a", "memoryMB": 9223372036854775807}"#,
            #"{"name": "w1", "address": "127.0.0.1:8701", "zone": "a", "memoryMB": -1}"#,
            #"{"name": "", "address": "127.0.0.1:8701", "zone": "a", "memoryMB": 1}"#,
            #"{"name": "w1", "address": "127.0.0.1", "zone": "a", "memoryMB": 1}"#,
            #"{"name": "w1", "address": "127.0.0.1:8701", "zone": "\#(String(repeating: "z", count: 256))", "memoryMB": 1}"#,
        ] {
            #expect(!decodes(WorkerHeartbeat.self, json), "accepted \(json)")
        }
        let model = #"{"model": "digits", "version": 1, "state": "AVAILABLE", "memoryBytes": MEM, "inferenceCount": 0}"#
        func report(_ memoryBytes: String) -> String {
            #"{"name": "w1", "address": "127.0.0.1:8701", "zone": "a", "memoryMB": 1024, "models": [\#(model.replacingOccurrences(of: "MEM", with: memoryBytes))]}"#
        }
        #expect(decodes(WorkerStateReport.self, report("1048576")))
        #expect(!decodes(WorkerStateReport.self, report("9223372036854775807")))
        #expect(!decodes(WorkerStateReport.self, report("-1")))
    }

    @Test func loadCallsAreBounded() {
        #expect(decodes(LoadRequest.self, #"{}"#))
        #expect(decodes(LoadRequest.self, #"{"batching": {"maxBatchSize": 1000000, "maxDelayMicros": 60000000}}"#))
        #expect(!decodes(LoadRequest.self, #"{"batching": {"maxBatchSize": 9223372036854775807, "maxDelayMicros": 0}}"#))
        #expect(!decodes(LoadRequest.self, #"{"batching": {"maxBatchSize": 8, "maxDelayMicros": 9223372036854775807}}"#))
    }

    /// A sharded part's load call: shard within the shard count, counts bounded before anything is sized by them.
    @Test func partsInLoadCallsAreBounded() {
        func load(_ part: String) -> String { #"{"part": "# + part + "}" }
        #expect(decodes(LoadRequest.self, load(#"{"role": "ps", "model": "ranker", "shard": 3, "shards": 4, "scheme": "mod", "tables": ["a"]}"#)))
        #expect(decodes(LoadRequest.self, load(#"{"role": "entry", "model": "ranker", "shards": 2, "scheme": "range", "tables": ["a", "b"], "shardAddresses": [["h:1"], []]}"#)))
        for hostile in [
            #"{"role": "ps", "model": "ranker", "shard": 4, "shards": 4, "scheme": "mod", "tables": ["a"]}"#,
            #"{"role": "ps", "model": "ranker", "shards": 4, "scheme": "mod", "tables": ["a"]}"#,
            #"{"role": "entry", "model": "ranker", "shard": 0, "shards": 4, "scheme": "mod", "tables": ["a"]}"#,
            #"{"role": "ps", "model": "ranker", "shard": 0, "shards": 9223372036854775807, "scheme": "mod", "tables": ["a"]}"#,
            #"{"role": "ps", "model": "../etc", "shard": 0, "shards": 1, "scheme": "mod", "tables": ["a"]}"#,
            #"{"role": "ps", "model": "ranker", "shard": 0, "shards": 1, "scheme": "hash", "tables": ["a"]}"#,
            #"{"role": "ps", "model": "ranker", "shard": 0, "shards": 1, "scheme": "mod", "tables": []}"#,
            #"{"role": "entry", "model": "ranker", "shards": 2, "scheme": "mod", "tables": ["a"], "shardAddresses": [["h:1"]]}"#,
        ] {
            #expect(!decodes(LoadRequest.self, load(hostile)), "\(hostile)")
        }
    }

    /// The fuzz targets' seeds (tables and messages as the roles send them) decode, and every saved reproducer
    /// decodes or is refused without a crash.
    @Test func committedFuzzInputsReplay() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        func inputs(_ target: String, _ kind: String) -> [(String, Data)] {
            let folder = root.appendingPathComponent("Fuzz/\(kind)/\(target)")
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
            return names.compactMap { name in (try? Data(contentsOf: folder.appendingPathComponent(name))).map { (name, $0) } }
        }
        let tables = inputs("FuzzRoutingTable", "Corpus")
        #expect(tables.count >= 3)
        for (name, data) in tables { #expect((try? JSONDecoder().decode(RoutingTable.self, from: data)) != nil, "\(name)") }
        let messages = inputs("FuzzWorkerMessages", "Corpus")
        #expect(messages.contains { (try? JSONDecoder().decode(WorkerHeartbeat.self, from: $0.1)) != nil })
        #expect(messages.contains { (try? JSONDecoder().decode(WorkerStateReport.self, from: $0.1)) != nil })
        for (_, data) in inputs("FuzzRoutingTable", "Regressions") + inputs("FuzzWorkerMessages", "Regressions") {
            _ = try? JSONDecoder().decode(RoutingTable.self, from: data)
            _ = try? JSONDecoder().decode(WorkerStateReport.self, from: data)
            _ = try? JSONDecoder().decode(WorkerHeartbeat.self, from: data)
        }
    }

    /// What the synchronizer publishes decodes on the router unchanged.
    @Test func encodedValuesRoundTrip() throws {
        let heartbeat = WorkerHeartbeat(name: "w1", address: "127.0.0.1:8701", zone: "a", memoryMB: 2048)
        #expect(try JSONDecoder().decode(WorkerHeartbeat.self, from: JSONEncoder().encode(heartbeat)) == heartbeat)
        let report = WorkerStateReport(name: "w1", address: "h:1", zone: "a", memoryMB: 1, models: [
            LoadedModelVersion(model: "digits", version: 1, state: .available, memoryBytes: 10, batching: .default),
        ])
        #expect(try JSONDecoder().decode(WorkerStateReport.self, from: JSONEncoder().encode(report)) == report)
    }
}
