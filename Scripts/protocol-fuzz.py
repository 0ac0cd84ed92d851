#!/usr/bin/env python3
"""Protocol-level fuzzer for Hedgerow's HTTP servers (router and worker): hostile HTTP/1.1 and HTTP/2 bytes.

Every attack is bounded in count and time and seeded, so a run is repeatable. After each attack every target
process must still be alive and must answer a good request (h2c and HTTP/1.1) with 200 within a bound; during the
slowloris and idle-connection floods, another client's good requests must keep succeeding. One line is printed per
attack and target; the exit status is 1 if any process died or stopped serving, 2 on a usage or setup error.

Two ways to run it:
  protocol-fuzz.py --target router=127.0.0.1:8500:PID --target worker=127.0.0.1:8701:PID [--quick]
      attack processes someone else started (PID, optional, is checked for liveness); each serves model `digits`.
  protocol-fuzz.py --start path/to/hedgerow [--seconds-per-attack ...]
      start a worker (serving Models/digits) and a router in front of it on free loopback ports, attack both,
      and stop them at the end.

Python 3 standard library only. Traffic goes to loopback addresses only: anything else is refused.
"""

import argparse
import json
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
PREDICT_PATH = "/v1/models/digits:predict"
PREDICT_BODY = json.dumps({"instances": [[0.5] * 64]}).encode()

# HTTP/2 frame types and flags (RFC 9113 section 6).
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = range(10)
END_STREAM, ACK, END_HEADERS, PADDED, PRIORITY_FLAG = 0x1, 0x1, 0x4, 0x8, 0x20
ERROR_NAMES = {0: "NO_ERROR", 1: "PROTOCOL_ERROR", 2: "INTERNAL_ERROR", 3: "FLOW_CONTROL_ERROR", 4: "SETTINGS_TIMEOUT",
               5: "STREAM_CLOSED", 6: "FRAME_SIZE_ERROR", 7: "REFUSED_STREAM", 8: "CANCEL", 9: "COMPRESSION_ERROR",
               10: "CONNECT_ERROR", 11: "ENHANCE_YOUR_CALM", 12: "INADEQUATE_SECURITY", 13: "HTTP_1_1_REQUIRED"}
LOOPBACK = ("127.0.0.1", "::1", "localhost")


# ---------------------------------------------------------------------------------------------------------------
# Wire helpers: sockets, HTTP/2 frames and HPACK written by hand.

def connect(target, timeout=5.0):
    host, port = target["host"], target["port"]
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.connect((host, port))
    return s


def send_quietly(s, data):
    """Sends what the peer accepts; False once it closed or reset (an expected answer to hostile bytes)."""
    try:
        s.sendall(data)
        return True
    except OSError:
        return False


WAIT = 1.5  # seconds to wait for an answer to hostile bytes (--wait)


def drain(s, seconds, limit=1 << 22, until_goaway=False):
    """Reads until the peer closes, `seconds` pass or `limit` bytes came (or, with `until_goaway`, a GOAWAY
    frame arrived: the server's last word). Returns (bytes, closed_by_peer)."""
    data = bytearray()
    deadline = time.monotonic() + seconds
    scanned = 0  # frames before this offset were looked at already
    while len(data) < limit:
        while until_goaway and scanned + 9 <= len(data):
            length = int.from_bytes(data[scanned:scanned + 3], "big")
            if data[scanned + 3] == GOAWAY:
                # The server's last word: wait only briefly more, to see whether it also closes.
                deadline = min(deadline, time.monotonic() + 0.5)
                until_goaway = False
                break
            if scanned + 9 + length > len(data):
                break
            scanned += 9 + length
        left = deadline - time.monotonic()
        if left <= 0:
            return bytes(data), False
        s.settimeout(left)
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            return bytes(data), False
        except OSError:
            return bytes(data), True
        if not chunk:
            return bytes(data), True
        data += chunk
    return bytes(data), False


def frame(ftype, flags, stream, payload=b"", length=None):
    n = len(payload) if length is None else length
    return struct.pack(">I", n)[1:] + bytes([ftype & 0xFF, flags & 0xFF]) + struct.pack(">I", stream & 0xFFFFFFFF) + payload


def settings(pairs=(), ack=False):
    return frame(SETTINGS, ACK if ack else 0, 0, b"".join(struct.pack(">HI", k, v) for k, v in pairs))


def parse_frames(data):
    """Splits bytes into (type, flags, stream, payload) frames; a trailing partial frame is ignored."""
    frames, i = [], 0
    while i + 9 <= len(data):
        length = int.from_bytes(data[i:i + 3], "big")
        if i + 9 + length > len(data):
            break
        ftype, flags = data[i + 3], data[i + 4]
        stream = int.from_bytes(data[i + 5:i + 9], "big") & 0x7FFFFFFF
        frames.append((ftype, flags, stream, data[i + 9:i + 9 + length]))
        i += 9 + length
    return frames


def hpack_int(value, prefix_bits, first_byte_flags=0):
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first_byte_flags | value])
    out = bytearray([first_byte_flags | limit])
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def hpack_string(text):
    raw = text if isinstance(text, bytes) else text.encode("latin-1")
    return hpack_int(len(raw), 7) + raw  # H bit 0: no Huffman


def literal(name, value, indexed=False):
    """Literal header field with a literal name: without indexing (0x00) or with incremental indexing (0x40)."""
    return (b"\x40" if indexed else b"\x00") + hpack_string(name) + hpack_string(value)


def header_block(method="POST", path=PREDICT_PATH, authority="fuzz", extra=(), content_length=None):
    block = literal(":method", method) + literal(":scheme", "http") + literal(":path", path) + literal(":authority", authority)
    if content_length is not None:
        block += literal("content-type", "application/json") + literal("content-length", str(content_length))
    for name, value in extra:
        block += literal(name, value)
    return block


def h2_request(stream, body=PREDICT_BODY, method="POST", path=PREDICT_PATH):
    if method == "GET":
        return frame(HEADERS, END_HEADERS | END_STREAM, stream, header_block("GET", path))
    return (frame(HEADERS, END_HEADERS, stream, header_block(method, path, content_length=len(body)))
            + frame(DATA, END_STREAM, stream, body))


