// Resource exhaustion and bad input: every case ends in an exception or a message, never a
// crash or a leak, and the executor stays usable afterwards. Cases that change process-wide
// state (limits, the guarded-stack budget, mappings) or that must end in std::terminate run
// in forked children; in sanitizer builds those children run LeakSanitizer before leaving.
#include <sys/mman.h>
#include <sys/resource.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <weft/weft.hpp>

#include "support/child_process.hpp"
#include "support/counters.hpp"
#include "support/fixtures.hpp"
#include "support/maps.hpp"
#include "support/sanitizers.hpp"

using Catch::Matchers::Contains;
using namespace std::chrono_literals;
using weft_test::check_executor_usable;
using weft_test::instance_counter;
using weft_test::max_map_count;
using weft_test::raii_counter;
using weft_test::run_in_child;

namespace {

// ---- helpers ----------------------------------------------------------------------------------

std::size_t count_substr(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1))
    ++n;
  return n;
}

// Fills the process's mappings until only `leave` of vm.max_map_count remain: alternating
// PROT_NONE/read-write pages, which the kernel cannot merge. Unmapped by the destructor.
class mapping_filler {
 public:
  explicit mapping_filler(std::size_t leave) {
    const std::size_t page = weft::page_size();
    const std::size_t limit = max_map_count();
    std::size_t now = weft_test::mapping_count();
    if (now + leave >= limit) return;
    // Each block of 2k pages with every other page PROT_NONE adds about 2k mappings.
    while (now + leave < limit) {
      const std::size_t want = std::min<std::size_t>((limit - leave - now) / 2, 4096);
      if (want == 0) break;
      const std::size_t bytes = 2 * want * page;
      void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) break;
      blocks_.push_back({p, bytes});
      for (std::size_t i = 0; i < want; ++i)
        if (::mprotect(static_cast<char*>(p) + 2 * i * page, page, PROT_NONE) != 0) break;
      now = weft_test::mapping_count();
    }
  }
  ~mapping_filler() { release(); }
  void release() {
    for (auto [p, bytes] : blocks_) ::munmap(p, bytes);
    blocks_.clear();
  }

 private:
  std::vector<std::pair<void*, std::size_t>> blocks_;
};

struct throwing_destructor {
  const char* message;
  ~throwing_destructor() noexcept(false) { throw std::runtime_error(message); }
};

}  // namespace

// ---- guarded stacks and vm.max_map_count ------------------------------------------------------

TEST_CASE("past max_guarded_stacks, fibers get unguarded slab stacks and one notice",
          "[exhaustion][map_count]") {
  // The documented policy with a small budget: 64 guarded stacks at once in the process, the
  // others without a guard page on shared slabs, one notice on stderr; the budget is given
  // back when the executor goes, its guarded stacks unmapped or kept as spares for the next
  // executor (at most 64 of them: all of these).
  auto r = run_in_child([] {
    constexpr std::size_t region = 72 * 1024;  // a size nothing else in the process maps
    weft::executor_options options;
    options.max_guarded_stacks = 64;
    options.stack_size = region;
    {
      weft::executor ex(options);
      weft::event go;
      std::atomic<int> finished{0};
      for (int i = 0; i < 1000; ++i)
        ex.spawn([&] {
          go.wait();
          ++finished;
        });
      std::size_t guarded_during = 0;
      ex.spawn([&] {
        guarded_during = weft_test::count_guarded_stacks(region);
        go.set();
      });
      ex.run();
      std::printf("finished=%d guarded_during=%zu\n", finished.load(), guarded_during);
      check_executor_usable(ex);
    }
    std::printf("guarded_after=%zu\n", weft_test::count_guarded_stacks(region));
    // A second executor of the process gets guarded stacks again, up to the same budget: the
    // spares (that they count in no budget is checked by executor_test's spare test).
    {
      weft::executor ex(options);
      weft::event go;
      std::atomic<int> ran{0};
      for (int i = 0; i < 10; ++i)
        ex.spawn([&] {
          go.wait();
          ++ran;
        });
      std::size_t guarded = 0;
      ex.spawn([&] {
        guarded = weft_test::count_guarded_stacks(region);
        go.set();
      });
      ex.run();
      std::printf("second_ran=%d second_guarded=%zu\n", ran.load(), guarded);
    }
  });
  INFO(r.describe());
  REQUIRE(r.exited_ok());
  CHECK_THAT(r.out, Contains("finished=1000 guarded_during=64\n"));
  CHECK_THAT(r.out, Contains("guarded_after=64\n"));  // the spares
  // 10 + the counting one in use, the other 53 spares still mapped: the same 64 stacks.
  CHECK_THAT(r.out, Contains("second_ran=10 second_guarded=64\n"));
  // The documented notice, exactly once per process.
  CHECK(count_substr(r.err, "guard page") == 1);
  CHECK_THAT(r.err, Contains("max_guarded_stacks"));
}

