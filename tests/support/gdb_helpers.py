# What the gdb test scripts (tests/gdb_backtrace.py, gdb_fibers.py, gdb_inline.py) share, for gdb's
# embedded Python: stopping the program under test, reading a backtrace's frames, checking
# how an unwinding ends, and making a script's result gdb's exit status.
import os
import re
import socket
import subprocess
import time

import gdb

# Failed checks of the running script, printed as they happen.
problems = []


def check(condition, what):
    if not condition:
        problems.append(what)
        print("FAIL: " + what)


def run(command):
    """Runs a gdb command, echoes it and its output, and returns the output."""
    text = gdb.execute(command, to_string=True)
    print("(gdb) %s\n%s" % (command, text))
    return text


def stop_at(function, sources=()):
    """Sets gdb up for a batch run, sources the gdb scripts `sources`, then runs the program
    until it reaches `function`."""
    gdb.execute("set pagination off")
    gdb.execute("set confirm off")
    for script in sources:
        gdb.execute("source " + script)
    gdb.execute("break " + function)
    start()


def start():
    """Runs the program from its start until a breakpoint. In a cross build
    (WEFT_GDB_EMULATOR, e.g. qemu-aarch64), the emulator runs it with a gdb stub on a free
    local port, and gdb attaches there; `kill` ends it as usual."""
    emulator = os.environ.get("WEFT_GDB_EMULATOR")
    if not emulator:
        gdb.execute("run")
        return
    gdb.execute("set sysroot /")
    # Breakpoints set before the program is loaded would stay at unrelocated (PIE) addresses:
    # set them again once attached.
    locations = [b.location for b in gdb.breakpoints() if b.location]
    for b in gdb.breakpoints():
        b.delete()
    attach_under(emulator)
    for location in locations:
        gdb.execute("break " + location)
    gdb.execute("continue")


def attach_under(emulator):
    """Starts the program under `emulator`'s gdb stub on a free local port and attaches to it.
    The port is free when chosen, not reserved: if the emulator cannot listen there (another
    test took it meanwhile), it exits, and another port is tried."""
    program = gdb.current_progspace().filename
    for _ in range(5):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        stub = subprocess.Popen([emulator, "-g", str(port), program], stdout=subprocess.DEVNULL)
        for _ in range(100):  # the stub listens a moment after the emulator starts
            if stub.poll() is not None:
                break
            try:
                gdb.execute("target remote 127.0.0.1:%d" % port, to_string=True)
                return
            except gdb.error:
                time.sleep(0.1)
        if stub.poll() is None:
            stub.kill()
    raise gdb.GdbError("could not attach to %s -g PORT %s" % (emulator, program))


def frames(bt):
    """The frame lines ("#N ...") of a backtrace's text."""
    return [line for line in bt.splitlines() if re.match(r"#\d+\s", line)]


def unwinding_problems(bt, outermost):
    """What is wrong with how the backtrace `bt` ends: a frame gdb cannot name, a stop on a bad
    frame, an outermost frame that is not `outermost` (the backend's trampoline). Empty when
    it ends cleanly there."""
    problems = []
    if "??" in bt:
        problems.append("a frame gdb cannot name (??)")
    if "Backtrace stopped" in bt or "corrupt stack" in bt:
        problems.append("gdb stopped on a bad frame instead of at the outermost one")
    lines = frames(bt)
    if not lines or outermost not in lines[-1]:
        problems.append("the outermost frame is not %s" % outermost)
    return problems


def quit_with(main):
    """Quits gdb with main()'s status (0 on success); a gdb error (no breakpoint hit, no
    process) fails with 2 instead of leaving gdb waiting."""
    try:
        status = main()
    except Exception as e:
        print("FAIL: " + str(e))
        status = 2
    gdb.execute("quit %d" % status)
