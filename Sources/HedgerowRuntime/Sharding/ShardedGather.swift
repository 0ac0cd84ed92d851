import HedgerowCore

/// The entry's side of one sharded `Gather(axis=0)`: which rows to ask each shard for, and the Gather's output put
/// together from their answers, bit for bit what the unsplit Gather computes.
///
/// Ids are read as Gather reads them (negative ids count from the end) and an id outside the table is refused
/// with the unsplit model's own message, before any lookup goes out. Each shard is asked once per inference for
/// the deduplicated rows it holds, ascending.
public struct ShardedGather: Sendable {
    public let table: String
    /// The node's label as the unsplit model's errors name it (its name, else `Gather→output`).
    public let node: String
    public let layout: ShardLayout
    public let rowShape: [Int]

    public init(table: String, node: String, layout: ShardLayout, rowShape: [Int]) {
        (self.table, self.node, self.layout, self.rowShape) = (table, node, layout, rowShape)
    }

    public var width: Int { rowShape.reduce(1, *) }

    /// Global rows per shard (only shards with something to fetch), ascending and without repeats.
    public func lookups(_ ids: Tensor) throws(HedgerowError) -> [Int: [Int64]] {
        var perShard: [Int: Set<Int64>] = [:]
        for id in try ids.integers("Gather indices of node '\(node)'") {
            guard let row = layout.row(forID: Int64(id)) else {
                throw HedgerowError(.badRequest, "node '\(node)' (Gather): index \(id) is out of range for axis 0 of size \(layout.rows)")
            }
            perShard[layout.place(row).shard, default: []].insert(Int64(row))
        }
        return perShard.mapValues { $0.sorted() }
    }

    /// The Gather's output: `answers[shard]` holds the rows of `lookups[shard]`, in that order.
    public func output(_ ids: Tensor, lookups: [Int: [Int64]], answers: [Int: [Float]]) throws(HedgerowError) -> Tensor {
        let width = self.width
        let indices = try ids.integers("Gather indices of node '\(node)'")
        var out = [Float]()
        out.reserveCapacity(indices.count * width)
        for id in indices {
            guard let row = layout.row(forID: Int64(id)) else {
                throw HedgerowError(.badRequest, "node '\(node)' (Gather): index \(id) is out of range for axis 0 of size \(layout.rows)")
            }
            let shard = layout.place(row).shard
            guard let asked = lookups[shard], let values = answers[shard], values.count == asked.count * width,
                  let position = Self.position(of: Int64(row), in: asked) else {
                throw HedgerowError(.internalError, "table '\(table)': shard \(shard) gave no row \(row)")
            }
            out.append(contentsOf: values[position * width..<(position + 1) * width])
        }
        return Tensor(shape: ids.shape + rowShape, floats: out)
    }

    /// Binary search in an ascending list.
    static func position(of row: Int64, in sorted: [Int64]) -> Int? {
        var low = 0, high = sorted.count
        while low < high {
            let middle = (low + high) / 2
            if sorted[middle] < row { low = middle + 1 } else { high = middle }
        }
        return low < sorted.count && sorted[low] == row ? low : nil
    }
}
