"""Our runtime vs onnxruntime on the example models, side by side in one run.

    bash Benchmarks/runtime/run.sh            # builds release, makes a venv with onnxruntime, runs this

For each model under Models/ (digits, digits-cnn, recommender, encoder, and with --models the classic-ML ones:
iris-logreg, iris-forest, diabetes-gbr, iris-xgboost, cancer-lightgbm): batch-1 latency (median and p99 of
back-to-back runs) and batch-32 throughput (rows/s from the mean run time), for onnxruntime with one intra-op
thread and with all threads, and for `hedgerow bench-runtime` with OpenBLAS on one thread and on all threads.
Each cell is measured in --rounds alternating rounds (ours, then onnxruntime, then the other way round), and its
ratio is the median of the rounds' side-by-side ratios, with the worst round beside it: on a shared machine a slow
spell of a few seconds otherwise lands on one side only and moves a ratio by half.
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


def median(values):
    values = sorted(values)
    return values[len(values) // 2]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build/release/hedgerow"))
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--max-runs", type=int, default=20000)
    parser.add_argument("--models", default="digits,digits-cnn,recommender,encoder")
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternating rounds of ours and onnxruntime per cell (seconds split among them): each round's "
                             "ratio is taken side by side, so a slow spell of a shared machine hits both sides of it")
    args = parser.parse_args()
    rounds = max(1, args.rounds)
    slice_seconds = args.seconds / rounds
    print(f"onnxruntime {ort.__version__}, {os.cpu_count()} CPUs, {args.seconds:g} s per measurement in {rounds} alternating rounds")
    rows = []
    for model in args.models.split(","):
        path = os.path.join(ROOT, "Models", model, "1", "model.onnx")
        rng = np.random.default_rng(7)
        cases = {"batch1": inputs_for(model, 1, rng), "batch32": inputs_for(model, 32, rng)}
        for threads, label in [(1, "1 thread"), (0, "all threads")]:
            samples = []
            for r in range(rounds):
                def measure_ours():
                    return time_ours(args.binary, path, cases, threads, slice_seconds, args.max_runs)

                def measure_ort():
                    return {case: time_ort(path, feeds, threads, slice_seconds, args.max_runs) for case, feeds in cases.items()}

                if r % 2 == 0:
                    ours = measure_ours()
                    theirs = measure_ort()
                else:
                    theirs = measure_ort()
                    ours = measure_ours()
                for case in cases:
                    agree(ours[case]["outputs"], theirs[case]["outputs"], f"{model} {case} {label}")
                samples.append((ours, theirs))
            o1 = [o["batch1"] for o, _ in samples]
            t1 = [t["batch1"] for _, t in samples]
            o_rps = [32 / (o["batch32"]["meanMs"] / 1e3) for o, _ in samples]
            t_rps = [32 / (t["batch32"]["meanMs"] / 1e3) for _, t in samples]
            latency_ratios = [a["medianMs"] / b["medianMs"] for a, b in zip(o1, t1)]
            throughput_ratios = [a / b for a, b in zip(o_rps, t_rps)]
            rows.append((model, label, median([o["medianMs"] for o in o1]), median([t["medianMs"] for t in t1]),
                         median([o["p99Ms"] for o in o1]), median([t["p99Ms"] for t in t1]), median(o_rps), median(t_rps),
                         median(latency_ratios), max(latency_ratios), median(throughput_ratios), min(throughput_ratios)))
    print()
    print("| model | threads | batch-1 median ms (ours / ort) | ratio [worst] | batch-1 p99 ms (ours / ort) | batch-32 rows/s (ours / ort) | ratio [worst] |")
    print("|---|---|---|---|---|---|---|")
    for model, label, o_med, t_med, o_p99, t_p99, o_rps, t_rps, lat, lat_worst, thr, thr_worst in rows:
        print(f"| {model} | {label} | {o_med:.4f} / {t_med:.4f} | {lat:.2f}× [{lat_worst:.2f}×] | {o_p99:.4f} / {t_p99:.4f} | "
              f"{o_rps:,.0f} / {t_rps:,.0f} | {thr:.2f}× [{thr_worst:.2f}×] |")
    print()
    print(f"each ratio: the median over {rounds} rounds of ours / onnxruntime measured back to back, [the worst round]; "
          "latency goal ≤ 1.0, throughput goal ≥ 1.0; outputs agree within 1e-4")


if __name__ == "__main__":
    main()
