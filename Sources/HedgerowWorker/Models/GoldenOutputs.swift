import Foundation
import HedgerowCore
import HedgerowRuntime

/// A version's `reference.json`: inputs, the outputs the version must give for them, and how close is close
/// enough. The worker checks a version against it after loading and before reporting it AVAILABLE, so a version
/// that answers wrongly never enters the routes (the golden-output gate).
///
/// ```json
/// {
///   "inputs":  { "input": [[0.0, 0.0625, ...], ...] },              // nested lists, batch first
///   "outputs": { "probabilities": [[3.1e-05, ...], ...] },          // what the model must answer
///   "tolerance": { "atol": 1e-4, "rtol": 1e-3 },                    // optional; these are the defaults
///   "labels": [9, 0, ...], "minAccuracy": 0.9,                       // optional: top-1 against labels
///   "accuracyOutput": "probabilities"                               // optional: which output; default the first
/// }
/// ```
/// An element agrees when `|got − want| ≤ atol + rtol·|want|` (numpy's `allclose`). Other keys (`producer`, notes)
/// are ignored. The file comes from the model repository and is treated as hostile like the model: read up to
/// `maxBytes`, parsed by the bounded `JSONReader`, inputs checked against the graph's signatures as requests are.
struct GoldenOutputs {
    static let maxBytes = 64 << 20

    struct Tolerance: Equatable {
        var atol = 1e-4
        var rtol = 1e-3
    }

    struct Expected {
        var name: String
        var shape: [Int]
        var values: [Double]
        /// For a BYTES output (class labels): the exact strings, compared without tolerance.
        var strings: [String]? = nil
    }

    var inputs: [String: Tensor]
    var outputs: [Expected]
    var tolerance = Tolerance()
    var labels: [Int]?
    var minAccuracy: Double?
    var accuracyOutput: String?

    /// Reads `path` for `graph`; a problem in the file fails the load with a message naming it.
    static func load(contentsOf path: String, for graph: ModelGraph) throws(HedgerowError) -> GoldenOutputs {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw HedgerowError(.loadFailed, "reference.json: cannot read \(path)") }
        defer { try? handle.close() }
        let data = (try? handle.read(upToCount: maxBytes + 1)) ?? Data()
        guard data.count <= maxBytes else { throw HedgerowError(.loadFailed, "reference.json: larger than \(maxBytes >> 20) MiB") }
        return try parse(data, for: graph)
    }

    static func parse(_ data: Data, for graph: ModelGraph) throws(HedgerowError) -> GoldenOutputs {
        func refuse(_ message: String) -> HedgerowError { HedgerowError(.loadFailed, "reference.json: \(message)") }
        let root: JSONNode
        do { root = try data.withUnsafeBytes { bytes in try JSONReader.parse(bytes) } } catch {
            throw refuse("not JSON: \((error as? JSONReader.Failure)?.message ?? "\(error)")")
        }
        guard root.isObject, let inputsNode = root["inputs"], inputsNode.isObject, let outputsNode = root["outputs"], outputsNode.isObject else {
            throw refuse(#"expected an object with "inputs" and "outputs", each an object of named nested lists"#)
        }
        var inputs: [String: Tensor] = [:]
        for signature in graph.inputs {
            guard let node = inputsNode[signature.name] else { throw refuse("no value for the model's input '\(signature.name)'") }
            do {
                inputs[signature.name] = try TensorJSON.tensor(node, for: signature)
            } catch {
                throw refuse(error.message)
            }
        }
        var outputs: [Expected] = []
        for signature in graph.outputs {
            guard let node = outputsNode[signature.name] else { continue }
            let flat: TensorJSON.Flattened
            let text = signature.elementType == .string
            do { flat = try TensorJSON.flatten(node, what: "output '\(signature.name)'", text: text) } catch { throw refuse(error.message) }
            outputs.append(Expected(name: signature.name, shape: flat.shape, values: flat.values, strings: text ? flat.strings : nil))
        }
        guard !outputs.isEmpty else {
            throw refuse("\"outputs\" names none of the model's outputs (\(graph.outputs.map(\.name).joined(separator: ", ")))")
        }
        var golden = GoldenOutputs(inputs: inputs, outputs: outputs)
        if let tolerance = root["tolerance"] {
            for (key, path) in [("atol", \Tolerance.atol), ("rtol", \Tolerance.rtol)] {
                guard let node = tolerance[key] else { continue }
                guard case .number(let value) = node, value >= 0, value.isFinite else { throw refuse("tolerance.\(key) must be a number ≥ 0") }
                golden.tolerance[keyPath: path] = value
            }
        }
        if let labels = root["labels"] {
            guard let flat = try? TensorJSON.flatten(labels, what: "labels"), flat.shape.count == 1,
                  flat.values.allSatisfy({ $0 >= 0 && $0 < 1e9 && $0.rounded() == $0 }) else {
                throw refuse("labels must be a list of class indices")
            }
            golden.labels = flat.values.map { Int($0) }
        }
        if let minimum = root["minAccuracy"] {
            guard case .number(let value) = minimum, (0...1).contains(value) else { throw refuse("minAccuracy must be a number from 0 to 1") }
            guard golden.labels != nil else { throw refuse("minAccuracy needs labels") }
            golden.minAccuracy = value
        }
        if let name = root["accuracyOutput"] {
            guard case .string(let value) = name, graph.outputs.contains(where: { $0.name == value }) else {
                throw refuse("accuracyOutput must name one of the model's outputs")
            }
            golden.accuracyOutput = value
        }
        return golden
    }
}

