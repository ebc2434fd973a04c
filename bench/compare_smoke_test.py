#!/usr/bin/env python3
"""Smoke test of bench/compare (CTest label `bench`; CI skips it with -LE bench).

    compare_smoke_test.py COMPARE BUILD_DIR

Runs `COMPARE --smoke --build-dir BUILD_DIR --out BUILD_DIR/results` (its own three Release
builds, tiny repetition counts), then checks that
  - it exits 0 and prints a table naming every tier;
  - results.csv has exactly the rows `COMPARE --list-rows` names, each measured (a positive
    median with min <= median <= max, a ratio) or, for the rows that are not run (or that
    the OS refused: std::thread skynet's EAGAIN; or, in the IO tier, whose server or wrk is
    not there, as weft_http_hello in a tree without it), a reason;
  - every tier has an SVG chart, each parses as XML with an <svg> root, and names every row.
"""

import csv
import math
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

SVG_NS = "{http://www.w3.org/2000/svg}"


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    compare, build_dir = sys.argv[1], Path(sys.argv[2])
    out = build_dir / "results"
    errors = []

    listed = subprocess.run([sys.executable, compare, "--list-rows"], capture_output=True,
                            text=True, check=True).stdout
    expected = list(csv.reader(listed.splitlines()))  # tier title, row, run|skip, chart key
    if not expected:
        sys.exit("compare --list-rows printed nothing")

    run = subprocess.run([sys.executable, compare, "--smoke", "--build-dir", str(build_dir),
                          "--out", str(out)], capture_output=True, text=True)
    sys.stderr.write(run.stderr)
    print(run.stdout)
    if run.returncode != 0:
        errors.append(f"bench/compare --smoke exited with status {run.returncode}")
    for tier in {e[0] for e in expected}:
        if tier not in run.stdout:
            errors.append(f"the table does not mention tier '{tier}'")

    # results.csv
    try:
        with open(out / "results.csv", newline="") as f:
            got = {(r["tier"], r["row"]): r for r in csv.DictReader(f)}
    except OSError as e:
        got = {}
        errors.append(f"cannot read results.csv: {e}")
    for tier, row, status, _ in expected:
        r = got.get((tier, row))
        if r is None:
            errors.append(f"results.csv lacks row '{tier}' / '{row}'")
            continue
        if status == "skip" or r["note"].startswith(("not feasible", "not run")):
            if r["median"] or not r["note"].startswith(("not run", "not feasible")):
                errors.append(f"'{tier}' / '{row}' should be 'not run' with a reason: {r}")
            continue
        try:
            med, lo, hi, ratio = (float(r[k])
                                  for k in ("median", "min", "max", "ratio_to_weft_asm"))
        except ValueError:
            errors.append(f"'{tier}' / '{row}' has no measurement: {r}")
            continue
        if not (0 < lo <= med <= hi) or not math.isfinite(ratio) or ratio <= 0:
            errors.append(f"'{tier}' / '{row}' has inconsistent numbers: {r}")
        if not r["ratio_measured"]:
            errors.append(f"'{tier}' / '{row}' does not say how its ratio was measured")
    extra = set(got) - {(e[0], e[1]) for e in expected}
    if extra:
        errors.append(f"results.csv has unexpected rows: {sorted(extra)}")

    # SVG charts
    charts = {e[3] for e in expected}
    for key in sorted(charts):
        path = out / f"{key}.svg"
        try:
            root = ET.parse(path).getroot()
        except (OSError, ET.ParseError) as e:
            errors.append(f"{path}: does not parse as XML: {e}")
            continue
        if root.tag != SVG_NS + "svg":
            errors.append(f"{path}: the root element is {root.tag}, not svg")
        texts = " ".join("".join(t.itertext()) for t in root.iter(SVG_NS + "text"))
        for tier, row, _, k in expected:
            if k == key and row not in texts:
                errors.append(f"{path}: no label for row '{row}'")
        if not list(root.iter(SVG_NS + "rect")):
            errors.append(f"{path}: no bars")
    found = sorted(p.name for p in out.glob("*.svg"))
    print(f"checked {len(expected)} rows in results.csv and {len(found)} SVG files: {found}")

    for e in errors:
        print("FAIL:", e)
    print("compare smoke test:", "FAILED" if errors else "passed")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
