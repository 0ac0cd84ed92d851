"""The scikit-learn examples served by Hedgerow (router + 2 workers, `hedgerow up`) and by Seldon MLServer with its
own sklearn runtime (the same models, rebuilt by train.py and checked against the ONNX exports), one row per
request in KServe v2 JSON, measured by h2load closed loop. See run.sh."""
import argparse, json, os, shutil, statistics, subprocess, sys, tempfile, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "Benchmarks", "lib"))
sys.path.insert(0, os.path.join(ROOT, "Benchmarks", "proxy"))
from h2loadrun import free_ports, h2load  # noqa: E402
from mlserver import Server  # noqa: E402  (Benchmarks/proxy/mlserver.py: process-group handling)
from upprocs import pct, stop  # noqa: E402

VENV = os.path.expanduser("~/.cache/hedgerow-bench/mlserver-sklearn-venv")
# Pinned so that train.py rebuilds the very models the ONNX examples were exported from (scikit-learn 1.9.1);
# uvloop 0.22+ kills MLServer's parallel inference workers at start.
PACKAGES = ["mlserver==1.7.1", "mlserver-sklearn==1.7.1", "scikit-learn==1.9.1", "uvloop==0.21.0"]
MODELS = {"iris-logreg": "predict_proba", "iris-forest": "predict_proba", "diabetes-gbr": "predict"}


