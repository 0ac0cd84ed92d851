#!/usr/bin/env python3
"""Unchanged Triton clients against the router: tritonclient.grpc and tritonclient.http (JSON and binary tensor
data), plus grpcio and curl for what a client library never sends (malformed frames, garbage messages).

    python3 Scripts/check-grpc-clients.py [--binary .build/debug/hedgerow]

Starts `hedgerow up` (two workers, digits and the recommender) on free loopback ports and checks, through the
router's one port:
  - live, ready, model ready and metadata over gRPC and HTTP;
  - gRPC and HTTP binary over TLS on the same port (a self-signed certificate made for the run);
  - inference on digits (FP32) and the recommender (INT64 inputs) as HTTP JSON, HTTP binary and gRPC: outputs
    bit-identical to the JSON path's;
  - a wrong shape is INVALID_ARGUMENT (gRPC) / 400 (HTTP) naming the input; an unknown model NOT_FOUND / 404; a
    body over the router's limit RESOURCE_EXHAUSTED;
  - with one worker stopped (SIGSTOP), gRPC calls with a 50 ms deadline are hedged and answer; with both stopped,
    a call fails DEADLINE_EXCEEDED on time, both by the client's deadline and by the router's own (no client deadline,
    Hedgerow-Timeout-Ms instead: the status then comes from the router);
  - malformed gRPC (a length prefix past the body, the compressed flag without grpc-encoding, a garbage message,
    an unknown method) gets a clean status, and the router and workers still answer afterwards.
Exits 1 on the first failed check. `make test` runs it. Needs python3-venv and PyPI the first time (pinned below).
"""
import argparse, json, os, shutil, signal, socket, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "hedgerow-ci", "grpc-clients")
VENV = os.path.join(CACHE, "venv")
PINS = ["tritonclient[grpc,http]==2.73.0", "grpcio==1.85.4", "numpy==2.4.6"]


def say(message):
    print(f"grpc-clients: {message}", flush=True)


