"""Trains a small CNN on scikit-learn's handwritten digits and exports it as Models/digits-cnn/1/model.onnx.

Regenerate (from the repository root, in a virtualenv with the packages below):

    pip install scikit-learn onnx onnxruntime numpy
    python Models/digits-cnn/make_digits_cnn.py

The network is trained here in numpy (forward and backward written out; no deep-learning framework needed):

    images float[N,1,8,8] (pixels / 16)
      -> Conv 8x3x3, pad 1 -> BatchNormalization -> Relu -> MaxPool 2x2     [N,8,4,4]
      -> Conv 16x3x3, pad 1 -> BatchNormalization -> Relu -> MaxPool 2x2    [N,16,2,2]
      -> Flatten -> Gemm 64->32 -> Relu -> Gemm 32->10 -> Softmax            probabilities float[N,10]

BatchNormalization trains on batch statistics and exports the running ones (inference mode), as frameworks do.
The held-out split is the digits MLP's (360 rows, random_state 7), so the two models can be compared.
Writes model.onnx and reference.json (onnxruntime's probabilities for 32 held-out images, and the held-out
accuracy); onnxruntime's answers are checked against this script's own numpy forward pass first.
"""
import json
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

HERE = os.path.dirname(os.path.abspath(__file__))
EPS = 1e-5


def im2col(x):
    """[B,C,H,W] -> [B*H*W, C*9] for a 3x3 kernel, stride 1, pad 1 (columns in C, kh, kw order as ONNX's weights)."""
    b, c, h, w = x.shape
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    cols = np.empty((b, h, w, c, 3, 3), dtype=x.dtype)
    for i in range(3):
        for j in range(3):
            cols[:, :, :, :, i, j] = padded[:, :, i:i + h, j:j + w].transpose(0, 2, 3, 1)
    return cols.reshape(b * h * w, c * 9)


def col2im(dcols, shape):
    b, c, h, w = shape
    d = dcols.reshape(b, h, w, c, 3, 3)
    padded = np.zeros((b, c, h + 2, w + 2), dtype=dcols.dtype)
    for i in range(3):
        for j in range(3):
            padded[:, :, i:i + h, j:j + w] += d[:, :, :, :, i, j].transpose(0, 3, 1, 2)
    return padded[:, :, 1:-1, 1:-1]


