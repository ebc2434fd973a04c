#!/usr/bin/env python3
"""Writes the schedule fuzzer's hand-made seed inputs into tests/fuzz/corpus/ (seed-*).

The byte format is described in tests/fuzz/README.md. Run it again after changing the
seeds below; files the fuzzer found (crash-*, regression-*) are kept as they are.
"""
import os

OPS = ["spawn", "yield", "sleep", "send", "recv", "try_send", "try_recv", "close", "lock",
       "unlock", "set", "wait", "join", "detach", "throw_catch",
       # op bytes 240-249: the timed waits and select; 250-255: a stop request
       "recv_for", "send_for", "wait_for", "lock_for", "select", "stop"]
TIMEOUTS_US = [0, 500, 1000, 2000]  # timed ops: argument bits 4-5


# Semaphore and latch operations: op byte 254 (semaphores) and 255 (latches), when the trailer
# declares some; the argument's bits 2-4 pick the sub-operation from these tables, bits 0-1 the
# object, bits 5-6 the time limit of the timed ones, bits 5-7 the amount of release /
# count_down / arrive_and_wait.
SEM_OPS = ["acquire", "release", "try_acquire", "acquire_for", "acquire_until", "release",
           "acquire", "release"]
LATCH_OPS = ["count_down", "wait", "wait_for", "try_wait", "arrive_and_wait", "wait_until",
             "count_down", "wait"]
MAX = "max"  # PTRDIFF_MAX
AMOUNTS = [1, 1, 2, 3, 1, 0, -1, MAX]
SEM_INITIAL = [0, 0, 1, 1, 2, 3, "max-1", MAX]  # trailer byte per semaphore
LATCH_INITIAL = [0, 1, 1, 2, 2, 3, 5, MAX]      # trailer byte per latch


def op_byte(name):
    if name == "stop":
        return 250
    if name == "sem":
        return 254
    if name == "latch":
        return 255
    if name == "io":
        return 253
    i = OPS.index(name)
    return i if i < 15 else 240 + (i - 15)


def _sync(table, kind, sub, obj, us, n):
    arg = obj | table.index(sub) << 2
    if sub.endswith("_for") or sub.endswith("_until"):
        arg |= TIMEOUTS_US.index(us) << 5
    else:
        arg |= AMOUNTS.index(n) << 5
    return (kind, arg)


def sem(sub, obj=0, us=0, n=1):
    """A semaphore operation: sub in SEM_OPS, on semaphore `obj`; `us`: the limit of
    acquire_for/until; `n`: release's amount (one of AMOUNTS)."""
    return _sync(SEM_OPS, "sem", sub, obj, us, n)


def latch(sub, obj=0, us=0, n=1):
    """A latch operation: sub in LATCH_OPS, on latch `obj`; `us`: the limit of
    wait_for/until; `n`: the amount of count_down / arrive_and_wait (one of AMOUNTS)."""
    return _sync(LATCH_OPS, "latch", sub, obj, us, n)


# IO operations on the pipes (socket pairs): op byte 253 (or 252) when the trailer declares
# pipes; the argument's bits 0-1 pick the pipe, bit 2 the end (a, b), bits 3-5 the
# sub-operation from this table, bits 6-7 its parameter.
IO_OPS = ["write", "read", "wait", "write", "read", "wait", "read", "shutdown"]
IO_READ_BUFFERS = [1, 2, 4, 8]
IO_MARK = 0x50  # trailer bits 4-7: the task byte, then the IO byte (bits 0-1: pipes) follow


def io(sub, pipe=0, end="a", n=None, us=None):
    """An IO operation on end `end` ("a" or "b") of pipe `pipe`: "write" (write_all of `n`
    bytes, 1-4), "read" (read_some with a buffer of `n` bytes: 1, 2, 4 or 8), "wait"
    (wait_readable with the limit `us`: 0, 500, 1000 or 2000) or "shutdown" (SHUT_WR)."""
    arg = pipe | ("ab".index(end)) << 2 | IO_OPS.index(sub) << 3
    if sub == "write":
        arg |= (n - 1) << 6
    elif sub == "read":
        arg |= IO_READ_BUFFERS.index(n) << 6
    elif sub == "wait":
        arg |= TIMEOUTS_US.index(us) << 6
    return ("io", arg)


# The vocabulary (promise/future, barrier, shared_mutex, recursive_mutex, fiber_local): op
# bytes 250 and 251 when the IO byte (after a 0x5_ trailer) is marked 0xA_ and declares such
# objects. The argument's bits 0-1 pick the object, bits 2-4 the sub-operation from these
# tables; op byte 250: bit 7 futures (0) or barriers (1) among those declared, bits 5-6
# future_wait_for's limit; op byte 251: bits 5-6 shared mutexes, recursive mutexes, fiber_locals
# among those declared. encode() resolves the kind bits once it knows what is declared.
FUTURE_OPS = ["set", "get", "wait", "wait_for", "set", "get", "drop", "get"]
BARRIER_OPS = ["arrive_and_wait", "arrive_and_wait", "arrive_and_drop", "arrive_and_wait",
               "arrive_and_wait", "arrive_and_drop", "arrive_and_wait", "arrive_and_wait"]
SHARED_OPS = ["lock", "lock_shared", "unlock", "unlock_shared", "try_lock", "try_lock_shared",
              "lock_shared", "unlock_shared"]
RMUTEX_OPS = ["lock", "unlock", "try_lock", "lock", "unlock", "lock", "unlock", "try_lock"]
LOCAL_OPS = ["write", "read", "write", "read", "read", "write", "read", "read"]
BARRIER_EXPECTED = [2, 1, 3, 0]  # barrier byte bits 0-1; bit 2: with a completion function
VOCAB_MARK = 0xA0  # IO byte bits 4-7: the vocabulary's bytes follow


def fut(sub, obj=0, us=0):
    """A future operation on promise/future `obj`: "set" (set_value of a unique value), "drop"
    (destroy the promise), "get", "wait", "wait_for" (limit `us`)."""
    arg = obj | FUTURE_OPS.index(sub) << 2
    if sub == "wait_for":
        arg |= TIMEOUTS_US.index(us) << 5
    return ("v250", "future", arg)


