"""Trains the digits MLP classifier and exports it as Models/digits/1/model.onnx.

Regenerate (from the repository root, in a virtualenv with the packages below):

    pip install scikit-learn onnx onnxruntime numpy
    python Models/digits/make_digits.py

Writes:
  Models/digits/1/model.onnx          input `input` float[N,64] (pixels / 16), output `probabilities` float[N,10]
  Models/digits/testset.json          held-out rows: {"inputs": [[64 floats]...], "labels": [...]}
  Models/digits/1/reference.json      the test set, onnxruntime's probabilities for it and its labels (golden outputs)
The graph is built node by node from the trained weights (Gemm -> Relu -> Gemm -> Softmax), so it has plain tensor
outputs and no ZipMap; onnxruntime's answers are checked against scikit-learn's predict_proba before anything is written.
"""
import json
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

HERE = os.path.dirname(os.path.abspath(__file__))


def main() -> None:
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=360, random_state=7, stratify=y)

    clf = MLPClassifier(hidden_layer_sizes=(64,), max_iter=600, random_state=7)
    clf.fit(x_train, y_train)
    accuracy = clf.score(x_test, y_test)
    print(f"scikit-learn held-out accuracy: {accuracy:.4f}")

    w1, w2 = (w.astype(np.float32) for w in clf.coefs_)
    b1, b2 = (b.astype(np.float32) for b in clf.intercepts_)
    nodes = [
        helper.make_node("Gemm", ["input", "W1", "B1"], ["hidden_linear"], name="dense1"),
        helper.make_node("Relu", ["hidden_linear"], ["hidden"], name="relu1"),
        helper.make_node("Gemm", ["hidden", "W2", "B2"], ["logits"], name="dense2"),
        helper.make_node("Softmax", ["logits"], ["probabilities"], name="softmax", axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "digits_mlp",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 64])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 10])],
        initializer=[
            numpy_helper.from_array(w1, "W1"),
            numpy_helper.from_array(b1, "B1"),
            numpy_helper.from_array(w2, "W2"),
            numpy_helper.from_array(b2, "B2"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="hedgerow-digits")
    model.ir_version = 8
    onnx.checker.check_model(model)

    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (probabilities,) = session.run(["probabilities"], {"input": x_test})
    np.testing.assert_allclose(probabilities, clf.predict_proba(x_test), rtol=1e-4, atol=1e-5)
    onnx_accuracy = float((probabilities.argmax(axis=1) == y_test).mean())
    print(f"onnxruntime held-out accuracy: {onnx_accuracy:.4f}")

    version_dir = os.path.join(HERE, "1")
    os.makedirs(version_dir, exist_ok=True)
    onnx.save(model, os.path.join(version_dir, "model.onnx"))
    with open(os.path.join(HERE, "testset.json"), "w") as f:
        json.dump({"inputs": [[float(v) for v in row] for row in x_test], "labels": [int(v) for v in y_test]}, f)
    with open(os.path.join(version_dir, "reference.json"), "w") as f:
        # The golden-output gate's format: the worker checks the version against it before it serves.
        json.dump({"producer": f"onnxruntime {ort.__version__}",
                   "inputs": {"input": [[float(v) for v in row] for row in x_test]},
                   "outputs": {"probabilities": [[float(v) for v in row] for row in probabilities]},
                   "labels": [int(v) for v in y_test], "minAccuracy": 0.95}, f)
    print(f"wrote {len(y_test)} held-out rows")


if __name__ == "__main__":
    main()