def h2_open(target, extra_settings=()):
    s = connect(target)
    s.sendall(PREFACE + settings(extra_settings))
    return s


def goaway_of(frames):
    for ftype, _, _, payload in frames:
        if ftype == GOAWAY and len(payload) >= 8:
            return ERROR_NAMES.get(int.from_bytes(payload[4:8], "big"), "code %d" % int.from_bytes(payload[4:8], "big"))
    return None


HUFFMAN_DIGITS = {"00000": "0", "00001": "1", "00010": "2", "011001": "3", "011010": "4", "011011": "5",
                  "011100": "6", "011101": "7", "011110": "8", "011111": "9"}
STATIC_STATUS = {0x88: 200, 0x89: 204, 0x8A: 206, 0x8B: 304, 0x8C: 400, 0x8D: 404, 0x8E: 500}


def status_of_block(block):
    """The :status of a response header block, as a server puts it first: a static table entry (200 is 0x88), or
    a literal with the name of entry 8 and three digits, plain or Huffman-coded (RFC 7541 appendix B)."""
    i = 0
    while i < len(block) and block[i] & 0xE0 == 0x20:  # dynamic table size updates
        i += 1
    if i >= len(block):
        return "none"
    first = block[i]
    if first in STATIC_STATUS:
        return STATIC_STATUS[first]
    if first in (0x48, 0x08, 0x18) and i + 1 < len(block):
        huffman, length = block[i + 1] & 0x80, block[i + 1] & 0x7F
        raw = block[i + 2:i + 2 + length]
        if not huffman:
            return int(raw) if raw.isdigit() else "?"
        bits, digits = "".join(format(b, "08b") for b in raw), ""
        while len(digits) < 3 and bits:
            for code, digit in HUFFMAN_DIGITS.items():
                if bits.startswith(code):
                    digits, bits = digits + digit, bits[len(code):]
                    break
            else:
                break
        return int(digits) if len(digits) == 3 else "?"
    return "?"


def describe_h2(data, closed, stream=None):
    """A short account of how the server answered: GOAWAY code, RST_STREAM codes, statuses, closed or open."""
    frames = parse_frames(data)
    parts = []
    g = goaway_of(frames)
    if g:
        parts.append("GOAWAY " + g)
    rst = sorted({ERROR_NAMES.get(int.from_bytes(p[:4], "big"), "?") for t, _, sid, p in frames if t == RST_STREAM and len(p) >= 4})
    if rst:
        parts.append("RST_STREAM " + "/".join(rst))
    statuses = [status_of_block(p) for t, _, sid, p in frames if t == HEADERS and (stream is None or sid == stream)]
    if statuses:
        parts.append("%d responses (%s)" % (len(statuses), tally(statuses)))
    parts.append("closed" if closed else "open")
    return ", ".join(parts)


def h1_status(data):
    if data.startswith(b"HTTP/1.1 "):
        return data[9:12].decode("latin-1", "replace")
    return "no response" if not data else "garbage"


def h1_statuses(data):
    out, i = [], 0
    while True:
        i = data.find(b"HTTP/1.1 ", i)
        if i < 0:
            return out
        out.append(data[i + 9:i + 12].decode("latin-1", "replace"))
        i += 9


def h1_predict(connection="close", body=PREDICT_BODY):
    return (("POST %s HTTP/1.1\r\nHost: fuzz\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
             "Connection: %s\r\n\r\n") % (PREDICT_PATH, len(body), connection)).encode() + body


# ---------------------------------------------------------------------------------------------------------------
# Health: the process is alive and a good request on each protocol answers 200 within a bound.

def alive(target):
    pid = target.get("pid")
    if pid is None:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return True  # no /proc: kill(0) said it exists


def good_h2(target, timeout):
    """One predict over h2c on a fresh connection; returns milliseconds or raises with what went wrong."""
    started = time.monotonic()
    s = connect(target, timeout)
    try:
        s.sendall(PREFACE + settings() + h2_request(1))
        buf = bytearray()
        status, ended = None, False
        deadline = started + timeout
        while not ended:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError("no h2 answer within %.0f s" % timeout)
            s.settimeout(left)
            chunk = s.recv(65536)
            if not chunk:
                raise RuntimeError("connection closed before the h2 answer (%s)" % describe_h2(bytes(buf), True))
            buf += chunk
            for ftype, flags, sid, payload in parse_frames(bytes(buf)):
                if sid == 1 and ftype == HEADERS and status is None:
                    status = status_of_block(payload)
                if sid == 1 and ftype in (HEADERS, DATA) and flags & END_STREAM:
                    ended = True
                if ftype == GOAWAY or (ftype == RST_STREAM and sid == 1):
                    raise RuntimeError("h2 request refused: %s" % describe_h2(bytes(buf), False))
        if status != 200:
            raise RuntimeError("h2 answered %s" % status)
        return (time.monotonic() - started) * 1000
    finally:
        s.close()


def good_h1(target, timeout):
    started = time.monotonic()
    s = connect(target, timeout)
    try:
        s.sendall(h1_predict())
        data, closed = drain(s, timeout)
        if not data.startswith(b"HTTP/1.1 200") or b"predictions" not in data:
            raise RuntimeError("HTTP/1.1 answered %r%s" % (data[:60], "" if closed else " (no close within bound)"))
        return (time.monotonic() - started) * 1000
    finally:
        s.close()


def check_serving(targets, timeout):
    """Problems found (empty when every target is alive and answered 200 on both protocols within `timeout`
    seconds) and timings. A probe that fails is tried again until the bound, on a fresh connection: what counts is
    that serving resumes in time; the failed tries are reported in the timings."""
    problems, timings = [], []
    for t in targets:
        if not alive(t):
            problems.append("%s DIED (pid %s)" % (t["name"], t["pid"]))
            continue
        for name, probe in (("h2", good_h2), ("h1", good_h1)):
            deadline, failures = time.monotonic() + timeout, []
            while True:
                left = deadline - time.monotonic()
                try:
                    took = probe(t, max(0.5, left))
                    note = " after %d failed: %s" % (len(failures), failures[0]) if failures else ""
                    timings.append("%s %s %.0fms%s" % (t["name"], name, took, note))
                    break
                except Exception as error:  # noqa: BLE001 - any failure to serve is the finding
                    failures.append(str(error)[:120])
                    if time.monotonic() >= deadline or len(failures) >= 20 or not alive(t):
                        problems.append("%s %s NOT SERVED within %.0f s: %s" % (t["name"], name, timeout, failures[-1]))
                        break
                    time.sleep(0.2)
    return problems, timings


