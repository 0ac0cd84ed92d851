import HedgerowCore
@testable import HedgerowRuntime
import Testing

/// Both ways a convolution is unfolded (the padded plane for stride 1, read in place or copied, im2col otherwise),
/// several images to a GEMM or one at a time, against the definition computed directly.
@Suite struct ConvolutionUnfoldTests {
    struct Case: Sendable, CustomStringConvertible {
        var batch = 2, channels = 3, filters = 4, height = 7, width = 6, kernel = [3, 3]
        var strides = [1, 1], dilations = [1, 1], pads = [1, 1, 1, 1]
        var description: String { "batch \(batch) c \(channels) \(height)×\(width) k \(kernel) s \(strides) d \(dilations) pads \(pads)" }
    }

    static let cases: [Case] = [
        Case(),
        Case(pads: [0, 2, 1, 0]),  // asymmetric padding: the plane is wider on one side
        Case(kernel: [5, 3], pads: [2, 0, 2, 1]),
        Case(height: 1, width: 9, kernel: [1, 3], pads: [0, 1, 0, 1]),
        Case(strides: [2, 2]),  // im2col
        Case(dilations: [2, 1], pads: [2, 1, 2, 1]),  // im2col
        Case(batch: 30, channels: 16, filters: 2, height: 32, width: 32),  // more than one GEMM's worth of columns
        Case(batch: 2, channels: 8, filters: 16, height: 40, width: 40),  // one image's product past BLAS.smallProduct: rows copied
    ]

    /// The definition: out[n][m][y][x] = b[m] + Σ w[m][c][i][j]·in[n][c][y·s − pad + i·d][x·s − pad + j·d].
    static func direct(_ c: Case, _ input: [Float], _ weights: [Float], _ bias: [Float], outH: Int, outW: Int) -> [Float] {
        var out = [Float](repeating: 0, count: c.batch * c.filters * outH * outW)
        for n in 0..<c.batch {
            for m in 0..<c.filters {
                for y in 0..<outH {
                    for x in 0..<outW {
                        var sum = Double(bias[m])
                        for ch in 0..<c.channels {
                            for i in 0..<c.kernel[0] {
                                for j in 0..<c.kernel[1] {
                                    let iy = y * c.strides[0] - c.pads[0] + i * c.dilations[0], ix = x * c.strides[1] - c.pads[1] + j * c.dilations[1]
                                    guard iy >= 0, iy < c.height, ix >= 0, ix < c.width else { continue }
                                    let w = weights[((m * c.channels + ch) * c.kernel[0] + i) * c.kernel[1] + j]
                                    sum += Double(w) * Double(input[((n * c.channels + ch) * c.height + iy) * c.width + ix])
                                }
                            }
                        }
                        out[((n * c.filters + m) * outH + y) * outW + x] = Float(sum)
                    }
                }
            }
        }
        return out
    }

    @Test(arguments: cases)
    func unfoldedConvolutionEqualsTheDefinition(_ c: Case) throws {
        let input = (0..<(c.batch * c.channels * c.height * c.width)).map { Float(($0 * 7919) % 23) * 0.1 - 1.1 }
        let weights = (0..<(c.filters * c.channels * c.kernel[0] * c.kernel[1])).map { Float(($0 * 104_729) % 17) * 0.05 - 0.4 }
        let bias = (0..<c.filters).map { Float($0) * 0.3 - 0.5 }
        let attributes: [String: AttributeValue] = [
            "kernel_shape": .ints(c.kernel), "strides": .ints(c.strides), "dilations": .ints(c.dilations), "pads": .ints(c.pads),
        ]
        let out = try runKernel("Conv", [
            Tensor(shape: [c.batch, c.channels, c.height, c.width], floats: input),
            Tensor(shape: [c.filters, c.channels] + c.kernel, floats: weights), Tensor(shape: [c.filters], floats: bias),
        ], attributes)[0]
        let outH = (c.height + c.pads[0] + c.pads[2] - (c.kernel[0] - 1) * c.dilations[0] - 1) / c.strides[0] + 1
        let outW = (c.width + c.pads[1] + c.pads[3] - (c.kernel[1] - 1) * c.dilations[1] - 1) / c.strides[1] + 1
        #expect(out.shape == [c.batch, c.filters, outH, outW])
        let want = Self.direct(c, input, weights, bias, outH: outH, outW: outW)
        let got = try out.floats("out")
        let worst = zip(got, want).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
        #expect(worst < 1e-5, "\(c): differs by \(worst)")
    }

