import HedgerowCore
@testable import HedgerowRuntime
import Testing

/// The row walk behind Transpose, Slice, Split, Expand and broadcast arithmetic: it merges what it may and never
/// anything else, so every copy and every broadcast equals the element-by-element definition.
@Suite struct StridedRowsTests {
    /// The element-by-element definition: offsets start + Σ index[d]·strides[d] in row-major order.
    static func naive(_ values: [Int], shape: [Int], strides: [Int], start: Int = 0) -> [Int] {
        DataMovement.offsets(shape: shape, strides: strides, start: start).map { values[$0] }
    }

    @Test func aPerChannelOperandBecomesRowsOfOnePlane() {
        // [N, C, H, W] × [1, C, 1, 1]: A walks rows of H·W contiguously, B stays put along each.
        let walk = StridedRows(shape: [2, 3, 4, 5], strides: [[60, 20, 5, 1], [0, 1, 0, 0]])
        #expect(walk.length == 20 && walk.inner == [1, 0] && walk.rows == 6)
        var seen: [[Int]] = []
        walk.forEachRow { row, a, b in seen.append([row, a, b]) }
        #expect(seen == [[0, 0, 0], [1, 20, 1], [2, 40, 2], [3, 60, 0], [4, 80, 1], [5, 100, 2]])
    }

    @Test func sizeOneAxesAndEmptyShapesAreHandled() {
        let scalar = StridedRows(shape: [1, 1], strides: [[1, 1]])
        #expect(scalar.rows == 1 && scalar.length == 1)
        let empty = StridedRows(shape: [3, 0, 2], strides: [[0, 2, 1]])
        #expect(empty.rows == 0)
        var called = false
        empty.forEachRow { _, _, _ in called = true }
        #expect(!called)
        #expect([Int]().strided(shape: [0, 4], strides: [4, 1]).isEmpty)
    }

    @Test(arguments: [[0, 2, 1, 3], [0, 2, 3, 1], [3, 2, 1, 0], [1, 0, 2, 3], [0, 1, 2, 3]])
    func transposesEqualTheDefinition(_ perm: [Int]) {
        let shape = [2, 3, 4, 5], values = Array(0..<120)
        let strides = DataMovement.strides(shape)
        let outShape = perm.map { shape[$0] }, walk = perm.map { strides[$0] }
        #expect(values.strided(shape: outShape, strides: walk) == Self.naive(values, shape: outShape, strides: walk))
        let strings = values.map(String.init)
        #expect(strings.strided(shape: outShape, strides: walk) == Self.naive(values, shape: outShape, strides: walk).map(String.init))
    }

    @Test func slicesWithStepsAndBroadcastsEqualTheDefinition() {
        let values = Array(0..<120)
        // x[:, ::-1, 1::2, :] of [2, 3, 4, 5], and [3, 1] broadcast to [2, 3, 4].
        #expect(values.strided(shape: [2, 3, 2, 5], strides: [60, -20, 10, 1], start: 45) == Self.naive(values, shape: [2, 3, 2, 5], strides: [60, -20, 10, 1], start: 45))
        #expect(values.strided(shape: [2, 3, 4], strides: [0, 1, 0]) == Self.naive(values, shape: [2, 3, 4], strides: [0, 1, 0]))
    }

    @Test func broadcastArithmeticEqualsTheDefinitionOnEveryPattern() throws {
        let patterns: [([Int], [Int])] = [
            ([2, 3, 4, 5], [1, 3, 1, 1]), ([2, 3, 4, 5], [3, 1, 5]), ([1, 3, 1, 5], [2, 1, 4, 1]), ([4, 1], [1, 5]), ([2, 1, 4], [3, 1]),
        ]
        for (aShape, bShape) in patterns {
            let a = (0..<aShape.reduce(1, *)).map { Float($0) }, b = (0..<bShape.reduce(1, *)).map { Float($0) * 1000 }
            let (out, shape) = try Broadcast.binary(a, aShape, b, bShape, node: "n", +)
            let ia = Broadcast.indices(of: aShape, in: shape), ib = Broadcast.indices(of: bShape, in: shape)
            #expect(out == zip(ia, ib).map { a[$0] + b[$1] }, "\(aShape) + \(bShape)")
            let (flipped, _) = try Broadcast.binary(b, bShape, a, aShape, node: "n", -)
            #expect(flipped == zip(ia, ib).map { b[$1] - a[$0] }, "\(bShape) - \(aShape)")
        }
    }
}