def ensure_venv():
    stamp = os.path.join(VENV, ".hedgerow-pins")
    if os.path.exists(os.path.join(VENV, "bin", "mlserver")) and open(stamp).read() == " ".join(PACKAGES):
        return
    shutil.rmtree(VENV, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    subprocess.run([os.path.join(VENV, "bin", "pip"), "install", "-q", "--disable-pip-version-check"] + PACKAGES, check=True)
    with open(stamp, "w") as f:
        f.write(" ".join(PACKAGES))


def row(model):
    with open(os.path.join(ROOT, "Models", model, "1", "reference.json")) as f:
        return json.load(f)["inputs"]["input"][0]


def body(model, mlserver):
    x = row(model)
    request = {"inputs": [{"name": "input", "shape": [1, len(x)], "datatype": "FP32", "data": x}]}
    if mlserver:
        request["outputs"] = [{"name": MODELS[model]}]
    return json.dumps(request)


def post(url, data):
    req = urllib.request.Request(url, data.encode(), {"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)


def start_mlserver(workdir):
    subprocess.run([os.path.join(VENV, "bin", "python"), os.path.join(ROOT, "Benchmarks/classic-ml/train.py"), ROOT, workdir], check=True)
    http, grpc, metrics = free_ports(3)
    settings = {"host": "127.0.0.1", "http_port": http, "grpc_port": grpc, "metrics_port": metrics, "parallel_workers": 2, "debug": False,
                "metrics_dir": os.path.join(workdir, ".metrics"), "environments_dir": os.path.join(workdir, ".envs")}
    with open(os.path.join(workdir, "settings.json"), "w") as f:
        json.dump(settings, f)
    for model in MODELS:
        with open(os.path.join(workdir, model, "model-settings.json"), "w") as f:
            json.dump({"name": model, "implementation": "mlserver_sklearn.SKLearnModel", "parameters": {"uri": "./model.joblib"}}, f)
    log = os.path.join(workdir, "mlserver.log")
    proc = subprocess.Popen([os.path.join(VENV, "bin", "mlserver"), "start", workdir], cwd=workdir, stdout=open(log, "w"),
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    server = Server(proc, f"http://127.0.0.1:{http}", None, log)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if all(urllib.request.urlopen(f"{server.url}/v2/models/{m}/ready", timeout=2).status == 200 for m in MODELS):
                return server
        except OSError:
            pass
        time.sleep(0.5)
    server.stop()
    raise SystemExit(f"mlserver did not become ready; see {log}")


def start_hedgerow(binary, workdir):
    router, sync, base, _ = free_ports(4)
    config = os.path.join(workdir, "desired-state.yaml")
    with open(config, "w") as f:
        f.write(f"repository: {os.path.join(ROOT, 'Models')}\nmodels:\n" + "".join(f"  - {{ name: {m}, replicas: 2 }}\n" for m in MODELS))
    out = open(os.path.join(workdir, "up.log"), "w+")
    proc = subprocess.Popen([binary, "up", "--config", config, "--workers", "2", "--router-port", str(router), "--sync-port", str(sync),
                             "--worker-base-port", str(base)], stdout=out, stderr=subprocess.STDOUT, cwd=workdir)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        out.seek(0)
        if "Hedgerow is up." in out.read():
            return proc, f"http://127.0.0.1:{router}"
        time.sleep(0.2)
    stop(proc)
    raise SystemExit(f"hedgerow up did not become ready; see {out.name}")


def check_same_answers(hedgerow, mlserver):
    """Both servers give the same numbers for each model's row before anything is timed."""
    for model, method in MODELS.items():
        ours = post(f"{hedgerow}/v2/models/{model}/infer", body(model, False))["outputs"]
        theirs = post(f"{mlserver}/v2/models/{model}/infer", body(model, True))["outputs"][0]["data"]
        mine = next(o for o in ours if o["name"] in ("probabilities", "variable"))["data"]
        worst = max(abs(a - b) for a, b in zip(mine, theirs))
        if len(mine) != len(theirs) or worst > 1e-4:
            raise SystemExit(f"{model}: Hedgerow {mine} and MLServer {theirs} differ")
        print(f"{model}: Hedgerow and MLServer agree ({method}, max |diff| {worst:.2g})")


def cell(url, data, h1, seconds, workdir):
    body_file = tempfile.mktemp(prefix="body-", suffix=".json", dir=workdir)
    with open(body_file, "w") as f:
        f.write(data)
    log = tempfile.mktemp(prefix="run-", suffix=".log", dir=workdir)
    flags = ["-D", str(seconds), "-c", "32", "--h1"] if h1 else ["-D", str(seconds), "-c", "4", "-m", "16"]
    _, rows = h2load(url, body_file, flags, log)
    ok = [ms for status, ms in rows if status == 200]
    return {"rate": len(ok) / seconds, "p50": pct(ok, 50), "p99": pct(ok, 99), "failed": len(rows) - len(ok)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=os.path.join(ROOT, ".build/release/hedgerow"))
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    args.binary = os.path.abspath(args.binary)
    ensure_venv()
    workdir = tempfile.mkdtemp(prefix="classic-ml-bench-")
    up, mlserver = None, None
    try:
        mlserver = start_mlserver(os.path.join(workdir, "mlserver"))
        up, hedgerow = start_hedgerow(args.binary, workdir)
        check_same_answers(hedgerow, mlserver.url)
        targets = [("Hedgerow h2c", hedgerow, False, False), ("Hedgerow HTTP/1.1", hedgerow, True, False), ("MLServer HTTP/1.1", mlserver.url, True, True)]
        results = {}
        for run in range(args.runs):
            for model in MODELS:
                # Interleaved run by run, so that drift on the machine falls on every target alike.
                for name, url, h1, is_ml in targets:
                    results.setdefault((model, name), []).append(cell(f"{url}/v2/models/{model}/infer", body(model, is_ml), h1, args.seconds, workdir))
        print(f"\none row per request, KServe v2 JSON, h2load closed loop ({args.seconds} s x {args.runs} runs; h2c -c 4 -m 16, HTTP/1.1 -c 32);"
              " median [worst] of runs")
        print(f"{'model':<14}{'target':<20}{'req/s':>16}{'p50 ms':>16}{'p99 ms':>16}{'failed':>8}")
        for model in MODELS:
            for name, *_ in targets:
                cells = results[(model, name)]
                rate = [c["rate"] for c in cells]
                p50, p99 = [c["p50"] for c in cells], [c["p99"] for c in cells]
                print(f"{model:<14}{name:<20}{statistics.median(rate):>9,.0f} [{min(rate):>,.0f}]{statistics.median(p50):>10.2f} [{max(p50):.2f}]"
                      f"{statistics.median(p99):>10.2f} [{max(p99):.2f}]{sum(c['failed'] for c in cells):>8}")
            ml = statistics.median(c["rate"] for c in results[(model, "MLServer HTTP/1.1")])
            h1 = statistics.median(c["rate"] for c in results[(model, "Hedgerow HTTP/1.1")])
            h2 = statistics.median(c["rate"] for c in results[(model, "Hedgerow h2c")])
            print(f"{model:<14}Hedgerow / MLServer req/s: HTTP/1.1 {h1 / ml:.1f}x, h2c {h2 / ml:.1f}x")
    finally:
        if up:
            stop(up)
        if mlserver:
            mlserver.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