class BackgroundProbe:
    """Another client's good requests, in a loop, while an attack holds connections (slowloris, idle floods)."""

    def __init__(self, targets, timeout):
        self.targets, self.timeout = targets, timeout
        self.ok, self.failures = 0, []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        i = 0
        while not self.stop.is_set() and i < 10000:
            t = self.targets[i % len(self.targets)]
            probe = good_h2 if i % 2 == 0 else good_h1
            try:
                probe(t, self.timeout)
                self.ok += 1
            except Exception as error:  # noqa: BLE001
                self.failures.append("%s %s: %s" % (t["name"], "h2" if i % 2 == 0 else "h1", error))
            i += 1
            self.stop.wait(0.05)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(self.timeout + 5)


# ---------------------------------------------------------------------------------------------------------------
# Attacks. Each takes (target, rng, scale) and returns a one-line outcome; each is bounded in count and time.

def one_shot_h1(target, payload, seconds=None):
    try:
        s = connect(target)
    except OSError as error:
        return "connect failed: %s" % error
    try:
        send_quietly(s, payload)
        data, closed = drain(s, seconds or WAIT)
        return "%s%s" % ("/".join(h1_statuses(data)) or h1_status(data), "+close" if closed else "+open")
    finally:
        s.close()


def tally(outcomes):
    counts = {}
    for o in outcomes:
        counts[o] = counts.get(o, 0) + 1
    return ", ".join("%s x%d" % (k, v) for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0]))))


def attack_h1_bad_request_lines(target, rng, scale):
    lines = [b"GET\r\n\r\n", b"GET  / HTTP/1.1\r\n\r\n", b" / HTTP/1.1\r\n\r\n", b"GET / HTTP/1.1 extra\r\n\r\n",
             b"G\xffT / HTTP/1.1\r\nHost: x\r\n\r\n", b"\x00\x01\x02\x03\r\n\r\n", b"GET /\x00 HTTP/1.1\r\n\r\n",
             b"GET " + b"/a" * 60000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", b"\r\n" * 5000,
             b"GET / HTTP/1.1\rHost: x\r\r", b"GET http://[::1 HTTP/1.1\r\n\r\n", b"CONNECT x:1 HTTP/1.1\r\n\r\n",
             b"GET / HTTP/1.1\r\nHost x\r\n\r\n", b"GET / HTTP/1.1\r\n : empty\r\n\r\n", b"GET / HTTP/1.1\r\nA\x7f: b\r\n\r\n"]
    return tally(one_shot_h1(target, line) for line in lines)


def attack_h1_bad_versions(target, rng, scale):
    versions = [b"HTTP/0.9", b"HTTP/2.0", b"HTTP/3.0", b"HTTP/1.10", b"HTTP/01.1", b"HTTP/1", b"HTTP/9.9", b"http/1.1",
                b"HTTP/1.1\n", b"HTTP/-1.1", b"HTTX/1.1"]
    return tally(one_shot_h1(target, b"GET / " + v + b"\r\nHost: x\r\n\r\n") for v in versions)


def attack_h1_huge_and_many_headers(target, rng, scale):
    out = [
        one_shot_h1(target, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (256 * 1024) + b"\r\n\r\n"),
        one_shot_h1(target, b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(20000)) + b"\r\n"),
        one_shot_h1(target, b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X: " + b"b" * 8000 + b"\r\n" * 1 + b"".join(
            b"Y%d: %s\r\n" % (i, b"c" * 4000) for i in range(40)) + b"\r\n"),
        one_shot_h1(target, b"GET / HTTP/1.1\r\n" + b"Host: x\r\n" * 3000 + b"\r\n"),
    ]
    return tally(out)


def attack_h1_content_length_lies(target, rng, scale):
    body = PREDICT_BODY
    head = b"POST " + PREDICT_PATH.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    cases = [
        head + b"Content-Length: %d\r\n\r\n" % (len(body) + 100) + body,              # promises more than it sends
        head + b"Content-Length: 5\r\n\r\n" + body,                                     # rest becomes a bogus request
        head + b"Content-Length: 5\r\nContent-Length: 7\r\n\r\n" + body,                # duplicate, differing
        head + b"Content-Length: 5, 5\r\n\r\n" + body[:5],
        head + b"Content-Length: -1\r\n\r\n" + body,
        head + b"Content-Length: 0x10\r\n\r\n" + body,
        head + b"Content-Length: 99999999999999999999999\r\n\r\n" + body,
        head + b"Content-Length: %d\r\n\r\n" % (1 << 62) + body,
        head + b"Content-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",   # request smuggling shape
        head + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n",
        head + b"Content-Length: %d\r\n\r\n" % (64 * 1024 * 1024),                       # over the body limit, no body
    ]
    return tally(one_shot_h1(target, c) for c in cases)


def attack_h1_bad_chunked(target, rng, scale):
    head = b"POST " + PREDICT_PATH.encode() + b" HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    cases = [
        head + b"zz\r\nabc\r\n0\r\n\r\n",
        head + b"ffffffffffffffffffff\r\nabc\r\n",
        head + b"5\r\nabcdefgh\r\n0\r\n\r\n",
        head + b"3;" + b"e" * 100000 + b"\r\nabc\r\n0\r\n\r\n",
        head + b"3\r\nabc0\r\n\r\n",
        head + b"-3\r\nabc\r\n0\r\n\r\n",
        head + b"3\r\nabc\r\n0\r\nTrailer: " + b"t" * 200000 + b"\r\n\r\n",
        head + b"".join(b"1\r\na\r\n" for _ in range(20000)) + b"0\r\n\r\n",
    ]
    out = [one_shot_h1(target, c) for c in cases]
    # A chunked body over the 16 MiB limit without any Content-Length: must end in 413, not in memory growth.
    out.append("over-limit chunked: " + h1_stream_body(target, head, 17 * 1024 * 1024, chunked=True))
    return tally(out)


