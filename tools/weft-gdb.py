# weft-gdb.py: gdb commands for the fibers of weft executors.
#
# Load it in gdb (installed as <prefix>/share/weft/weft-gdb.py):
#
#   (gdb) source /usr/local/share/weft/weft-gdb.py
#
# Commands:
#
#   info weft-fibers            every fiber of every executor: id, state, what it waits on,
#                               stack size, name
#   weft-bt ID [BT-ARGS]        the backtrace of fiber ID. A suspended fiber is unwound from the
#                               context it saved when it switched away; a running one is shown
#                               on its thread. BT-ARGS go to `backtrace` (full, -full, N, ...).
#                               Afterwards gdb is back on the current thread and frame.
#
# Both work on a live process and on a core file, and need no debug information: the program
# describes its own layout in the symbols `weft_debug_layout` and `weft_registry_head` (see
# src/registry.hpp), which a stripped executable lacks.
import struct

import gdb
import gdb.unwinder


class WeftError(Exception):
    pass


def _read(address, size):
    try:
        return gdb.selected_inferior().read_memory(address, size).tobytes()
    except gdb.MemoryError:
        raise WeftError("cannot read %d bytes at 0x%x" % (size, address))


def _u64(address):
    return struct.unpack("<Q", _read(address, 8))[0]


def _u8(address):
    return _read(address, 1)[0]


def _symbol_address(name):
    try:
        return int(gdb.parse_and_eval("(unsigned long) &%s" % name))
    except gdb.error:
        raise WeftError("symbol %s not found: the program does not use weft, or is stripped"
                        % name)


class Layout:
    """The offsets that the program wrote into weft_debug_layout with its first executor."""

    def __init__(self):
        raw = _read(_symbol_address("weft_debug_layout"), 2048)
        text = raw.split(b"\0", 1)[0].decode("utf-8", "replace")
        if not text:
            raise WeftError("weft_debug_layout is empty: no executor was created yet")
        fields = text.split(";")
        header = fields[0].split()
        if len(header) != 2 or header[0] != "weft-debug" or header[1] != "1":
            raise WeftError("unknown weft_debug_layout version %r" % fields[0])
        values = {}
        for field in fields[1:]:
            if "=" in field:
                key, value = field.split("=", 1)
                values[key] = value
        self.backend = values.get("backend", "?")
        self.string = values.get("string", "unknown")
        self.vector = values.get("vector", "unknown")
        self.wait_kinds = values.get("wait_kinds", "").split("|")
        # The registers a switch saves, the pc first (x86-64: rip, ...; AArch64: pc, x29, ...).
        self.frame_registers = values.get("frame_registers",
                                          "rip|rbp|rbx|r12|r13|r14|r15").split("|")
        self.offsets = {k: int(v) for k, v in values.items() if v.isdigit()}

    def __getitem__(self, key):
        return self.offsets[key]


class Fiber:
    def __init__(self, layout, address, core):
        o = layout.offsets
        self.address = address
        self.core = core
        self.id = _u64(address + o["fiber.id"])
        self.name = _read_string(layout, address + o["fiber.name"])
        kind = _u8(address + o["fiber.waiting_on"])
        self.waiting_on = kind
        self.wait_name = (layout.wait_kinds[kind] if kind < len(layout.wait_kinds)
                          else "wait kind %d" % kind)
        self.wait_object = _u64(address + o["fiber.wait_object"])
        self.region_low = _u64(address + o["fiber.region_low"])
        self.region_size = _u64(address + o["fiber.region_size"])
        self.guarded = _u8(address + o["fiber.guarded"]) != 0
        self.finished = _u8(address + o["fiber.finished"]) != 0
        self.saved_sp = _u64(address + o["fiber.ctx_sp"])
        # A fiber running a spawned weft::task is listed as a task.
        self.kind = "task" if _u8(_u64(address + o["fiber.ops"]) +
                                  o["ops.runs_coroutine"]) else "fiber"
        self.started = True
        self.thread = None  # the gdb thread running it, if any

    def contains(self, sp):
        return self.region_low <= sp < self.region_low + self.region_size

    def state(self):
        if self.thread is not None:
            return "running"
        if not self.started:
            return "not started"
        if self.finished:
            return "finished"
        if self.wait_name == "sleep":
            return "sleeping"
        if self.waiting_on != 0:
            return "blocked"
        return "ready"  # yielded, woken by a timer, or a spawner waiting for its child

    def waits_on(self):
        if self.state() not in ("blocked", "sleeping") or self.waiting_on == 0:
            return "-"
        if self.wait_object:
            return "%s 0x%x" % (self.wait_name, self.wait_object)
        return self.wait_name


