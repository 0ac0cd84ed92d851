"""Trains three scikit-learn models, exports them with skl2onnx into the ai.onnx.ml domain, and writes each as an
example model with golden outputs from onnxruntime.

Regenerate (from the repository root, in a virtualenv with the packages below):

    pip install scikit-learn skl2onnx onnxruntime numpy
    python Scripts/make-classic-ml-models.py

Writes (each `1/model.onnx` takes `input` float[N, F]):
  Models/iris-logreg/1      StandardScaler -> LogisticRegression (3 classes): Scaler + LinearClassifier + Normalizer
  Models/iris-forest/1      RandomForestClassifier (30 trees, depth <= 6): TreeEnsembleClassifier
  Models/diabetes-gbr/1     GradientBoostingRegressor (60 trees, depth 3): TreeEnsembleRegressor
and beside each model.onnx a reference.json: the test rows, onnxruntime's outputs for them, and the tolerance.
Classifiers are exported without ZipMap (`zipmap: False`): `label` int64[N] and `probabilities` float[N, C].
Before anything is written, onnxruntime's answers are checked against the library's own predict/predict_proba
(within 1e-4) and the script stops if they differ.
"""
import json
import os

import numpy as np
import onnxruntime as ort
import sklearn
import skl2onnx
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType
from sklearn.datasets import load_diabetes, load_iris
from sklearn.ensemble import GradientBoostingRegressor, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "Models")


def export(name, model, x_train, x_test, classifier):
    options = {id(model): {"zipmap": False}} if classifier else None
    onx = convert_sklearn(model, initial_types=[("input", FloatTensorType([None, x_train.shape[1]]))],
                          options=options, target_opset={"": 17, "ai.onnx.ml": 3})
    data = onx.SerializeToString()
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    x = x_test.astype(np.float32)
    names = [o.name for o in session.get_outputs()]
    results = dict(zip(names, session.run(None, {"input": x})))
    if classifier:
        assert (results["label"] == model.predict(x)).all(), f"{name}: onnxruntime's labels differ from predict"
        np.testing.assert_allclose(results["probabilities"], model.predict_proba(x), atol=1e-4, err_msg=name)
    else:
        np.testing.assert_allclose(results["variable"].ravel(), model.predict(x), atol=1e-4, rtol=1e-4, err_msg=name)
    version_dir = os.path.join(ROOT, name, "1")
    os.makedirs(version_dir, exist_ok=True)
    with open(os.path.join(version_dir, "model.onnx"), "wb") as f:
        f.write(data)
    reference = {
        "producer": f"scikit-learn {sklearn.__version__}, skl2onnx {skl2onnx.__version__}, onnxruntime {ort.__version__}",
        "inputs": {"input": x.tolist()},
        "outputs": {k: v.tolist() for k, v in results.items()},
        "tolerance": {"atol": 1e-5, "rtol": 1e-4},
    }
    with open(os.path.join(version_dir, "reference.json"), "w") as f:
        json.dump(reference, f)
    ops = sorted({f"{n.domain or 'ai.onnx'}.{n.op_type}" for n in onx.graph.node})
    print(f"{name}: {len(data)} bytes, outputs {names}, operators {ops}")


def main():
    iris = load_iris()
    x_train, x_test, y_train, _ = train_test_split(iris.data, iris.target, test_size=0.3, random_state=7, stratify=iris.target)
    logreg = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(x_train, y_train)
    export("iris-logreg", logreg, x_train, x_test, classifier=True)
    forest = RandomForestClassifier(n_estimators=30, max_depth=6, random_state=7).fit(x_train, y_train)
    export("iris-forest", forest, x_train, x_test, classifier=True)
    diabetes = load_diabetes()
    x_train, x_test, y_train, _ = train_test_split(diabetes.data, diabetes.target, test_size=0.2, random_state=7)
    gbr = GradientBoostingRegressor(n_estimators=60, max_depth=3, random_state=7).fit(x_train, y_train)
    export("diabetes-gbr", gbr, x_train, x_test, classifier=False)


if __name__ == "__main__":
    main()
