"""Trains classic-ML models (scikit-learn, XGBoost, LightGBM), exports them to ONNX with skl2onnx and onnxmltools
into the ai.onnx.ml domain, and writes each as an example model with golden outputs from onnxruntime.

Regenerate (from the repository root, in a virtualenv with the packages below):

    pip install scikit-learn skl2onnx onnxruntime numpy pandas xgboost lightgbm onnxmltools
    python Scripts/make-classic-ml-models.py

Writes:
  Models/iris-logreg/1      StandardScaler -> LogisticRegression (3 classes): Scaler + LinearClassifier + Normalizer
  Models/iris-forest/1      RandomForestClassifier (30 trees, depth <= 6): TreeEnsembleClassifier
  Models/diabetes-gbr/1     GradientBoostingRegressor (60 trees, depth 3): TreeEnsembleRegressor
      each takes `input` float[N, F]; the classifiers are exported without ZipMap (`zipmap: False`):
      `label` int64[N] and `probabilities` float[N, C].
  Models/churn-pipeline/1   ColumnTransformer(OneHotEncoder on `plan`, OrdinalEncoder on `region`, StandardScaler on
      `tenure` and `monthly`) -> GradientBoostingClassifier with string classes ("churn", "stay"), exported as
      skl2onnx does by default: string inputs `plan` and `region` [N, 1], float `tenure` and `monthly` [N, 1];
      `output_label` strings[N] and `output_probability`, ZipMap's sequence of maps (OneHotEncoder, LabelEncoder,
      Scaler, TreeEnsembleClassifier with classlabels_strings, ZipMap).
  Models/iris-xgboost/1     XGBClassifier (20 rounds, depth 3) through onnxmltools: `input` float[N, 4] ->
      `label` int64[N], `probabilities` float[N, 3].
  Models/cancer-lightgbm/1  LGBMClassifier (binary, 30 rounds) through onnxmltools: `input` float[N, 30] -> `label`,
      `probabilities` float[N, 2].
and beside each model.onnx a reference.json: the test rows, onnxruntime's outputs for them, and the tolerance. A
ZipMap output is written as the [N, C] lists Hedgerow's runtime computes it as (each row's probabilities in the
order of the class labels). Before anything is written, onnxruntime's answers are checked against the library's
own predict/predict_proba (within 1e-4) and the script stops if they differ.
"""
import json
import os

import numpy as np
import onnxruntime as ort
import pandas as pd
import sklearn
import skl2onnx
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType, StringTensorType
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "Models")


def check_and_write(name, onx, feeds, producer, library_labels=None, library_scores=None, library_values=None):
    """Runs onnxruntime on `feeds`, checks it against the library's own answers, writes model and reference."""
    data = onx.SerializeToString()
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    results = dict(zip(names, session.run(None, feeds)))
    label_name = next((n for n in names if "label" in n), None)
    score_name = next((n for n in names if "prob" in n), None)
    for k, v in results.items():
        if isinstance(v, list):  # ZipMap: one dict per row; the runtime's [N, C], columns in label order
            keys = list(v[0].keys())
            results[k] = np.array([[row[key] for key in keys] for row in v], dtype=np.float32)
    if library_labels is not None:
        assert (results[label_name] == library_labels).all(), f"{name}: onnxruntime's labels differ from predict"
        np.testing.assert_allclose(results[score_name], library_scores, atol=1e-4, err_msg=name)
    if library_values is not None:
        only = next(iter(results.values()))
        np.testing.assert_allclose(only.ravel(), library_values, atol=1e-4, rtol=1e-4, err_msg=name)
    version_dir = os.path.join(ROOT, name, "1")
    os.makedirs(version_dir, exist_ok=True)
    with open(os.path.join(version_dir, "model.onnx"), "wb") as f:
        f.write(data)
    reference = {
        "producer": f"{producer}, onnxruntime {ort.__version__}",
        "inputs": {k: v.tolist() for k, v in feeds.items()},
        "outputs": {k: v.tolist() for k, v in results.items()},
        "tolerance": {"atol": 1e-5, "rtol": 1e-4},
    }
    with open(os.path.join(version_dir, "reference.json"), "w") as f:
        json.dump(reference, f)
    ops = sorted({f"{n.domain or 'ai.onnx'}.{n.op_type}" for n in onx.graph.node})
    print(f"{name}: {len(data)} bytes, outputs {names}, operators {ops}")


SKLEARN = f"scikit-learn {sklearn.__version__}, skl2onnx {skl2onnx.__version__}"