def _read_string(layout, address):
    if layout.string != "ptr0,size8":
        return "?"
    data = _u64(address)
    size = _u64(address + 8)
    if size == 0:
        return ""
    shown = min(size, 200)
    try:
        text = _read(data, shown).decode("utf-8", "replace")
    except WeftError:
        return "?"
    return text + ("..." if shown < size else "")


def _walk(first, link_offset, limit=1000000):
    seen = set()
    node = first
    while node and node not in seen and len(seen) < limit:
        seen.add(node)
        yield node
        node = _u64(node + link_offset)


def _thread_stack_pointers():
    """(thread, stack pointer) for every thread of the inferior; the selection is restored."""
    result = []
    original = gdb.selected_thread()
    try:
        frame = gdb.selected_frame()
    except gdb.error:
        frame = None
    try:
        for thread in gdb.selected_inferior().threads():
            try:
                thread.switch()
                result.append((thread, int(gdb.newest_frame().read_register(_sp_register()))))
            except gdb.error:
                pass
    finally:
        if original is not None and original.is_valid():
            original.switch()
            if frame is not None:
                try:
                    frame.select()
                except gdb.error:
                    pass
    return result


def _fiber_addresses(layout, core):
    """The address of every fiber of the executor at `core`: each worker lists the fibers that
    suspended on it (or were queued there unstarted) and names the one it runs."""
    o = layout.offsets
    if "core.workers" not in o:
        raise WeftError("weft_debug_layout does not say where fibers are kept (a newer weft?)")
    if layout.vector != "begin0,end8":
        raise WeftError("unknown std::vector layout %r" % layout.vector)
    begin = _u64(core + o["core.workers"])
    end = _u64(core + o["core.workers"] + 8)
    found = {}
    for slot in range(begin, min(end, begin + 8 * 4096), 8):
        worker = _u64(slot)
        if worker:
            for a in _walk(_u64(worker + o["worker.live_head"]), o["fiber.next_live"]):
                found[a] = True
            running = _u64(worker + o["worker.running"])
            if running:  # a running fiber that never suspended is on no list
                found[running] = True
    return list(found)


def collect_fibers():
    """The layout, and every executor as (address, live count, fibers sorted by id)."""
    head = _u64(_symbol_address("weft_registry_head"))
    if not head:
        return None, []
    layout = Layout()
    o = layout.offsets
    threads = _thread_stack_pointers()
    executors = []
    for node in _walk(head, o["node.next"], 100000):
        core = _u64(node + o["node.core"])
        fibers = []
        for address in _fiber_addresses(layout, core):
            f = Fiber(layout, address, core)
            for thread, sp in threads:
                if f.contains(sp):
                    f.thread = thread
            # A context that never ran still has the start frame its backend built at the top
            # of the stack, which ends where the control block starts. (So does one running
            # for the first time: it has not switched away yet.)
            f.started = (f.thread is not None or
                         f.saved_sp != (address & ~15) - o["fiber.start_depth"])
            fibers.append(f)
        live = _u64(core + o["core.live"]) if "core.live" in o else len(fibers)
        executors.append((core, live, sorted(fibers, key=lambda f: f.id)))
    return layout, executors


def find_fiber(fiber_id):
    layout, executors = collect_fibers()
    for _, _, fibers in executors:
        for f in fibers:
            if f.id == fiber_id:
                return layout, f
    raise WeftError("no fiber %d (see info weft-fibers)" % fiber_id)


