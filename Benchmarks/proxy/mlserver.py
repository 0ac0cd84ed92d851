"""Seldon MLServer 1.7.1 serving Models/digits through onnxruntime, as a baseline to compare Hedgerow against."""
import json, os, shutil, signal, subprocess, sys, tempfile, time
import urllib.request

VENV = os.path.expanduser("~/.cache/hedgerow-bench/mlserver-venv")
# uvloop 0.22+ kills MLServer's parallel inference workers at start ("There is no current event loop").
PACKAGES = ["mlserver==1.7.1", "onnxruntime", "numpy", "uvloop==0.21.0"]


def ensure_venv(venv_dir=VENV):
    """Creates venv_dir with MLServer in it unless venv_dir/bin/mlserver already exists."""
    if os.path.exists(os.path.join(venv_dir, "bin", "mlserver")):
        return
    try:
        subprocess.run([sys.executable, "-m", "venv", venv_dir], check=True)
        # One pip call, so uvloop is resolved together with mlserver rather than downgraded afterwards.
        subprocess.run([os.path.join(venv_dir, "bin", "pip"), "install", "-q", "--disable-pip-version-check"]
                       + PACKAGES, check=True)
    except (OSError, subprocess.CalledProcessError) as e:
        raise RuntimeError(f"could not install {' '.join(PACKAGES)} into {venv_dir}: {e}") from e
    if not os.path.exists(os.path.join(venv_dir, "bin", "mlserver")):
        raise RuntimeError(f"pip finished but {venv_dir}/bin/mlserver is missing")


class Server:
    """A running `mlserver start`, alone in its process group."""

    def __init__(self, proc, url, body, log):
        self.proc, self.url, self.body, self.log = proc, url, body, log

    def pids(self):
        """The MLServer process and all its descendants (inference workers, multiprocessing helpers), from /proc."""
        children = {}
        for d in os.listdir("/proc"):
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])  # after the comm field, which may hold spaces
                children.setdefault(ppid, []).append(int(d))
            except (OSError, ValueError, IndexError):
                pass
        found, todo = [], [self.proc.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo += children.get(pid, [])
        return found

    def group(self):
        """Live (non-zombie) processes still in MLServer's process group, even ones reparented after it exited."""
        found = []
        for d in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{d}/stat") as f:
                    state, _, pgrp = f.read().rsplit(")", 1)[1].split()[:3]
                if int(pgrp) == self.proc.pid and state != "Z":
                    found.append(int(d))
            except (OSError, ValueError):
                pass
        return found

    def stop(self, grace=15):
        """SIGTERM the whole group; SIGKILL whatever of it is still alive after `grace` s."""
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break  # group already empty
            deadline = time.monotonic() + wait
            while not self._gone() and time.monotonic() < deadline:
                time.sleep(0.1)
            if self._gone():
                break
        self.proc.wait()

    def _gone(self):
        return self.proc.poll() is not None and not self.group()


def start(venv_dir, workdir, http_port, grpc_port, metrics_port, repo_root, timeout=90):
    """Serves Models/digits/1/model.onnx as model "digits" from workdir on 127.0.0.1; returns a ready Server."""
    os.makedirs(workdir, exist_ok=True)
    # Copied, not imported from here: this directory's mlserver.py would shadow the mlserver package.
    shutil.copy(os.path.join(os.path.dirname(os.path.abspath(__file__)), "mlserver_runtime.py"), workdir)
    model = os.path.join(os.path.abspath(repo_root), "Models/digits/1/model.onnx")
    settings = {"host": "127.0.0.1", "http_port": http_port, "grpc_port": grpc_port, "metrics_port": metrics_port,
                "parallel_workers": 2,
                "debug": False,  # debug (the default) logs every request, which Hedgerow does not
                # Both default to the working directory at import time; keep them out of the repository.
                "metrics_dir": os.path.join(workdir, ".metrics"), "environments_dir": os.path.join(workdir, ".envs")}
    model_settings = {"name": "digits", "implementation": "mlserver_runtime.OnnxRuntime", "parameters": {"uri": model}}
    for name, value in (("settings.json", settings), ("model-settings.json", model_settings)):
        with open(os.path.join(workdir, name), "w") as f:
            json.dump(value, f, indent=2)

    # The v2 body needs the model's input name; only the venv has onnxruntime to read it.
    input_name = subprocess.run(
        [os.path.join(venv_dir, "bin", "python"), "-c",
         "import sys, onnxruntime as o; print(o.InferenceSession(sys.argv[1]).get_inputs()[0].name)", model],
        check=True, capture_output=True, text=True).stdout.strip()
    # The same row as Benchmarks/hedging/stall.py sends Hedgerow, as one v2 FP32 tensor of shape [1, 64].
    with open(os.path.join(repo_root, "Models/digits/testset.json")) as f:
        row = json.load(f)["inputs"][0]
    body = json.dumps({"inputs": [{"name": input_name, "shape": [1, len(row)], "datatype": "FP32", "data": row}]})

    log = os.path.join(workdir, "mlserver.log")
    with open(log, "w") as out:
        proc = subprocess.Popen([os.path.join(venv_dir, "bin", "mlserver"), "start", workdir], cwd=workdir,
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)  # own process group, so stop() reaches the workers
    server = Server(proc, f"http://127.0.0.1:{http_port}/v2/models/digits/infer", body, log)
    ready, deadline = f"http://127.0.0.1:{http_port}/v2/models/digits/ready", time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(ready, timeout=2) as r:
                if r.status == 200:
                    return server
        except OSError:  # refused while starting, 400/404 until the model is loaded
            pass
        time.sleep(0.5)
    why = f"exited with {proc.returncode}" if proc.poll() is not None else f"not ready after {timeout} s"
    server.stop()
    with open(log) as f:
        tail = f.read()[-3000:]
    raise RuntimeError(f"mlserver {why}; end of {log}:\n{tail}")


if __name__ == "__main__":
    ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.path.insert(0, os.path.join(ROOT, "Benchmarks", "lib"))
    from h2loadrun import free_ports

    ensure_venv(VENV)
    workdir = tempfile.mkdtemp(prefix="mlserver-")
    server = start(VENV, workdir, *free_ports(3), ROOT)
    try:
        print("ready:", server.url, "pids:", server.pids())
        for i in range(5):
            req = urllib.request.Request(server.url, server.body.encode(), {"content-type": "application/json"})
            with urllib.request.urlopen(req, timeout=10) as r:
                status, answer = r.status, r.read().decode()
        print("status:", status)
        print("answer:", answer)
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    print("stopped, exit code", server.proc.returncode, "- left in its process group:", server.group() or "none")
