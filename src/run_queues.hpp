// The run queues of the work-stealing scheduler, one header each. All hold fiber pointers and
// allocate nothing per operation. The owners' paths are inline: they run on every yield, spawn
// and fiber end.
//
//   ready_queue   intrusive FIFO, single-threaded; locked_ready_queue, the same under a mutex
//   fiber_deque   Chase-Lev deque: the owner pushes and takes at the bottom (LIFO), any thread
//                 steals from the top (FIFO), through a deque_thief. Lock-free. Holds
//                 spawners' continuations.
//   fiber_ring    bounded FIFO: the owner pushes at the tail, any thread takes from the head
//                 with a CAS. Lock-free. Holds yielded and woken fibers.
//   fiber_inbox   unbounded FIFO: any thread pushes, the owner pops. Lock-free. Holds fibers
//                 pinned to a worker and made ready elsewhere.
//
// Slot stores are release and loads acquire (free on x86), so ThreadSanitizer, which ignores
// standalone fences, sees the happens-before edge that hands a fiber to another thread.
#pragma once

#include "fiber_deque.hpp"
#include "fiber_inbox.hpp"
#include "fiber_ring.hpp"
#include "ready_queue.hpp"