TEST_CASE("the default guarded-stack budget keeps more fibers than vm.max_map_count allows "
          "guarded stacks for running",
          "[exhaustion][map_count][slow]") {
  // Each guarded stack takes two mappings: without the budget, max_map_count / 2 fibers would
  // exhaust the process's mappings. With default options they all run; the rest of the
  // process still has mappings to spare while they live.
  auto r = run_in_child([] {
    const std::size_t fibers = max_map_count() / 2 + 2000;
    weft::executor_options options;
    options.stack_size = 16 * 1024;
    weft::executor ex(options);
    weft::event go;
    std::size_t finished = 0, peak_mappings = 0;
    ex.spawn([&] {
      for (std::size_t i = 0; i < fibers; ++i)
        weft::spawn([&] {
          go.wait();
          ++finished;
        });
      peak_mappings = weft_test::mapping_count();
      go.set();
    });
    ex.run();
    std::printf("fibers=%zu all_finished=%d headroom=%d (%zu of %zu mappings)\n", fibers,
                finished == fibers, peak_mappings + 2048 < max_map_count(), peak_mappings,
                max_map_count());
    check_executor_usable(ex);
  });
  INFO(r.describe());
  REQUIRE(r.exited_ok());
  CHECK_THAT(r.out, Contains("all_finished=1"));
  CHECK_THAT(r.out, Contains("headroom=1"));
  CHECK(count_substr(r.err, "guard page") == 1);
}

TEST_CASE("when mappings run out before the budget, spawn throws a std::system_error naming "
          "vm.max_map_count, and the executor recovers",
          "[exhaustion][map_count]") {
  // The budget (here raised far past what the process can map) is only a policy; the real
  // limit is the process's mapping count. Most mappings are taken first, so spawn meets it.
  auto r = run_in_child([] {
    weft::executor_options options;
    options.max_guarded_stacks = 1000000;
    weft::executor ex(options);
    weft::event go;
    std::atomic<int> finished{0};
    std::vector<weft::join_handle<void>> blocked;
    blocked.reserve(100000);
    std::string message;
    int code = 0;
    {
      mapping_filler filler(600);
      std::printf("filled to %zu of %zu mappings\n", weft_test::mapping_count(), max_map_count());
      try {
        for (int i = 0; i < 100000; ++i)
          blocked.push_back(ex.spawn([&] {
            go.wait();
            ++finished;
          }));
      } catch (const std::system_error& e) {
        message = e.what();
        code = e.code().value();
      }
    }  // the filler's mappings are given back
    std::printf("spawned=%zu code_enomem=%d\nmessage=%s\n", blocked.size(), code == ENOMEM,
                message.c_str());
    ex.spawn([&] { go.set(); });
    ex.run();
    std::printf("finished=%d of %zu\n", finished.load(), blocked.size());
    for (auto& h : blocked) h.join();
    check_executor_usable(ex);
    std::printf("usable\n");
  });
  INFO(r.describe());
  REQUIRE(r.exited_ok());
  CHECK_THAT(r.out, Contains("code_enomem=1"));
  CHECK_THAT(r.out, Contains("vm.max_map_count"));
  CHECK_THAT(r.out, Contains("memory mappings"));
  CHECK_THAT(r.out, Contains("weft::spawn"));
  CHECK_THAT(r.out, Contains("usable"));
  const auto spawned = r.out.substr(r.out.find("spawned=") + 8);
  CHECK_THAT(r.out, Contains("finished=" + spawned.substr(0, spawned.find(' ')) + " of"));
}

// ---- mmap failing: RLIMIT_AS ----------------------------------------------------------------