def h1_stream_body(target, head, total, chunked):
    try:
        s = connect(target, 10)
    except OSError as error:
        return "connect failed: %s" % error
    try:
        s.sendall(head)
        piece = b"7" * 65536
        sent = 0
        while sent < total:
            data = (b"%x\r\n" % len(piece) + piece + b"\r\n") if chunked else piece
            if not send_quietly(s, data):
                break
            sent += len(piece)
        if chunked:
            send_quietly(s, b"0\r\n\r\n")
        data, closed = drain(s, 5)
        return "%s after %d MiB sent%s" % (h1_status(data), sent >> 20, "+close" if closed else "+open")
    finally:
        s.close()


def attack_h1_garbage_and_pipelined_junk(target, rng, scale):
    out = []
    get = b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n"
    for _ in range(3 * scale):
        junk = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 2000)))
        out.append(one_shot_h1(target, h1_predict("keep-alive") + junk))
    out.append(one_shot_h1(target, get * 50 + b"\x16\x03\x01junk" + get * 5))
    # A thousand pipelined requests without reading an answer: the server must stop reading, not buffer them all.
    try:
        s = connect(target)
        burst = get * 1000
        sent = 0
        s.settimeout(3)
        try:
            for i in range(0, len(burst), 16384):
                s.sendall(burst[i:i + 16384])
                sent += 16384
        except OSError:
            pass
        data, closed = drain(s, 3 * WAIT)
        out.append("1000 pipelined: %d answers%s" % (len(h1_statuses(data)), "+close" if closed else "+open"))
        s.close()
    except OSError as error:
        out.append("pipelined: %s" % error)
    return tally(out)


def attack_bad_preface(target, rng, scale):
    cases = [PREFACE[:-1] + b"X", b"PRI * HTTP/2.0\r\n\r\n", PREFACE[:10], b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\nGARBAGE-NOT-A-FRAME",
             PREFACE + frame(PING, 0, 0, b"\0" * 8), PREFACE + frame(HEADERS, END_HEADERS, 1, header_block("GET", "/")),
             PREFACE + b"\xff" * 64, b"\x16\x03\x01\x00\x05hello", b"\x16"]
    out = []
    for c in cases:
        try:
            s = connect(target)
        except OSError as error:
            out.append("connect failed: %s" % error)
            continue
        send_quietly(s, c)
        if c in (PREFACE[:10], b"\x16"):
            s.shutdown(socket.SHUT_WR)
        data, closed = drain(s, WAIT, until_goaway=True)
        s.close()
        out.append(describe_h2(data, closed) if data.startswith(b"\x00") else ("%s+%s" % (h1_status(data), "close" if closed else "open")))
    return tally(out)


def h2_case(target, frames_bytes, seconds=None, extra_settings=()):
    try:
        s = h2_open(target, extra_settings)
    except OSError as error:
        return "connect failed: %s" % error
    try:
        send_quietly(s, frames_bytes)
        data, closed = drain(s, seconds or WAIT, until_goaway=True)
        return describe_h2(data, closed)
    finally:
        s.close()


def attack_h2_bad_lengths(target, rng, scale):
    cases = [
        frame(SETTINGS, 0, 0, b"\0" * 7),                       # not a multiple of 6
        frame(PING, 0, 0, b"\0" * 7),
        frame(WINDOW_UPDATE, 0, 0, b"\0\0\1"),
        frame(RST_STREAM, 0, 1, b"\0" * 5),
        frame(PRIORITY, 0, 1, b"\0" * 4),
        frame(SETTINGS, ACK, 0, b"\0" * 6),                     # ACK with a payload
        frame(HEADERS, END_HEADERS | PADDED, 1, b"\xff" + header_block("GET", "/")),   # padding longer than payload
        frame(DATA, PADDED, 1, b"\x10abc"),
        frame(HEADERS, END_HEADERS, 1, header_block("GET", "/"), length=40),          # lies about its length
        frame(GOAWAY, 0, 0, b"\0\0\0"),
    ]
    return tally(h2_case(target, c) for c in cases)


def attack_h2_bad_stream_ids_and_flags(target, rng, scale):
    get = lambda sid, flags=END_HEADERS | END_STREAM: frame(HEADERS, flags, sid, header_block("GET", "/v2/health/live"))
    cases = [
        get(0),                                                  # HEADERS on stream 0
        get(2),                                                  # even (server-initiated) id
        frame(DATA, END_STREAM, 0, b"abc"),
        frame(SETTINGS, 0, 1, b""),
        frame(PING, 0, 3, b"\0" * 8),
        frame(WINDOW_UPDATE, 0, 99, struct.pack(">I", 100)),     # idle stream
        frame(RST_STREAM, 0, 77, struct.pack(">I", 8)),          # idle stream
        get(5) + get(3),                                         # decreasing
        get(1) + get(1),                                         # reused
        h2_request(1) + frame(DATA, END_STREAM, 1, b"more"),     # data after END_STREAM
        get(0x7FFFFFFF) + get(1),
        get(1, END_HEADERS) + frame(CONTINUATION, END_HEADERS, 1, b""),  # CONTINUATION after END_HEADERS
        frame(CONTINUATION, END_HEADERS, 1, literal("a", "b")),  # CONTINUATION out of nowhere
        frame(PUSH_PROMISE, END_HEADERS, 1, b"\0\0\0\2" + header_block("GET", "/")),  # clients may not push
        frame(HEADERS, END_HEADERS | PRIORITY_FLAG, 1, struct.pack(">IB", 1, 0) + header_block("GET", "/")),  # depends on itself
        frame(HEADERS, 0xFF, 1, header_block("GET", "/")),       # every flag at once
    ]
    out = [h2_case(target, c) for c in cases]
    # Frames on streams closed long ago, after a real answer on the same connection.
    try:
        s = h2_open(target)
        s.sendall(h2_request(1))
        drain(s, WAIT)
        send_quietly(s, frame(DATA, 0, 1, b"late") + frame(HEADERS, END_HEADERS, 1, header_block("GET", "/")) + frame(WINDOW_UPDATE, 0, 1, b"\0\0\0\1"))
        data, closed = drain(s, WAIT, until_goaway=True)
        out.append("after close: " + describe_h2(data, closed))
        s.close()
    except OSError as error:
        out.append("after close: %s" % error)
    return tally(out)


