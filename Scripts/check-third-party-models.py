"""Serves ONNX models that other projects ship inside their PyPI wheels with Hedgerow and checks every answer against
onnxruntime's. Nothing third-party is committed: the wheels (pinned below) are downloaded into a cache, the models
taken out of them, and a scratch repository built with a reference.json per model (onnxruntime's outputs for fixed,
seeded inputs). Then `hedgerow up` (release build) serves them with the golden-output gate required, every model is
asked through the router in KServe v2 JSON, and each output is compared with onnxruntime's.

    python3 Scripts/check-third-party-models.py [--binary .build/release/hedgerow] [--only ocr-det,magika] [--keep DIR] [--no-timing]

`make test` runs it on the debug build with --no-timing (about 2 minutes).

Prints, per model: who made it, what it is, its size, the operators it needs that Hedgerow's own examples do not,
the largest difference from onnxruntime, and the latency of one request through the router next to onnxruntime's
in-process run (informative; the speed goals are measured by Benchmarks/runtime). Exits 1 when any model is not
served or any answer differs beyond the tolerance. Needs python3-venv and network access to PyPI the first time.
"""
import argparse, hashlib, json, os, shutil, signal, socket, subprocess, sys, tempfile, time, urllib.request, zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "hedgerow-ci", "third-party")
VENV = os.path.join(CACHE, "venv")
PINS = ["onnxruntime==1.32.0", "numpy==2.4.6", "onnx==1.23.2"]
# Absolute and relative tolerance, as numpy's allclose: float32 through a deep network summed in another order.
ATOL, RTOL = 1e-4, 1e-3

# name: (wheel, path of the model inside it, maker and purpose, inputs: name -> (kind, shape))
MODELS = {
    "ocr-det": ("rapidocr-onnxruntime==1.4.4", "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx",
                "PaddleOCR PP-OCRv4 text detector (Paddle, via RapidOCR)", {"x": ("image", [1, 3, 320, 320])}),
    "ocr-rec": ("rapidocr-onnxruntime==1.4.4", "rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx",
                "PaddleOCR PP-OCRv4 text recognizer (Paddle, via RapidOCR)", {"x": ("image", [2, 3, 48, 320])}),
    "ocr-cls": ("rapidocr-onnxruntime==1.4.4", "rapidocr_onnxruntime/models/ch_ppocr_mobile_v2.0_cls_infer.onnx",
                "PaddleOCR text-direction classifier (Paddle, via RapidOCR)", {"x": ("image", [4, 3, 48, 192])}),
    "magika": ("magika==1.0.3", "magika/models/standard_v3_3/model.onnx",
               "Google Magika file-type classifier (Keras/TF)", {"bytes": ("bytes", [4, 2048])}),
    "nudenet": ("nudenet==3.4.2", "nudenet/320n.onnx",
                "NudeNet 320n detector (YOLOv8n, PyTorch)", {"images": ("unit", [1, 3, 320, 320])}),
    "silero-vad": ("silero-vad==6.2.3", "silero_vad/data/silero_vad_16k_sequence.onnx",
                   "Silero VAD voice-activity detector (PyTorch, LSTM)", {"input": ("audio", [16, 576]), "h": ("zeros", [1, 1, 128]), "c": ("zeros", [1, 1, 128])}),
}
# What Hedgerow's own examples (Models/) never use: the operators these models added.
EXAMPLE_OPERATORS = {"Gemm", "MatMul", "Add", "Sub", "Mul", "Div", "Pow", "Sqrt", "Relu", "Sigmoid", "Softmax", "Tanh", "Erf", "Conv",
                     "BatchNormalization", "MaxPool", "Flatten", "Gather", "Concat", "Reshape", "Transpose", "LayerNormalization",
                     "ReduceMean", "Cast", "Constant", "Identity", "Shape", "Slice", "Unsqueeze", "Squeeze", "Split", "Where", "Expand",
                     "ConstantOfShape", "Equal", "ReduceSum", "ReduceMax", "Clip", "GlobalAveragePool", "AveragePool", "Exp", "Gelu"}


def say(message):
    print(f"third-party: {message}", flush=True)


