import HedgerowCore
import HedgerowSynchronizer
import Testing

/// `sharding:` as the issue's example writes it, and each refusal with its file:line.
@Suite struct DesiredStateShardingTests {
    @Test func parsesTheShardingBlock() throws {
        let state = try DesiredStateParser.parse("""
            repository: /models
            models:
              - name: ranker
                versions: { latest: 1 }
                replicas: 2
                sharding: { tables: [user_emb, item_emb], shards: 4, by: mod, replicas: 2 }
              - name: big
                sharding: { minBytes: 1048576, shards: 3, by: range }
              - name: digits
            """, file: "desired.yaml")
        #expect(state.models[0].sharding == ShardingPolicy(tables: ["user_emb", "item_emb"], minBytes: nil, shards: 4, scheme: .mod, replicas: 2))
        #expect(state.models[1].sharding == ShardingPolicy(tables: nil, minBytes: 1_048_576, shards: 3, scheme: .range, replicas: 2), "replicas default like a model's")
        #expect(state.models[2].sharding == nil)
    }

    @Test(arguments: [
        ("sharding: { tables: [a], shards: 0 }", "4:38: models[0].sharding.shards: must be ≥ 1, got 0"),
        ("sharding: { tables: [a], shards: 2000 }", "models[0].sharding.shards: must be ≤ 1024, got 2000"),
        ("sharding: { tables: [a] }", "models[0].sharding.shards: is required"),
        ("sharding: { shards: 2 }", "name the tables to split (tables: [name, ...]) or a size (minBytes: N)"),
        ("sharding: { tables: [], shards: 2 }", "models[0].sharding.tables: list at least one table"),
        ("sharding: { tables: [a, a], shards: 2 }", "a table is listed twice"),
        ("sharding: { tables: [a], shards: 2, by: hash }", "models[0].sharding.by: expected 'mod' or 'range', found 'hash'"),
        ("sharding: { tables: [a], shards: 2, replica: 2 }", "unknown key 'replica'"),
        ("sharding: { tables: [a], shards: 2 }\n    validation: { required: true }", "a sharded model cannot require reference.json"),
    ])
    func refusals(block: String, expected: String) {
        let yaml = "repository: /models\nmodels:\n  - name: ranker\n    \(block)\n"
        do {
            _ = try DesiredStateParser.parse(yaml, file: "desired.yaml")
            Issue.record("accepted: \(block)")
        } catch {
            let lines = error.problems.map(\.description)
            #expect(lines.contains { $0.contains(expected) }, "\(lines)")
        }
    }

    @Test func aModelMayNotTakeTheNameOfAShard() {
        let yaml = """
            repository: /models
            models:
              - name: ranker
                sharding: { tables: [a], shards: 2 }
              - name: ranker.ps-1
            """
        do {
            _ = try DesiredStateParser.parse(yaml, file: "desired.yaml")
            Issue.record("a model named like a shard was accepted")
        } catch {
            let lines = error.problems.map(\.description)
            #expect(lines.contains { $0.hasPrefix("desired.yaml:5:5: models[1].name: 'ranker.ps-1' is the name of a shard of sharded model 'ranker'") }, "\(lines)")
        }
    }
}
