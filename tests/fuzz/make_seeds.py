#!/usr/bin/env python3
"""Writes the schedule fuzzer's hand-made seed inputs into tests/fuzz/corpus/ (seed-*).

The byte format is described in tests/fuzz/README.md. Run it again after changing the
seeds below; files the fuzzer found (crash-*, regression-*) are kept as they are.
"""
import os

OPS = ["spawn", "yield", "sleep", "send", "recv", "try_send", "try_recv", "close", "lock",
       "unlock", "set", "wait", "join", "detach", "throw_catch"]
CAPS = {0: 0, 1: 2, 2: 4, 3: 5, 5: 6, 8: 7, 16: 8, "2^40": 9}  # capacity -> byte


def encode(channels, programs, roots, mutexes=1, events=1, stack_kib=64, guard=True):
    out = [len(channels) - 1]
    out += [CAPS[c] for c in channels]
    out += [mutexes - 1, events - 1]
    out += [{16: 0, 32: 1, 64: 2, 256: 3}[stack_kib] | (0 if guard else 4)]
    out += [len(roots) - 1] + roots
    out += [len(programs) - 1]
    for prog in programs:
        out.append(len(prog))
        for item in prog:
            name, arg = (item, 0) if isinstance(item, str) else item
            out += [OPS.index(name), arg]
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
