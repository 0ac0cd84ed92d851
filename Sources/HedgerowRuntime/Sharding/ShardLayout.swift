import HedgerowCore

/// Which parameter-server shard holds which rows of an embedding table, and where in the shard.
///
/// `mod`: row r lives on shard r % shards, at index r / shards (ids spread evenly whatever their range; what a
/// hashed id space wants). `range`: contiguous blocks of ⌈rows / shards⌉ rows, the last one shorter (a shard's rows
/// are one read of the table's bytes). Pure arithmetic on non-negative `Int`s: every result is in bounds for a
/// row in `0..<rows`, and the layout is the same on the entry and on every shard, so both agree on every id.
public struct ShardLayout: Sendable, Equatable {
    public typealias Scheme = ShardingPolicy.Scheme

    public let rows: Int
    public let shards: Int
    public let scheme: Scheme

    public init(rows: Int, shards: Int, scheme: Scheme) throws(HedgerowError) {
        guard shards >= 1 else { throw HedgerowError(.invalidConfiguration, "sharding needs at least 1 shard, not \(shards)") }
        guard rows >= 0 else { throw HedgerowError(.invalidConfiguration, "a table cannot have \(rows) rows") }
        (self.rows, self.shards, self.scheme) = (rows, shards, scheme)
    }

    /// Rows per block of the `range` scheme (at least 1, so that an empty table divides too).
    private var block: Int { max(1, rows / shards + (rows % shards == 0 ? 0 : 1)) }

    /// The row an id names, as Gather reads it: negative ids count from the end; nil when outside the table.
    public func row(forID id: Int64) -> Int? {
        let rows = Int64(self.rows)
        guard id >= -rows, id < rows else { return nil }
        return Int(id < 0 ? id + rows : id)
    }

    /// The shard holding `row` (in `0..<rows`) and its index among that shard's rows.
    public func place(_ row: Int) -> (shard: Int, local: Int) {
        switch scheme {
        case .mod: (row % shards, row / shards)
        case .range: (row / block, row % block)
        }
    }

    /// How many rows shard `shard` holds.
    public func count(of shard: Int) -> Int {
        guard (0..<shards).contains(shard) else { return 0 }
        switch scheme {
        case .mod: return shard < rows ? (rows - shard - 1) / shards + 1 : 0
        case .range:
            let start = min(rows, shard * block)
            return min(rows, start + block) - start
        }
    }

    /// The global row of shard `shard`'s row `local` (the inverse of `place`).
    public func globalRow(shard: Int, local: Int) -> Int {
        switch scheme {
        case .mod: local * shards + shard
        case .range: shard * block + local
        }
    }
}
