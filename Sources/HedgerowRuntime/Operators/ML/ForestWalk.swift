import HedgerowCore

/// How a batch walks a `FlatForest`: sixteen (row, tree) walks at a time, advanced one level per step in lockstep.
///
/// A single walk is a chain of dependent loads and hard-to-predict branches, so one row going down one tree at a
/// time leaves the core waiting (perf put 86 % of diabetes-gbr's batch in that walk). Sixteen independent walks,
/// each step a load, a compare and a select with no branch, let the loads overlap. (AVX2 gathers of eight walks at
/// a time measured slower on this project's AMD machines, where gathers are microcoded.) Nodes are packed into 16
/// bytes, the leaf's weight in its threshold when it has one. Leaves point back to themselves,
/// so a walk that has arrived stays put while the others finish; a group stops after its deepest tree's depth, or
/// as soon as a step moves no walk.
///
/// Walks are taken tree by tree, rows in order within a tree, so each row still adds its trees' weights in tree
/// order: the sums are bit for bit those of the one-at-a-time walk. Forests whose branches mix comparison modes or
/// test equality or membership keep that one-at-a-time walk (`FlatForest.accumulate`).
struct ForestWalk: Sendable {
    /// One node in 16 bytes. `feature`'s top bit says that a missing value (NaN) goes to the true child; a leaf
    /// reads feature 0, has itself as both children, and holds its weight in `threshold` when it has exactly one.
    private struct PackedNode: Sendable {
        var threshold: Float
        var feature: UInt32
        var trueChild: Int32
        var falseChild: Int32
    }

    let forest: FlatForest
    /// Empty when the forest keeps the one-at-a-time walk.
    private let nodes: [PackedNode]
    /// The comparison every branch makes (one of leq, lt, gte, gt) when `nodes` is not empty.
    private let comparison: FlatForest.Mode
    /// Per tree (in `forest.roots` order): the most steps a walk from its root takes to reach a leaf.
    private let depth: [Int32]
    /// When every leaf carries exactly one weight (regressors, binary classifiers): the weight is in the leaf's
    /// `threshold` and its target here, indexed by node (0 for branches), so finishing a walk reads no other array.
    private let leafTarget: [Int32]?

    /// Walks at a time.
    static let width = 16

    init(_ forest: FlatForest) {
        self.forest = forest
        let count = forest.mode.count
        let branchModes = Set(forest.mode.filter { $0 != .leaf })
        let lockstep: FlatForest.Mode? = branchModes.count <= 1 ? (branchModes.first ?? .leq) : nil
        guard let mode = lockstep, [.leq, .lt, .gte, .gt].contains(mode),
              [forest.feature.count, forest.threshold.count, forest.trueChild.count, forest.falseChild.count,
               forest.missingTracksTrue.count, forest.weightStart.count - 1].allSatisfy({ $0 == count }),
              forest.roots.allSatisfy({ (0..<count).contains(Int($0)) }),
              // The walk reads features unchecked: each must be one that `maxFeature` (checked per request) covers.
              (0..<count).allSatisfy({ forest.mode[$0] == .leaf || (forest.feature[$0] >= 0 && Int(forest.feature[$0]) <= forest.maxFeature) }),
              let depths = Self.depths(of: forest)
        else {
            (nodes, comparison, depth, leafTarget) = ([], .leq, [], nil)
            return
        }
        let singleWeight = (0..<count).allSatisfy { i in
            forest.mode[i] != .leaf || forest.weightStart[i + 1] - forest.weightStart[i] == 1
        }
        var packed: [PackedNode] = []
        packed.reserveCapacity(count)
        for i in 0..<count {
            if forest.mode[i] == .leaf {
                let weight = singleWeight ? forest.weightValue[Int(forest.weightStart[i])] : 0
                packed.append(PackedNode(threshold: weight, feature: 0, trueChild: Int32(i), falseChild: Int32(i)))
            } else {
                let nan: UInt32 = forest.missingTracksTrue[i] ? 1 << 31 : 0
                packed.append(PackedNode(threshold: forest.threshold[i], feature: UInt32(forest.feature[i]) | nan,
                                         trueChild: forest.trueChild[i], falseChild: forest.falseChild[i]))
            }
        }
        (nodes, comparison, depth) = (packed, mode, forest.roots.map { depths[Int($0)] })
        leafTarget = singleWeight ? (0..<count).map { forest.mode[$0] == .leaf ? forest.weightTarget[Int(forest.weightStart[$0])] : 0 } : nil
    }

