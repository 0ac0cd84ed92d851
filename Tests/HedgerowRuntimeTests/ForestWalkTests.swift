import HedgerowCore
@testable import HedgerowRuntime
import Testing

/// The lockstep walk against the one-at-a-time walk it replaces: on random forests (every comparison mode, missing
/// values sent either way, several targets, every aggregate, single-leaf and lopsided trees) and batches that end
/// inside and on a group of sixteen walks, both give the same scores bit for bit.
@Suite struct ForestWalkTests {
    /// The mutation tests' SplitMix64, so a failure names a seed that reproduces it.
    typealias SplitMix = ModelMutationTests.Random

    /// A forest of `trees` random trees up to `maxDepth` deep over `features` features, every branch comparing with
    /// `mode`; with `lopsided`, one tree is a chain as deep as `maxDepth` whose every right child is a leaf.
    static func randomForest(_ random: inout SplitMix, trees: Int, maxDepth: Int, features: Int, targets: Int,
                             mode: FlatForest.Mode, lopsided: Bool = false) -> FlatForest {
        var forest = FlatForest(targets: targets)
        func leaf() -> Int32 {
            let at = Int32(forest.mode.count)
            forest.mode.append(.leaf)
            forest.feature.append(0)
            forest.threshold.append(0)
            forest.trueChild.append(-1)
            forest.falseChild.append(-1)
            forest.missingTracksTrue.append(false)
            forest.weightStart.append(Int32(forest.weightTarget.count))
            for target in 0..<targets where targets == 1 || random.below(3) > 0 {
                forest.weightTarget.append(Int32(target))
                forest.weightValue.append(random.unit() * 2 - 1)
            }
            return at
        }
        func branch(depth: Int, chain: Bool) -> Int32 {
            if depth == 0 || (!chain && random.below(4) == 0) { return leaf() }
            let at = forest.mode.count
            forest.mode.append(mode)
            let f = random.below(features)
            forest.feature.append(Int32(f))
            forest.maxFeature = max(forest.maxFeature, f)
            forest.threshold.append(random.unit())
            forest.trueChild.append(-1)
            forest.falseChild.append(-1)
            forest.missingTracksTrue.append(random.below(2) == 0)
            forest.weightStart.append(Int32(forest.weightTarget.count))
            let t = branch(depth: depth - 1, chain: chain)
            let e = chain ? leaf() : branch(depth: depth - 1, chain: false)
            forest.trueChild[at] = t
            forest.falseChild[at] = e
            return Int32(at)
        }
        for tree in 0..<trees {
            forest.roots.append(branch(depth: tree == 0 && lopsided ? maxDepth : random.below(maxDepth + 1), chain: tree == 0 && lopsided))
        }
        forest.weightStart.append(Int32(forest.weightTarget.count))
        return forest
    }

    static func rows(_ random: inout SplitMix, count: Int, features: Int) -> (rows: Int, features: Int, values: [Float]) {
        let values = (0..<(count * features)).map { _ -> Float in
            switch random.below(10) {
            case 0: .nan
            case 1: 0.5  // lands on thresholds' neighbourhood often enough to tell < from ≤
            default: random.unit()
            }
        }
        return (count, features, values)
    }

    let node = Node(name: "forest", opType: "TreeEnsembleRegressor", inputs: ["x"], outputs: ["y"], attributes: [:], domain: MLOperators.domain)