def ensure_venv():
    stamp = os.path.join(VENV, ".hedgerow-pins")
    if os.path.exists(stamp) and open(stamp).read() == " ".join(PINS):
        return
    say(f"creating the virtualenv ({' '.join(PINS)})")
    shutil.rmtree(VENV, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    subprocess.run([os.path.join(VENV, "bin", "pip"), "install", "-q", "--disable-pip-version-check"] + PINS, check=True)
    with open(stamp, "w") as f:
        f.write(" ".join(PINS))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build/debug/hedgerow"))
    parser.add_argument("--inside-venv", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.inside_venv:
        ensure_venv()
        os.execv(os.path.join(VENV, "bin", "python"), [os.path.join(VENV, "bin", "python"), os.path.abspath(__file__),
                                                      "--binary", os.path.abspath(args.binary), "--inside-venv"])
    run(args.binary)


def run(binary):
    work = tempfile.mkdtemp(prefix="hedgerow-grpc-")
    config = os.path.join(work, "desired-state.yaml")
    with open(config, "w") as f:
        f.write(f"repository: {os.path.join(ROOT, 'Models')}\n"
                "defaults:\n  replicas: 2\n  hedging: { percentile: 90, budgetPercent: 50, minDelayMs: 1, maxDelayMs: 1000 }\n"
                "models:\n  - name: digits\n    versions: { latest: 1 }\n    labels: { stable: 1 }\n"
                "  - name: recommender\n    versions: { latest: 1 }\n")
    router, sync, base = free_port(), free_port(), free_port()
    while base + 1 in (router, sync):
        base = free_port()
    # The router's port takes TLS too (told apart from h2c by its first bytes): a self-signed certificate for 127.0.0.1.
    cert, key = os.path.join(work, "cert.pem"), os.path.join(work, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    log = open(os.path.join(work, "up.log"), "w")
    up = subprocess.Popen([binary, "up", "--config", config, "--router-port", str(router), "--sync-port", str(sync),
                           "--worker-base-port", str(base), "--ready-timeout", "120", "--tls-cert", cert, "--tls-key", key],
                          stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    stopped = []
    try:
        deadline = time.time() + 180
        while "Hedgerow is up." not in open(os.path.join(work, "up.log")).read():
            if up.poll() is not None or time.time() > deadline:
                print(open(os.path.join(work, "up.log")).read()[-3000:])
                raise SystemExit("grpc-clients: hedgerow up did not come up")
            time.sleep(0.3)
        workers = [worker_pid(base), worker_pid(base + 1)]
        Checks(router, workers, [base, base + 1], stopped, cert).run_all()
        say("all checks passed")
    finally:
        for pid in stopped:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        os.killpg(up.pid, signal.SIGTERM)
        try:
            up.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(up.pid, signal.SIGKILL)
        shutil.rmtree(work, ignore_errors=True)


def worker_pid(port):
    out = subprocess.run(["pgrep", "-f", f"worker --listen 127.0.0.1:{port} "], capture_output=True, text=True).stdout.split()
    if len(out) != 1:
        raise SystemExit(f"grpc-clients: expected one worker on port {port}, found {out}")
    return int(out[0])


class Checks:
    def __init__(self, port, workers, worker_ports, stopped, cert):
        import numpy as np
        import tritonclient.grpc as grpcclient
        import tritonclient.http as httpclient
        self.np, self.grpcclient, self.httpclient = np, grpcclient, httpclient
        self.port, self.workers, self.worker_ports, self.stopped = port, workers, worker_ports, stopped
        self.url = f"127.0.0.1:{port}"
        self.g = grpcclient.InferenceServerClient(self.url)
        self.h = httpclient.InferenceServerClient(self.url)
        self.rng = np.random.default_rng(7)
        self.cert = cert

    def check(self, condition, what):
        if not condition:
            raise SystemExit(f"grpc-clients: FAILED: {what}")
        say(f"ok  {what}")

    def run_all(self):
        self.health()
        self.inference()
        self.tls()
        self.errors()
        self.malformed()
        self.deadlines()

    def health(self):
        for name, client in (("grpc", self.g), ("http", self.h)):
            self.check(client.is_server_live() and client.is_server_ready(), f"{name}: server live and ready")
            self.check(client.is_model_ready("digits") and client.is_model_ready("recommender"), f"{name}: models ready")
        self.check(self.g.is_model_ready("digits", "stable"), "grpc: a label as model_version")
        meta = self.g.get_server_metadata()
        self.check("binary_tensor_data" in meta.extensions, "grpc: server metadata lists binary_tensor_data")
        self.check("binary_tensor_data" in self.h.get_server_metadata()["extensions"], "http: server metadata lists binary_tensor_data")
        model = self.g.get_model_metadata("recommender")
        self.check([(t.name, t.datatype, list(t.shape)) for t in model.inputs] == [("user", "INT64", [-1]), ("item", "INT64", [-1])],
                   "grpc: recommender metadata has its INT64 inputs")
        self.check(self.h.get_model_metadata("digits")["inputs"][0]["shape"] == [-1, 64], "http: digits metadata")

    def feeds(self, model, rows):
        np = self.np
        if model == "digits":
            return {"input": self.rng.random((rows, 64), dtype=np.float32) * 16}
        return {"user": self.rng.integers(0, 1000, rows, dtype=np.int64), "item": self.rng.integers(0, 1000, rows, dtype=np.int64)}

    def infer_http(self, model, feeds, binary):
        inputs = []
        for name, value in feeds.items():
            tensor = self.httpclient.InferInput(name, list(value.shape), "FP32" if value.dtype == self.np.float32 else "INT64")
            tensor.set_data_from_numpy(value, binary_data=binary)
            inputs.append(tensor)
        out = "probabilities" if model == "digits" else "score"
        result = self.h.infer(model, inputs, outputs=[self.httpclient.InferRequestedOutput(out, binary_data=binary)])
        return result.as_numpy(out)

    def infer_grpc(self, model, feeds, timeout=None, **kwargs):
        inputs = []
        for name, value in feeds.items():
            tensor = self.grpcclient.InferInput(name, list(value.shape), "FP32" if value.dtype == self.np.float32 else "INT64")
            tensor.set_data_from_numpy(value)
            inputs.append(tensor)
        out = "probabilities" if model == "digits" else "score"
        result = self.g.infer(model, inputs, client_timeout=timeout, **kwargs)
        return result.as_numpy(out)

    def inference(self):
        np = self.np
        for model in ("digits", "recommender"):
            for rows in (1, 5):
                feeds = self.feeds(model, rows)
                json_out = self.infer_http(model, feeds, binary=False)
                binary_out = self.infer_http(model, feeds, binary=True)
                grpc_out = self.infer_grpc(model, feeds)
                self.check(json_out.dtype == np.float32 and json_out.shape[0] == rows, f"{model}: {rows} rows as HTTP JSON, shape {json_out.shape}")
                self.check(np.array_equal(json_out, binary_out), f"{model}: HTTP binary tensor data equals JSON ({rows} rows)")
                self.check(np.array_equal(json_out, grpc_out), f"{model}: gRPC raw contents equal JSON ({rows} rows)")
        # Typed contents (what KServe's own clients send) instead of raw_input_contents.
        from tritonclient.grpc import service_pb2
        feeds = self.feeds("digits", 2)
        request = service_pb2.ModelInferRequest(model_name="digits", id="typed-1")
        tensor = request.inputs.add(name="input", datatype="FP32", shape=[2, 64])
        tensor.contents.fp32_contents.extend(feeds["input"].ravel().tolist())
        response = self.g._client_stub.ModelInfer(request)
        typed = np.frombuffer(response.raw_output_contents[0], dtype=np.float32).reshape(2, 10)
        self.check(response.id == "typed-1" and response.model_version == "1", "grpc: typed contents answered with the request id and the version")
        self.check(np.array_equal(typed, self.infer_http("digits", feeds, binary=False)), "grpc: typed contents equal JSON")

    def tls(self):
        np = self.np
        feeds = self.feeds("digits", 3)
        expected = self.infer_http("digits", feeds, binary=False)
        secure = self.grpcclient.InferenceServerClient(self.url, ssl=True, root_certificates=self.cert)
        tensor = self.grpcclient.InferInput("input", [3, 64], "FP32")
        tensor.set_data_from_numpy(feeds["input"])
        self.check(np.array_equal(secure.infer("digits", [tensor]).as_numpy("probabilities"), expected), "grpc over TLS: equal to h2c JSON")
        https = self.httpclient.InferenceServerClient(self.url, ssl=True, ssl_options={"ca_certs": self.cert})
        hin = self.httpclient.InferInput("input", [3, 64], "FP32")
        hin.set_data_from_numpy(feeds["input"], binary_data=True)
        answer = https.infer("digits", [hin], outputs=[self.httpclient.InferRequestedOutput("probabilities", binary_data=True)])
        self.check(np.array_equal(answer.as_numpy("probabilities"), expected), "http binary over TLS: equal to h2c JSON")

    def errors(self):
        from tritonclient.utils import InferenceServerException
        wrong = {"input": self.np.zeros((1, 63), dtype=self.np.float32)}
        try:
            self.infer_grpc("digits", wrong)
            self.check(False, "grpc: a wrong shape is refused")
        except InferenceServerException as e:
            self.check(e.status() == "StatusCode.INVALID_ARGUMENT" and "'input'" in e.message() and "64" in e.message(),
                       f"grpc: a wrong shape is INVALID_ARGUMENT naming the input ({e.message()})")
        try:
            self.infer_http("digits", wrong, binary=True)
            self.check(False, "http: a wrong shape is refused")
        except InferenceServerException as e:
            self.check(e.status() == "400" and "'input'" in e.message(), f"http: a wrong shape is 400 naming the input ({e.message()})")
        try:
            self.infer_grpc("no-such-model", self.feeds("digits", 1))
            self.check(False, "grpc: an unknown model is refused")
        except InferenceServerException as e:
            self.check(e.status() == "StatusCode.NOT_FOUND" and "no-such-model" in e.message(), f"grpc: an unknown model is NOT_FOUND ({e.message()})")
        try:
            self.g.get_model_metadata("no-such-model")
            self.check(False, "grpc: metadata of an unknown model is refused")
        except InferenceServerException as e:
            self.check(e.status() == "StatusCode.NOT_FOUND", "grpc: metadata of an unknown model is NOT_FOUND")
        try:
            self.infer_grpc("digits", {"input": self.np.zeros((70000, 64), dtype=self.np.float32)})  # 17.9 MB, over 16 MiB
            self.check(False, "grpc: a body over the router's limit is refused")
        except InferenceServerException as e:
            self.check(e.status() == "StatusCode.RESOURCE_EXHAUSTED" and "limit" in e.message(),
                       f"grpc: a body over the router's limit is RESOURCE_EXHAUSTED ({e.message()})")
        try:
            self.infer_http("no-such-model", self.feeds("digits", 1), binary=False)
            self.check(False, "http: an unknown model is refused")
        except InferenceServerException as e:
            self.check(e.status() == "404", "http: an unknown model is 404")

    def curl_grpc(self, body, extra=()):
        path = os.path.join(tempfile.gettempdir(), f"hedgerow-grpc-body-{os.getpid()}")
        with open(path, "wb") as f:
            f.write(body)
        out = subprocess.run(["curl", "-s", "--http2-prior-knowledge", "-D", "-", "-o", "/dev/null", "--max-time", "10",
                              "-H", "content-type: application/grpc", "-H", "te: trailers", *extra, "--data-binary", f"@{path}",
                              f"http://{self.url}/inference.GRPCInferenceService/ModelInfer"], capture_output=True, text=True)
        os.unlink(path)
        headers = {}
        for line in out.stdout.splitlines():
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        return headers

    def malformed(self):
        import grpc
        message = bytes([0x0A, 0x06]) + b"digits"
        cases = [
            ("a length prefix past the body", b"\x00\x00\x00\x10\x00" + message, (), "13"),
            ("the compressed flag without grpc-encoding", b"\x01" + len(message).to_bytes(4, "big") + message, (), "12"),
            ("a body shorter than the prefix", b"\x00\x00", (), "13"),
            ("a garbage message", b"\x00\x00\x00\x00\x04\x0a\xff\xff\xff", (), "3"),
        ]
        for what, body, extra, code in cases:
            headers = self.curl_grpc(body, extra)
            self.check(headers.get("grpc-status") == code and headers.get("grpc-message"),
                       f"malformed gRPC: {what} gets grpc-status {code} ({headers.get('grpc-message')})")
        channel = grpc.insecure_channel(self.url)
        for path, expected in (("/inference.GRPCInferenceService/ModelInfer", grpc.StatusCode.INVALID_ARGUMENT),
                               ("/inference.GRPCInferenceService/RepositoryIndex", grpc.StatusCode.UNIMPLEMENTED)):
            call = channel.unary_unary(path, request_serializer=lambda x: x, response_deserializer=lambda x: x)
            try:
                call(b"\x0a\x06digits\x2a\x03\xff\xff\xff", timeout=10)
                self.check(False, f"grpcio: {path} with a broken message is refused")
            except grpc.RpcError as e:
                self.check(e.code() == expected, f"grpcio: {path.rsplit('/', 1)[1]} with a broken message is {expected.name} ({e.details()})")
        channel.close()
        self.check(self.g.is_server_live() and self.np.array_equal(self.infer_grpc("digits", {"input": self.np.ones((1, 64), dtype=self.np.float32)}),
                                                                   self.infer_http("digits", {"input": self.np.ones((1, 64), dtype=self.np.float32)}, False)),
                   "the router and workers still answer after the malformed calls")

    def preferred_replica(self):
        """The worker port most of 20 requests went to (the router names it in `hedgerow-replica`)."""
        import collections, urllib.request
        body = json.dumps({"inputs": [{"name": "input", "shape": [1, 64], "datatype": "FP32", "data": [0.0] * 64}]}).encode()
        seen = collections.Counter()
        for _ in range(20):
            request = urllib.request.Request(f"http://{self.url}/v2/models/digits/infer", data=body, headers={"content-type": "application/json"})
            with urllib.request.urlopen(request, timeout=10) as response:
                seen[int(response.headers["hedgerow-replica"].rsplit(":", 1)[1])] += 1
        return seen.most_common(1)[0][0]

    def hedges(self):
        """Backups the router sent for digits so far (its Prometheus counter)."""
        import urllib.request
        text = urllib.request.urlopen(f"http://{self.url}/metrics", timeout=10).read().decode()
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith("hedgerow_router_hedges_total{") and 'model="digits"' in line)

    def deadlines(self):
        from tritonclient.utils import InferenceServerException
        feeds = self.feeds("digits", 1)
        for _ in range(200):  # latency samples for the hedge delay, and budget for the hedges
            self.infer_grpc("digits", feeds)
        # Stop the replica the router prefers now (peak-EWMA sends nearly every call to the faster one), so that the
        # calls meet the stall and only a hedge can answer them in time.
        preferred = self.preferred_replica()
        first, second = (0, 1) if preferred == self.worker_ports[0] else (1, 0)
        self.workers = [self.workers[first], self.workers[second]]
        hedges_before = self.hedges()
        os.kill(self.workers[0], signal.SIGSTOP)
        self.stopped.append(self.workers[0])
        answered = 0
        for _ in range(20):
            try:
                self.infer_grpc("digits", feeds, timeout=0.05)
                answered += 1
            except InferenceServerException as e:
                say(f"    a call with one replica stopped failed: {e.status()} {e.message()}")
        hedged = self.hedges() - hedges_before
        self.check(answered >= 19 and hedged >= 1, f"one replica stopped: {answered} of 20 calls with a 50 ms deadline answered, {hedged:.0f} hedges sent")
        os.kill(self.workers[1], signal.SIGSTOP)
        self.stopped.append(self.workers[1])
        started = time.monotonic()
        try:
            self.infer_grpc("digits", feeds, timeout=0.05)
            self.check(False, "every replica stopped: the call fails")
        except InferenceServerException as e:
            took = time.monotonic() - started
            self.check(e.status() == "StatusCode.DEADLINE_EXCEEDED" and took < 1.0, f"every replica stopped: DEADLINE_EXCEEDED after {took * 1000:.0f} ms (deadline 50 ms)")
        started = time.monotonic()
        try:
            self.infer_grpc("digits", feeds, headers={"hedgerow-timeout-ms": "200"})
            self.check(False, "every replica stopped, router deadline: the call fails")
        except InferenceServerException as e:
            took = time.monotonic() - started
            self.check(e.status() == "StatusCode.DEADLINE_EXCEEDED" and "deadline" in e.message() and took < 1.5,
                       f"every replica stopped: the router answers DEADLINE_EXCEEDED after {took * 1000:.0f} ms (Hedgerow-Timeout-Ms 200): {e.message()}")
        for pid in list(self.stopped):
            os.kill(pid, signal.SIGCONT)
            self.stopped.remove(pid)


if __name__ == "__main__":
    main()
