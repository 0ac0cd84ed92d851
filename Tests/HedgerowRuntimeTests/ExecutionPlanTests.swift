@testable import HedgerowRuntime
import Testing

/// Names resolved to slots at load: what each node reads and writes, and when an intermediate is let go.
@Suite struct ExecutionPlanTests {
    static func node(_ name: String, _ inputs: [String], _ outputs: [String]) -> Node {
        Node(name: name, opType: "Add", inputs: inputs, outputs: outputs, attributes: [:])
    }

    @Test func referencesAndReleasesFollowTheNodeOrder() {
        let plan = ExecutionPlan(
            inputs: ["x"],
            nodes: [Self.node("a", ["x", "w"], ["h", "unused"]), Self.node("b", ["h", ""], ["y"]), Self.node("c", ["h", "y"], ["z"])],
            initializers: ["w": Tensor(shape: [1], floats: [2])], outputs: ["y", "z", "w"])
        #expect(plan.inputSlots == [0])
        #expect(plan.nodeInputs == [[0, -1], [1, ExecutionPlan.absent], [1, 3]])
        #expect(plan.nodeOutputs == [[1, 2], [3], [4]])
        // "unused" goes as soon as it is written, "x" after its only reader, "h" after its last; graph outputs stay.
        #expect(plan.releases == [[0, 2], [], [1]])
        #expect(plan.outputReferences == [3, 4, -1])
        // Only "unused" and "h" are buffers the run made and nobody keeps: "x" is the caller's, "y" and "z" outputs.
        #expect(plan.recycled == [1, 2])
        #expect(plan.value(-1, in: [])?.count == 1 && plan.value(ExecutionPlan.absent, in: []) == nil)
    }

    @Test func aBufferGoesBackOnlyWhenItsLastViewIsReleased() {
        func node(_ op: String, _ inputs: [String], _ outputs: [String]) -> Node { Node(name: outputs[0], opType: op, inputs: inputs, outputs: outputs, attributes: [:]) }
        // a = Relu(x); v = Reshape(a) (a view of a's buffer); b = Neg(v); w = Reshape(c) (an initializer's buffer).
        let plan = ExecutionPlan(
            inputs: ["x"],
            nodes: [node("Relu", ["x"], ["a"]), node("Reshape", ["a", "s"], ["v"]), node("Neg", ["a"], ["b"]), node("Neg", ["v"], ["y"]), node("Reshape", ["c", "s"], ["w"]), node("Add", ["w", "b"], ["z"])],
            initializers: ["s": Tensor(shape: [1], int64s: [4]), "c": Tensor(shape: [4], floats: [1, 2, 3, 4])], outputs: ["y", "z"])
        // Slots: x 0, a 1, v 2, b 3, y 4, w 5, z 6. a's buffer goes back with v, its last holder; b's after Add.
        #expect(plan.recycled == [2, 3])
    }

    @Test func aNameWrittenAgainIsReadFromItsLatestWriter() {
        // An initializer shadowed by a graph input of the same name (older exporters write defaults so) is the input.
        let plan = ExecutionPlan(inputs: ["x"], nodes: [Self.node("a", ["x"], ["y"])], initializers: ["x": Tensor(shape: [1], floats: [0])], outputs: ["y"])
        #expect(plan.nodeInputs == [[0]])
    }
}
