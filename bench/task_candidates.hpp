// The C++20-task candidates of weft_executor_bench (bench/executor_bench.cpp): weft::task
// beside weft's fibers, a scheduler-less coroutine floor, and Boost.Asio's awaitables.
#pragma once

#include <cstdint>

namespace weft::bench {

// Two spawned tasks of one worker co_await async_yield in turn; ns per A->B->A round trip.
double weft_task_yield(std::uint64_t round_trips);
// A fiber spawns an empty task and joins it; ns per pair.
double weft_task_spawn_join(std::uint64_t pairs);

// skynet (a 10-ary tree summing its leaves' numbers) with `leaves` leaves, on one thread:
// each node a spawned weft::task that co_awaits its ten children's join handles;
std::uint64_t weft_task_skynet(std::uint64_t leaves);
// each node a weft::task that co_awaits its children in turn, without spawning (one chain);
std::uint64_t weft_awaited_task_skynet(std::uint64_t leaves);
// each node a minimal hand-written coroutine awaited in turn through symmetric transfer, no
// scheduler at all: the floor of a coroutine skynet;
std::uint64_t coroutine_floor_skynet(std::uint64_t leaves);
// each node a Boost.Asio awaitable that co_spawns its children on one io_context and awaits
// them in turn.
std::uint64_t asio_skynet(std::uint64_t leaves);

// `count` spawned tasks blocked at once on one event (16 KiB stacks, no guard pages, as the
// fibers' memory candidate); true if all of them ended after it was set.
bool weft_blocked_tasks(std::uint64_t count, std::size_t stack_size);

}  // namespace weft::bench