def attack_h2_oversize_and_unknown_frames(target, rng, scale):
    out = [
        h2_case(target, frame(DATA, 0, 1, b"x" * 20000)),                                        # over 16384
        h2_case(target, frame(HEADERS, END_HEADERS, 1, header_block("GET", "/") + literal("x", "y" * 20000))),
        h2_case(target, frame(PING, 0, 0, b"", length=(1 << 24) - 1)),                           # promises 16 MiB
    ]
    # Unknown frame types must be ignored: a good request on the same connection still answers 200.
    try:
        s = h2_open(target)
        junk = b"".join(frame(rng.randrange(0x10, 0x100), rng.randrange(256), rng.randrange(0, 50),
                              bytes(rng.randrange(256) for _ in range(rng.randrange(0, 300)))) for _ in range(200 * scale))
        send_quietly(s, junk + h2_request(1))
        data, closed = drain(s, 3 * WAIT, until_goaway=True)
        out.append("unknown types then request: " + describe_h2(data, closed, stream=1))
        s.close()
    except OSError as error:
        out.append("unknown types: %s" % error)
    return tally(out)


def attack_h2_hpack_bombs(target, rng, scale):
    out = []
    # Dynamic table size update far beyond the advertised SETTINGS_HEADER_TABLE_SIZE.
    out.append(h2_case(target, frame(HEADERS, END_HEADERS | END_STREAM, 1, hpack_int((1 << 31) - 1, 5, 0x20) + header_block("GET", "/"))))
    # Size updates flip-flopping, then a header block.
    out.append(h2_case(target, frame(HEADERS, END_HEADERS | END_STREAM, 1, (b"\x20" + hpack_int(4096, 5, 0x20)) * 500 + header_block("GET", "/"))))
    # One 4 KB header inserted into the dynamic table, then referenced thousands of times (index 62) per block.
    big = literal("x-bomb", "B" * 4000, indexed=True)
    blocks = [frame(HEADERS, END_HEADERS | END_STREAM, 1, header_block("GET", "/v2/health/live") + big)]
    for i in range(1, 20 * scale):
        refs = b"\xbe" * 4000
        blocks.append(frame(HEADERS, END_HEADERS | END_STREAM, 1 + 2 * i, header_block("GET", "/v2/health/live") + refs[:16000]))
    out.append("indexed x4000: " + h2_case(target, b"".join(blocks), seconds=3 * WAIT))
    # Malformed encodings.
    bad = [b"\x80", b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x0f", b"\x00\x85abc", b"\x00\x03abc\x8a\xff\xff\xff\xff",
           b"\x00" + hpack_string("Upper") + hpack_string("x"), literal("connection", "keep-alive"), literal("te", "gzip"),
           literal("x", "y") + literal(":path", "/"), literal(":method", "GET") + literal(":scheme", "http"),
           b"\xfe\x7f", b"\x3f\xe1\x7f", literal(":method", "GET") * 2 + literal(":scheme", "http") + literal(":path", "/")]
    for b in bad:
        out.append(h2_case(target, frame(HEADERS, END_HEADERS | END_STREAM, 1, b)))
    return tally(out)


def attack_h2_continuation_flood(target, rng, scale):
    """CVE-2024-27316 shape: HEADERS without END_HEADERS, then CONTINUATION frames that never end."""
    out = []
    for payload in (literal("x-c", "v" * 100), b""):
        try:
            s = h2_open(target)
        except OSError as error:
            out.append("connect failed: %s" % error)
            continue
        send_quietly(s, frame(HEADERS, 0, 1, header_block("GET", "/")))
        sent, deadline = 0, time.monotonic() + 5
        burst = frame(CONTINUATION, 0, 1, payload) * 100
        while sent < 100000 * scale and time.monotonic() < deadline:
            if not send_quietly(s, burst):
                break
            sent += 100
        data, closed = drain(s, 2, until_goaway=True)
        out.append("%d CONTINUATION sent: %s" % (sent, describe_h2(data, closed)))
        s.close()
    return "; ".join(out)


