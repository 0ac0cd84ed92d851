"""What the h2load-driven benchmarks share: free loopback ports for a `hedgerow up`, and one h2load run read back."""
import os, re, socket, subprocess


def free_ports(n):
    """n distinct ports free on 127.0.0.1 right now (each bound once, then released)."""
    ports, socks = [], []
    while len(ports) < n:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def h2load(url, body_file, args, log_file, headers=("content-type: application/json",)):
    """Runs h2load POSTing `body_file` (JSON unless `headers` say otherwise); returns its summary counts and
    (status, ms) of every request it logged. h2load appends to an existing log: callers pass a fresh name every
    time."""
    cmd = ["h2load", "-d", body_file, "--log-file", log_file] + [a for h in headers for a in ("-H", h)] + args + [url]
    seconds = int(args[args.index("-D") + 1]) if "-D" in args else 60
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120).stdout
    m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, "
                  r"(\d+) timeout", out)
    summary = dict(zip(("total", "started", "done", "succeeded", "failed", "errored", "timeout"),
                       map(int, m.groups()))) if m else {}
    rows = []
    if os.path.exists(log_file):
        with open(log_file) as f:
            for line in f:
                parts = line.split("\t")
                if len(parts) >= 3:
                    rows.append((int(parts[1]), int(parts[2]) / 1000.0))
    return summary, rows
