import HedgerowCore
@testable import HedgerowRuntime
import Testing

@Suite struct ShardLayoutTests {
    /// Every row has exactly one home, `globalRow` inverts `place`, and the counts add up, for both schemes and the
    /// shard counts the issue names, including more shards than rows and an empty table.
    @Test(arguments: ShardLayout.Scheme.allCases)
    func everyRowHasExactlyOneHome(scheme: ShardLayout.Scheme) throws {
        for rows in [0, 1, 2, 5, 10, 97] {
            for shards in [1, 2, 3, 7, 12] {
                let layout = try ShardLayout(rows: rows, shards: shards, scheme: scheme)
                var seen = Array(repeating: 0, count: shards)
                for row in 0..<rows {
                    let (shard, local) = layout.place(row)
                    #expect((0..<shards).contains(shard) && local >= 0 && local < layout.count(of: shard), "\(scheme) \(rows)/\(shards) row \(row)")
                    #expect(layout.globalRow(shard: shard, local: local) == row)
                    seen[shard] += 1
                }
                #expect((0..<shards).map(layout.count(of:)) == seen, "\(scheme) \(rows)/\(shards)")
            }
        }
    }

    @Test func idsAreRowsAsGatherReadsThem() throws {
        let layout = try ShardLayout(rows: 10, shards: 3, scheme: .mod)
        #expect(layout.row(forID: 0) == 0 && layout.row(forID: 9) == 9 && layout.row(forID: -1) == 9 && layout.row(forID: -10) == 0)
        #expect(layout.row(forID: 10) == nil && layout.row(forID: -11) == nil && layout.row(forID: .min) == nil && layout.row(forID: .max) == nil)
        #expect(layout.place(7) == (1, 2))
        #expect(try ShardLayout(rows: 10, shards: 3, scheme: .range).place(7) == (1, 3))
        #expect(throws: HedgerowError.self) { try ShardLayout(rows: 10, shards: 0, scheme: .mod) }
    }
}