def attack_h2_rapid_reset(target, rng, scale):
    """CVE-2023-44487 shape: HEADERS then RST_STREAM for new streams, as fast as the socket takes them."""
    try:
        s = h2_open(target)
    except OSError as error:
        return "connect failed: %s" % error
    sid, deadline = 1, time.monotonic() + 5
    block = header_block("POST", PREDICT_PATH, content_length=len(PREDICT_BODY))
    while sid < 2 * 10000 * scale and time.monotonic() < deadline:
        burst = b"".join(frame(HEADERS, END_HEADERS, i, block) + frame(RST_STREAM, 0, i, struct.pack(">I", 8))
                         for i in range(sid, sid + 200, 2))
        if not send_quietly(s, burst):
            break
        sid += 200
    data, closed = drain(s, 2, until_goaway=True)
    s.close()
    return "%d streams opened and reset: %s" % (sid // 2, describe_h2(data, closed))


def attack_h2_stream_flood_without_settings_ack(target, rng, scale):
    """Complete requests whose answers cannot be sent (the client's initial window is 0, so the streams stay
    open) by a client that never ACKs our SETTINGS, so never agreed to SETTINGS_MAX_CONCURRENT_STREAMS: the
    server must still cap the streams it holds and dispatches per connection."""
    try:
        s = h2_open(target, [(4, 0)])
    except OSError as error:
        return "connect failed: %s" % error
    count = 1000 * scale
    send_quietly(s, b"".join(h2_request(2 * i + 1) for i in range(count)))
    data, closed = drain(s, 2 * WAIT + 1, until_goaway=True)
    s.close()
    frames = parse_frames(data)
    resets = sum(1 for t, _, _, _ in frames if t == RST_STREAM)
    answered = sum(1 for t, _, _, _ in frames if t == HEADERS)
    return "%d requests on a 0 window: %d answered (heads), %d reset by the server, %s" % (
        count, answered, resets, describe_h2(data, closed).split(", ")[-1] if not goaway_of(frames) else "GOAWAY " + goaway_of(frames))


def attack_h2_huge_header_list(target, rng, scale):
    out = []
    # 1 MB of header fields over HEADERS + CONTINUATION, ending properly.
    fields = b"".join(literal("x-h%d" % i, "v" * 1000) for i in range(1000))
    chunks = [fields[i:i + 16000] for i in range(0, len(fields), 16000)]
    body = frame(HEADERS, 0, 1, header_block("GET", "/") + chunks[0])
    for i, c in enumerate(chunks[1:]):
        body += frame(CONTINUATION, END_HEADERS if i == len(chunks) - 2 else 0, 1, c)
    out.append("1 MB in %d frames: %s" % (len(chunks), h2_case(target, body)))
    # Many tiny fields (each costs 32 bytes of accounting) in one frame.
    out.append("5000 tiny fields: " + h2_case(target, frame(HEADERS, END_HEADERS | END_STREAM, 1, header_block("GET", "/") + literal("a", "") * 5000)))
    return "; ".join(out)


def attack_h2_settings_and_ping_floods(target, rng, scale):
    out = []
    for name, one in (("SETTINGS", settings([(3, 100)])), ("PING", frame(PING, 0, 0, b"12345678")),
                      ("PRIORITY", frame(PRIORITY, 0, 3, b"\0\0\0\1\x10")), ("empty DATA", None)):
        try:
            s = h2_open(target)
        except OSError as error:
            out.append("%s: connect failed: %s" % (name, error))
            continue
        if one is None:  # a stream that sends empty DATA frames forever
            send_quietly(s, frame(HEADERS, END_HEADERS, 1, header_block("POST", PREDICT_PATH)))
            one = frame(DATA, 0, 1, b"")
        sent, deadline = 0, time.monotonic() + 4
        burst = one * 500
        s.settimeout(2)
        # We never read: acknowledgements pile up on the server unless it stops.
        while sent < 50000 * scale and time.monotonic() < deadline:
            if not send_quietly(s, burst):
                break
            sent += 500
        data, closed = drain(s, 2, limit=1 << 24, until_goaway=True)
        out.append("%s x%d: %s" % (name, sent, describe_h2(data, closed)))
        s.close()
    return "; ".join(out)


def attack_h2_window_update_overflow(target, rng, scale):
    big = struct.pack(">I", 0x7FFFFFFF)
    return tally([
        h2_case(target, frame(WINDOW_UPDATE, 0, 0, big) * 2),
        h2_case(target, frame(HEADERS, END_HEADERS, 1, header_block("POST", PREDICT_PATH)) + frame(WINDOW_UPDATE, 0, 1, big) * 2),
        h2_case(target, frame(WINDOW_UPDATE, 0, 0, b"\0\0\0\0")),
        h2_case(target, frame(WINDOW_UPDATE, 0, 0, b"\xff\xff\xff\xff")),
        h2_case(target, settings([(4, 0x80000000)])),                       # INITIAL_WINDOW_SIZE too large
        h2_case(target, settings([(5, 1 << 24)])),                          # MAX_FRAME_SIZE too large
        h2_case(target, settings([(2, 7)])),                                # ENABLE_PUSH not 0/1
        h2_case(target, h2_request(1) + settings([(4, 0x7FFFFFFF)]) + frame(WINDOW_UPDATE, 0, 1, struct.pack(">I", 100))),
    ])


def attack_h2_zero_window_stall(target, rng, scale, probe_targets, timeout):
    """The client grants no window: the server cannot send answers; it must not stall anyone else."""
    socks = []
    try:
        for _ in range(5 * scale):
            s = h2_open(target, [(4, 0)])
            s.sendall(settings(ack=True) + b"".join(h2_request(i) for i in range(1, 200, 2)))
            socks.append(s)
        with BackgroundProbe(probe_targets, timeout) as probe:
            time.sleep(3)
        return "%d connections x 100 stalled streams held 3 s; others: %d ok, %d failed%s" % (
            len(socks), probe.ok, len(probe.failures), (" (" + probe.failures[0] + ")") if probe.failures else "")
    finally:
        for s in socks:
            s.close()


def attack_idle_connections(target, rng, scale, probe_targets, timeout, hold):
    socks, failed = [], 0
    for i in range(300 * scale):
        try:
            s = connect(target, 2)
            if i % 3 == 1:
                s.sendall(PREFACE)            # an h2 connection that never sends SETTINGS or a stream
            elif i % 3 == 2:
                s.sendall(PREFACE[:12])       # undecided: part of the preface
            socks.append(s)
        except OSError:
            failed += 1
    with BackgroundProbe(probe_targets, timeout) as probe:
        time.sleep(hold)
    closed = sum(1 for s in socks if peer_closed(s))
    for s in socks:
        s.close()
    if probe.failures:
        raise AttackFailure("good requests failed during the idle flood: %s" % probe.failures[0])
    return "%d idle connections (%d refused) held %.0f s: server closed %d; others: %d ok" % (
        len(socks), failed, hold, closed, probe.ok)


def peer_closed(s):
    s.setblocking(False)
    try:
        data = s.recv(65536)
        return data == b"" or len(data) > 0 and peer_closed_after(s)
    except BlockingIOError:
        return False
    except OSError:
        return True


def peer_closed_after(s):
    try:
        while True:
            data = s.recv(65536)
            if not data:
                return True
    except BlockingIOError:
        return False
    except OSError:
        return True


def attack_slowloris(target, rng, scale, probe_targets, timeout, hold):
    """Request heads sent a byte at a time (HTTP/1.1 and the h2 preface + HEADERS), while others send good requests."""
    h1 = b"POST " + PREDICT_PATH.encode() + b" HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-Slow-%d: %s\r\n" % (i, b"s" * 30) for i in range(200))
    h2 = PREFACE + settings() + frame(HEADERS, END_HEADERS, 1, header_block("POST", PREDICT_PATH) + literal("x-slow", "s" * 5000))
    conns = []
    for i in range(40 * scale):
        try:
            conns.append([connect(target, 2), h2 if i % 2 else h1, 0, False])
        except OSError:
            pass
    deadline = time.monotonic() + hold
    closed_at = []
    started = time.monotonic()
    with BackgroundProbe(probe_targets, timeout) as probe:
        while time.monotonic() < deadline:
            for c in conns:
                if c[3]:
                    continue
                if c[2] < len(c[1]) and not send_quietly(c[0], c[1][c[2]:c[2] + 1]):
                    c[3] = True
                    closed_at.append(time.monotonic() - started)
                    continue
                c[2] += 1
                if peer_closed(c[0]):
                    c[3] = True
                    closed_at.append(time.monotonic() - started)
            time.sleep(0.25)
    for c in conns:
        c[0].close()
    if probe.failures:
        raise AttackFailure("good requests failed during slowloris: %s" % probe.failures[0])
    first = ("first closed after %.1f s" % min(closed_at)) if closed_at else "none closed"
    return "%d slow connections for %.0f s: server closed %d (%s); others: %d ok" % (len(conns), hold, len(closed_at), first, probe.ok)