TEST_CASE("under a lowered RLIMIT_AS, spawn and weft::stack throw a std::system_error naming "
          "RLIMIT_AS, and the executor recovers",
          "[exhaustion][rlimit]") {
  for (bool guard : {true, false}) {
    DYNAMIC_SECTION((guard ? "guarded stacks" : "unguarded slab stacks")) {
      auto r = run_in_child([guard] {
        weft::executor_options options;
        options.guard_pages = guard;
        // Stacks far bigger than what a sanitizer runtime maps per fiber, so that weft's own
        // mmap is the one that meets the limit.
        options.stack_size = std::size_t{32} << 20;
        weft::executor ex(options);
        weft::event go;
        std::atomic<int> finished{0};
        std::vector<weft::join_handle<void>> blocked;
        blocked.reserve(10000);
        ex.spawn([] {}).join();  // the executor's own first allocations are made
        struct rlimit saved {};
        ::getrlimit(RLIMIT_AS, &saved);
        struct rlimit low = saved;
        low.rlim_cur = weft_test::virtual_size() + (100u << 20);  // 100 MiB more than is mapped now
        if (::setrlimit(RLIMIT_AS, &low) != 0) throw std::runtime_error("setrlimit failed");
        std::string spawn_message, stack_message;
        try {
          for (int i = 0; i < 10000; ++i)
            blocked.push_back(ex.spawn([&] {
              go.wait();
              ++finished;
            }));
        } catch (const std::system_error& e) {
          spawn_message = e.what();
        }
        try {
          weft::stack s(std::size_t{1} << 30);  // 1 GiB: past the limit
        } catch (const std::system_error& e) {
          stack_message = e.what();
        }
        ::setrlimit(RLIMIT_AS, &saved);
        std::printf("spawned=%zu\nspawn: %s\nstack: %s\n", blocked.size(), spawn_message.c_str(),
                    stack_message.c_str());
        ex.spawn([&] { go.set(); });
        ex.run();
        for (auto& h : blocked) h.join();
        std::printf("finished=%d\n", finished.load());
        check_executor_usable(ex);
        std::printf("usable\n");
      });
      INFO(r.describe());
      REQUIRE(r.exited_ok());
      CHECK_THAT(r.out, Contains("spawn: weft::spawn: mmap failed"));
      CHECK(count_substr(r.out, "RLIMIT_AS") == 2);
      CHECK_THAT(r.out, Contains("stack: weft::stack: mmap failed for a stack of 1073741824"));
      const auto spawned = r.out.substr(r.out.find("spawned=") + 8);
      CHECK_THAT(r.out, Contains("finished=" + spawned.substr(0, spawned.find('\n'))));
      CHECK_THAT(r.out, Contains("usable"));
    }
  }
}

// ---- absurd sizes -----------------------------------------------------------------------------

TEST_CASE("stack sizes of 0 and 2^60 are rejected when the executor is made", "[exhaustion][size]") {
  weft::executor_options zero;
  zero.stack_size = 0;
  CHECK_THROWS_AS(weft::executor(zero), std::invalid_argument);
  CHECK_THROWS_WITH(weft::executor(zero), Contains("stack size 0"));
  CHECK_THROWS_AS(weft::run([] { return 1; }, zero), std::invalid_argument);

  for (std::size_t size : {std::size_t{1} << 60, std::size_t{1} << 48, SIZE_MAX}) {
    INFO("stack_size " << size);
    weft::executor_options huge;
    huge.stack_size = size;
    CHECK_THROWS_AS(weft::executor(huge), std::length_error);
    CHECK_THROWS_WITH(weft::executor(huge), Contains(std::to_string(size)) && Contains("too large"));
    CHECK_THROWS_AS(weft::stack(size), std::length_error);
  }
  // Nothing leaked and other executors are unaffected.
  weft::executor ex;
  check_executor_usable(ex);
}

TEST_CASE("a stack size the address space has but memory does not: 2^46 bytes",
          "[exhaustion][size]") {
  // 64 TiB fits the address space, so it is not rejected up front; mapping it (MAP_NORESERVE)
  // may work. Either it runs, or spawn throws a std::system_error; nothing else.
#ifdef WEFT_TEST_ASAN
  // ASan clears the shadow of every new mapping, which costs resident memory of an eighth of
  // its size: 8 TiB here (measured: a 1 GiB stack adds 128 MiB of RSS at spawn). The machine
  // would run out of memory; sizes past the address space are still checked above.
  WARN("skipped under AddressSanitizer: a 64 TiB mapping needs 8 TiB of shadow memory");
  return;
#endif
  weft::executor_options options;
  options.stack_size = std::size_t{1} << 46;
  options.guard_pages = true;
  weft::executor ex(options);
  try {
    auto h = ex.spawn([] { return 7; });
    ex.run();
    CHECK(h.join() == 7);
  } catch (const std::system_error& e) {
    CHECK_THAT(std::string(e.what()), Contains(std::to_string(std::size_t{1} << 46)));
  }
  CHECK(ex.live_fibers() == 0);
}