extension GoldenOutputs {
    /// Why `results` (the graph's outputs for `inputs`) fail the gate, naming the first offending element
    /// (`probabilities[3][7]: got 0.12, want 0.71 (tolerance 0.00081)`); nil when every expected output agrees
    /// and the accuracy, if asked for, is reached.
    func disagreement(with results: [String: Tensor]) -> String? {
        for expected in outputs {
            guard let got = results[expected.name] else { return "output '\(expected.name)': the model gave no such output" }
            guard got.shape == expected.shape else {
                return "output '\(expected.name)': got shape \(got.shape), want \(expected.shape)"
            }
            if let strings = expected.strings {
                guard case .string(let have) = got.storage else { return "output '\(expected.name)': got \(got.elementType), want strings" }
                if let i = strings.indices.first(where: { strings[$0] != have[$0] }) {
                    return "\(expected.name)\(Self.index(i, in: expected.shape)): got \(TensorJSONWriter.quoted(String(have[i].prefix(40)))), want \(TensorJSONWriter.quoted(String(strings[i].prefix(40))))"
                }
                continue
            }
            let values = Self.doubles(got)
            for (i, want) in expected.values.enumerated() {
                let limit = tolerance.atol + tolerance.rtol * abs(want)
                let have = values[i]
                if !(abs(have - want) <= limit) {
                    return "\(expected.name)\(Self.index(i, in: expected.shape)): got \(Self.short(have)), want \(Self.short(want)) (tolerance \(Self.short(limit)))"
                }
            }
        }
        if let labels, let minAccuracy {
            let name = accuracyOutput ?? outputs[0].name
            guard let scores = results[name], scores.shape.count == 2, scores.shape[0] == labels.count, scores.shape[1] > 0 else {
                return "accuracy: output '\(name)' is not [\(labels.count), classes] for \(labels.count) labels"
            }
            let values = Self.doubles(scores), classes = scores.shape[1]
            var correct = 0
            for (row, label) in labels.enumerated() {
                let slice = values[row * classes..<(row + 1) * classes]
                if let best = slice.indices.max(by: { slice[$0] < slice[$1] }), best - row * classes == label { correct += 1 }
            }
            let accuracy = Double(correct) / Double(labels.count)
            if accuracy < minAccuracy {
                return "accuracy \(Self.short(accuracy)) on \(labels.count) labelled rows of '\(name)', below the minimum \(Self.short(minAccuracy))"
            }
        }
        return nil
    }

    /// The first row of every input, when every input has a leading batch dimension of the same size N > 1;
    /// with the matching expected outputs. A version must give the same answer for a row alone as in a batch.
    func firstRow() -> GoldenOutputs? {
        let batches = Set(inputs.values.map { $0.shape.first ?? 0 })
        guard batches.count == 1, let n = batches.first, n > 1,
              outputs.allSatisfy({ $0.shape.first == n && ($0.strings?.count ?? $0.values.count) % n == 0 }) else { return nil }
        guard let first = BatchAssembly.split(inputs, rows: [1, n - 1])?.first else { return nil }
        var row = self
        row.labels = labels.map { Array($0.prefix(1)) }
        row.inputs = first
        row.outputs = outputs.map {
            Expected(name: $0.name, shape: [1] + $0.shape.dropFirst(), values: Array($0.values.prefix($0.values.count / n)),
                     strings: $0.strings.map { Array($0.prefix($0.count / n)) })
        }
        return row
    }

    /// Six significant digits: enough to see how far off a value is, short enough to read in a status line.
    static func short(_ value: Double) -> String { String(format: "%.6g", value) }

    static func doubles(_ tensor: Tensor) -> [Double] {
        switch tensor.storage {
        case .float32(let v): v.map(Double.init)
        case .int64(let v): v.map(Double.init)
        case .int32(let v): v.map(Double.init)
        case .bool(let v): v.map { $0 ? 1 : 0 }
        case .string(let v): v.map { Double($0) ?? .nan }
        }
    }

    /// `[3][7]` for flat index 37 of shape [N, 10].
    static func index(_ flat: Int, in shape: [Int]) -> String {
        var rest = flat, parts: [Int] = []
        for dimension in shape.reversed() where dimension > 0 {
            parts.append(rest % dimension)
            rest /= dimension
        }
        return parts.reversed().map { "[\($0)]" }.joined()
    }
}
