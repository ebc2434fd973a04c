# gdb -batch -x gdb_backtrace.py gdb_backtrace: stops in weft_bt_marker(), inside a context, and
# checks that `bt` walks from the marker through the entry function to the backend's
# trampoline (WEFT_BT_OUTERMOST) and stops there cleanly. Exits gdb with 0 on success.
import os
import re

import gdb


def backtrace_problems(bt, outermost):
    frames = [line for line in bt.splitlines() if re.match(r"#\d+\s", line)]
    problems = []
    if "??" in bt:
        problems.append("a frame gdb cannot name (??)")
    if "Backtrace stopped" in bt or "corrupt stack" in bt:
        problems.append("gdb stopped on a bad frame instead of at the outermost one")
    if not 3 <= len(frames) <= 4:
        problems.append("expected 3-4 frames (marker, entry, trampoline), got %d" % len(frames))
    if len(frames) < 2 or "weft_bt_entry" not in frames[1]:
        problems.append("frame #1 is not the context's entry function weft_bt_entry")
    if not frames or outermost not in frames[-1]:
        problems.append("the outermost frame is not %s" % outermost)
    return problems


def main():
    outermost = os.environ["WEFT_BT_OUTERMOST"]
    gdb.execute("set pagination off")
    gdb.execute("set confirm off")
    gdb.execute("break weft_bt_marker")
    gdb.execute("run")
    bt = gdb.execute("bt", to_string=True)
    print(bt)
    problems = backtrace_problems(bt, outermost)
    for p in problems:
        print("FAIL: " + p)
    if not problems:
        print("PASS: the backtrace ends cleanly at " + outermost)
    gdb.execute("kill")
    return 1 if problems else 0


try:
    status = main()
except Exception as e:  # a gdb error (no breakpoint hit, no process): fail, do not hang
    print("FAIL: " + str(e))
    status = 2
gdb.execute("quit %d" % status)
