# gdb -nx -batch -x gdb_fibers.py gdb_fibers: tests tools/weft-gdb.py (WEFT_GDB_SCRIPT) on the
# program tests/gdb_fibers.cpp stopped in weft_gdb_fibers_stop(): `info weft-fibers` must list
# every fiber with its state, and `weft-bt` must unwind suspended fibers through the frames
# that suspended them, down to the backend's trampoline (WEFT_BT_OUTERMOST), then leave gdb on
# the current frame. WEFT_GDB_MODE=live checks the stopped process; WEFT_GDB_MODE=core saves a
# core file (WEFT_GDB_CORE) with gcore, kills the process and checks the core file.
# Exits gdb with 0 on success.
import os
import re
import sys

import gdb

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
from gdb_helpers import check, frames, problems, quit_with, run, stop_at, unwinding_problems  # noqa: E402


# A row of the listing: mark, id, kind, state, waits-on, stack size, "name".
ROW = re.compile(r'^(?P<mark>[* ])\s*(?P<id>\d+)\s+(?P<kind>fiber|task)\s+(?P<state>.+?)\s{2,}'
                 r'(?P<waits>.+?)\s{2,}(?P<stack>\d+)\s+"(?P<name>[^"]*)"$')


def check_listing():
    text = run("info weft-fibers")
    rows = {}
    for line in text.splitlines():
        m = ROW.match(line)
        if m:
            rows[m.group("name")] = m.groupdict()
    check(text.count("executor 0x") == 2, "two executors listed")
    expected = {
        "event-waiter": ("blocked", "event 0x"),
        "channel-reader": ("blocked", "channel recv 0x"),
        "latch-waiter": ("blocked", "latch 0x"),
        "sleeper": ("sleeping", "sleep"),
        "yielder": ("ready", "-"),
        "spawner": ("ready", "-"),
        "inspector": ("running (thread 1)", "-"),
        "": ("not started", "-"),
        "named-at-spawn": ("not started", "-"),
        "task-reader": ("blocked", "channel recv 0x"),
    }
    for name, (state, waits) in expected.items():
        row = rows.get(name)
        check(row is not None, "fiber %r listed" % name)
        if row is None:
            continue
        check(row["state"] == state, "fiber %r is %r, not %r" % (name, state, row["state"]))
        check(row["waits"].startswith(waits),
              "fiber %r waits on %r..., not %r" % (name, waits, row["waits"]))
        check(row["stack"] == "65536", "fiber %r has a 65536-byte stack" % name)
        kind = "task" if name.startswith("task-") else "fiber"
        check(row["kind"] == kind, "%r is listed as a %s, not %r" % (name, kind, row["kind"]))
    check(rows.get("inspector", {}).get("mark") == "*", "the running fiber is marked with *")
    return {name: int(row["id"]) for name, row in rows.items()}


def check_backtrace(ids, name, must_show, outermost):
    bt = run("weft-bt %d" % ids[name])
    lines = frames(bt)
    check(len(lines) >= 3, "weft-bt of %r shows frames" % name)
    check(lines and lines[0].startswith("#0 "), "weft-bt of %r starts at frame #0" % name)
    for function in must_show:
        check(function in bt, "weft-bt of %r shows %s" % (name, function))
    check("weft_gdb_fibers_stop" not in bt,
          "weft-bt of %r does not show the current thread's frames" % name)
    for problem in unwinding_problems(bt, outermost):
        check(False, "weft-bt of %r: %s" % (name, problem))


def check_all(outermost):
    ids = check_listing()
    if any(n not in ids for n in ("event-waiter", "channel-reader", "sleeper", "inspector")):
        return
    gdb.execute("frame 1", to_string=True)  # weft-bt must come back to a selected outer frame
    before = gdb.selected_frame()
    check_backtrace(ids, "event-waiter", ["weft_gdb_wait_on_event", "weft::event::wait"],
                    outermost)
    check_backtrace(ids, "channel-reader", ["weft_gdb_receive", "weft::detail::block"], outermost)
    check_backtrace(ids, "sleeper", ["weft_gdb_nap"], outermost)
    check(gdb.selected_frame() == before, "weft-bt leaves the selected frame as it was")
    bt = run("bt")
    check(frames(bt) and "weft_gdb_fibers_stop" in frames(bt)[0],
          "after weft-bt, bt is the current thread's again")
    running = run("weft-bt %d" % ids["inspector"])
    check("weft_gdb_fibers_stop" in running, "weft-bt of the running fiber shows its thread")
    not_started = run("weft-bt %d" % ids[""])
    check("has not run yet" in not_started, "weft-bt of a fiber that never ran says so")


def main():
    mode = os.environ.get("WEFT_GDB_MODE", "live")
    outermost = os.environ["WEFT_BT_OUTERMOST"]
    stop_at("weft_gdb_fibers_stop", sources=[os.environ["WEFT_GDB_SCRIPT"]])
    if mode == "core":
        core = os.environ["WEFT_GDB_CORE"]
        if os.path.exists(core):
            os.remove(core)
        gdb.execute("gcore " + core)
        gdb.execute("kill")
        gdb.execute("core-file " + core)
        check_all(outermost)
        os.remove(core)
    else:
        check_all(outermost)
        gdb.execute("kill")
    print("FAIL: %d problems" % len(problems) if problems else "PASS (%s)" % mode)
    return 1 if problems else 0


quit_with(main)
