// weft_vocabulary_bench: the std vocabulary for fibers next to Boost.Fiber's counterparts, on
// one worker (Boost.Fiber: its default round-robin scheduler on one thread), measured
// interleaved in this process:
//   future      a promise made, handed to a second fiber, set there, and its future's get()
//               (which suspends) returning: ns per promise
//   barrier     one round of 8 fibers through arrive_and_wait (Boost: barrier::wait): ns per round
//   shared_mutex  an uncontended lock_shared/unlock_shared pair (Boost.Fiber has none:
//               std::shared_mutex beside it)
//   semaphore   a binary_semaphore ping-pong round trip between two fibers (Boost.Fiber has
//               none: its mutex + condition_variable ping-pong beside it)
//   fiber_local a read of a fiber_local<int> after the first (Boost: fiber_specific_ptr::get;
//               a thread_local read beside them)
// The ratio is to the Boost.Fiber row of the same tier (to std::shared_mutex for shared_mutex).
#include <chrono>
#include <cmath>
#include <cstdio>
#include <shared_mutex>
#include <string>
#include <vector>

#include <boost/fiber/all.hpp>

#include <weft/weft.hpp>

#include "bench_common.hpp"

namespace {

using clock_type = std::chrono::steady_clock;
using weft::bench::do_not_optimize;

double ns_per(clock_type::time_point start, std::uint64_t n) {
  return std::chrono::duration<double, std::nano>(clock_type::now() - start).count() /
         static_cast<double>(n);
}

boost::fibers::pooled_fixedsize_stack& boost_stacks() {
  static boost::fibers::pooled_fixedsize_stack pool(64 * 1024);
  return pool;
}

// What the future, barrier and semaphore candidates need of a fiber library: running a body
// as a fiber on this thread, spawning (the result joins), yielding, and its types.
struct weft_library {
  template <class T>
  using promise = weft::promise<T>;
  using barrier = weft::barrier<>;
  template <class F>
  static void run(F body) {
    weft::run(std::move(body));
  }
  template <class F>
  static auto spawn(F body) {
    return weft::spawn(std::move(body));
  }
  static void yield() { weft::this_fiber::yield(); }
  static void arrive_and_wait(barrier& b) { b.arrive_and_wait(); }
};

// A binary semaphore made of Boost.Fiber's mutex and condition_variable (it has none).
struct boost_semaphore {
  explicit boost_semaphore(int initial) : up(initial > 0) {}
  boost::fibers::mutex m;
  boost::fibers::condition_variable cv;
  bool up;
  void release() {
    {
      std::lock_guard g(m);
      up = true;
    }
    cv.notify_one();
  }
  void acquire() {
    std::unique_lock l(m);
    cv.wait(l, [&] { return up; });
    up = false;
  }
};

struct boost_library {
  template <class T>
  using promise = boost::fibers::promise<T>;
  using barrier = boost::fibers::barrier;
  template <class F>
  static auto spawn(F body) {
    return boost::fibers::fiber(std::allocator_arg, boost_stacks(), std::move(body));
  }
  template <class F>
  static void run(F body) {
    spawn(std::move(body)).join();
  }
  static void yield() { boost::this_fiber::yield(); }
  static void arrive_and_wait(barrier& b) { b.wait(); }
};

// ---- future ------------------------------------------------------------------------------
// ns per promise: made, handed to a second fiber, set there, and its future's get() returning.
template <class Library>
double future_handoff(std::uint64_t n) {
  double ns = 0;
  Library::run([&] {
    typename Library::template promise<int>* slot = nullptr;
    bool done = false;
    auto setter = Library::spawn([&] {
      while (!done) {
        if (slot) std::exchange(slot, nullptr)->set_value(1);
        Library::yield();
      }
    });
    long sum = 0;
    const auto start = clock_type::now();
    for (std::uint64_t i = 0; i < n; ++i) {
      typename Library::template promise<int> p;
      auto f = p.get_future();
      slot = &p;
      sum += f.get();
    }
    ns = ns_per(start, n);
    done = true;
    setter.join();
    do_not_optimize(sum);
  });
  return ns;
}

// ---- barrier -----------------------------------------------------------------------------
constexpr int barrier_fibers = 8;

// ns per round of barrier_fibers fibers through the barrier.
template <class Library>
double barrier_rounds(std::uint64_t rounds) {
  double ns = 0;
  Library::run([&] {
    typename Library::barrier sync(barrier_fibers);
    std::vector<decltype(Library::spawn([] {}))> others;
    for (int i = 1; i < barrier_fibers; ++i)
      others.push_back(Library::spawn([&] {
        for (std::uint64_t r = 0; r < rounds; ++r) Library::arrive_and_wait(sync);
      }));
    const auto start = clock_type::now();
    for (std::uint64_t r = 0; r < rounds; ++r) Library::arrive_and_wait(sync);
    ns = ns_per(start, rounds);
    for (auto& o : others) o.join();
  });
  return ns;
}

// ---- shared_mutex ------------------------------------------------------------------------
template <class Mutex>
double shared_pair(std::uint64_t n) {
  Mutex m;
  const auto start = clock_type::now();
  for (std::uint64_t i = 0; i < n; ++i) {
    m.lock_shared();
    weft::bench::clobber_memory();
    m.unlock_shared();
  }
  return ns_per(start, n);
}

double weft_shared_pair(std::uint64_t n) {
  double ns = 0;
  weft::run([&] { ns = shared_pair<weft::shared_mutex>(n); });
  return ns;
}

// ---- semaphore ---------------------------------------------------------------------------
// ns per round trip of two fibers passing control through two semaphores.
template <class Library, class Semaphore>
double semaphore_ping_pong(std::uint64_t round_trips) {
  double ns = 0;
  Library::run([&] {
    Semaphore ping(0), pong(0);
    auto other = Library::spawn([&] {
      for (std::uint64_t i = 0; i < round_trips; ++i) {
        ping.acquire();
        pong.release();
      }
    });
    const auto start = clock_type::now();
    for (std::uint64_t i = 0; i < round_trips; ++i) {
      ping.release();
      pong.acquire();
    }
    ns = ns_per(start, round_trips);
    other.join();
  });
  return ns;
}

// ---- fiber_local -------------------------------------------------------------------------
template <class Read>
double reads(std::uint64_t n, Read read) {
  long sum = 0;
  const auto start = clock_type::now();
  for (std::uint64_t i = 0; i < n; ++i) {
    sum += read();
    weft::bench::clobber_memory();
  }
  const double ns = ns_per(start, n);
  do_not_optimize(sum);
  return ns;
}

double weft_local_read(std::uint64_t n) {
  static weft::fiber_local<int> local;
  double ns = 0;
  weft::run([&] {
    *local = 1;
    ns = reads(n, [] { return *local; });
  });
  return ns;
}

double boost_local_read(std::uint64_t n) {
  static boost::fibers::fiber_specific_ptr<int> local;
  double ns = 0;
  boost_library::run([&] {
    local.reset(new int(1));
    ns = reads(n, [] { return *local.get(); });
  });
  return ns;
}

thread_local int thread_value = 1;
__attribute__((noinline)) int read_thread_local() { return thread_value; }
double thread_local_read(std::uint64_t n) { return reads(n, [] { return read_thread_local(); }); }

struct candidate {
  std::string tier, name;
  double (*run)(std::uint64_t);
  std::uint64_t divisor = 1;  // runs --iters / divisor operations
  std::vector<double> samples = {};
};

}  // namespace