def ensure_venv():
    stamp = os.path.join(VENV, ".hedgerow-pins")
    if os.path.exists(stamp) and open(stamp).read() == " ".join(PINS):
        return
    say(f"creating the virtualenv at {VENV} ({' '.join(PINS)})")
    shutil.rmtree(VENV, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    subprocess.run([os.path.join(VENV, "bin", "pip"), "install", "-q", "--disable-pip-version-check"] + PINS, check=True)
    with open(stamp, "w") as f:
        f.write(" ".join(PINS))


def fetch(name):
    """The model file, taken out of its pinned wheel (downloaded once into the cache)."""
    wheel_spec, member = MODELS[name][0], MODELS[name][1]
    target = os.path.join(CACHE, "models", name + ".onnx")
    if os.path.exists(target):
        return target
    wheels = os.path.join(CACHE, "wheels")
    os.makedirs(wheels, exist_ok=True)
    package = wheel_spec.split("==")[0].replace("-", "_")
    found = [w for w in os.listdir(wheels) if w.lower().startswith(package.lower() + "-" + wheel_spec.split("==")[1])]
    if not found:
        say(f"downloading {wheel_spec}")
        subprocess.run([os.path.join(VENV, "bin", "pip"), "download", "-q", "--no-deps", "--disable-pip-version-check", wheel_spec, "-d", wheels], check=True)
        found = [w for w in os.listdir(wheels) if w.lower().startswith(package.lower() + "-" + wheel_spec.split("==")[1])]
    with zipfile.ZipFile(os.path.join(wheels, found[0])) as z:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with z.open(member) as source, open(target + ".tmp", "wb") as out:
            shutil.copyfileobj(source, out)
    os.replace(target + ".tmp", target)
    return target


REFERENCE = r'''
import json, sys, time
import numpy as np, onnx, onnxruntime as ort
model, spec, out = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
rng = np.random.default_rng(16)
feeds = {}
for name, (kind, shape) in spec.items():
    if kind == "image": feeds[name] = rng.uniform(-1, 1, shape).astype(np.float32)
    elif kind == "unit": feeds[name] = rng.uniform(0, 1, shape).astype(np.float32)
    elif kind == "audio": feeds[name] = (0.1 * np.sin(np.arange(np.prod(shape)) / 7.0) + rng.normal(0, 0.02, np.prod(shape))).reshape(shape).astype(np.float32)
    elif kind == "zeros": feeds[name] = np.zeros(shape, np.float32)
    else: feeds[name] = rng.integers(0, 257, shape).astype(np.int32)
options = ort.SessionOptions()
options.intra_op_num_threads = 1
session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
names = [o.name for o in session.get_outputs()]
outputs = dict(zip(names, session.run(None, feeds)))
times = []
for _ in range(5):
    t = time.perf_counter(); session.run(None, feeds); times.append((time.perf_counter() - t) * 1000)
graph = onnx.load(model).graph
with open(out, "w") as f:
    json.dump({"producer": "onnxruntime " + ort.__version__ + " (Scripts/check-third-party-models.py)",
               "inputs": {k: v.tolist() for k, v in feeds.items()}, "outputs": {k: v.tolist() for k, v in outputs.items()},
               "tolerance": {"atol": %r, "rtol": %r}}, f)
print(json.dumps({"ort_ms": sorted(times)[2], "operators": sorted({n.op_type for n in graph.node}),
                  "datatypes": {i.name: i.type.tensor_type.elem_type for i in graph.input}}))
''' % (ATOL, RTOL)


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def flatten(value):
    if isinstance(value, list):
        out = []
        for v in value:
            out.extend(flatten(v))
        return out
    return [value]


def shape_of(value):
    shape = []
    while isinstance(value, list):
        shape.append(len(value))
        value = value[0] if value else None
    return shape


def runtime_ms(binary, model, inputs, datatypes, work):
    """Median in-process run time of Hedgerow's runtime on `inputs` (hedgerow bench-runtime, one thread)."""
    types = {1: "float32", 6: "int32", 7: "int64"}
    spec = {"case": {k: {"shape": shape_of(v), "type": types[datatypes[k]], "data": flatten(v)} for k, v in inputs.items()}}
    path = os.path.join(work, "bench-inputs.json")
    with open(path, "w") as f:
        json.dump(spec, f)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    out = subprocess.run([binary, "bench-runtime", "--model", model, "--inputs", path, "--seconds", "1", "--max-runs", "20"],
                         capture_output=True, text=True, env=env)
    try:
        return json.loads(out.stdout)["case"]["medianMs"]
    except (ValueError, KeyError):
        return float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=os.path.join(ROOT, ".build/release/hedgerow"))
    ap.add_argument("--only", default="")
    ap.add_argument("--keep", default="", help="build the scratch repository here and leave it")
    ap.add_argument("--no-timing", action="store_true", help="skip the in-process timings (for a debug build, where they mean nothing)")
    args = ap.parse_args()
    names = [n for n in MODELS if not args.only or n in args.only.split(",")]
    args.binary = os.path.abspath(args.binary)
    if not os.access(args.binary, os.X_OK):
        sys.exit(f"no {args.binary}: run `swift build -c release --product hedgerow` first")
    ensure_venv()
    work = args.keep or tempfile.mkdtemp(prefix="third-party-")
    repo = os.path.join(work, "Models")
    facts = {}
    for name in names:
        model = fetch(name)
        version = os.path.join(repo, name, "1")
        os.makedirs(version, exist_ok=True)
        shutil.copy(model, os.path.join(version, "model.onnx"))
        spec = {k: v for k, v in MODELS[name][3].items()}
        result = subprocess.run([os.path.join(VENV, "bin", "python"), "-c", REFERENCE, model, json.dumps(spec), os.path.join(version, "reference.json")],
                                check=True, capture_output=True, text=True)
        facts[name] = json.loads(result.stdout.strip().splitlines()[-1])
        facts[name]["bytes"] = os.path.getsize(model)
        facts[name]["sha256"] = hashlib.sha256(open(model, "rb").read()).hexdigest()[:12]
    config = os.path.join(work, "desired-state.yaml")
    with open(config, "w") as f:
        f.write(f"repository: {repo}\nmodels:\n" + "".join(f"  - {{ name: {n}, replicas: 1, validation: {{ required: true }} }}\n" for n in names))
    router, sync, base, _ = free_ports(4)
    log = open(os.path.join(work, "up.log"), "w+")
    up = subprocess.Popen([args.binary, "up", "--config", config, "--workers", "2", "--router-port", str(router), "--sync-port", str(sync),
                           "--worker-base-port", str(base), "--ready-timeout", "300"], stdout=log, stderr=subprocess.STDOUT, cwd=work)
    failures = 0
    try:
        deadline = time.time() + 330
        while time.time() < deadline and up.poll() is None:
            log.seek(0)
            text = log.read()
            if "Hedgerow is up." in text or "NOT SERVED" in text or "  problem " in text:
                break
            time.sleep(0.5)
        log.seek(0)
        summary = log.read()
        print(f"\n{'model':<12}{'made by / what':<58}{'MB':>6}  {'operators new to Hedgerow':<44}{'max |Δ|':>10}{'router ms':>11}{'ours ms':>9}{'ort ms':>8}  result")
        for name in names:
            spec, fact = MODELS[name], facts[name]
            with open(os.path.join(repo, name, "1", "reference.json")) as f:
                reference = json.load(f)
            datatypes = {1: "FP32", 6: "INT32", 7: "INT64"}
            body = json.dumps({"inputs": [{"name": k, "shape": shape_of(v), "datatype": datatypes[fact["datatypes"][k]], "data": flatten(v)}
                                          for k, v in reference["inputs"].items()]}).encode()
            url = f"http://127.0.0.1:{router}/v2/models/{name}/infer"
            worst, took, verdict = float("nan"), [], "ok"
            try:
                for _ in range(3):
                    t = time.perf_counter()
                    with urllib.request.urlopen(urllib.request.Request(url, body, {"content-type": "application/json"}), timeout=120) as r:
                        answer = json.load(r)
                    took.append((time.perf_counter() - t) * 1000)
                got = {o["name"]: o for o in answer["outputs"]}
                worst = 0.0
                for out_name, want in reference["outputs"].items():
                    o = got.get(out_name)
                    w = flatten(want)
                    if o is None or o["shape"] != shape_of(want) or len(o["data"]) != len(w):
                        verdict = f"output {out_name}: shape {o and o['shape']}, onnxruntime {shape_of(want)}"
                        break
                    for a, b in zip(o["data"], w):
                        d = abs(a - b)
                        worst = max(worst, d)
                        if not d <= ATOL + RTOL * abs(b):
                            verdict = f"output {out_name}: {a} against {b}"
                if verdict != "ok":
                    failures += 1
            except Exception as e:  # noqa: BLE001 — any failure of the request is a failure of the check
                failures += 1
                detail = e.read().decode()[:300] if hasattr(e, "read") else str(e)
                verdict = f"not served: {detail}"
            new_ops = ", ".join(sorted(set(fact["operators"]) - EXAMPLE_OPERATORS)) or "-"
            ours = float("nan") if args.no_timing else runtime_ms(args.binary, os.path.join(repo, name, "1", "model.onnx"), reference["inputs"], fact["datatypes"], work)
            print(f"{name:<12}{spec[2][:57]:<58}{fact['bytes'] / 1e6:>6.1f}  {new_ops[:43]:<44}{worst:>10.2g}{sorted(took)[len(took) // 2] if took else float('nan'):>11.1f}"
                  f"{ours:>9.1f}{fact['ort_ms']:>8.1f}  {verdict}")
        print("\nrouter ms: one request through the router, KServe v2 JSON encoded and decoded (median of 3); ours ms and ort ms:"
              " the graph alone in process, one thread (median), Hedgerow's runtime (hedgerow bench-runtime) and onnxruntime")
        print(f"tolerance: |ours − onnxruntime| ≤ {ATOL} + {RTOL}·|onnxruntime| per element; wheels: "
              + ", ".join(sorted({MODELS[n][0] for n in names})) + f"; reference {PINS[0]}")
        if failures:
            print("\nend of the up log:\n" + summary[-3000:])
    finally:
        up.send_signal(signal.SIGTERM)
        try:
            up.wait(30)
        except subprocess.TimeoutExpired:
            up.kill()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