    /// Whether batches take the lockstep walk (for tests and the load log).
    var isLockstep: Bool { !nodes.isEmpty }

    /// Each node's height above its deepest leaf, or nil when a child lies outside the arrays or a walk could cycle
    /// (the loaders refuse both already; this keeps the unchecked walk below from depending on them).
    private static func depths(of forest: FlatForest) -> [Int32]? {
        let count = forest.mode.count
        var height = [Int32](repeating: -1, count: count)
        var stack: [Int] = []
        for start in 0..<count where height[start] < 0 {
            stack.append(start)
            var onPath = Set<Int>()
            while let i = stack.last {
                if forest.mode[i] == .leaf {
                    height[i] = 0
                    stack.removeLast()
                    continue
                }
                let t = Int(forest.trueChild[i]), f = Int(forest.falseChild[i])
                guard (0..<count).contains(t), (0..<count).contains(f) else { return nil }
                if height[t] >= 0, height[f] >= 0 {
                    height[i] = max(height[t], height[f]) + 1
                    onPath.remove(i)
                    stack.removeLast()
                    continue
                }
                guard onPath.insert(i).inserted else { return nil }
                if height[t] < 0 { stack.append(t) }
                if height[f] < 0, f != t { stack.append(f) }
            }
        }
        return height
    }

    /// `FlatForest.accumulate`'s contract: sums (or MIN/MAX) of leaf weights per row and target, and which were set.
    func accumulate(_ input: (rows: Int, features: Int, values: [Float]), aggregate: FlatForest.Aggregate, node: Node) throws(HedgerowError) -> (scores: [Float], present: [Bool]) {
        guard isLockstep else { return try forest.accumulate(input, aggregate: aggregate, node: node) }
        var (out, present) = try forest.emptyScores(for: input, node: node)
        let (walks, walksOverflow) = input.rows.multipliedReportingOverflow(by: depth.count)
        let (needed, neededOverflow) = input.rows.multipliedReportingOverflow(by: input.features)
        guard !walksOverflow, !neededOverflow, needed <= input.values.count else {
            throw HedgerowError(.badRequest, "node '\(node.label)' (\(node.opType)): \(input.rows) rows of \(input.features) features do not fit the input")
        }
        switch comparison {
        case .lt: walk(LessThan.self, input, walks: walks, aggregate: aggregate, out: &out, present: &present)
        case .gte: walk(GreaterOrEqual.self, input, walks: walks, aggregate: aggregate, out: &out, present: &present)
        case .gt: walk(GreaterThan.self, input, walks: walks, aggregate: aggregate, out: &out, present: &present)
        default: walk(LessOrEqual.self, input, walks: walks, aggregate: aggregate, out: &out, present: &present)
        }
        return (out, present)
    }

