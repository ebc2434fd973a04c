#!/usr/bin/env python3
"""Runs weft_trace_demo with WEFT_TRACE=chrome:FILE and checks the Chrome trace-event JSON:
it parses, has one named track per worker, a complete slice per running stretch named after
its fiber, and wake flow arrows whose start and finish pair up."""
import json, os, subprocess, sys, tempfile

demo = sys.argv[1]
with tempfile.TemporaryDirectory() as d:
    path = os.path.join(d, "trace.json")
    env = dict(os.environ, WEFT_TRACE="chrome:" + path)
    subprocess.run([demo], check=True, env=env, stdout=subprocess.DEVNULL)
    with open(path) as f:
        trace = json.load(f)

events = trace["traceEvents"]
slices = [e for e in events if e["ph"] == "X"]
names = {e["name"] for e in slices}
errors = []
for fiber in ("main", "producer", "consumer-a", "consumer-b"):
    if not any(n.startswith(fiber + " (fiber ") for n in names):
        errors.append(f"no running slice named after fiber {fiber!r}: {sorted(names)}")
if any(e["dur"] < 0 for e in slices):
    errors.append("a slice has a negative duration")
tracks = {e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "thread_name"}
if "weft worker 1" not in tracks:
    errors.append(f"no track for worker 1: {tracks}")
starts = {e["id"] for e in events if e["ph"] == "s"}
finishes = {e["id"] for e in events if e["ph"] == "f"}
if not starts or starts != finishes:
    errors.append(f"wake flows do not pair up: {len(starts)} starts, {len(finishes)} finishes")
# Slices on one track never overlap.
by_track = {}
for e in slices:
    by_track.setdefault(e["tid"], []).append((e["ts"], e["ts"] + e["dur"]))
for tid, spans in by_track.items():
    spans.sort()
    for (a0, a1), (b0, b1) in zip(spans, spans[1:]):
        if b0 < a1 - 1e-6:
            errors.append(f"overlapping slices on track {tid}: {a0}-{a1} and {b0}-{b1}")
            break
if errors:
    print("\n".join(errors))
    sys.exit(1)
print(f"ok: {len(slices)} slices, {len(starts)} wake flows, tracks {sorted(tracks)}")
