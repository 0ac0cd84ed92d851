"""Our runtime vs onnxruntime on the example models, side by side in one run.

    bash Benchmarks/runtime/run.sh            # builds release, makes a venv with onnxruntime, runs this

For each model under Models/ (digits, digits-cnn, recommender, encoder, and with --models the scikit-learn ones:
iris-logreg, iris-forest, diabetes-gbr): batch-1 latency (median and p99 of
back-to-back runs) and batch-32 throughput (rows/s from the mean run time), for onnxruntime with one intra-op
thread and with all threads, and for `hedgerow bench-runtime` with OpenBLAS on one thread and on all threads.
Both are timed in-process around the run call (onnxruntime's includes its Python binding, a few µs). Inputs are
the same seeded tensors for both; the outputs must agree within 1e-4 relative (1e-6 absolute) or the run fails.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnxruntime as ort

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def inputs_for(model, batch, rng):
    if model == "recommender":
        return {"user": rng.integers(0, 100_000, batch, dtype=np.int64), "item": rng.integers(0, 100_000, batch, dtype=np.int64)}
    if model in ("iris-xgboost", "cancer-lightgbm"):
        # Rows drawn from the model's own test rows (features of very different scales), each nudged by up to 1 %.
        with open(os.path.join(ROOT, "Models", model, "1", "reference.json")) as f:
            rows = np.array(json.load(f)["inputs"]["input"], dtype=np.float32)
        picked = rows[rng.integers(0, len(rows), batch)]
        return {"input": (picked * (1 + 0.01 * (rng.random(picked.shape, dtype=np.float32) - 0.5))).astype(np.float32)}
    shape = {"digits": (64,), "digits-cnn": (1, 8, 8), "encoder": (16, 64), "iris-logreg": (4,), "iris-forest": (4,), "diabetes-gbr": (10,)}[model]
    name = {"digits-cnn": "images", "encoder": "tokens"}.get(model, "input")
    scale = {"iris-logreg": 8.0, "iris-forest": 8.0, "diabetes-gbr": 0.2}.get(model, 1.0)
    return {name: (rng.random((batch,) + shape, dtype=np.float32) * scale).astype(np.float32)}


def time_ort(path, feeds, threads, seconds, max_runs):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    outputs = session.run(names, feeds)
    for _ in range(10):
        session.run(names, feeds)
    runs = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end and len(runs) < max_runs:
        started = time.perf_counter_ns()
        session.run(names, feeds)
        runs.append(time.perf_counter_ns() - started)
    runs.sort()
    return {
        "runs": len(runs), "medianMs": runs[len(runs) // 2] / 1e6, "p99Ms": runs[min(len(runs) - 1, len(runs) * 99 // 100)] / 1e6,
        "meanMs": sum(runs) / len(runs) / 1e6, "outputs": dict(zip(names, outputs)),
    }


def time_ours(binary, path, cases, threads, seconds, max_runs):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({case: {k: {"shape": list(v.shape), "type": "int64" if v.dtype == np.int64 else "float32", "data": v.ravel().tolist()}
                          for k, v in feeds.items()} for case, feeds in cases.items()}, f)
        spec = f.name
    env = dict(os.environ)
    if threads == 1:
        env["OPENBLAS_NUM_THREADS"] = "1"
    else:
        env.pop("OPENBLAS_NUM_THREADS", None)
    out = subprocess.run([binary, "bench-runtime", "--model", path, "--inputs", spec, "--seconds", str(seconds), "--max-runs", str(max_runs)],
                         check=True, capture_output=True, text=True, env=env)
    os.unlink(spec)
    return json.loads(out.stdout)


def agree(ours, theirs, what):
    for name, want in theirs.items():
        got = np.array(ours[name], dtype=np.float64)
        want = np.asarray(want, dtype=np.float64).ravel()
        bad = np.abs(got - want) > 1e-4 * np.abs(want) + 1e-6
        if got.shape != want.shape or bad.any():
            sys.exit(f"{what}: output '{name}' differs from onnxruntime's (max abs diff {np.abs(got - want).max():.3g})")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build/release/hedgerow"))
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--max-runs", type=int, default=20000)
    parser.add_argument("--models", default="digits,digits-cnn,recommender,encoder")
    args = parser.parse_args()
    print(f"onnxruntime {ort.__version__}, {os.cpu_count()} CPUs, {args.seconds:g} s per measurement")
    rows = []
    for model in args.models.split(","):
        path = os.path.join(ROOT, "Models", model, "1", "model.onnx")
        rng = np.random.default_rng(7)
        cases = {"batch1": inputs_for(model, 1, rng), "batch32": inputs_for(model, 32, rng)}
        result = {}
        for threads, label in [(1, "1 thread"), (0, "all threads")]:
            ours = time_ours(args.binary, path, cases, threads, args.seconds, args.max_runs)
            for case, feeds in cases.items():
                theirs = time_ort(path, feeds, threads, args.seconds, args.max_runs)
                agree(ours[case]["outputs"], theirs["outputs"], f"{model} {case} {label}")
                result[(label, case)] = (ours[case], theirs)
        for label in ["1 thread", "all threads"]:
            o1, t1 = result[(label, "batch1")]
            o32, t32 = result[(label, "batch32")]
            ours_rps, theirs_rps = 32 / (o32["meanMs"] / 1e3), 32 / (t32["meanMs"] / 1e3)
            rows.append((model, label, o1["medianMs"], t1["medianMs"], o1["p99Ms"], t1["p99Ms"], ours_rps, theirs_rps))
    print()
    print("| model | threads | batch-1 median ms (ours / ort) | ratio | batch-1 p99 ms (ours / ort) | batch-32 rows/s (ours / ort) | ratio |")
    print("|---|---|---|---|---|---|---|")
    for model, label, o_med, t_med, o_p99, t_p99, o_rps, t_rps in rows:
        print(f"| {model} | {label} | {o_med:.4f} / {t_med:.4f} | {o_med / t_med:.2f}× | {o_p99:.4f} / {t_p99:.4f} | "
              f"{o_rps:,.0f} / {t_rps:,.0f} | {o_rps / t_rps:.2f}× |")
    print()
    print("latency ratio: ours / onnxruntime (goal ≤ 1.0); throughput ratio: ours / onnxruntime (goal ≥ 1.0); outputs agree within 1e-4")


if __name__ == "__main__":
    main()