class InfoWeftFibers(gdb.Command):
    """List every fiber of every weft executor: id, state, what it waits on, stack size, name.

Usage: info weft-fibers
A '*' marks the fiber running on the selected thread. States: running (on the thread shown),
ready (can run: yielded, woken, or queued), blocked (in a weft primitive, until it runs
again), sleeping, not started."""

    def __init__(self):
        super().__init__("info weft-fibers", gdb.COMMAND_STATUS)

    def invoke(self, argument, from_tty):
        try:
            layout, executors = collect_fibers()
        except WeftError as e:
            raise gdb.GdbError("weft: %s" % e)
        if not executors:
            print("weft: no executor exists")
            return
        selected = gdb.selected_thread()
        for core, live, fibers in executors:
            print("executor 0x%x (%s backend): %d live %s" % (
                core, layout.backend, live, "fiber" if live == 1 else "fibers"))
            if not fibers:
                continue
            print("  %5s  %-5s  %-20s  %-32s  %9s  %s" % (
                "Id", "Kind", "State", "Waits on", "Stack", "Name"))
            for f in fibers:
                state = f.state()
                if f.thread is not None:
                    state += " (thread %d)" % f.thread.num
                mark = "*" if f.thread is not None and f.thread == selected else " "
                print("%s %5d  %-5s  %-20s  %-32s  %9d  \"%s\"" % (
                    mark, f.id, f.kind, state, f.waits_on(), f.region_size, f.name))


class _FrameId:
    def __init__(self, sp, pc):
        self.sp = sp
        self.pc = pc


class FiberUnwinder(gdb.unwinder.Unwinder):
    """While `target` is set, the frame above the selected thread's innermost real frame is
    the saved context of a suspended fiber: `backtrace` then walks that fiber's stack."""

    def __init__(self):
        super().__init__("weft-fiber")
        # (thread number, level of the innermost real frame, frame-id stack address,
        #  {register: value})
        self.target = None

    def __call__(self, pending_frame):
        if self.target is None:
            return None
        thread_num, level, id_sp, registers = self.target
        # gdb asks its inline-frame unwinder before Python ones: inline frames at levels
        # 0..level-1 never reach us, the real frame that holds them does.
        if pending_frame.level() != level:
            return None
        thread = gdb.selected_thread()
        if thread is None or thread.num != thread_num:
            return None
        pc = pending_frame.read_register(_pc_register())
        # The id's stack address lies below the fiber's frames, so gdb sees the next frames
        # as outer ones wherever the two stacks lie.
        info = pending_frame.create_unwind_info(_FrameId(gdb.Value(id_sp).cast(
            pending_frame.read_register(_sp_register()).type), pc))
        for name, value in registers.items():
            register_type = pending_frame.read_register(name).type
            info.add_saved_register(name, gdb.Value(value).cast(register_type))
        return info


_unwinder = FiberUnwinder()
gdb.unwinder.register_unwinder(None, _unwinder, replace=True)


def _is_aarch64():
    return gdb.selected_inferior().architecture().name().startswith("aarch64")


def _sp_register():
    """The stack pointer's name in this inferior's architecture (rsp on x86-64, sp on AArch64)."""
    return "sp" if _is_aarch64() else "rsp"


def _pc_register():
    """The program counter's name (rip on x86-64, pc on AArch64)."""
    return "pc" if _is_aarch64() else "rip"


def saved_registers(layout, f):
    """The registers a suspended fiber resumes with, read from the frame its switch saved."""
    o = layout.offsets
    sp = f.saved_sp
    registers = {_sp_register(): sp + o["frame.size"]}
    for name in layout.frame_registers:
        registers[name] = _u64(sp + o["frame." + name])
    return registers