TEST_CASE("a channel of capacity 2^40 buffers without waiting and allocates as it goes",
          "[exhaustion][channel]") {
  constexpr std::size_t capacity = std::size_t{1} << 40;
  weft::executor ex;
  auto ch = std::make_unique<weft::channel<std::string>>(capacity);
  CHECK(ch->capacity() == capacity);
  constexpr int values = 100000;
  int ticks = 0, ticks_during_sends = -1;
  auto sender = ex.spawn([&] {
    for (int i = 0; i < values; ++i)
      if (!ch->send(std::to_string(i))) throw std::runtime_error("send failed");
    ticks_during_sends = ticks;  // the ticker has not run: no send suspended
  });
  auto ticker = ex.spawn([&] { ++ticks; });
  ex.run();
  sender.join();
  ticker.join();
  CHECK(ticks_during_sends == 0);
  // Every value is buffered: a receiver takes them in order without anyone sending more.
  auto receiver = ex.spawn([&] {
    for (int i = 0; i < values; ++i)
      if (ch->recv() != std::to_string(i)) return false;
    return !ch->try_recv().has_value();
  });
  ex.run();
  CHECK(receiver.join());
  // Close with values left: they are still delivered, then nullopt; the rest is freed with
  // the channel (LeakSanitizer checks in sanitizer builds).
  std::string v = "x";
  CHECK(ch->try_send(v));
  std::string w = "y";
  CHECK(ch->try_send(w));
  ch->close();
  CHECK(ch->recv() == "x");
  std::string z = "z";
  CHECK_FALSE(ch->try_send(z));
  CHECK(z == "z");  // not moved from
  std::string big(1000, 'b');
  auto ch2 = std::make_unique<weft::channel<std::string>>(SIZE_MAX);
  for (int i = 0; i < 1000; ++i) {
    std::string copy = big;
    CHECK(ch2->try_send(copy));
  }
  ch2.reset();  // destroyed full
  ch.reset();   // destroyed with "y" buffered
  check_executor_usable(ex);
}

// ---- spawn during destruction -----------------------------------------------------------------

TEST_CASE("spawn on an executor being destroyed throws std::logic_error, destroys its "
          "callable, and leaves other executors alone",
          "[exhaustion][destroy]") {
  weft::executor other;
  std::atomic<int> other_ran{0};
  std::string member_error, free_error;
  std::atomic<int> unwound{0};
  REQUIRE(instance_counter::live == 0);
  {
    weft::event never;  // outlives the executor, whose destruction takes the fibers out of it
    weft::executor ex;
    struct spawner {
      weft::executor* ex;
      weft::executor* other;
      std::string* member_error;
      std::string* free_error;
      std::atomic<int>* other_ran;
      ~spawner() {
        try {
          ex->spawn([c = instance_counter()](instance_counter) {}, instance_counter());
          *member_error = "(no exception)";
        } catch (const std::logic_error& e) {
          *member_error = e.what();
        }
        try {
          weft::spawn([c = instance_counter()] {});
          *free_error = "(no exception)";
        } catch (const std::logic_error& e) {
          *free_error = e.what();
        }
        // Another executor is not being destroyed: spawning onto it works.
        other->spawn([r = other_ran] { ++*r; }).detach();
      }
    };
    for (int i = 0; i < 3; ++i)
      ex.spawn([&] {
        raii_counter c(unwound);
        spawner s{&ex, &other, &member_error, &free_error, &other_ran};
        never.wait();
      });
    ex.spawn([] {}).join();  // starts the three
    CHECK(ex.live_fibers() == 3);
  }
  CHECK(unwound == 3);
  CHECK_THAT(member_error, Contains("being destroyed"));
  CHECK_THAT(free_error, Contains("being destroyed"));
  CHECK(instance_counter::live == 0);  // the rejected callables and arguments were destroyed
  other.run();
  CHECK(other_ran == 3);
  check_executor_usable(other);
  weft::executor again;
  check_executor_usable(again);
}