def export(name, model, x_train, x_test, classifier):
    options = {id(model): {"zipmap": False}} if classifier else None
    onx = convert_sklearn(model, initial_types=[("input", FloatTensorType([None, x_train.shape[1]]))],
                          options=options, target_opset={"": 17, "ai.onnx.ml": 3})
    x = x_test.astype(np.float32)
    if classifier:
        check_and_write(name, onx, {"input": x}, SKLEARN, model.predict(x), model.predict_proba(x))
    else:
        check_and_write(name, onx, {"input": x}, SKLEARN, library_values=model.predict(x))


def churn_pipeline():
    """A tabular pipeline of the kind most teams serve: categorical strings and numbers in, string classes out."""
    rng = np.random.default_rng(7)
    n = 800
    plan = rng.choice(["basic", "plus", "premium"], n)
    region = rng.choice(["north", "south", "east", "west"], n)
    tenure = rng.uniform(0, 72, n).round(1).astype(np.float32)
    monthly = (rng.normal(40, 15, n) + np.where(plan == "premium", 30, 0)).round(2).astype(np.float32)
    logit = -1.0 + 0.04 * (monthly - 50) - 0.05 * (tenure - 24) + np.where(region == "south", 0.8, 0) + np.where(plan == "basic", 0.5, 0)
    y = np.where(rng.uniform(size=n) < 1 / (1 + np.exp(-logit)), "churn", "stay")
    frame = pd.DataFrame({"plan": plan, "region": region, "tenure": tenure, "monthly": monthly})
    train, test = slice(0, 700), slice(700, 740)
    pre = ColumnTransformer([("plan", OneHotEncoder(handle_unknown="ignore"), ["plan"]), ("region", OrdinalEncoder(), ["region"]),
                             ("num", StandardScaler(), ["tenure", "monthly"])])
    model = Pipeline([("pre", pre), ("gbc", GradientBoostingClassifier(n_estimators=40, max_depth=3, random_state=7))])
    model.fit(frame[train], y[train])
    types = [("plan", StringTensorType([None, 1])), ("region", StringTensorType([None, 1])),
             ("tenure", FloatTensorType([None, 1])), ("monthly", FloatTensorType([None, 1]))]
    onx = convert_sklearn(model, initial_types=types, target_opset={"": 17, "ai.onnx.ml": 3})
    rows = frame[test]
    feeds = {c: rows[c].to_numpy().reshape(-1, 1) for c in ["plan", "region", "tenure", "monthly"]}
    feeds = {k: (v.astype(object) if k in ("plan", "region") else v.astype(np.float32)) for k, v in feeds.items()}
    check_and_write("churn-pipeline", onx, feeds, SKLEARN, model.predict(rows), model.predict_proba(rows))


def gradient_boosting_libraries():
    import lightgbm
    import onnxmltools
    import xgboost
    from onnxmltools import convert_lightgbm, convert_xgboost
    from onnxmltools.convert.common.data_types import FloatTensorType as MLFloat
    iris = load_iris()
    x_train, x_test, y_train, _ = train_test_split(iris.data, iris.target, test_size=0.3, random_state=7, stratify=iris.target)
    xgb = xgboost.XGBClassifier(n_estimators=20, max_depth=3, random_state=7).fit(x_train, y_train)
    onx = convert_xgboost(xgb, initial_types=[("input", MLFloat([None, 4]))], target_opset=15)
    x = x_test.astype(np.float32)
    check_and_write("iris-xgboost", onx, {"input": x}, f"xgboost {xgboost.__version__}, onnxmltools {onnxmltools.__version__}",
                    xgb.predict(x), xgb.predict_proba(x))
    cancer = load_breast_cancer()
    x_train, x_test, y_train, _ = train_test_split(cancer.data, cancer.target, test_size=0.2, random_state=7, stratify=cancer.target)
    lgbm = lightgbm.LGBMClassifier(n_estimators=30, num_leaves=15, random_state=7, verbose=-1).fit(x_train.astype(np.float32), y_train)
    onx = convert_lightgbm(lgbm, initial_types=[("input", MLFloat([None, x_train.shape[1]]))], target_opset=15, zipmap=False)
    x = x_test.astype(np.float32)
    check_and_write("cancer-lightgbm", onx, {"input": x}, f"lightgbm {lightgbm.__version__}, onnxmltools {onnxmltools.__version__}",
                    lgbm.predict(x), lgbm.predict_proba(x))


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
    churn_pipeline()
    gradient_boosting_libraries()


if __name__ == "__main__":
    main()
