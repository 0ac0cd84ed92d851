"""Trains the scikit-learn examples exactly as Scripts/make-classic-ml-models.py does (same data, split, seeds and
parameters) and saves each as model.joblib for MLServer's sklearn runtime; then checks each against the ONNX
export's reference.json (onnxruntime's answers), so that both servers are known to serve the same model.

Runs in the benchmark's MLServer virtualenv:  python train.py REPOSITORY_ROOT OUTPUT_DIR
"""
import json
import os
import sys

import joblib
import numpy as np
from sklearn.datasets import load_diabetes, load_iris
from sklearn.ensemble import GradientBoostingRegressor, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def models():
    iris = load_iris()
    x_train, _, y_train, _ = train_test_split(iris.data, iris.target, test_size=0.3, random_state=7, stratify=iris.target)
    yield "iris-logreg", make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(x_train, y_train), "predict_proba", "probabilities"
    yield "iris-forest", RandomForestClassifier(n_estimators=30, max_depth=6, random_state=7).fit(x_train, y_train), "predict_proba", "probabilities"
    diabetes = load_diabetes()
    x_train, _, y_train, _ = train_test_split(diabetes.data, diabetes.target, test_size=0.2, random_state=7)
    yield "diabetes-gbr", GradientBoostingRegressor(n_estimators=60, max_depth=3, random_state=7).fit(x_train, y_train), "predict", "variable"


def main():
    root, out = sys.argv[1], sys.argv[2]
    for name, model, method, onnx_output in models():
        with open(os.path.join(root, "Models", name, "1", "reference.json")) as f:
            reference = json.load(f)
        x = np.array(reference["inputs"]["input"], dtype=np.float32)
        got = np.asarray(getattr(model, method)(x)).ravel()
        want = np.asarray(reference["outputs"][onnx_output]).ravel()
        np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-4, err_msg=f"{name}: this scikit-learn does not rebuild the example model")
        os.makedirs(os.path.join(out, name), exist_ok=True)
        joblib.dump(model, os.path.join(out, name, "model.joblib"))
        print(f"{name}: saved, {method} matches the ONNX export's reference within 1e-4")


if __name__ == "__main__":
    main()