def _drop_first_frames(text, count):
    """The backtrace text without frames #0..#count-1 (the selected thread's own),
    renumbered."""
    out = []
    skipping = False
    for line in text.splitlines():
        if line.startswith("#"):
            number = line[1:].split(None, 1)[0] if len(line) > 1 else ""
            if number.isdigit():
                n = int(number)
                if n < count:
                    skipping = True
                    continue
                skipping = False
                rest = line[1 + len(number):]
                spaces = len(rest) - len(rest.lstrip(" "))
                new = str(n - count)
                line = "#" + new + " " * max(1, len(number) + spaces - len(new)) + rest.lstrip(" ")
        if not skipping:
            out.append(line)
    return "\n".join(out)


class WeftBt(gdb.Command):
    """Backtrace of one weft fiber, then back to the current thread and frame.

Usage: weft-bt ID [BACKTRACE-ARGS]
A suspended fiber is unwound from the context it saved when it switched away (this works on
core files too); a running fiber is shown on the thread running it. BACKTRACE-ARGS are passed
to `backtrace`, e.g. `weft-bt 7 full`."""

    def __init__(self):
        super().__init__("weft-bt", gdb.COMMAND_STACK)

    def invoke(self, argument, from_tty):
        argv = gdb.string_to_argv(argument)
        if not argv:
            raise gdb.GdbError("usage: weft-bt ID [BACKTRACE-ARGS]")
        try:
            fiber_id = int(gdb.parse_and_eval(argv[0]))
            layout, f = find_fiber(fiber_id)
        except WeftError as e:
            raise gdb.GdbError("weft: %s" % e)
        extra = argv[1:]
        header = "%s %d \"%s\" (%s)" % (f.kind, f.id, f.name, f.state())
        if f.thread is not None:
            print(header + ", on thread %d:" % f.thread.num)
            self.on_thread(f.thread, extra)
            return
        if not f.started:
            print(header + ": it has not run yet, so it has no frames")
            return
        if f.finished or not f.saved_sp:
            print(header + ": no saved context")
            return
        self.suspended(layout, f, extra, header + ":")

    @staticmethod
    def on_thread(thread, extra):
        original = gdb.selected_thread()
        frame = gdb.selected_frame()
        try:
            thread.switch()
            gdb.execute("backtrace " + " ".join(extra))
        finally:
            original.switch()
            frame.select()

    @staticmethod
    def suspended(layout, f, extra, header):
        thread = gdb.selected_thread()
        if thread is None:
            raise gdb.GdbError("weft: no thread selected")
        frame = gdb.selected_frame()
        level = frame.level()
        # The fiber's frames go above the thread's innermost real frame, which comes after any
        # inline frames at the top (a stop in inlined code of an optimized program).
        host = gdb.newest_frame()
        while host.type() == gdb.INLINE_FRAME and host.older() is not None:
            host = host.older()
        own = host.level() + 1  # the thread's frames shown first, then dropped
        # Frame counts count the fiber's frames only.
        extra = [str(int(a) + own) if a.isdigit() else a for a in extra]
        registers = saved_registers(layout, f)
        _unwinder.target = (thread.num, host.level(), f.saved_sp, registers)
        gdb.invalidate_cached_frames()
        try:
            # Never print another stack as the fiber's: the frame after the thread's own must
            # be the fiber's saved context.
            switched = WeftBt.frame_at(own)
            if switched is None or switched.pc() != registers[layout.frame_registers[0]]:
                raise gdb.GdbError(
                    "weft: cannot unwind fiber %d from its saved context: gdb did not use "
                    "weft's unwinder for frame #%d (%s)" % (f.id, host.level(), host.name()))
            text = gdb.execute("backtrace " + " ".join(extra), to_string=True)
        finally:
            _unwinder.target = None
            gdb.invalidate_cached_frames()
            try:
                gdb.execute("frame %d" % level, to_string=True)
            except gdb.error:
                pass
        print(header)
        print(_drop_first_frames(text, own))

    @staticmethod
    def frame_at(level):
        """The selected thread's frame at `level`, or None."""
        frame = gdb.newest_frame()
        for _ in range(level):
            if frame is None:
                break
            frame = frame.older()
        return frame


InfoWeftFibers()
WeftBt()
