#!/usr/bin/env python3
"""Opens a running router's live page (GET /dashboard) in headless Chromium and checks what it drew.

    python3 Scripts/check-dashboard-page.py --router http://127.0.0.1:8500 \
        --models digits,digits-cnn,encoder,recommender --screenshot /tmp/dashboard.png

The router must be serving traffic for the named models (the page draws finished seconds only). Checks, from the
DOM Chromium dumps after the page has polled /dashboard/data for a few seconds:
  - the page polled at least once (body[data-polls] > 0);
  - every named model has its card (section.model[data-model]) with a non-empty latency series
    (data-latency-points > 0) and request-rate series (data-rate-points > 0);
  - the replica table (tr.replica[data-address]) lists every replica of the router's routing table (GET /v1/routes),
    each with a state of ok or ejected.
Takes a screenshot too (look at it: it must be something a person would want to watch). Exit status 0 when every
check passes. Standard library only; needs Debian's `chromium`.
"""
import argparse
import html.parser
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request


def chromium_binary():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    sys.exit("check-dashboard-page: no chromium on PATH (Debian: apt-get install chromium)")


def run_chromium(binary, url, extra, seconds):
    """Runs headless Chromium with `extra` flags; virtual time lets the page's timers and polls run `seconds`."""
    profile = tempfile.mkdtemp(prefix="hedgerow-chromium-")
    try:
        command = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
                   f"--user-data-dir={profile}", "--no-first-run", f"--virtual-time-budget={int(seconds * 1000)}",
                   "--window-size=1500,1900"] + extra + [url]
        done = subprocess.run(command, capture_output=True, timeout=120)
        return done
    finally:
        shutil.rmtree(profile, ignore_errors=True)


class DashboardDOM(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.polls = 0
        self.models = {}
        self.replicas = {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "body":
            self.polls = int(a.get("data-polls") or 0)
        elif tag == "section" and "model" in classes and a.get("data-model"):
            self.models[a["data-model"]] = (int(a.get("data-latency-points") or 0), int(a.get("data-rate-points") or 0))
        elif tag == "tr" and "replica" in classes and a.get("data-address"):
            self.replicas[a["data-address"]] = a.get("data-state")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--router", required=True, help="router base URL, e.g. http://127.0.0.1:8500")
    parser.add_argument("--models", required=True, help="comma-separated models that must appear with data")
    parser.add_argument("--screenshot", required=True, help="PNG file to write")
    parser.add_argument("--seconds", type=float, default=6, help="virtual seconds the page runs before the DOM is read")
    args = parser.parse_args()
    binary = chromium_binary()
    page = args.router.rstrip("/") + "/dashboard"
    failures = []

    with urllib.request.urlopen(args.router.rstrip("/") + "/v1/routes", timeout=10) as answer:
        routes = json.load(answer)
    expected = sorted({a for m in routes.get("models", {}).values() for v in m.get("versions", {}).values() for a in v})

    done = run_chromium(binary, page, ["--dump-dom"], args.seconds)
    if done.returncode != 0:
        sys.exit(f"check-dashboard-page: chromium --dump-dom exited {done.returncode}: {done.stderr.decode(errors='replace')[-2000:]}")
    dom = DashboardDOM()
    dom.feed(done.stdout.decode("utf-8", errors="replace"))
    if dom.polls < 1:
        failures.append("the page never drew an answer of /dashboard/data (body data-polls is 0)")
    for model in [m for m in args.models.split(",") if m]:
        if model not in dom.models:
            failures.append(f"model {model}: no card on the page (cards: {sorted(dom.models)})")
            continue
        latency, rate = dom.models[model]
        if latency < 1 or rate < 1:
            failures.append(f"model {model}: empty series (latency points {latency}, request-rate points {rate})")
    for address in expected:
        if address not in dom.replicas:
            failures.append(f"replica {address} of the routing table is not in the replica table ({sorted(dom.replicas)})")
        elif dom.replicas[address] not in ("ok", "ejected"):
            failures.append(f"replica {address}: state {dom.replicas[address]!r}")

    screenshot = os.path.abspath(args.screenshot)
    shot = run_chromium(binary, page, [f"--screenshot={screenshot}"], args.seconds)
    if shot.returncode != 0 or not os.path.exists(screenshot) or os.path.getsize(screenshot) < 10_000:
        failures.append(f"no screenshot written to {screenshot} (chromium exited {shot.returncode})")

    summary = ", ".join(f"{m} {p[0]} latency / {p[1]} rate points" for m, p in sorted(dom.models.items()))
    print(f"check-dashboard-page: {dom.polls} polls; {summary}; {len(dom.replicas)} replicas in the table "
          f"({len(expected)} in the routing table); screenshot {screenshot}")
    if failures:
        for failure in failures:
            print("  FAIL " + failure)
        sys.exit(1)


if __name__ == "__main__":
    main()