    @Test func theUnfoldingIsChosenByGeometry() throws {
        func unfold(strides: [Int], dilations: [Int]) throws -> ConvolutionUnfold {
            let node = Node(name: "n", opType: "Conv", inputs: [], outputs: ["y"], attributes: ["strides": .ints(strides), "dilations": .ints(dilations), "pads": .ints([1, 1, 1, 1])])
            let g = try WindowGeometry(node: node, input: [8, 8], kernel: [3, 3]).as2D
            return ConvolutionUnfold(g, channels: 2, filters: 3, rows: 18)
        }
        #expect(try unfold(strides: [1, 1], dilations: [1, 1]).padded)
        #expect(try unfold(strides: [1, 1], dilations: [1, 1]).pitch == 10)
        #expect(try !unfold(strides: [2, 2], dilations: [1, 1]).padded)
        #expect(try !unfold(strides: [1, 1], dilations: [2, 2]).padded)
        // The cases above take both padded routes: rows read in place, and rows copied for OpenBLAS.
        #expect(4 * 56 * 27 <= BLAS.smallProduct && 16 * 1680 * 72 > BLAS.smallProduct)
    }

    @Test func aNodeSeeingAnotherShapeGetsThatShapesGeometry() throws {
        // One kernel (one node, one geometry cache) given 5×5 and 8×6 images in turn: every answer has its own shape
        // and equals the definition.
        let kernel = try #require(Operators.kernel(for: "Conv", opset: 13))
        let node = Node(name: "n", opType: "Conv", inputs: [], outputs: ["y"], attributes: ["pads": .ints([1, 1, 1, 1])])
        for (height, width) in [(5, 5), (8, 6), (5, 5), (8, 6)] {
            let c = Case(batch: 1, channels: 1, filters: 1, height: height, width: width)
            let input = (0..<(height * width)).map { Float($0) * 0.1 }, weights = (0..<9).map { Float($0) - 4 }
            let out = try kernel(node, [Tensor(shape: [1, 1, height, width], floats: input), Tensor(shape: [1, 1, 3, 3], floats: weights), Tensor(shape: [1], floats: [0.5])])[0]
            #expect(out.shape == [1, 1, height, width])
            let want = Self.direct(c, input, weights, [0.5], outH: height, outW: width)
            #expect(zip(try out.floats("y"), want).allSatisfy { abs($0 - $1) < 1e-4 }, "\(height)×\(width)")
        }
    }

    /// Depthwise (group = channels = filters): stride 1 runs on the shifted planes, stride 2 on the GEMM route;
    /// both equal the definition, with asymmetric pads and a 5×3 window.
    @Test(arguments: [([1, 1], [1, 1, 1, 1], [3, 3]), ([1, 1], [2, 0, 2, 1], [5, 3]), ([2, 2], [1, 1, 1, 1], [3, 3])])
    func depthwiseConvolutionEqualsTheDefinition(strides: [Int], pads: [Int], kernel: [Int]) throws {
        let (batch, channels, height, width) = (2, 4, 7, 6)
        let input = (0..<(batch * channels * height * width)).map { Float(($0 * 7919) % 23) * 0.1 - 1.1 }
        let weights = (0..<(channels * kernel[0] * kernel[1])).map { Float(($0 * 104_729) % 17) * 0.05 - 0.4 }
        let bias = (0..<channels).map { Float($0) * 0.3 - 0.5 }
        let out = try runKernel("Conv", [
            Tensor(shape: [batch, channels, height, width], floats: input), Tensor(shape: [channels, 1] + kernel, floats: weights),
            Tensor(shape: [channels], floats: bias),
        ], ["kernel_shape": .ints(kernel), "strides": .ints(strides), "pads": .ints(pads), "group": .int(channels)])[0]
        let outH = (height + pads[0] + pads[2] - kernel[0]) / strides[0] + 1, outW = (width + pads[1] + pads[3] - kernel[1]) / strides[1] + 1
        #expect(out.shape == [batch, channels, outH, outW])
        let got = try out.floats("out")
        var worst: Float = 0
        for n in 0..<batch {
            for c in 0..<channels {
                for y in 0..<outH {
                    for x in 0..<outW {
                        var sum = Double(bias[c])
                        for i in 0..<kernel[0] {
                            for j in 0..<kernel[1] {
                                let iy = y * strides[0] - pads[0] + i, ix = x * strides[1] - pads[1] + j
                                guard iy >= 0, iy < height, ix >= 0, ix < width else { continue }
                                sum += Double(weights[(c * kernel[0] + i) * kernel[1] + j]) * Double(input[((n * channels + c) * height + iy) * width + ix])
                            }
                        }
                        worst = max(worst, abs(got[((n * channels + c) * outH + y) * outW + x] - Float(sum)))
                    }
                }
            }
        }
        #expect(worst < 1e-5, "strides \(strides) pads \(pads) kernel \(kernel): differs by \(worst)")
    }
}
