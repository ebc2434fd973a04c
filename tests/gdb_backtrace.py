# gdb -batch -x gdb_backtrace.py gdb_backtrace: stops in weft_bt_marker(), inside a context, and
# checks that `bt` walks from the marker through the entry function to the backend's
# trampoline (WEFT_BT_OUTERMOST) and stops there cleanly. Exits gdb with 0 on success.
import os
import sys

import gdb

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
from gdb_helpers import frames, quit_with, stop_at, unwinding_problems  # noqa: E402


def backtrace_problems(bt, outermost):
    lines = frames(bt)
    problems = unwinding_problems(bt, outermost)
    if not 3 <= len(lines) <= 4:
        problems.append("expected 3-4 frames (marker, entry, trampoline), got %d" % len(lines))
    if len(lines) < 2 or "weft_bt_entry" not in lines[1]:
        problems.append("frame #1 is not the context's entry function weft_bt_entry")
    return problems


def main():
    outermost = os.environ["WEFT_BT_OUTERMOST"]
    stop_at("weft_bt_marker")
    bt = gdb.execute("bt", to_string=True)
    print(bt)
    problems = backtrace_problems(bt, outermost)
    for p in problems:
        print("FAIL: " + p)
    if not problems:
        print("PASS: the backtrace ends cleanly at " + outermost)
    gdb.execute("kill")
    return 1 if problems else 0


quit_with(main)