def mutate(rng, data):
    data = bytearray(data)
    for _ in range(rng.randrange(1, 6)):
        op = rng.randrange(6)
        if not data:
            data += bytes([rng.randrange(256)])
        i = rng.randrange(len(data))
        if op == 0:
            data[i] ^= 1 << rng.randrange(8)
        elif op == 1:
            data[i] = rng.choice([0x00, 0xFF, 0x7F, 0x80, 0x0D, 0x0A, 0x3A, 0x20])
        elif op == 2:
            del data[i:i + rng.randrange(1, 16)]
        elif op == 3:
            data[i:i] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 32)))
        elif op == 4:
            j = rng.randrange(len(data))
            data[i:i] = data[j:j + rng.randrange(1, 64)]
        else:
            data[i:i] = data[i:i + rng.randrange(1, 400)] * rng.randrange(2, 20)
    return bytes(data)


def attack_mutations(target, rng, scale, probe_targets, timeout, count):
    h2_good = PREFACE + settings([(4, 65535)]) + h2_request(1) + h2_request(3, method="GET", path="/v2/health/live")
    h1_good = h1_predict("keep-alive") + b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n"
    outcomes, deadline = {"answered": 0, "closed": 0, "silent": 0}, time.monotonic() + 4 * count / 50 + 5
    for i in range(count):
        if time.monotonic() > deadline:
            break
        sample = mutate(rng, h2_good if i % 2 == 0 else h1_good)
        if i % 2 == 0 and rng.random() < 0.8:
            sample = PREFACE + sample[len(PREFACE):]  # keep most h2 samples on the h2 path
        try:
            s = connect(target, 2)
        except OSError as error:
            raise AttackFailure("connect failed during mutations: %s" % error)
        send_quietly(s, sample)
        data, closed = drain(s, 0.3)
        s.close()
        outcomes["answered" if data else ("closed" if closed else "silent")] += 1
        if i % 50 == 49:
            problems, _ = check_serving(probe_targets, timeout)
            if problems:
                raise AttackFailure("after %d mutated requests: %s" % (i + 1, "; ".join(problems)))
    return "%d mutated requests: %s" % (sum(outcomes.values()), tally([k for k, v in outcomes.items() for _ in range(v)]))


class AttackFailure(Exception):
    pass


# ---------------------------------------------------------------------------------------------------------------

def run(targets, seed, scale, timeout, hold, mutations, only):
    simple = [
        ("h1-bad-request-lines", attack_h1_bad_request_lines),
        ("h1-bad-versions", attack_h1_bad_versions),
        ("h1-huge-and-many-headers", attack_h1_huge_and_many_headers),
        ("h1-content-length-lies", attack_h1_content_length_lies),
        ("h1-bad-chunked", attack_h1_bad_chunked),
        ("h1-garbage-and-pipelined-junk", attack_h1_garbage_and_pipelined_junk),
        ("bad-preface", attack_bad_preface),
        ("h2-bad-lengths", attack_h2_bad_lengths),
        ("h2-bad-stream-ids-and-flags", attack_h2_bad_stream_ids_and_flags),
        ("h2-oversize-and-unknown-frames", attack_h2_oversize_and_unknown_frames),
        ("h2-hpack-bombs", attack_h2_hpack_bombs),
        ("h2-continuation-flood", attack_h2_continuation_flood),
        ("h2-rapid-reset", attack_h2_rapid_reset),
        ("h2-stream-flood-no-settings-ack", attack_h2_stream_flood_without_settings_ack),
        ("h2-huge-header-list", attack_h2_huge_header_list),
        ("h2-settings-ping-floods", attack_h2_settings_and_ping_floods),
        ("h2-window-update-overflow", attack_h2_window_update_overflow),
    ]
    held = [
        ("h2-zero-window-stall", lambda t, r, s: attack_h2_zero_window_stall(t, r, s, targets, timeout)),
        ("idle-connections", lambda t, r, s: attack_idle_connections(t, r, s, targets, timeout, hold)),
        ("slowloris", lambda t, r, s: attack_slowloris(t, r, s, targets, timeout, hold)),
        ("mutations", lambda t, r, s: attack_mutations(t, r, s, targets, timeout, mutations)),
    ]
    failures = 0
    problems, timings = check_serving(targets, timeout)
    print("baseline: %s" % ("; ".join(problems) if problems else ", ".join(timings)), flush=True)
    if problems:
        return 1
    for target in targets:
        for name, attack in simple + held:
            if only and not any(o in name for o in only):
                continue
            rng = random.Random("%d/%s/%s" % (seed, target["name"], name))
            started = time.monotonic()
            try:
                outcome, failed = attack(target, rng, scale), False
            except AttackFailure as error:
                outcome, failed = "FAIL: %s" % error, True
            except Exception as error:  # noqa: BLE001 - the fuzzer itself must not end the run
                outcome, failed = "fuzzer error %s: %s" % (type(error).__name__, error), False
            took = time.monotonic() - started
            problems, timings = check_serving(targets, timeout)
            failed = failed or bool(problems)
            failures += failed
            verdict = ("FAIL: " + "; ".join(problems)) if problems else ("FAIL" if failed else "ok")
            recovered = [t for t in timings if " failed: " in t]
            print("%-7s %-32s %-5s %5.1fs  %s%s%s" % (target["name"], name, "FAIL" if failed else "ok", took, outcome,
                                                      "" if verdict == "ok" else "  => " + verdict,
                                                      ("  (served again: " + "; ".join(recovered) + ")") if recovered else ""), flush=True)
            if any("DIED" in p for p in problems):
                print("a process died; stopping", flush=True)
                return 1
    print("%s: %d attack(s) failed" % ("FAIL" if failures else "PASS", failures), flush=True)
    return 1 if failures else 0