// ---- throwing destructors on fiber stacks ------------------------------------------------------

TEST_CASE("a destructor throwing in a fiber's normal run: caught by the fiber, or rethrown "
          "by join()",
          "[exhaustion][destructor]") {
  weft::executor ex;
  auto caught = ex.spawn([] {
    try {
      throwing_destructor d{"caught in the fiber"};
      weft::this_fiber::yield();
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string("not thrown");
  });
  std::atomic<int> destroyed{0};
  auto escaping = ex.spawn([&] {
    raii_counter outer(destroyed);
    {
      raii_counter inner(destroyed);
      throwing_destructor d{"escapes the fiber"};
      weft::this_fiber::sleep_for(1ms);
    }
    return 1;
  });
  auto bystander = ex.spawn([] {
    int n = 0;
    for (int i = 0; i < 10; ++i, ++n) weft::this_fiber::yield();
    return n;
  });
  ex.run();
  CHECK(caught.join() == "caught in the fiber");
  CHECK_THROWS_WITH(escaping.join(), "escapes the fiber");
  CHECK(destroyed == 2);  // both counters: one destroyed before, one during the unwinding
  CHECK(bystander.join() == 10);
  check_executor_usable(ex);
}

TEST_CASE("a destructor throwing while its fiber unwinds from another exception calls "
          "std::terminate",
          "[exhaustion][destructor]") {
  // C++: an exception leaving a destructor during stack unwinding calls std::terminate. A
  // fiber stack is no different; the process ends (SIGABRT) with the usual message.
  auto r = run_in_child([] {
    weft::run([] {
      throwing_destructor d{"second exception"};
      weft::this_fiber::yield();
      throw std::runtime_error("first exception");
    });
  });
  INFO(r.describe());
  CHECK(r.aborted());
  CHECK_THAT(r.err, Contains("terminate called after throwing"));
  CHECK_THAT(r.err, Contains("second exception"));
}

TEST_CASE("a destructor throwing while the executor unwinds its fiber at destruction calls "
          "std::terminate",
          "[exhaustion][destructor]") {
  // Destroying an executor unwinds suspended fibers with an internal exception; a destructor
  // throwing during that unwinding is an exception during unwinding: std::terminate.
  auto r = run_in_child([] {
    weft::event never;
    weft::executor ex;
    ex.spawn([&] {
      throwing_destructor d{"thrown during executor destruction"};
      never.wait();
    });
    ex.spawn([] {}).join();
    std::printf("destroying\n");
    std::fflush(stdout);
  });
  INFO(r.describe());
  CHECK_THAT(r.out, Contains("destroying"));
  CHECK(r.aborted());
  CHECK_THAT(r.err, Contains("terminate called after throwing"));
  CHECK_THAT(r.err, Contains("thrown during executor destruction"));
}

TEST_CASE("a destructor that throws and catches inside itself while the executor unwinds "
          "its fiber is harmless",
          "[exhaustion][destructor]") {
  std::atomic<int> handled{0}, destroyed{0};
  weft::event never;
  {
    weft::executor ex;
    for (int i = 0; i < 4; ++i)
      ex.spawn([&] {
        raii_counter c(destroyed);
        struct careful {
          std::atomic<int>* handled;
          ~careful() {
            try {
              throw std::runtime_error("contained");
            } catch (const std::runtime_error&) {
              ++*handled;
            }
          }
        } x{&handled};
        never.wait();
      });
    ex.spawn([] {}).join();
  }
  CHECK(handled == 4);
  CHECK(destroyed == 4);
  weft::executor again;
  check_executor_usable(again);
}

TEST_CASE("an executor in a forked child, after the parent ran fibers on several workers",
          "[exhaustion][fork]") {
  // The parent's released fiber stacks (and, under TSan, its kept TSan fibers) must not carry
  // the parent's threads into the child: the child's fibers run clean. The child runs two
  // workers, except under TSan, which refuses to start threads in the child of a process that
  // had several (its own background thread counts): there it runs one.
#ifdef WEFT_TEST_TSAN
  constexpr std::size_t child_workers = 1;
#else
  constexpr std::size_t child_workers = 2;
#endif
  auto fan_out = [](int fibers, std::size_t workers) {
    return weft::run(
        [fibers] {
          weft::channel<int> results(4);
          std::vector<weft::join_handle<void>> senders;
          for (int i = 1; i <= fibers; ++i)
            senders.push_back(weft::spawn([&results, i] { results.send(i); }));
          long sum = 0;
          for (int i = 0; i < fibers; ++i) sum += *results.recv();
          for (auto& s : senders) s.join();
          return sum;
        },
        weft::executor_options{.workers = workers});
  };
  REQUIRE(fan_out(500, 2) == 500L * 501 / 2);
  auto r = run_in_child([&] {
    if (fan_out(500, child_workers) != 500L * 501 / 2) throw std::runtime_error("wrong sum in the child");
  });
  INFO(r.describe());
  CHECK(r.exited_ok());
  CHECK(r.err.empty());
}

TEST_CASE("a destructor that blocks while the executor unwinds its fiber waits instead of "
          "terminating",
          "[exhaustion][destructor]") {
  // Each fiber holds an object whose destructor signals its own event, waits for the
  // partner's, then locks a mutex (which A holds until its unwinding releases it). Whichever
  // fiber unwinds first blocks in its destructor, during unwinding; it must wait for the
  // partner's unwinding to wake it, not throw a second exception (std::terminate).
  struct rendezvous_on_destruction {
    weft::event* mine;
    weft::event* partners;
    weft::mutex* shared;
    std::atomic<int>* done;
    ~rendezvous_on_destruction() {
      mine->set();
      partners->wait();
      std::lock_guard guard(*shared);
      ++*done;
    }
  };
  std::atomic<int> done{0}, destroyed{0};
  weft::event never, a_unwound, b_unwound;
  weft::mutex held_by_a;
  {
    weft::executor ex;
    ex.spawn([&] {
      raii_counter c(destroyed);
      rendezvous_on_destruction r{&a_unwound, &b_unwound, &held_by_a, &done};
      std::lock_guard guard(held_by_a);  // released when A's unwinding starts, before r's end
      never.wait();
    });
    ex.spawn([&] {
      raii_counter c(destroyed);
      rendezvous_on_destruction r{&b_unwound, &a_unwound, &held_by_a, &done};
      never.wait();
    });
    ex.spawn([] {}).join();  // both are now blocked on `never`
    CHECK(ex.live_fibers() == 2);
  }
  CHECK(done == 2);
  CHECK(destroyed == 2);
  weft::executor again;
  check_executor_usable(again);
}

TEST_CASE("a fiber blocked in a destructor during its own exception's unwinding is left "
          "blocked by executor destruction until it is woken as usual",
          "[exhaustion][destructor]") {
  // F1 and F2 block inside destructors while an exception propagates through them; then the
  // executor is destroyed. They cannot be thrown into, and their waits must not end early:
  // F1 waits until G's unwinding sets the gate, F2 sleeps its whole 30 ms.
  using steady = std::chrono::steady_clock;
  std::atomic<bool> gate_set{false}, f1_saw_gate{false};
  steady::duration f2_slept{};
  weft::event gate, never;
  {
    weft::executor ex;
    ex.spawn([&] {  // F1
      struct waits_for_gate {
        weft::event* gate;
        std::atomic<bool>* gate_set;
        std::atomic<bool>* saw;
        ~waits_for_gate() {
          gate->wait();
          *saw = gate_set->load();
        }
      } w{&gate, &gate_set, &f1_saw_gate};
      throw std::runtime_error("F1's own exception");
    });
    ex.spawn([&] {  // F2
      struct sleeps {
        steady::duration* slept;
        ~sleeps() {
          const auto start = steady::now();
          weft::this_fiber::sleep_for(std::chrono::milliseconds(30));
          *slept = steady::now() - start;
        }
      } s{&f2_slept};
      throw std::runtime_error("F2's own exception");
    });
    ex.spawn([&] {  // G: sets the gate while the executor unwinds it
      struct opens_gate {
        weft::event* gate;
        std::atomic<bool>* gate_set;
        ~opens_gate() {
          weft::this_fiber::sleep_for(std::chrono::milliseconds(10));  // F1 runs meanwhile
          *gate_set = true;
          gate->set();
        }
      } o{&gate, &gate_set};
      never.wait();
    });
    ex.spawn([] {}).join();  // F1 and F2 now block in their destructors, G on `never`
  }
  CHECK(f1_saw_gate);
  CHECK(f2_slept >= std::chrono::milliseconds(30));
}

TEST_CASE("a destructor that blocks forever while the executor unwinds its fiber: a deadlock "
          "message naming it, then std::terminate",
          "[exhaustion][destructor]") {
  // Nothing can wake it and its stack cannot be unwound further: the executor reports the
  // deadlock with the fiber and what it waits on instead of hanging.
  auto r = run_in_child([] {
    weft::event never;
    weft::executor ex;
    ex.spawn([&] {
      struct waits_forever {
        weft::event* e;
        ~waits_forever() { e->wait(); }
      } w{&never};
      weft::this_fiber::set_name("stuck-in-destructor");
      never.wait();
    });
    ex.spawn([] {}).join();
  });
  INFO(r.describe());
  CHECK(r.aborted());
  CHECK_THAT(r.err, Contains("while unwinding fibers at executor destruction"));
  CHECK_THAT(r.err, Contains("stuck-in-destructor"));
  CHECK_THAT(r.err, Contains("event"));
}

TEST_CASE("a destructor throwing in a detached fiber prints the fiber and terminates",
          "[exhaustion][destructor]") {
  auto r = run_in_child([] {
    weft::executor ex;
    ex.spawn([] {
        weft::this_fiber::set_name("dtor-thrower");
        throwing_destructor d{"from a detached fiber's destructor"};
        weft::this_fiber::yield();
      }).detach();
    ex.run();
  });
  INFO(r.describe());
  CHECK(r.aborted());
  CHECK_THAT(r.err, Contains("dtor-thrower"));
  CHECK_THAT(r.err, Contains("from a detached fiber's destructor"));
}

// ---- exception state across suspensions --------------------------------------------------------

TEST_CASE("an exception being handled is still the fiber's own after a suspension in its "
          "handler",
          "[exhaustion][exception_state]") {
  // The C++ runtime keeps the exceptions being handled (for `throw;` and
  // std::current_exception) and std::uncaught_exceptions() per thread. Fibers sharing a thread
  // must each see their own: A suspends in a catch handler, B catches its own exception
  // meanwhile, A leaves its handler first; B's exception must still be alive and B's.
  std::string a_sees, b_sees, b_rethrown;
  weft::run([&] {
    auto a = weft::spawn([&] {
      try {
        throw std::runtime_error(std::string(64, 'A'));
      } catch (const std::exception&) {
        weft::this_fiber::yield();  // B catches meanwhile
        try {
          throw;
        } catch (const std::exception& again) {
          a_sees = std::string(again.what()).substr(0, 1);
        }
      }
    });
    auto b = weft::spawn([&] {
      try {
        throw std::runtime_error(std::string(64, 'B'));
      } catch (const std::exception& e) {
        weft::this_fiber::yield();
        weft::this_fiber::yield();  // A has left its handler by now
        b_sees = std::string(e.what()).substr(0, 1);
        try {
          throw;
        } catch (const std::exception& again) {
          b_rethrown = std::string(again.what()).substr(0, 1);
        }
      }
    });
    a.join();
    b.join();
  });
  CHECK(a_sees == "A");
  CHECK(b_sees == "B");
  CHECK(b_rethrown == "B");
}

TEST_CASE("std::uncaught_exceptions() is per fiber", "[exhaustion][exception_state]") {
  // A fiber suspends in a destructor while its stack unwinds (one exception in flight); a
  // fiber running meanwhile has no exception in flight.
  int seen_by_other = -1, seen_in_destructor = -1, after = -1;
  weft::run([&] {
    weft::event resume;
    auto a = weft::spawn([&] {
      struct waits_in_destructor {
        weft::event* resume;
        int* seen;
        ~waits_in_destructor() {
          *seen = std::uncaught_exceptions();
          resume->wait();
        }
      };
      try {
        waits_in_destructor w{&resume, &seen_in_destructor};
        throw std::runtime_error("in flight");
      } catch (const std::runtime_error&) {
      }
      after = std::uncaught_exceptions();
    });
    seen_by_other = std::uncaught_exceptions();  // a is suspended mid-unwinding
    resume.set();
    a.join();
  });
  CHECK(seen_in_destructor == 1);
  CHECK(seen_by_other == 0);
  CHECK(after == 0);
}