def bar(sub, obj=0):
    """A barrier operation: "arrive_and_wait" or "arrive_and_drop" on barrier `obj`."""
    return ("v250", "barrier", obj | BARRIER_OPS.index(sub) << 2)


def shm(sub, obj=0):
    """A shared_mutex operation (SHARED_OPS); unlocks only what the actor holds that way."""
    return ("v251", "shared", obj | SHARED_OPS.index(sub) << 2)


def rmx(sub, obj=0):
    """A recursive_mutex operation: "lock", "try_lock", "unlock" (also when not the owner:
    must throw std::logic_error)."""
    return ("v251", "rmutex", obj | RMUTEX_OPS.index(sub) << 2)


def local(sub, obj=0):
    """A fiber_local operation: "write" (a unique value) or "read" (must be the actor's own
    last write)."""
    return ("v251", "local", obj | LOCAL_OPS.index(sub) << 2)


def timed(obj, us):
    """The argument of recv_for/send_for/wait_for/lock_for: object `obj`, limit `us`."""
    return obj | (TIMEOUTS_US.index(us) << 4)


def sel(case0, case1, extra=None):
    """The argument of select. case: ("recv"|"send", channel); extra: None, "default",
    "timeout0" (timeout_case(0)) or "timeout1ms"."""
    arg = case0[1] | (case1[1] << 2)
    arg |= (case0[0] == "send") << 4 | (case1[0] == "send") << 5
    arg |= {None: 0, "default": 1, "timeout0": 2, "timeout1ms": 3}[extra] << 6
    return arg
CAPS = {0: 0, 1: 2, 2: 4, 3: 5, 5: 6, 8: 7, 16: 8, "2^40": 9}  # capacity -> byte


TASK_MARK = 0xA0  # trailer bits 4-7: a task byte follows the semaphore and latch bytes


def encode(channels, programs, roots, mutexes=1, events=1, stack_kib=64, guard=True,
           semaphores=(), latches=(), tasks=(), pipes=0, futures=0, barriers=(),
           shared_mutexes=0, rmutexes=0, locals=0):
    """semaphores/latches: initial counts (from SEM_INITIAL / LATCH_INITIAL), 0-3 of each;
    tasks: the indices of the programs whose actors run as weft::tasks; pipes: socket pairs,
    0-3 (the trailer is then marked 0x5_: the task byte, then the IO byte follow). With none
    of the four, no trailer is written (the input decodes as before they existed).
    futures, shared_mutexes, rmutexes, locals: 0-3 each; barriers: (expected, completion)
    pairs, expected from BARRIER_EXPECTED. With any of them the trailer is marked 0x5_ and
    the IO byte 0xA_, followed by the vocabulary byte, a byte per barrier, the locals byte."""
    vocab = bool(futures or barriers or shared_mutexes or rmutexes or locals)
    kinds250 = [k for k, n in (("future", futures), ("barrier", len(barriers))) if n]
    kinds251 = [k for k, n in (("shared", shared_mutexes), ("rmutex", rmutexes),
                               ("local", locals)) if n]
    out = [len(channels) - 1]
    out += [CAPS[c] for c in channels]
    out += [mutexes - 1, events - 1]
    out += [{16: 0, 32: 1, 64: 2, 256: 3}[stack_kib] | (0 if guard else 4)]
    out += [len(roots) - 1] + roots
    out += [len(programs) - 1]
    for prog in programs:
        assert len(prog) <= 16, "at most 16 instructions a program"
        out.append(len(prog))
        for item in prog:
            if isinstance(item, tuple) and item[0] in ("v250", "v251"):
                byte, kind, arg = item
                if byte == "v250":
                    assert kind in kinds250, kind + " not declared"
                    out += [250, arg | kinds250.index(kind) << 7]
                else:
                    assert kind in kinds251, kind + " not declared"
                    out += [251, arg | kinds251.index(kind) << 5]
                continue
            name, arg = (item, 0) if isinstance(item, str) else item
            byte = op_byte(name)
            if name == "stop" and vocab:  # 250 and 251 may be vocabulary ops: a byte still stop
                taken = {250: bool(kinds250), 251: bool(kinds251), 252: bool(pipes),
                         253: bool(pipes), 254: bool(semaphores), 255: bool(latches)}
                byte = min(b for b in taken if not taken[b])
            out += [byte, arg]
    assert 0 <= pipes <= 3
    if semaphores or latches or tasks or pipes or vocab:
        mark = IO_MARK if pipes or vocab else TASK_MARK if tasks else 0
        out.append(len(semaphores) | len(latches) << 2 | mark)
        out += [SEM_INITIAL.index(n) for n in semaphores]
        out += [LATCH_INITIAL.index(n) for n in latches]
    if tasks or pipes or vocab:
        assert all(0 <= t < len(programs) for t in tasks)
        out.append(sum(1 << t for t in set(tasks)))
    if pipes or vocab:
        out.append(pipes | (VOCAB_MARK if vocab else 0))
    if vocab:
        assert all(0 <= n <= 3 for n in (futures, len(barriers), shared_mutexes, rmutexes, locals))
        out.append(futures | len(barriers) << 2 | shared_mutexes << 4 | rmutexes << 6)
        out += [BARRIER_EXPECTED.index(n) | (4 if completion else 0) for n, completion in barriers]
        out.append(locals)
    return bytes(out)


def ops(*items):
    return list(items)