def parse_target(text):
    name, _, rest = text.partition("=")
    parts = rest.rsplit(":", 2) if rest.count(":") >= 2 and not rest.startswith("[") else None
    if rest.startswith("["):
        host, _, tail = rest[1:].partition("]")
        bits = tail.lstrip(":").split(":")
        port, pid = int(bits[0]), (int(bits[1]) if len(bits) > 1 else None)
    elif parts and len(parts) == 3:
        host, port, pid = parts[0], int(parts[1]), int(parts[2])
    else:
        host, port = rest.rsplit(":", 1)
        port, pid = int(port), None
    if host not in LOOPBACK:
        raise SystemExit("refusing %s: this fuzzer only talks to loopback addresses" % host)
    return {"name": name or "%s:%d" % (host, port), "host": "127.0.0.1" if host == "localhost" else host, "port": port, "pid": pid}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_processes(binary, root, directory):
    """A worker serving Models/digits and a router in front of it (routes from a cache file, no synchronizer)."""
    import http.client
    token = os.path.join(directory, "token")
    with open(token, "w") as f:
        f.write("fuzz-token\n")
    wport, rport, sport = free_port(), free_port(), free_port()
    cache = os.path.join(directory, "routes.json")
    with open(cache, "w") as f:
        json.dump({"generation": 1, "models": {"digits": {"versions": {"1": ["127.0.0.1:%d" % wport]}, "labels": {}, "default": 1,
                   "hedging": {"percentile": 95, "budgetPercent": 0, "minDelayMs": 1, "maxDelayMs": 1000}}}}, f)
    log = open(os.path.join(directory, "processes.log"), "w")
    common = dict(cwd=root, stdout=log, stderr=subprocess.STDOUT)
    worker = subprocess.Popen([binary, "worker", "--listen", "127.0.0.1:%d" % wport, "--name", "fuzz",
                               "--repository", os.path.join(root, "Models"), "--admin-token-file", token], **common)
    router = subprocess.Popen([binary, "router", "--listen", "127.0.0.1:%d" % rport, "--synchronizer", "127.0.0.1:%d" % sport,
                               "--routes-cache", cache], **common)
    procs = [worker, router]
    deadline = time.monotonic() + 60
    loaded = False
    while time.monotonic() < deadline and not loaded:
        try:
            c = http.client.HTTPConnection("127.0.0.1", wport, timeout=5)
            c.request("PUT", "/admin/models/digits/versions/1", headers={"Authorization": "Bearer fuzz-token"})
            c.getresponse().read()
            c.request("GET", "/admin/state", headers={"Authorization": "Bearer fuzz-token"})
            state = json.loads(c.getresponse().read())
            loaded = any(m.get("state") == "AVAILABLE" for m in state.get("models", []))
            c.close()
        except (OSError, ValueError, http.client.HTTPException):
            pass
        if not loaded:
            time.sleep(0.2)
    if not loaded:
        stop_processes(procs)
        raise SystemExit("setup: digits v1 never became AVAILABLE on the worker (see %s)" % log.name)
    targets = [{"name": "router", "host": "127.0.0.1", "port": rport, "pid": router.pid},
               {"name": "worker", "host": "127.0.0.1", "port": wport, "pid": worker.pid}]
    for _ in range(300):
        try:
            good_h2(targets[0], 5)
            break
        except Exception:  # noqa: BLE001
            time.sleep(0.2)
    return procs, targets


def stop_processes(procs):
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", action="append", default=[], help="NAME=HOST:PORT[:PID] (loopback only)")
    parser.add_argument("--start", metavar="BINARY", help="start a worker and a router with this hedgerow binary")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--quick", action="store_true", help="small counts and short holds (for the test suite)")
    parser.add_argument("--scale", type=int, help="multiplies attack counts (default 1 with --quick, else 4)")
    parser.add_argument("--hold", type=float, help="seconds slowloris and idle floods last (default 3 quick, 20 long)")
    parser.add_argument("--mutations", type=int, help="mutated requests per target (default 100 quick, 2000 long)")
    parser.add_argument("--wait", type=float, help="seconds to wait for an answer to hostile bytes (default 0.5 quick, 1.5 long)")
    parser.add_argument("--timeout", type=float, default=10.0, help="bound for a good request to answer, seconds")
    parser.add_argument("--only", action="append", default=[], help="run only attacks whose name contains this")
    args = parser.parse_args()
    scale = args.scale or (1 if args.quick else 4)
    hold = args.hold if args.hold is not None else (3.0 if args.quick else 20.0)
    mutations = args.mutations if args.mutations is not None else (100 if args.quick else 2000)
    global WAIT
    WAIT = args.wait if args.wait is not None else (0.5 if args.quick else 1.5)
    if bool(args.start) == bool(args.target):
        parser.error("give --target (one or more) or --start BINARY")
    if args.start:
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        with tempfile.TemporaryDirectory(prefix="hedgerow-fuzz-") as directory:
            procs, targets = start_processes(os.path.abspath(args.start), root, directory)
            try:
                code = run(targets, args.seed, scale, args.timeout, hold, mutations, args.only)
            finally:
                stop_processes(procs)
            if code:
                with open(os.path.join(directory, "processes.log")) as f:
                    sys.stdout.write("--- process output (last 4000 bytes) ---\n" + f.read()[-4000:])
            return code
    return run([parse_target(t) for t in args.target], args.seed, scale, args.timeout, hold, mutations, args.only)


if __name__ == "__main__":
    sys.exit(main())
