import HedgerowCore

/// What a parameter-server part holds and answers: its rows of each sharded table, and the digest an entry must
/// name (`LookupMessages`). Answers are exact copies of the stored rows.
public struct ShardPart: Sendable {
    public struct Table: Sendable {
        public var layout: ShardLayout
        /// This shard's rows, local order: `[layout.count(of: shard), rowShape...]`, float32.
        public var rows: [Float]
        public var width: Int

        public init(layout: ShardLayout, rows: [Float], width: Int) { (self.layout, self.rows, self.width) = (layout, rows, width) }
    }

    public let digest: String
    public let shard: Int
    public let tables: [String: Table]

    public init(digest: String, shard: Int, tables: [String: Table]) { (self.digest, self.shard, self.tables) = (digest, shard, tables) }

    /// Bytes of rows held: what the part costs in memory.
    public var bytes: Int { tables.values.reduce(0) { $0 + $1.rows.count * MemoryLayout<Float>.size } }

    /// The values of every row asked for. A request for other content is a 409 (a rollout must not mix versions); a
    /// row this shard does not own, or a table it does not hold, a 400 (the entry computed the layout wrongly).
    public func answer(_ request: LookupMessages.Request) throws(HedgerowError) -> [LookupMessages.Values] {
        guard request.digest == digest else {
            throw HedgerowError(.conflict, "lookup for part \(ModelName.quoted(request.digest)) reached shard \(shard) holding \(ModelName.quoted(digest))")
        }
        var answers: [LookupMessages.Values] = []
        for asked in request.tables {
            guard let table = tables[asked.table] else {
                throw HedgerowError(.badRequest, "shard \(shard) holds no table '\(asked.table)' (it holds \(tables.keys.sorted().map { "'\($0)'" }.joined(separator: ", ")))")
            }
            var values = [Float]()
            values.reserveCapacity(asked.rows.count * table.width)
            for id in asked.rows {
                guard id >= 0, id < Int64(table.layout.rows) else {
                    throw HedgerowError(.badRequest, "table '\(asked.table)': row \(id) is outside its \(table.layout.rows) rows")
                }
                let (owner, local) = table.layout.place(Int(id))
                guard owner == shard else {
                    throw HedgerowError(.badRequest, "table '\(asked.table)': row \(id) is on shard \(owner), not on shard \(shard)")
                }
                values.append(contentsOf: table.rows[local * table.width..<(local + 1) * table.width])
            }
            answers.append(LookupMessages.Values(width: table.width, values: values))
        }
        return answers
    }
}