class Block:
    """Conv 3x3 pad 1 -> BatchNormalization -> Relu -> MaxPool 2x2, in NCHW."""

    def __init__(self, rng, cin, cout):
        self.w = (rng.standard_normal((cout, cin * 9)) * np.sqrt(2.0 / (cin * 9))).astype(np.float32)
        self.b = np.zeros(cout, np.float32)
        self.gamma = np.ones(cout, np.float32)
        self.beta = np.zeros(cout, np.float32)
        self.mean = np.zeros(cout, np.float32)
        self.var = np.ones(cout, np.float32)
        self.params = [self.w, self.b, self.gamma, self.beta]

    def forward(self, x, train):
        b, _, h, w = x.shape
        cols = im2col(x)
        z = cols @ self.w.T + self.b                        # [B*H*W, Cout]
        if train:
            mu, var = z.mean(0), z.var(0)
            self.mean = 0.9 * self.mean + 0.1 * mu
            self.var = 0.9 * self.var + 0.1 * var * len(z) / (len(z) - 1)
        else:
            mu, var = self.mean, self.var
        inv = 1.0 / np.sqrt(var + EPS)
        xhat = (z - mu) * inv
        y = self.gamma * xhat + self.beta
        r = np.maximum(y, 0).reshape(b, h, w, -1).transpose(0, 3, 1, 2)   # [B,C,H,W]
        c = r.shape[1]
        windows = r.reshape(b, c, h // 2, 2, w // 2, 2)
        p = windows.max(axis=(3, 5))
        self.cache = (x.shape, cols, xhat, inv, y, windows, p)
        return p

    def backward(self, dp):
        shape, cols, xhat, inv, y, windows, p = self.cache
        b, _, h, w = shape
        mask = windows == p[:, :, :, None, :, None]
        mask = mask / mask.sum(axis=(3, 5), keepdims=True)
        dr = (mask * dp[:, :, :, None, :, None]).reshape(b, -1, h, w)
        dy = dr.transpose(0, 2, 3, 1).reshape(len(y), -1) * (y > 0)
        n = len(dy)
        dgamma, dbeta = (dy * xhat).sum(0), dy.sum(0)
        dxhat = dy * self.gamma
        dz = inv / n * (n * dxhat - dxhat.sum(0) - xhat * (dxhat * xhat).sum(0))
        grads = [dz.T @ cols, dz.sum(0), dgamma, dbeta]
        dx = col2im(dz @ self.w, shape)
        return dx, grads


class Network:
    def __init__(self, seed):
        rng = np.random.default_rng(seed)
        self.blocks = [Block(rng, 1, 8), Block(rng, 8, 16)]
        self.w1 = (rng.standard_normal((64, 32)) * np.sqrt(2 / 64)).astype(np.float32)
        self.b1 = np.zeros(32, np.float32)
        self.w2 = (rng.standard_normal((32, 10)) * np.sqrt(2 / 32)).astype(np.float32)
        self.b2 = np.zeros(10, np.float32)
        self.params = self.blocks[0].params + self.blocks[1].params + [self.w1, self.b1, self.w2, self.b2]

    def forward(self, x, train=False):
        for block in self.blocks:
            x = block.forward(x, train)
        self.flat = x.reshape(len(x), -1)
        self.hidden_pre = self.flat @ self.w1 + self.b1
        self.hidden = np.maximum(self.hidden_pre, 0)
        logits = self.hidden @ self.w2 + self.b2
        e = np.exp(logits - logits.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    def backward(self, probabilities, labels):
        d = probabilities.copy()
        d[np.arange(len(labels)), labels] -= 1
        d /= len(labels)
        grads_head = [self.hidden.T @ d, d.sum(0)]
        dh = (d @ self.w2.T) * (self.hidden_pre > 0)
        grads_hidden = [self.flat.T @ dh, dh.sum(0)]
        dx = (dh @ self.w1.T).reshape(len(d), 16, 2, 2)
        dx, grads_b2 = self.blocks[1].backward(dx)
        _, grads_b1 = self.blocks[0].backward(dx)
        return grads_b1 + grads_b2 + grads_hidden + grads_head


def train(x, y, seed=7, epochs=60, batch=32, lr=3e-3):
    net = Network(seed)
    rng = np.random.default_rng(seed)
    m = [np.zeros_like(p) for p in net.params]
    v = [np.zeros_like(p) for p in net.params]
    step = 0
    for epoch in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch):
            idx = order[start:start + batch]
            if len(idx) < 2:
                continue
            grads = net.backward(net.forward(x[idx], train=True), y[idx])
            step += 1
            for p, g, mi, vi in zip(net.params, grads, m, v):  # Adam, in place
                mi[...] = 0.9 * mi + 0.1 * g
                vi[...] = 0.999 * vi + 0.001 * g * g
                p -= (lr * (mi / (1 - 0.9 ** step)) / (np.sqrt(vi / (1 - 0.999 ** step)) + 1e-8)).astype(np.float32)
    return net


def export(net):
    b1, b2 = net.blocks
    init = []
    nodes = []
    for k, (block, source) in enumerate([(b1, "images"), (b2, "pool1")], start=1):
        cout = block.w.shape[0]
        init += [
            numpy_helper.from_array(block.w.reshape(cout, -1, 3, 3), f"conv{k}.weight"),
            numpy_helper.from_array(block.b, f"conv{k}.bias"),
            numpy_helper.from_array(block.gamma, f"bn{k}.scale"),
            numpy_helper.from_array(block.beta, f"bn{k}.bias"),
            numpy_helper.from_array(block.mean.astype(np.float32), f"bn{k}.mean"),
            numpy_helper.from_array(block.var.astype(np.float32), f"bn{k}.var"),
        ]
        nodes += [
            helper.make_node("Conv", [source, f"conv{k}.weight", f"conv{k}.bias"], [f"conv{k}"], name=f"conv{k}",
                             kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
            helper.make_node("BatchNormalization", [f"conv{k}", f"bn{k}.scale", f"bn{k}.bias", f"bn{k}.mean", f"bn{k}.var"],
                             [f"bn{k}"], name=f"bn{k}", epsilon=EPS),
            helper.make_node("Relu", [f"bn{k}"], [f"relu{k}"], name=f"relu{k}"),
            helper.make_node("MaxPool", [f"relu{k}"], [f"pool{k}"], name=f"pool{k}", kernel_shape=[2, 2], strides=[2, 2]),
        ]
    init += [numpy_helper.from_array(net.w1, "fc1.weight"), numpy_helper.from_array(net.b1, "fc1.bias"),
             numpy_helper.from_array(net.w2, "fc2.weight"), numpy_helper.from_array(net.b2, "fc2.bias")]
    nodes += [
        helper.make_node("Flatten", ["pool2"], ["flat"], name="flatten", axis=1),
        helper.make_node("Gemm", ["flat", "fc1.weight", "fc1.bias"], ["fc1"], name="fc1"),
        helper.make_node("Relu", ["fc1"], ["hidden"], name="relu3"),
        helper.make_node("Gemm", ["hidden", "fc2.weight", "fc2.bias"], ["logits"], name="fc2"),
        helper.make_node("Softmax", ["logits"], ["probabilities"], name="softmax", axis=1),
    ]
    graph = helper.make_graph(
        nodes, "digits_cnn",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["N", 1, 8, 8])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 10])],
        initializer=init,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="hedgerow-digits-cnn")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def main() -> None:
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=360, random_state=7, stratify=y)
    net = train(x_train, y_train)
    mine = net.forward(x_test)
    print(f"numpy held-out accuracy: {(mine.argmax(1) == y_test).mean():.4f}")

    model = export(net)
    path = os.path.join(HERE, "1", "model.onnx")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    onnx.save(model, path)
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    (probabilities,) = session.run(None, {"images": x_test})
    np.testing.assert_allclose(probabilities, mine, rtol=1e-3, atol=1e-5)
    accuracy = float((probabilities.argmax(1) == y_test).mean())
    print(f"onnxruntime held-out accuracy: {accuracy:.4f}")
    reference = {
        "producer": f"onnxruntime {ort.__version__}",
        "heldOutAccuracy": accuracy,
        "labels": [int(v) for v in y_test[:32]],
        "inputs": {"images": x_test[:32].astype(float).tolist()},
        "outputs": {"probabilities": probabilities[:32].astype(float).tolist()},
    }
    with open(os.path.join(HERE, "1", "reference.json"), "w") as f:
        json.dump(reference, f)
    print(f"wrote {path} ({os.path.getsize(path) / 1e3:.1f} kB) and reference.json")


if __name__ == "__main__":
    main()