SEEDS = {
    # p0 spawns a producer and a consumer on a rendezvous channel and joins both.
    "rendezvous-producer-consumer": encode(
        [0],
        [ops(("spawn", 1), ("spawn", 2), "join", "join"),
         ops(("send", 0), ("send", 0), ("send", 0), ("close", 0)),
         ops(("recv", 0), ("recv", 0), ("recv", 0), ("recv", 0))],
        [0]),
    # Two producers and two consumers on a buffered channel, with yields and sleeps.
    "buffered-many-to-many": encode(
        [3],
        [ops(("spawn", 1), ("spawn", 1), ("spawn", 2), ("spawn", 2), "join", "join", "join",
             "join"),
         ops(("send", 0), "yield", ("send", 0), ("sleep", 1), ("send", 0), ("send", 0)),
         ops(("recv", 0), ("recv", 0), "yield", ("recv", 0), ("recv", 0))],
        [0]),
    # Each fiber receives on the other's channel first: weft must report a deadlock.
    "deadlock-crossed-channels": encode(
        [0, 0],
        [ops(("spawn", 1), ("spawn", 2), "join", "join"),
         ops(("recv", 0), ("send", 1)),
         ops(("recv", 1), ("send", 0))],
        [0]),
    # Mutex contention across yields and sleeps; ownership passes in FIFO order.
    "mutex-contention": encode(
        [1],
        [ops(("spawn", 1), ("spawn", 1), ("spawn", 1), "join", "join", "join"),
         ops(("lock", 0), "yield", ("sleep", 2), ("unlock", 0), ("lock", 0), "yield",
             ("unlock", 0))],
        [0], mutexes=1),
    # One set wakes every waiter; waits after the set pass.
    "event-broadcast": encode(
        [0],
        [ops(("spawn", 1), ("spawn", 1), ("spawn", 1), ("sleep", 1), ("set", 0), "join",
             ("wait", 0)),
         ops(("wait", 0), ("wait", 0))],
        [0]),
    # Locking a mutex twice waits forever (weft::mutex is not recursive): a deadlock.
    "deadlock-mutex-relock": encode(
        [0], [ops(("lock", 0), ("lock", 0))], [0]),
    # close() wakes blocked senders (not delivered) and a blocked receiver (nullopt).
    "close-wakes-everyone": encode(
        [1, 0],
        [ops(("spawn", 1), ("spawn", 1), ("spawn", 2), "yield", ("close", 0), ("close", 1),
             "join", "join", "join"),
         ops(("send", 0), ("send", 0), ("send", 0)),
         ops(("recv", 1), ("send", 1))],
        [0]),
    # Joins, detaches and nested spawns.
    "join-detach-tree": encode(
        [2],
        [ops(("spawn", 1), ("spawn", 1), ("detach", 0), ("spawn", 2), "join", "join"),
         ops(("spawn", 2), ("spawn", 2), "yield", ("join", 1), ("detach", 0)),
         ops("yield", ("sleep", 0), ("send", 0), ("try_recv", 0))],
        [0, 1]),
    # A channel of capacity 2^40: sends never wait.
    "huge-capacity": encode(
        ["2^40"],
        [ops(("send", 0), ("send", 0), ("send", 0), ("send", 0), ("try_send", 0),
             ("spawn", 1), "join"),
         ops(("recv", 0), ("try_recv", 0), ("recv", 0))],
        [0]),
    # Exceptions thrown and caught on fiber stacks, with a yield inside the handler.
    "exceptions-across-yields": encode(
        [0],
        [ops(("spawn", 1), ("spawn", 1), ("throw_catch", 1), ("throw_catch", 0), "join",
             "join"),
         ops(("throw_catch", 1), "yield", ("throw_catch", 1))],
        [0, 1]),
    # Sleepers of 0-2 ms interleaved with rendezvous traffic.
    "sleeps-and-rendezvous": encode(
        [0],
        [ops(("spawn", 1), ("spawn", 2), ("sleep", 3), ("recv", 0), ("recv", 0), "join",
             "join"),
         ops(("sleep", 4), ("send", 0), ("sleep", 2)),
         ops(("sleep", 1), ("send", 0))],
        [0]),
    # Holding a mutex while blocked on an event that is never set: the others queue on the
    # mutex; the deadlock report must name all of them.
    "deadlock-mutex-held-across-wait": encode(
        [0],
        [ops(("lock", 0), ("spawn", 1), ("spawn", 1), ("wait", 0), ("unlock", 0)),
         ops(("lock", 0), ("set", 1))],
        [0], mutexes=1, events=2),
    # try_send / try_recv never wait; mixed with blocking calls.
    "try-operations": encode(
        [1, 0],
        [ops(("try_send", 0), ("try_send", 0), ("try_recv", 0), ("try_recv", 0),
             ("spawn", 1), ("try_send", 1), "yield", ("try_send", 1), "join"),
         ops(("recv", 1), ("try_recv", 1))],
        [0]),
    # Many spawns on small unguarded stacks, past the fuzzer's fiber limit.
    "many-fibers-small-stacks": encode(
        [2],
        [ops(*([("spawn", 1)] * 16)),
         ops(("spawn", 2), ("spawn", 2), ("send", 0), "yield"),
         ops(("recv", 0), ("sleep", 0))],
        [0, 0, 0], stack_kib=16, guard=False),
    # A deadlock on a join: the child waits on an event nobody sets.
    "deadlock-join": encode(
        [0],
        [ops(("spawn", 1), "join"), ops(("wait", 0),)],
        [0]),
    # Everything at once, three roots.
    "mixed": encode(
        [0, 1, 5, "2^40"],
        [ops(("spawn", 1), ("spawn", 2), ("spawn", 3), ("lock", 1), ("send", 2), ("unlock", 1),
             "join", ("set", 0), "join", "join"),
         ops(("recv", 0), ("wait", 0), ("send", 1), ("throw_catch", 1), ("recv", 2)),
         ops(("send", 0), ("lock", 1), "yield", ("unlock", 1), ("recv", 1), ("close", 3)),
         ops(("send", 3), ("sleep", 2), ("recv", 3), ("try_recv", 3), ("detach", 0))],
        [0, 3, 1], mutexes=2, events=2),
    # Timed channel operations: receives and sends that time out on idle channels (taking and
    # delivering nothing), and ones that complete before their limit.
    "timed-channel-ops": encode(
        [0, 1],
        [ops(("spawn", 1), ("spawn", 2), ("recv_for", timed(0, 2000)), ("send_for", timed(1, 0)),
             ("send_for", timed(1, 500)), ("recv_for", timed(1, 1000)), ("send_for", timed(0, 2000)),
             "join", "join", ("recv_for", timed(0, 0))),
         ops(("sleep", 1), ("send", 0), ("recv_for", timed(0, 2000)), ("recv_for", timed(0, 500))),
         ops(("send_for", timed(0, 1000)), ("try_recv", 1), ("recv_for", timed(1, 2000)))],
        [0]),
    # try_lock_for: times out behind a holder that sleeps, succeeds behind a quick one; on a
    # mutex the fiber holds (not recursive) it can only time out.
    "timed-mutex": encode(
        [0],
        [ops(("lock", 0), ("spawn", 1), ("spawn", 1), ("sleep", 3), ("unlock", 0),
             ("lock_for", timed(0, 2000)), ("lock_for", timed(0, 500)), ("unlock", 0), "join",
             "join"),
         ops(("lock_for", timed(0, 500)), ("lock_for", timed(0, 2000)), "yield", ("unlock", 0),
             ("lock_for", timed(1, 0)))],
        [0], mutexes=2),
    # wait_for: times out before the set, passes after it; waiters woken by the set.
    "timed-event": encode(
        [0],
        [ops(("spawn", 1), ("spawn", 1), ("wait_for", timed(0, 500)), ("sleep", 2), ("set", 0),
             ("wait_for", timed(0, 0)), "join", "join", ("wait_for", timed(1, 1000))),
         ops(("wait_for", timed(0, 0)), ("wait_for", timed(0, 2000)), ("wait_for", timed(0, 2000)))],
        [0], events=2),
    # select between a receive and a send, against producers and consumers.
    "select-recv-send": encode(
        [0, 1],
        [ops(("spawn", 1), ("spawn", 2), ("select", sel(("recv", 0), ("send", 1))),
             ("select", sel(("recv", 0), ("send", 1))), ("select", sel(("recv", 0), ("send", 1))),
             ("select", sel(("recv", 0), ("send", 1))), "join", "join"),
         ops(("send", 0), ("send", 0), "yield", ("close", 0)),
         ops(("recv", 1), ("sleep", 1), ("recv", 1), ("try_recv", 1))],
        [0]),
    # select with a default (nothing ready, then something ready) and with timeouts of 0 and
    # 1 ms; a select on a closed channel fires at once.
    "select-default-timeout": encode(
        [0, 2],
        [ops(("select", sel(("recv", 0), ("recv", 1), "default")),
             ("select", sel(("send", 0), ("send", 1), "default")),
             ("select", sel(("recv", 0), ("send", 0), "timeout0")),
             ("select", sel(("recv", 0), ("recv", 0), "timeout1ms")),
             ("spawn", 1), ("select", sel(("recv", 0), ("recv", 1), "timeout1ms")),
             ("select", sel(("send", 0), ("recv", 1), "timeout1ms")), ("close", 0),
             ("select", sel(("recv", 0), ("send", 0), "default")), "join"),
         ops(("send_for", timed(0, 2000)), ("recv_for", timed(1, 1000)), ("select", sel(("send", 1), ("recv", 0), "timeout0")))],
        [0, 1]),
    # Blocked selects (no timeout) woken by sends, receives and a close, one with both cases on
    # the same channel.
    "select-blocked-close": encode(
        [0, 0],
        [ops(("spawn", 1), ("spawn", 3), ("spawn", 2), ("sleep", 2), ("try_recv", 0), ("sleep", 1),
             ("close", 0), ("close", 1), "join", "join", "join"),
         ops(("select", sel(("recv", 0), ("recv", 1))), ("select", sel(("recv", 0), ("recv", 1)))),
         ops(("select", sel(("send", 0), ("recv", 0)))),
         ops(("select", sel(("recv", 1), ("send", 1), "timeout1ms")),
             ("select", sel(("send", 0), ("send", 1))))],
        [0]),
    # A select without a timeout on channels nobody uses: a deadlock. The timed waits beside it
    # end, so they are not part of it.
    "deadlock-select": encode(
        [0, 1],
        [ops(("spawn", 1), ("recv_for", timed(1, 1000)), ("select", sel(("recv", 0), ("send", 0)))),
         ops(("wait_for", timed(0, 1000)), ("lock_for", timed(0, 500)),
             ("select", sel(("recv", 1), ("recv", 0))))],
        [0]),
    # Stop requests to children blocked in each kind of interruption point (a channel recv, a
    # send on a full channel, an event wait, a sleep, a select); join then sees them end.
    "stop-blocked-children": encode(
        [0, 1],
        [ops(("spawn", 1), ("spawn", 2), ("spawn", 3), ("spawn", 4), ("spawn", 5), ("stop", 0),
             ("stop", 1), ("stop", 2), ("stop", 3), ("stop", 4), "join", "join", "join", "join",
             "join"),
         ops(("recv", 0), ("send", 1)),
         ops(("send", 1), ("send", 1), ("recv", 1)),
         ops(("wait", 0), ("set", 0)),
         ops(("sleep", 4), ("sleep", 4)),
         ops(("select", sel(("recv", 0), ("recv", 0)))),
         ],
        [0]),
    # A stop before the child blocks: it yields and sleeps first, then its receive throws. A
    # second request returns false. A child waiting for a mutex (no interruption point) takes
    # it once unlocked, then its next receive throws.
    "stop-before-block": encode(
        [0],
        [ops(("lock", 0), ("spawn", 1), ("spawn", 2), ("stop", 0), ("stop", 1), ("stop", 1),
             ("unlock", 0), "join", "join"),
         ops("yield", ("sleep", 1), ("recv", 0)),
         ops(("lock", 0), ("unlock", 0), ("recv", 0))],
        [0]),
    # A stop after a wake: the receive already given a value completes; then a timed receive
    # whose time is up returns timed out without looking at the stop, and the next receive
    # throws.
    "stop-after-wake": encode(
        [0, 1],
        [ops(("spawn", 1), ("send", 0), ("stop", 0), "join"),
         ops(("recv", 0), ("recv_for", timed(1, 0)), ("recv", 0))],
        [0]),
    # Semaphore hand-off: three acquirers queue on an empty semaphore; release(1) and, after the
    # first has run, release(2) hand units to the oldest directly (a try_acquire in between
    # finds none), then
    # they queue again in timed acquires that release(3) serves or that time out.
    "semaphore-fifo": encode(
        [0],
        [ops(("spawn", 1), ("spawn", 1), ("spawn", 1), "yield", sem("release", n=1), "yield",
             sem("try_acquire"), sem("release", n=2), "yield", ("sleep", 1), sem("release", n=3),
             sem("try_acquire"), sem("try_acquire"), "join", "join", "join"),
         ops(sem("acquire"), "yield", sem("acquire_for", us=2000), sem("acquire_until", us=500))],
        [0], semaphores=[0]),
    # Timed semaphore acquires: a limit of 0 with a unit (taken) and without (timed out), ones
    # that time out and ones a sleeper's release serves; two semaphores.
    "semaphore-timed": encode(
        [0],
        [ops(sem("acquire_for", us=0), sem("acquire_for", us=0), ("spawn", 1),
             sem("acquire_until", us=2000), sem("acquire_for", us=500), sem("acquire", 1),
             sem("acquire_until", 1, us=0), "join", sem("try_acquire", 1)),
         ops(("sleep", 1), sem("release"), sem("acquire_for", 1, us=1000), ("sleep", 4),
             sem("release", 1, n=2), sem("release"))],
        [0], semaphores=[1, 1]),
    # Acquires that nothing releases: a deadlock on a semaphore (the report names both fibers
    # and "semaphore"); the timed acquire beside them ends, so it is not part of it.
    "deadlock-semaphore": encode(
        [0],
        [ops(("spawn", 1), ("spawn", 2), sem("acquire"), sem("acquire"), "join", "join"),
         ops(sem("acquire")),
         ops(sem("acquire_for", us=1000), sem("try_acquire"))],
        [0], semaphores=[0]),
    # A latch of 3: two arrive_and_wait, a timed wait that times out before the last
    # count_down and one that it wakes, try_wait before and after, waits after zero pass.
    "latch-countdown": encode(
        [0],
        [ops(("spawn", 1), ("spawn", 1), ("spawn", 2), latch("wait_for", us=0),
             latch("wait_for", us=500), latch("try_wait"), ("sleep", 2), latch("count_down"),
             latch("try_wait"), latch("wait"), "join", "join", "join", latch("wait_until", us=0)),
         ops(latch("arrive_and_wait"), latch("wait")),
         ops(latch("wait_until", us=2000), latch("wait_for", us=2000), latch("count_down", n=0))],
        [0], latches=[3]),
    # A latch that never reaches zero: arrive_and_wait and wait block for good, a deadlock on a
    # latch; the other latch opens, and its timed waits end.
    "deadlock-latch": encode(
        [0],
        [ops(("spawn", 1), ("spawn", 2), latch("arrive_and_wait"), "join", "join"),
         ops(latch("try_wait"), latch("wait")),
         ops(latch("wait_for", 1, us=1000), latch("arrive_and_wait", 1), latch("wait_for", us=0))],
        [0], latches=[2, 1]),
    # What throws: release past PTRDIFF_MAX or negative (std::invalid_argument, nothing
    # changes), count_down past the counter (std::logic_error, counter unchanged) or negative,
    # arrive_and_wait whose count_down throws (no wait); release(PTRDIFF_MAX) to an empty
    # semaphore with a waiter.
    "sync-errors": encode(
        [0],
        [ops(sem("release"), sem("release"), sem("release", n=-1), sem("release", n=0),
             sem("acquire"), ("spawn", 1), "yield", sem("release", 1, n=MAX), "join",
             latch("count_down", n=3), latch("count_down", n=-1), latch("count_down", n=0),
             latch("count_down", n=MAX), latch("arrive_and_wait", n=3),
             latch("arrive_and_wait", n=2), latch("wait")),
         ops(sem("acquire", 1), sem("release", 1, n=MAX), sem("try_acquire", 1))],
        [0], semaphores=["max-1", 0], latches=[2]),
    # Stop requests to children blocked in acquire, a timed acquire, a latch wait and an
    # arrive_and_wait (its count_down happened); the oldest acquirer was handed a unit by the
    # release before its stop, so it completes, and its next acquire throws at once.
    "stop-semaphore-latch": encode(
        [0],
        [ops(("spawn", 1), ("spawn", 2), ("spawn", 3), ("spawn", 4), ("spawn", 5), sem("release"),
             ("stop", 0), ("stop", 1), ("stop", 2), ("stop", 3), ("stop", 4), "join", "join",
             "join", "join", latch("try_wait")),
         ops(sem("acquire"), sem("acquire")),
         ops(sem("acquire_for", us=2000)),
         ops(latch("wait")),
         ops(latch("arrive_and_wait")),
         ops(sem("acquire", 1), "yield", sem("acquire", 1))],
        [0], semaphores=[0, 1], latches=[3]),

    # ---- actors as weft::tasks (the trailer's task byte): the same programs, run through the
    # awaitable twins (co_await ch.async_send(v), m.async_lock(), join_handle, ...).

    # A task producer and a fiber consumer on a rendezvous channel, under a root task that
    # joins both with co_await; then the same with the roles swapped.
    "task-rendezvous": encode(
        [0, 1],
        [ops(("spawn", 1), ("spawn", 2), "join", "join", ("spawn", 3), ("spawn", 4), "join",
             "join"),
         ops(("send", 0), ("send", 0), ("send", 0), ("close", 0)),
         ops(("recv", 0), ("recv", 0), ("recv", 0), ("recv", 0)),
         ops(("recv", 1), ("recv", 1), ("try_recv", 1), ("recv", 1)),
         ops(("send", 1), "yield", ("send", 1), ("try_send", 1), ("close", 1))],
        [0], tasks=[0, 1, 3]),
    # Tasks and fibers contend for one mutex across yields and sleeps (FIFO hand-off between
    # the two kinds), and wait on events a task sets.
    "task-mutex-event": encode(
        [1],
        [ops(("spawn", 1), ("spawn", 2), ("spawn", 1), ("spawn", 2), ("sleep", 2), ("set", 0),
             "join", "join", "join", "join", ("wait", 1)),
         ops(("lock", 0), "yield", ("sleep", 1), ("unlock", 0), ("wait", 0), ("lock", 0),
             ("set", 1), ("unlock", 0)),
         ops(("lock", 0), ("sleep", 0), ("unlock", 0), ("wait", 0), ("lock", 0), "yield",
             ("unlock", 0))],
        [0], events=2, tasks=[0, 1]),
    # Exceptions in tasks: thrown in a nested task (at once, or after it yields), caught in the
    # awaiting task, with a yield in the handler; fibers doing the same beside them.
    "task-exceptions": encode(
        [0],
        [ops(("spawn", 1), ("spawn", 1), ("spawn", 2), ("throw_catch", 3), ("throw_catch", 1),
             ("throw_catch", 2), ("throw_catch", 0), "join", "join", "join"),
         ops(("throw_catch", 1), "yield", ("throw_catch", 3), ("throw_catch", 2)),
         ops(("throw_catch", 1), ("throw_catch", 1), "yield", ("throw_catch", 1))],
        [0, 1], tasks=[0, 1]),
    # Selects in tasks (async_select in a nested task): blocking ones woken by fibers' sends,
    # receives and a close, ones with a default and with timeouts.
    "task-select": encode(
        [0, 1],
        [ops(("spawn", 1), ("spawn", 2), ("select", sel(("recv", 0), ("send", 1))),
             ("select", sel(("recv", 0), ("send", 1), "timeout1ms")),
             ("select", sel(("recv", 0), ("recv", 1), "default")),
             ("select", sel(("recv", 0), ("send", 1))), ("spawn", 3), ("sleep", 2),
             ("close", 0), ("close", 1), "join", "join", "join"),
         ops(("send", 0), ("send", 0), "yield", ("recv", 1), ("send_for", timed(0, 1000))),
         ops(("recv", 1), ("sleep", 1), ("recv", 1), ("try_recv", 1)),
         ops(("select", sel(("recv", 0), ("recv", 0))),
             ("select", sel(("send", 0), ("recv", 1), "timeout0")))],
        [0], tasks=[0, 3]),
    # Stop requests to tasks blocked in each interruption point their twins reach (recv, send
    # on a full channel, an event wait, a sleep, a select, a join of a blocked grandchild); and
    # timed waits without a twin, made with the plain calls inside a task.
    "task-stop-blocked": encode(
        [0, 1],
        [ops(("spawn", 1), ("spawn", 2), ("spawn", 3), ("spawn", 4), ("spawn", 5), ("spawn", 6),
             ("stop", 0), ("stop", 1), ("stop", 2), ("stop", 3), ("stop", 4), ("stop", 5),
             "join", "join", "join", "join"),  # two left to detach at the end
         ops(("recv", 0), ("send", 1)),
         ops(("send", 1), ("send", 1), ("recv", 1)),
         ops(("wait_for", timed(0, 0)), ("wait", 0), ("set", 0)),
         ops(("sleep", 4), ("sleep", 4)),
         ops(("select", sel(("recv", 0), ("recv", 0))), ("recv_for", timed(0, 500))),
         ops(("spawn", 7), ("join", 0)),
         ops(("recv_for", timed(0, 2000)), ("wait_for", timed(1, 2000)))],
        [0], events=2, tasks=[1, 2, 3, 4, 5, 6]),
    # Semaphores and latches in tasks (no twins: plain calls on the task's fiber), FIFO
    # hand-off among task and fiber acquirers.
    "task-semaphore-latch": encode(
        [0],
        [ops(("spawn", 1), ("spawn", 2), ("spawn", 1), "yield", sem("release", n=1), "yield",
             sem("try_acquire"), sem("release", n=2), latch("count_down"), ("sleep", 1),
             sem("release", n=3), "join", "join", "join", latch("wait")),
         ops(sem("acquire"), "yield", sem("acquire_for", us=2000), latch("arrive_and_wait"),
             sem("acquire_until", us=500)),
         ops(sem("acquire"), latch("wait_for", us=500), latch("arrive_and_wait"),
             sem("acquire_for", us=0))],
        [0], semaphores=[0], latches=[3], tasks=[0, 1]),
    # A deadlock among tasks and a fiber: the report must list each task as `task N "<fzM>"
    # waits on ...` (channel recv, mutex, join, semaphore, latch, event) and the fiber as
    # `fiber N ...` (select).
    "deadlock-tasks": encode(
        [0, 0],
        [ops(("lock", 0), ("spawn", 1), ("spawn", 2), ("spawn", 3), ("spawn", 4), ("spawn", 6),
             "yield", ("wait", 0)),
         ops(("recv", 0)),
         ops(("lock", 0)),
         ops(("select", sel(("recv", 1), ("recv", 1)))),
         ops(("spawn", 5), ("join", 0)),
         ops(sem("acquire")),
         ops(latch("wait"))],
        [0], semaphores=[0], latches=[1], tasks=[0, 1, 2, 4, 5, 6]),
    # A task locking a mutex it holds through async_lock waits forever, as a fiber does.
    "deadlock-task-relock": encode(
        [0], [ops(("lock", 0), "yield", ("lock", 0))], [0], tasks=[0]),
    # Every program a task: nested spawns of tasks by tasks, joins both ways with the roots,
    # detaches, traffic on buffered channels, three roots (it ends in a deadlock, as "mixed").
    "task-everything": encode(
        [0, 1, 5, "2^40"],
        [ops(("spawn", 1), ("spawn", 2), ("spawn", 3), ("lock", 1), ("send", 2), ("unlock", 1),
             "join", ("set", 0), "join", "join"),
         ops(("recv", 0), ("wait", 0), ("send", 1), ("throw_catch", 3), ("recv", 2)),
         ops(("send", 0), ("lock", 1), "yield", ("unlock", 1), ("recv", 1), ("close", 3)),
         ops(("send", 3), ("sleep", 2), ("recv", 3), ("try_recv", 3), ("spawn", 2),
             ("detach", 0), ("lock_for", timed(1, 500)), ("unlock", 1))],
        [0, 3, 1], mutexes=2, events=2, tasks=[0, 1, 2, 3]),

    # ---- IO on socket pairs (the trailer's IO byte): write_all, read_some, wait_readable,
    # shutdown(SHUT_WR).
    # A reader blocked in read_some (the child runs first) woken by the writes; it reads what
    # its buffer holds, in order.
    "io-write-read": encode(
        [0],
        [ops(("spawn", 1), io("write", 0, "a", n=4), io("write", 0, "a", n=2), "join"),
         ops(io("read", 0, "b", n=4), io("read", 0, "b", n=1), io("read", 0, "b", n=8))],
        [0], pipes=1),
    # shutdown(SHUT_WR): the reader gets the bytes, then the end of file (0) every time;
    # wait_readable sees the end of file at once; a write after the shutdown throws
    # broken_pipe; the other direction still works.
    "io-shutdown-eof": encode(
        [0],
        [ops(("spawn", 1), io("write", 0, "a", n=3), io("shutdown", 0, "a"),
             io("write", 0, "a", n=1), io("read", 0, "a", n=8), "join"),
         ops(io("read", 0, "b", n=8), io("read", 0, "b", n=8), io("read", 0, "b", n=2),
             io("wait", 0, "b", us=0), io("write", 0, "b", n=2))],
        [0], pipes=1),
    # wait_readable with each limit: 0 and nothing to read (false at once), woken by a write
    # after a sleep, timed out, and true at once while bytes wait.
    "io-wait-readable": encode(
        [0],
        [ops(("spawn", 1), ("sleep", 1), io("write", 0, "a", n=1), ("sleep", 4),
             io("write", 0, "a", n=2), "join"),
         ops(io("wait", 0, "b", us=0), io("wait", 0, "b", us=2000), io("wait", 0, "b", us=0),
             io("read", 0, "b", n=1), io("wait", 0, "b", us=500), io("wait", 0, "b", us=1000),
             io("wait", 0, "b", us=2000), io("read", 0, "b", n=8))],
        [0], pipes=1),
    # Two pipes, both directions, several readers waiting on one descriptor (every readiness
    # wakes them all; one gets the bytes, the others wait again), replies back.
    "io-many-readers": encode(
        [0],
        [ops(("spawn", 1), ("spawn", 2), ("spawn", 3), io("write", 0, "a", n=4),
             io("read", 0, "a", n=8), io("write", 1, "a", n=2), io("read", 0, "a", n=1),
             "join", "join", "join"),
         ops(io("read", 0, "b", n=2), io("write", 0, "b", n=1)),
         ops(io("read", 0, "b", n=2), io("write", 0, "b", n=3)),
         ops(io("read", 1, "b", n=1), io("read", 1, "b", n=1), io("read", 1, "b", n=8))],
        [0], pipes=2),
    # A reader nobody writes to: the closer shuts the write sides down (it reads 0), and the
    # root, blocked on a channel nobody sends on, is then reported deadlocked.
    "io-closer-then-deadlock": encode(
        [0],
        [ops(("spawn", 1), ("recv", 0)),
         ops(io("read", 0, "b", n=4), io("wait", 0, "b", us=0), io("read", 0, "a", n=1))],
        [0], pipes=1),
    # Stop requests: a reader blocked in read_some and one in wait_readable are cancelled; one
    # whose stop comes while bytes wait reads them, and its next read (nothing left) throws.
    "io-stop": encode(
        [0],
        [ops(("spawn", 1), ("stop", 0), ("spawn", 2), ("stop", 0), io("write", 0, "a", n=2),
             ("spawn", 3), io("write", 0, "b", n=1), ("stop", 0), "yield", "join", "join",
             "join"),
         ops(io("read", 0, "b", n=8), io("write", 0, "b", n=4)),
         ops(io("wait", 0, "b", us=2000)),
         ops("yield", io("read", 0, "a", n=8), io("read", 0, "a", n=8))],
        [0], pipes=1),
    # The same through the tasks' awaitable twins (async_write_all, async_read_some,
    # async_wait_readable), beside fibers on the same descriptors.
    "io-tasks": encode(
        [0],
        [ops(("spawn", 1), ("spawn", 2), io("write", 0, "a", n=4), io("wait", 0, "a", us=2000),
             io("read", 0, "a", n=8), io("shutdown", 0, "a"), "join", "join"),
         ops(io("read", 0, "b", n=2), io("write", 0, "b", n=3), io("read", 0, "b", n=8),
             io("read", 0, "b", n=8)),
         ops(io("wait", 0, "b", us=1000), io("read", 0, "b", n=1), io("read", 1, "b", n=4))],
        [0], pipes=2, tasks=[0, 1]),
    # A stop request to a task in async_read_some, and a task reader nobody writes to (the
    # closer ends it), with channels beside.
    "io-tasks-stop-closer": encode(
        [0],
        [ops(("spawn", 1), ("stop", 0), ("spawn", 2), ("send", 0), "join", "join"),
         ops(io("read", 0, "b", n=4), ("recv", 0)),
         ops(("recv", 0), io("read", 0, "a", n=4), io("wait", 0, "a", us=500))],
        [0], pipes=1, tasks=[1, 2]),

    # ---- the vocabulary: promise/future, barrier, shared_mutex, recursive_mutex, fiber_local
    # A child waits in get() until the root sets the value; a second set throws
    # promise_already_satisfied; the getter's second get and wait throw no_state (its future was
    # consumed); another child's get finds the future claimed (no_state); a dropped promise's
    # future throws broken_promise and a set after the drop no_state; a wait_for times out, then
    # one sees the value.
    "future-set-get": encode(
        [0],
        [ops(("spawn", 1), ("spawn", 2), "yield", fut("set", 0), fut("set", 0), fut("drop", 1),
             fut("set", 1), ("sleep", 2), fut("set", 2), fut("drop", 2), "join", "join"),
         ops(fut("get", 0), fut("get", 0), fut("wait", 0), fut("wait_for", 2, us=500),
             fut("wait_for", 2, us=2000), fut("get", 2)),
         ops(fut("wait", 1), fut("get", 1), fut("get", 0), fut("wait_for", 1, us=0))],
        [0], futures=3),
    # Waiters on unset futures whose promise is dropped wake with broken_promise (get) or ready
    # (wait); a stop request cancels a get and a wait_for in progress (the cancelled get's
    # future is consumed: its next get throws no_state).
    "future-broken-stop": encode(
        [0],
        [ops(("spawn", 1), ("spawn", 2), ("stop", 0), ("spawn", 3), ("stop", 0), "yield",
             fut("drop", 0), "join", "join", "join"),
         ops(fut("get", 0)),
         ops(fut("get", 1), fut("get", 1)),
         ops(fut("wait_for", 2, us=2000), fut("wait_for", 2, us=0), fut("wait", 2))],
        [0], futures=3),
    # get() on a future nobody sets or drops: deadlock_error, waiting on "future".
    "deadlock-future": encode(
        [0],
        [ops(("spawn", 1), fut("wait", 1), fut("get", 0)),
         ops(fut("get", 1))],
        [0], futures=2),
    # Three participants through several phases, with a completion function (it runs on the
    # completing arrival's fiber before anybody is released); one drops out, so later phases
    # need two; a barrier of one completes at every arrival.
    "barrier-phases": encode(
        [0],
        [ops(bar("arrive_and_wait", 0), bar("arrive_and_wait", 0), bar("arrive_and_wait", 1),
             bar("arrive_and_wait", 0), bar("arrive_and_wait", 1)),
         ops(bar("arrive_and_wait", 0), "yield", bar("arrive_and_drop", 0), bar("arrive_and_wait", 1)),
         ops(("sleep", 1), bar("arrive_and_wait", 0), bar("arrive_and_wait", 0),
             bar("arrive_and_wait", 0), bar("arrive_and_wait", 1))],
        [0, 1, 2], barriers=[(3, True), (1, True)]),
    # Errors: a barrier expecting 0 throws std::logic_error at every arrival; once all of a
    # barrier's participants dropped, so do later arrivals. Without a completion function.
    "barrier-errors": encode(
        [0],
        [ops(bar("arrive_and_wait", 0), bar("arrive_and_drop", 0), bar("arrive_and_drop", 1),
             bar("arrive_and_drop", 1), bar("arrive_and_wait", 1), ("spawn", 1), "join"),
         ops(bar("arrive_and_wait", 1), bar("arrive_and_drop", 1))],
        [0], barriers=[(0, False), (2, False)]),
    # Two of three participants arrive, the first cancelled by a stop request while it waits
    # (its arrival still counts), the second waiting; the root joins it: deadlock_error, on
    # "barrier" and "join".
    "deadlock-barrier": encode(
        [0],
        [ops(("spawn", 1), ("stop", 0), ("spawn", 1), "join"),
         ops(bar("arrive_and_wait", 0))],
        [0], barriers=[(3, True)]),
    # Readers share it, a writer waits for them; a reader arriving while a writer waits queues
    # behind it (try_lock_shared false), and the writer's unlock admits every waiting reader.
    "shared-mutex-rw": encode(
        [0],
        [ops(shm("lock_shared"), ("spawn", 1), ("spawn", 2), shm("try_lock"),
             shm("try_lock_shared"), shm("unlock_shared"), "yield", shm("lock_shared"),
             shm("unlock_shared"), "join", "join"),
         ops(shm("lock"), "yield", shm("unlock"), shm("try_lock"), shm("lock_shared")),
         ops(shm("lock_shared"), shm("lock_shared"), shm("try_lock_shared"), "yield",
             shm("unlock_shared"), shm("unlock_shared"), shm("unlock_shared"), shm("lock"))],
        [0], shared_mutexes=1),
    # A fiber holding it shared asks for it exclusively (waits forever), another reader then
    # queues behind the waiting writer: deadlock_error, both on "shared_mutex".
    "deadlock-shared-mutex": encode(
        [0],
        [ops(shm("lock_shared", 0), ("spawn", 1), shm("lock", 0)),
         ops(shm("lock", 1), shm("lock_shared", 0))],
        [0], shared_mutexes=2),
    # The owner locks again (depth 3) and unlocks as often; another fiber's try_lock fails, its
    # unlock throws std::logic_error, its lock waits for the last unlock (FIFO hand-off).
    "recursive-mutex": encode(
        [0],
        [ops(rmx("lock"), rmx("try_lock"), rmx("lock"), ("spawn", 1), ("spawn", 2),
             rmx("unlock"), "yield", rmx("unlock"), rmx("unlock"), rmx("unlock"), "join",
             "join"),
         ops(rmx("try_lock"), rmx("unlock"), rmx("lock"), rmx("lock"), "yield", rmx("unlock")),
         ops(rmx("lock"), rmx("unlock"), rmx("unlock"))],
        [0], rmutexes=1),
    # Two fibers take two recursive mutexes in opposite orders: deadlock_error on "mutex".
    "deadlock-recursive-mutex": encode(
        [0],
        [ops(rmx("lock", 0), rmx("lock", 0), ("spawn", 1), rmx("lock", 1)),
         ops(rmx("lock", 1), "yield", rmx("lock", 0))],
        [0], rmutexes=2),
    # Each fiber writes and reads its own values of three fiber_locals across yields and sleeps
    # (with two workers they migrate); a value never written reads 0; the children's values
    # are destroyed (holding their last writes) before their joins return.
    "fiber-local": encode(
        [0],
        [ops(local("write", 0), ("spawn", 1), ("spawn", 1), ("spawn", 2), local("read", 0),
             "yield", local("read", 1), local("write", 1), ("sleep", 1), local("read", 1),
             local("read", 0), "join", "join", "join", local("read", 2)),
         ops(local("read", 0), local("write", 0), "yield", local("read", 0), ("sleep", 1),
             local("write", 2), local("read", 0), "yield", local("read", 2)),
         ops(local("write", 1), ("spawn", 1), local("read", 1), "join", local("write", 1),
             ("sleep", 2), local("read", 1))],
        [0, 2], locals=3),
    # Everything above run by tasks (the plain calls: none of these has an awaitable twin; a
    # task runs on a fiber of its own), beside fibers, including fiber_local reads after a
    # co_await of a join, and the mutexes' unlocks after one.
    "vocab-tasks": encode(
        [0],
        [ops(local("write", 0), rmx("lock", 0), ("spawn", 1), ("spawn", 2), "yield",
             fut("set", 0), "join", local("read", 0), rmx("unlock", 0), "join",
             local("read", 0), shm("lock_shared", 0), shm("unlock_shared", 0)),
         ops(local("write", 0), fut("get", 0), "yield", local("read", 0), shm("lock", 0),
             ("sleep", 1), shm("unlock", 0), bar("arrive_and_wait", 0)),
         ops(bar("arrive_and_wait", 0), local("read", 0), rmx("try_lock", 0), rmx("unlock", 0))],
        [0], futures=1, barriers=[(2, True)], shared_mutexes=1, rmutexes=1, locals=1,
        tasks=[0, 1]),
}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    corpus = os.path.join(here, "corpus")
    os.makedirs(corpus, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(corpus, "seed-" + name), "wb") as f:
            f.write(data)
    with open(os.path.join(corpus, "seed-empty"), "wb") as f:
        pass
    print(f"wrote {len(SEEDS) + 1} seeds into {corpus}")


if __name__ == "__main__":
    main()