    /// Walk g (0 ..< rows × trees) is row g % rows down tree g / rows. Offsets use wrapping arithmetic: a row's start
    /// is below `rows × features` (the input's size), a feature below `features` (checked against `maxFeature`).
    private func walk<Test: BranchTest>(_: Test.Type, _ input: (rows: Int, features: Int, values: [Float]), walks: Int,
                                         aggregate: FlatForest.Aggregate, out: inout [Float], present: inout [Bool]) {
        let rows = input.rows, features = input.features, targets = forest.targets, width = Self.width
        guard rows > 0 else { return }
        withUnsafeTemporaryAllocation(of: Int.self, capacity: 3 * width) { lanes in
            guard let at = lanes.baseAddress else { return }
            // Each lane's current node, where its row starts in the input, and the row's index.
            let current = at, rowStart = at + width, row = at + 2 * width
            nodes.withUnsafeBufferPointer { nodeBuffer in
                input.values.withUnsafeBufferPointer { valueBuffer in
                    guard let node = nodeBuffer.baseAddress, let value = valueBuffer.baseAddress else { return }
                    var first = 0, tree = 0, nextRow = 0
                    while first < walks {
                        let used = min(width, walks - first)
                        var steps: Int32 = 0
                        for k in 0..<used {
                            current[k] = Int(forest.roots[tree])
                            row[k] = nextRow
                            rowStart[k] = nextRow &* features
                            steps = max(steps, depth[tree])
                            nextRow += 1
                            if nextRow == rows { (nextRow, tree) = (0, tree + 1) }
                        }
                        var step: Int32 = 0
                        while step < steps {
                            var moved = 0
                            for k in 0..<used {
                                let n = node[current[k]]
                                let x = value[rowStart[k] &+ Int(n.feature & 0x7FFF_FFFF)]
                                let goesTrue = (Test.goesTrue(x, n.threshold) ? UInt32(1) : 0) | ((x.isNaN ? UInt32(1) : 0) & (n.feature >> 31))
                                let next = Int(goesTrue != 0 ? n.trueChild : n.falseChild)
                                moved |= next ^ current[k]
                                current[k] = next
                            }
                            if moved == 0 { break }
                            step += 1
                        }
                        finish(used, current: current, row: row, node: node, targets: targets, aggregate: aggregate, out: &out, present: &present)
                        first += used
                    }
                }
            }
        }
    }

    /// Adds (or keeps the MIN or MAX of) the weights of the leaves the first `used` lanes reached.
    @inline(__always)
    private func finish(_ used: Int, current: UnsafePointer<Int>, row: UnsafePointer<Int>, node: UnsafePointer<PackedNode>,
                        targets: Int, aggregate: FlatForest.Aggregate, out: inout [Float], present: inout [Bool]) {
        switch aggregate {
        case .sum, .average:
            if let leafTarget {
                for k in 0..<used {
                    let leaf = current[k], at = row[k] &* targets &+ Int(leafTarget[leaf])
                    out[at] += node[leaf].threshold
                    present[at] = true
                }
                return
            }
            for k in 0..<used {
                let leaf = current[k], base = row[k] &* targets
                for w in Int(forest.weightStart[leaf])..<Int(forest.weightStart[leaf + 1]) {
                    let at = base + Int(forest.weightTarget[w])
                    out[at] += forest.weightValue[w]
                    present[at] = true
                }
            }
        case .min, .max:
            for k in 0..<used {
                let leaf = current[k], base = row[k] &* targets
                for w in Int(forest.weightStart[leaf])..<Int(forest.weightStart[leaf + 1]) {
                    let at = base + Int(forest.weightTarget[w])
                    let v = forest.weightValue[w]
                    out[at] = !present[at] ? v : (aggregate == .min ? Swift.min(out[at], v) : Swift.max(out[at], v))
                    present[at] = true
                }
            }
        }
    }
}

/// The comparison of a branch, as a type so that each mode gets its own specialised walk.
private protocol BranchTest { static func goesTrue(_ x: Float, _ threshold: Float) -> Bool }
private enum LessOrEqual: BranchTest { @inline(__always) static func goesTrue(_ x: Float, _ t: Float) -> Bool { x <= t } }
private enum LessThan: BranchTest { @inline(__always) static func goesTrue(_ x: Float, _ t: Float) -> Bool { x < t } }
private enum GreaterOrEqual: BranchTest { @inline(__always) static func goesTrue(_ x: Float, _ t: Float) -> Bool { x >= t } }
private enum GreaterThan: BranchTest { @inline(__always) static func goesTrue(_ x: Float, _ t: Float) -> Bool { x > t } }
