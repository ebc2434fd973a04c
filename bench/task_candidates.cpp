// The C++20-task candidates of weft_executor_bench; see task_candidates.hpp.
#include "task_candidates.hpp"

#include "bench_common.hpp"

#include <utility>  // before Boost.Asio 1.74's awaitable.hpp, which uses std::exchange unincluded

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <array>
#include <chrono>
#include <coroutine>
#include <exception>

#include <weft/weft.hpp>

namespace weft::bench {

namespace {

using clock_type = std::chrono::steady_clock;

weft::task<void> yield_times(std::uint64_t n) {
  for (std::uint64_t i = 0; i < n; ++i) co_await weft::async_yield();
}

weft::task<void> nothing() { co_return; }

weft::task<std::uint64_t> spawned_node(std::uint64_t num, std::uint64_t size) {
  if (size == 1) co_return num;
  std::array<weft::join_handle<std::uint64_t>, 10> children;
  for (std::uint64_t i = 0; i < 10; ++i)
    children[i] = weft::spawn(spawned_node(num + i * (size / 10), size / 10));
  std::uint64_t sum = 0;
  for (auto& c : children) sum += co_await c;
  co_return sum;
}

weft::task<std::uint64_t> awaited_node(std::uint64_t num, std::uint64_t size) {
  if (size == 1) co_return num;
  std::uint64_t sum = 0;
  for (std::uint64_t i = 0; i < 10; ++i) sum += co_await awaited_node(num + i * (size / 10), size / 10);
  co_return sum;
}

// The floor: a lazily started coroutine that returns a value and resumes its awaiter by
// symmetric transfer. No scheduler, no allocator but operator new, no exceptions kept.
struct floor_task {
  struct promise_type {
    std::uint64_t value = 0;
    std::coroutine_handle<> awaiter;
    floor_task get_return_object() {
      return floor_task{std::coroutine_handle<promise_type>::from_promise(*this)};
    }
    std::suspend_always initial_suspend() noexcept { return {}; }
    struct final_awaiter {
      bool await_ready() noexcept { return false; }
      std::coroutine_handle<> await_suspend(std::coroutine_handle<promise_type> h) noexcept {
        return h.promise().awaiter;
      }
      void await_resume() noexcept {}
    };
    final_awaiter final_suspend() noexcept { return {}; }
    void return_value(std::uint64_t v) noexcept { value = v; }
    void unhandled_exception() { std::terminate(); }
  };
  explicit floor_task(std::coroutine_handle<promise_type> h) : handle(h) {}
  floor_task(floor_task&& o) noexcept : handle(std::exchange(o.handle, nullptr)) {}
  ~floor_task() {
    if (handle) handle.destroy();
  }
  bool await_ready() noexcept { return false; }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiter) noexcept {
    handle.promise().awaiter = awaiter;
    return handle;
  }
  std::uint64_t await_resume() noexcept { return handle.promise().value; }
  std::coroutine_handle<promise_type> handle;
};

floor_task floor_node(std::uint64_t num, std::uint64_t size) {
  if (size == 1) co_return num;
  std::uint64_t sum = 0;
  for (std::uint64_t i = 0; i < 10; ++i) sum += co_await floor_node(num + i * (size / 10), size / 10);
  co_return sum;
}

// The root's awaiter: runs the floor chain from a plain function.
floor_task floor_root(std::uint64_t leaves, std::uint64_t& out) {
  out = co_await floor_node(0, leaves);
  co_return 0;
}

boost::asio::awaitable<std::uint64_t> asio_node(std::uint64_t num, std::uint64_t size) {
  if (size == 1) co_return num;
  auto executor = co_await boost::asio::this_coro::executor;
  std::uint64_t sum = 0;
  for (std::uint64_t i = 0; i < 10; ++i)
    sum += co_await boost::asio::co_spawn(executor, asio_node(num + i * (size / 10), size / 10),
                                          boost::asio::use_awaitable);
  co_return sum;
}

}  // namespace

double weft_task_yield(std::uint64_t round_trips) {
  weft::executor ex;
  clock_type::time_point start;
  ex.spawn([&] {
    start = clock_type::now();
    auto a = weft::spawn(yield_times(round_trips));
    auto b = weft::spawn(yield_times(round_trips));
    a.join();
    b.join();
  });
  ex.run();
  return ns_since(start) / static_cast<double>(round_trips);
}

double weft_task_spawn_join(std::uint64_t pairs) {
  double ns = 0;
  weft::run([&] {
    weft::spawn(nothing()).join();  // warm the stack pool and the frame cache
    const auto start = clock_type::now();
    for (std::uint64_t i = 0; i < pairs; ++i) weft::spawn(nothing()).join();
    ns = ns_since(start);
  });
  return ns / static_cast<double>(pairs);
}

std::uint64_t weft_task_skynet(std::uint64_t leaves) {
  return weft::run([leaves] { return weft::spawn(spawned_node(0, leaves)).join(); });
}

std::uint64_t weft_awaited_task_skynet(std::uint64_t leaves) {
  return weft::run([leaves] { return weft::await(awaited_node(0, leaves)); });
}

std::uint64_t coroutine_floor_skynet(std::uint64_t leaves) {
  std::uint64_t sum = 0;
  floor_task root = floor_root(leaves, sum);
  root.handle.promise().awaiter = std::noop_coroutine();
  root.handle.resume();  // runs the whole tree: every await completes through transfers
  return sum;
}

std::uint64_t asio_skynet(std::uint64_t leaves) {
  boost::asio::io_context io(1);
  std::uint64_t sum = 0;
  boost::asio::co_spawn(io, asio_node(0, leaves), [&](std::exception_ptr e, std::uint64_t v) {
    if (e) std::rethrow_exception(e);
    sum = v;
  });
  io.run();
  return sum;
}

bool weft_blocked_tasks(std::uint64_t count, std::size_t stack_size) {
  weft::executor_options o;
  o.stack_size = stack_size;
  o.guard_pages = false;
  weft::executor ex(o);
  weft::event ev;
  std::uint64_t finished = 0;
  auto blocked = [](weft::event& ev, std::uint64_t& finished) -> weft::task<void> {
    co_await ev.async_wait();
    ++finished;
  };
  ex.spawn([&] {
    for (std::uint64_t i = 0; i < count; ++i) weft::spawn(blocked(ev, finished)).detach();
    ev.set();
  });
  ex.run();
  return finished == count;
}

}  // namespace weft::bench
