"""Builds the example recommender and its onnxruntime reference outputs.

Regenerate (from the repository root, in a virtualenv):

    pip install onnx onnxruntime numpy
    python Models/recommender/make_recommender.py

Writes:
  Models/recommender/1/model.onnx      inputs `user` int64[N] and `item` int64[N] (ids < 100,000),
                                       output `score` float[N,1]
  Models/recommender/1/reference.json  {"inputs": {...}, "outputs": {"score": ...}} from onnxruntime
Two embedding tables of 100,000 rows × 32 (Gather) are concatenated and fed to an MLP (Gemm, Relu, Gemm, Sigmoid).
The weights are random (seeded): no small public data set fits, and what the example exercises is the serving
path — int64 ids, large initializers shared by every request, ids out of range refused.
"""
import json
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
ROWS, DIM, HIDDEN = 100_000, 32, 64


def main() -> None:
    rng = np.random.default_rng(11)
    users = (rng.standard_normal((ROWS, DIM)) * 0.1).astype(np.float32)
    items = (rng.standard_normal((ROWS, DIM)) * 0.1).astype(np.float32)
    w1 = (rng.standard_normal((2 * DIM, HIDDEN)) / np.sqrt(2 * DIM)).astype(np.float32)
    b1 = (rng.standard_normal(HIDDEN) * 0.01).astype(np.float32)
    w2 = (rng.standard_normal((HIDDEN, 1)) / np.sqrt(HIDDEN)).astype(np.float32)
    b2 = np.zeros(1, dtype=np.float32)
    nodes = [
        helper.make_node("Gather", ["user_embedding", "user"], ["user_vector"], name="user_lookup", axis=0),
        helper.make_node("Gather", ["item_embedding", "item"], ["item_vector"], name="item_lookup", axis=0),
        helper.make_node("Concat", ["user_vector", "item_vector"], ["features"], name="concat", axis=1),
        helper.make_node("Gemm", ["features", "W1", "B1"], ["hidden_linear"], name="dense1"),
        helper.make_node("Relu", ["hidden_linear"], ["hidden"], name="relu1"),
        helper.make_node("Gemm", ["hidden", "W2", "B2"], ["logit"], name="dense2"),
        helper.make_node("Sigmoid", ["logit"], ["score"], name="sigmoid"),
    ]
    graph = helper.make_graph(
        nodes,
        "recommender",
        [helper.make_tensor_value_info("user", TensorProto.INT64, ["N"]), helper.make_tensor_value_info("item", TensorProto.INT64, ["N"])],
        [helper.make_tensor_value_info("score", TensorProto.FLOAT, ["N", 1])],
        initializer=[
            numpy_helper.from_array(users, "user_embedding"),
            numpy_helper.from_array(items, "item_embedding"),
            numpy_helper.from_array(w1, "W1"),
            numpy_helper.from_array(b1, "B1"),
            numpy_helper.from_array(w2, "W2"),
            numpy_helper.from_array(b2, "B2"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="hedgerow-recommender")
    model.ir_version = 8
    onnx.checker.check_model(model)
    path = os.path.join(HERE, "1", "model.onnx")
    onnx.save(model, path)

    feeds = {"user": rng.integers(0, ROWS, 16, dtype=np.int64), "item": rng.integers(0, ROWS, 16, dtype=np.int64)}
    feeds["user"][0], feeds["item"][0] = 0, ROWS - 1  # both ends of the tables
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    (score,) = session.run(None, feeds)
    reference = {
        "producer": f"onnxruntime {ort.__version__}",
        "inputs": {k: v.tolist() for k, v in feeds.items()},
        "outputs": {"score": score.astype(float).tolist()},
    }
    with open(os.path.join(HERE, "1", "reference.json"), "w") as f:
        json.dump(reference, f)
    print(f"wrote {path} ({os.path.getsize(path) / 1e6:.1f} MB) and reference.json")


if __name__ == "__main__":
    main()