int main(int argc, char** argv) {
  weft::bench::options defaults;
  defaults.reps = 7;
  defaults.iters = 200'000;
  const weft::bench::options opt = weft::bench::parse_options(argc, argv, defaults);
  std::vector<candidate> all{
      {"future", "weft promise/future", &future_handoff<weft_library>, 1},
      {"future", "Boost.Fiber promise/future", &future_handoff<boost_library>, 1},
      {"barrier of 8", "weft barrier", &barrier_rounds<weft_library>, 4},
      {"barrier of 8", "Boost.Fiber barrier", &barrier_rounds<boost_library>, 4},
      {"shared_mutex", "weft shared_mutex", &weft_shared_pair, 1},
      {"shared_mutex", "std::shared_mutex", &shared_pair<std::shared_mutex>, 1},
      {"semaphore", "weft binary_semaphore", &semaphore_ping_pong<weft_library, weft::binary_semaphore>, 1},
      {"semaphore", "Boost.Fiber mutex+cv", &semaphore_ping_pong<boost_library, boost_semaphore>, 1},
      {"fiber_local", "weft fiber_local", &weft_local_read, 1},
      {"fiber_local", "Boost.Fiber fiber_specific_ptr", &boost_local_read, 1},
      {"fiber_local", "thread_local (noinline)", &thread_local_read, 1},
  };
  std::erase_if(all, [&](const candidate& c) { return !opt.selected(c.tier, c.name); });
  std::printf("weft_vocabulary_bench: 1 worker, %d reps interleaved, %llu ops per rep\n", opt.reps,
              static_cast<unsigned long long>(opt.iters));
  for (auto& c : all) c.run(std::max<std::uint64_t>(opt.iters / 20 / c.divisor, 100));  // warm-up
  for (int r = 0; r < opt.reps; ++r)
    for (std::size_t k = 0; k < all.size(); ++k) {
      candidate& c = all[(static_cast<std::size_t>(r) + k) % all.size()];
      c.samples.push_back(c.run(std::max<std::uint64_t>(opt.iters / c.divisor, 1)));
    }
  std::vector<weft::bench::result_row> rows;
  for (std::size_t i = 0; i < all.size();) {
    std::vector<weft::bench::result_row> tier;
    const std::string name = all[i].tier;
    for (; i < all.size() && all[i].tier == name; ++i)
      tier.push_back({all[i].tier, all[i].name, weft::bench::summarize(all[i].samples), NAN});
    const auto& baseline = tier.size() > 1 ? tier[1].name : tier[0].name;
    weft::bench::set_ratios(tier, baseline);
    rows.insert(rows.end(), tier.begin(), tier.end());
  }
  weft::bench::print_table(rows, "ns", "x 2nd row");
  if (!opt.csv.empty() && !weft::bench::write_csv(opt.csv, rows)) return 1;
  return 0;
}
