#!/usr/bin/env python3
"""Smoke test of bench/io_bench (CTest label `bench`; CI skips it with -LE bench).

    io_bench_smoke_test.py IO_BENCH --asio PATH --epoll PATH [--weft-http-hello=PATH]

(Empty arguments are ignored: CMake passes one when weft_http_hello is not a target.)
Runs `IO_BENCH --smoke` (one round of 1 s wrk runs at 64, 256 and 1000 connections) against
the Boost.Asio and epoll servers, nginx when installed and weft_http_hello when given, then a
pipelined run (8 requests per connection write) of the two baseline servers, and checks that
  - each exits 0 and prints a table naming every candidate;
  - its CSV has a row per candidate and connection count: measured ones with a plausible
    requests/s (more than 100), p99 (0 to 60 s) and server CPU per request (0 to 10 ms),
    min <= median <= max, and a ratio to the epoll floor (exactly 1 for the floor itself); the
    others 'not run' with a reason (nginx
    when not installed, weft_http_hello when not given);
  - no server it started is still running afterwards.
"""

import csv
import math
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

LABELS = {
    "weft-1": "weft_http_hello, 1 worker",
    "weft-2": "weft_http_hello, 2 workers",
    "nginx": "nginx, 1 process",
    "asio": "Boost.Asio, 1 thread",
    "epoll": "epoll floor, 1 thread",
}


def running_with(paths):
    """Processes whose command line names one of paths."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if cmd and cmd[0].decode(errors="replace") in paths:
            found.append(f"{pid}: {b' '.join(cmd).decode(errors='replace')}")
    return found


def check_csv(path, expect, conns, errors, what):
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        errors.append(f"{what}: cannot read its CSV: {e}")
        return
    got = {(r["candidate_key"], int(r["connections"])): r for r in rows}
    for key, measured in expect.items():
        for c in conns:
            r = got.get((key, c))
            if r is None:
                errors.append(f"{what}: no CSV row for {key} at {c} connections")
                continue
            if not measured:
                if r["rps_median"] or not r["note"].startswith("not run"):
                    errors.append(f"{what}: {key} at {c} should be 'not run' with a reason: {r}")
                continue
            # wrk's pipelined runs sometimes give a p99 of 0; the driver leaves it out, saying so.
            p99_left_out = r["p99_us_median"] == "" and "p99 0" in r["note"]
            try:
                med, lo, hi, cpu, ratio = (float(r[k]) for k in (
                    "rps_median", "rps_min", "rps_max", "cpu_us_per_req_median", "ratio_to_epoll"))
                p99 = None if p99_left_out else float(r["p99_us_median"])
            except ValueError:
                errors.append(f"{what}: {key} at {c} has no measurement: {r}")
                continue
            if (not (100 < lo <= med <= hi) or not (p99 is None or 0 < p99 < 60e6)
                    or not (0 < cpu < 10e3)):
                errors.append(f"{what}: {key} at {c}: implausible numbers: {r}")
            if not math.isfinite(ratio) or ratio <= 0 or (key == "epoll" and ratio != 1):
                errors.append(f"{what}: {key} at {c}: bad ratio to the floor: {r}")
            if r["note"]:
                print(f"note ({what}, {key} at {c}): {r['note']}")


def run(cmd, what, errors):
    print("$", " ".join(cmd), flush=True)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    sys.stderr.write(p.stderr)
    print(p.stdout, flush=True)
    if p.returncode != 0:
        errors.append(f"{what}: exited with status {p.returncode}")
    return p.stdout


def main():
    args = [a for a in sys.argv[1:] if a]
    if len(args) < 5 or args[1] != "--asio" or args[3] != "--epoll":
        sys.exit(__doc__)
    io_bench, asio, epoll = args[0], args[2], args[4]
    weft = None
    for a in args[5:]:
        if a.startswith("--weft-http-hello="):
            weft = a.partition("=")[2]
        else:
            sys.exit(f"unknown argument {a}\n{__doc__}")
    errors = []
    tmp = Path(tempfile.mkdtemp(prefix="io-bench-smoke-"))
    try:
        base = [sys.executable, io_bench, "--asio", asio, "--epoll", epoll]
        if weft:
            base.append(f"--weft-http-hello={weft}")
        else:
            base += ["--build-dir", str(tmp / "none")]  # so that no weft_http_hello is found
        expect = {"weft-1": bool(weft), "weft-2": bool(weft),
                  "nginx": bool(shutil.which("nginx") or os.access("/usr/sbin/nginx", os.X_OK)),
                  "asio": True, "epoll": True}

        out = run(base + ["--smoke", "--csv", str(tmp / "smoke.csv")], "io_bench --smoke",
                  errors)
        for key in expect:
            if LABELS[key] not in out:
                errors.append(f"io_bench --smoke: the table does not name '{LABELS[key]}'")
        check_csv(tmp / "smoke.csv", expect, [64, 256, 1000], errors, "io_bench --smoke")

        run(base + ["--smoke", "--only", "asio,epoll", "--connections", "64", "--pipeline", "8",
                    "--csv", str(tmp / "pipeline.csv")], "io_bench --pipeline 8", errors)
        check_csv(tmp / "pipeline.csv", {"asio": True, "epoll": True}, [64], errors,
                  "io_bench --pipeline 8")

        left = running_with({str(Path(p).resolve()) for p in (asio, epoll, weft) if p} |
                            {asio, epoll} | ({weft} if weft else set()))
        if left:
            errors.append("servers still running after io_bench: " + "; ".join(left))
    except subprocess.TimeoutExpired as e:
        errors.append(f"timed out: {e}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    for e in errors:
        print("FAIL:", e)
    print("io_bench smoke test:", "FAILED" if errors else "passed")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
