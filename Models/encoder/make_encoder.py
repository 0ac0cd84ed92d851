"""Builds the example transformer encoder block and its onnxruntime reference outputs.

Regenerate (from the repository root, in a virtualenv):

    pip install onnx onnxruntime numpy
    python Models/encoder/make_encoder.py

Writes:
  Models/encoder/1/model.onnx      input `tokens` float[N,16,64] (16 positions of width 64), output `encoded` float[N,16,64]
  Models/encoder/1/reference.json  {"inputs": {...}, "outputs": {"encoded": ...}} from onnxruntime
One post-norm encoder block: 4-head self-attention (MatMul, Add, Reshape, Transpose, MatMul, Mul, Softmax), a
residual Add and LayerNormalization, then a feed-forward of width 256 with Gelu (opset 20), residual and
LayerNormalization. Weights are random (seeded): the example exercises the operators and shapes, not a task.
"""
import json
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
SEQ, WIDTH, HEADS, FF = 16, 64, 4, 256
HEAD = WIDTH // HEADS


def main() -> None:
    rng = np.random.default_rng(5)

    def weight(*shape):
        return (rng.standard_normal(shape) / np.sqrt(shape[0])).astype(np.float32)

    def bias(n):
        return (rng.standard_normal(n) * 0.02).astype(np.float32)

    init = {
        "Wq": weight(WIDTH, WIDTH), "Bq": bias(WIDTH), "Wk": weight(WIDTH, WIDTH), "Bk": bias(WIDTH),
        "Wv": weight(WIDTH, WIDTH), "Bv": bias(WIDTH), "Wo": weight(WIDTH, WIDTH), "Bo": bias(WIDTH),
        "W1": weight(WIDTH, FF), "B1": bias(FF), "W2": weight(FF, WIDTH), "B2": bias(WIDTH),
        "ln1_scale": (1 + rng.standard_normal(WIDTH) * 0.05).astype(np.float32), "ln1_bias": bias(WIDTH),
        "ln2_scale": (1 + rng.standard_normal(WIDTH) * 0.05).astype(np.float32), "ln2_bias": bias(WIDTH),
        "heads_shape": np.array([0, 0, HEADS, HEAD], dtype=np.int64),
        "width_shape": np.array([0, 0, WIDTH], dtype=np.int64),
        "scale": np.array(1 / np.sqrt(HEAD), dtype=np.float32),
    }
    n = helper.make_node
    nodes = []
    for name in ["q", "k", "v"]:
        w, b = f"W{name}", f"B{name}"
        nodes += [
            n("MatMul", ["tokens", w], [f"{name}_linear"], name=f"{name}_proj"),
            n("Add", [f"{name}_linear", b], [f"{name}_flat"], name=f"{name}_bias"),
            n("Reshape", [f"{name}_flat", "heads_shape"], [f"{name}_heads"], name=f"{name}_split_heads"),
        ]
    nodes += [
        n("Transpose", ["q_heads"], ["q_t"], name="q_transpose", perm=[0, 2, 1, 3]),
        n("Transpose", ["k_heads"], ["k_t"], name="k_transpose", perm=[0, 2, 3, 1]),
        n("Transpose", ["v_heads"], ["v_t"], name="v_transpose", perm=[0, 2, 1, 3]),
        n("MatMul", ["q_t", "k_t"], ["scores_raw"], name="scores"),
        n("Mul", ["scores_raw", "scale"], ["scores_scaled"], name="scale_scores"),
        n("Softmax", ["scores_scaled"], ["attention"], name="softmax", axis=-1),
        n("MatMul", ["attention", "v_t"], ["context_t"], name="context"),
        n("Transpose", ["context_t"], ["context_heads"], name="context_transpose", perm=[0, 2, 1, 3]),
        n("Reshape", ["context_heads", "width_shape"], ["context"], name="merge_heads"),
        n("MatMul", ["context", "Wo"], ["attended_linear"], name="out_proj"),
        n("Add", ["attended_linear", "Bo"], ["attended"], name="out_bias"),
        n("Add", ["tokens", "attended"], ["residual1"], name="residual1"),
        n("LayerNormalization", ["residual1", "ln1_scale", "ln1_bias"], ["normed1"], name="norm1", axis=-1, epsilon=1e-5),
        n("MatMul", ["normed1", "W1"], ["ff_linear"], name="ff1"),
        n("Add", ["ff_linear", "B1"], ["ff_pre"], name="ff1_bias"),
        n("Gelu", ["ff_pre"], ["ff_act"], name="gelu"),
        n("MatMul", ["ff_act", "W2"], ["ff_out_linear"], name="ff2"),
        n("Add", ["ff_out_linear", "B2"], ["ff_out"], name="ff2_bias"),
        n("Add", ["normed1", "ff_out"], ["residual2"], name="residual2"),
        n("LayerNormalization", ["residual2", "ln2_scale", "ln2_bias"], ["encoded"], name="norm2", axis=-1, epsilon=1e-5),
    ]
    graph = helper.make_graph(
        nodes,
        "encoder_block",
        [helper.make_tensor_value_info("tokens", TensorProto.FLOAT, ["N", SEQ, WIDTH])],
        [helper.make_tensor_value_info("encoded", TensorProto.FLOAT, ["N", SEQ, WIDTH])],
        initializer=[numpy_helper.from_array(v, k) for k, v in init.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)], producer_name="hedgerow-encoder")
    model.ir_version = 9
    onnx.checker.check_model(model)
    path = os.path.join(HERE, "1", "model.onnx")
    onnx.save(model, path)

    tokens = rng.standard_normal((2, SEQ, WIDTH)).astype(np.float32)
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    (encoded,) = session.run(None, {"tokens": tokens})
    reference = {
        "producer": f"onnxruntime {ort.__version__}",
        "inputs": {"tokens": tokens.astype(float).tolist()},
        "outputs": {"encoded": encoded.astype(float).tolist()},
    }
    with open(os.path.join(HERE, "1", "reference.json"), "w") as f:
        json.dump(reference, f)
    print(f"wrote {path} ({os.path.getsize(path) / 1e3:.0f} kB) and reference.json")


if __name__ == "__main__":
    main()