    @Test(arguments: [FlatForest.Mode.leq, .lt, .gte, .gt])
    func lockstepScoresEqualTheOneAtATimeWalk(mode: FlatForest.Mode) throws {
        for seed in UInt64(1)...12 {
            var random = SplitMix(state: seed)
            let targets = [1, 1, 3][random.below(3)]
            let features = 1 + random.below(6)
            let forest = Self.randomForest(&random, trees: 1 + random.below(40), maxDepth: random.below(9), features: features,
                                           targets: targets, mode: mode, lopsided: seed % 3 == 0)
            let walk = ForestWalk(forest)
            #expect(walk.isLockstep)
            for count in [1, 2, 15, 16, 17, 33] {
                let input = Self.rows(&random, count: count, features: features)
                for aggregate in [FlatForest.Aggregate.sum, .average, .min, .max] {
                    let expected = try forest.accumulate(input, aggregate: aggregate, node: node)
                    let got = try walk.accumulate(input, aggregate: aggregate, node: node)
                    #expect(got.present == expected.present, "seed \(seed), \(count) rows, \(aggregate)")
                    #expect(got.scores.map(\.bitPattern) == expected.scores.map(\.bitPattern), "seed \(seed), \(count) rows, \(aggregate)")
                }
            }
        }
    }

    @Test func aChainDeeperThanAGroupStillEndsAtItsLeaves() throws {
        var random = SplitMix(state: 99)
        let forest = Self.randomForest(&random, trees: 3, maxDepth: 300, features: 4, targets: 1, mode: .leq, lopsided: true)
        let input = Self.rows(&random, count: 40, features: 4)
        let expected = try forest.accumulate(input, aggregate: .sum, node: node)
        #expect(try ForestWalk(forest).accumulate(input, aggregate: .sum, node: node).scores == expected.scores)
    }

    @Test func mixedOrEqualityModesKeepTheOneAtATimeWalk() throws {
        var random = SplitMix(state: 7)
        var mixed = Self.randomForest(&random, trees: 5, maxDepth: 4, features: 3, targets: 1, mode: .leq)
        if let i = mixed.mode.firstIndex(of: .leq) { mixed.mode[i] = .gt }
        #expect(!ForestWalk(mixed).isLockstep)
        let equality = Self.randomForest(&random, trees: 5, maxDepth: 4, features: 3, targets: 1, mode: .eq)
        #expect(!ForestWalk(equality).isLockstep)
        let input = Self.rows(&random, count: 5, features: 3)
        #expect(try ForestWalk(mixed).accumulate(input, aggregate: .sum, node: node).scores
            == mixed.accumulate(input, aggregate: .sum, node: node).scores)
    }

    @Test func aForestWhoseChildOrFeatureIsOutOfBoundsIsNotWalkedInLockstep() {
        var random = SplitMix(state: 5)
        var outside = Self.randomForest(&random, trees: 2, maxDepth: 3, features: 2, targets: 1, mode: .leq)
        guard let b = outside.mode.firstIndex(where: { $0 != .leaf }) else { Issue.record("no branch"); return }
        outside.trueChild[b] = Int32(outside.mode.count)
        #expect(!ForestWalk(outside).isLockstep)
        var cycle = outside
        cycle.trueChild[b] = Int32(b)
        #expect(!ForestWalk(cycle).isLockstep)
        var wide = Self.randomForest(&random, trees: 2, maxDepth: 3, features: 2, targets: 1, mode: .leq, lopsided: true)
        guard let w = wide.mode.firstIndex(where: { $0 != .leaf }) else { Issue.record("no branch"); return }
        wide.feature[w] = Int32(wide.maxFeature + 1)  // past what the per-request check covers
        #expect(!ForestWalk(wide).isLockstep)
    }

    @Test func aRowNarrowerThanTheFeaturesReadIsA400() throws {
        var random = SplitMix(state: 3)
        let forest = Self.randomForest(&random, trees: 4, maxDepth: 3, features: 5, targets: 1, mode: .leq, lopsided: true)
        try #require(forest.maxFeature >= 0)
        let narrow = (rows: 2, features: forest.maxFeature, values: [Float](repeating: 0, count: 2 * forest.maxFeature))
        #expect(throws: HedgerowError.self) { try ForestWalk(forest).accumulate(narrow, aggregate: .sum, node: node) }
    }
}

extension ModelMutationTests.Random {
    /// A float in [0, 1) with 24 random bits.
    mutating func unit() -> Float { Float(next() >> 40) / Float(1 << 24) }
}
