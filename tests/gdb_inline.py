# gdb -nx -batch -x gdb_inline.py gdb_inline: `weft-bt` (tools/weft-gdb.py, WEFT_GDB_SCRIPT) on
# an -O2 -g program (tests/gdb_inline.cpp) stopped on a line of an inlined function, so that
# frame 0 is an inline frame. The backtrace of the suspended fiber "waiter" must be its own,
# down to the backend's trampoline (WEFT_BT_OUTERMOST), not the current fiber's, and with its
# unwinder disabled weft-bt must fail with an error. Fails if frame 0 is not an inline frame,
# since the test would then not cover that case.
# Exits gdb with 0 on success.
import os
import re
import sys

import gdb

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
from gdb_helpers import check, frames, problems, quit_with, run, start, unwinding_problems  # noqa: E402

BREAK_MARKER = "// weft-gdb-inline: break here"
CALL_MARKER = "// weft-gdb-inline: the inspector's call"


def marker_line(marker):
    source = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gdb_inline.cpp")
    with open(source) as f:
        for number, line in enumerate(f, 1):
            if marker in line:
                return number
    raise RuntimeError("no %r in %s" % (marker, source))


def fiber_ids():
    """Name -> id, from `info weft-fibers`."""
    ids = {}
    for line in run("info weft-fibers").splitlines():
        m = re.match(r'^[* ]\s*(\d+)\s.*"([^"]*)"$', line)
        if m:
            ids[m.group(2)] = int(m.group(1))
    return ids


def check_waiter(fiber, extra=""):
    what = ("weft-bt ID %s" % extra).strip()
    bt = run(("weft-bt %d %s" % (fiber, extra)).strip())
    lines = frames(bt)
    check(lines and lines[0].startswith("#0 "), "%s starts at frame #0" % what)
    call = "gdb_inline.cpp:%d" % marker_line(CALL_MARKER)
    check("weft_gdb_inlined_stop" not in bt and call not in bt,
          "%s does not show the current fiber's frames" % what)
    return bt, lines


def check_refusal(fiber):
    """Without weft's unwinder, weft-bt must fail with an error instead of printing the
    current thread's stack."""
    gdb.execute("disable unwinder global weft-fiber", to_string=True)
    try:
        text = run("weft-bt %d" % fiber)
        check(False, "weft-bt without its unwinder fails, instead of printing:\n" + text)
    except gdb.error as e:
        print("(gdb) weft-bt %d\n%s\n" % (fiber, e))
        check("cannot unwind fiber" in str(e), "weft-bt without its unwinder says why")
    finally:
        gdb.execute("enable unwinder global weft-fiber", to_string=True)


def main():
    outermost = os.environ["WEFT_BT_OUTERMOST"]
    gdb.execute("set pagination off")
    gdb.execute("set confirm off")
    gdb.execute("source " + os.environ["WEFT_GDB_SCRIPT"])
    gdb.execute("break gdb_inline.cpp:%d" % marker_line(BREAK_MARKER))
    start()

    # The case under test: frame 0 is the inlined function's inline frame.
    newest = gdb.newest_frame()
    run("info frame")
    check(newest.type() == gdb.INLINE_FRAME,
          "frame 0 is an inline frame (type %d, not %d)" % (newest.type(), gdb.INLINE_FRAME))
    check(newest.name() == "weft_gdb_inlined_stop",
          "frame 0 is weft_gdb_inlined_stop, not %s" % newest.name())

    ids = fiber_ids()
    check("waiter" in ids, "fiber 'waiter' listed")
    if "waiter" in ids:
        before = gdb.selected_frame()
        bt, lines = check_waiter(ids["waiter"])
        check("weft_gdb_inline_waiter" in bt, "weft-bt shows weft_gdb_inline_waiter")
        for problem in unwinding_problems(bt, outermost):
            check(False, "weft-bt: %s" % problem)
        # A frame count counts the fiber's frames only.
        _, two = check_waiter(ids["waiter"], "2")
        check(two == lines[:2], "weft-bt ID 2 shows the fiber's first two frames")
        check_refusal(ids["waiter"])
        check(gdb.selected_frame() == before, "weft-bt leaves the selected frame as it was")
        bt = run("bt 1")
        check(frames(bt) and "weft_gdb_inlined_stop" in frames(bt)[0],
              "after weft-bt, bt is the current thread's again")
    gdb.execute("kill")
    print("FAIL: %d problems" % len(problems) if problems else "PASS")
    return 1 if problems else 0


quit_with(main)
