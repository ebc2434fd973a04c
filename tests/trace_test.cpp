// Tracing: event order through a user sink, the stderr line format, and errors.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>
#include <latch>
#include <thread>
#include <mutex>
#include <string>
#include <system_error>
#include <vector>

#include <weft/weft.hpp>

#include "trace_buffer.hpp"

namespace {

struct recorded {
  weft::trace::event_kind kind;
  std::uint64_t fiber;
  std::string name;
  std::string detail;
  std::uint64_t other;
};

// Collects events from a user sink while alive.
struct recorder {
  std::mutex mutex;
  std::vector<recorded> events;
  recorder() {
    weft::trace::enable([this](const weft::trace::event& e) {
      std::lock_guard guard(mutex);
      events.push_back({e.kind, e.fiber_id, std::string(e.fiber_name), std::string(e.detail),
                        e.other_fiber});
    });
  }
  ~recorder() { weft::trace::disable(); }
  std::vector<std::string> script(std::uint64_t first_id) {
    std::vector<std::string> out;
    for (auto& e : events)
      out.push_back(std::string(weft::trace::to_string(e.kind)) + " " +
                    std::to_string(e.fiber - first_id) + (e.detail.empty() ? "" : " " + e.detail));
    return out;
  }
};

}  // namespace

TEST_CASE("a scripted program produces its events in order", "[trace]") {
  std::vector<std::string> script;
  std::uint64_t main_id = 0;
  {
    recorder r;
    weft::run([&] {
      main_id = weft::this_fiber::id();
      weft::this_fiber::set_name("main");
      weft::event ev;
      auto child = weft::spawn([&] {
        weft::this_fiber::set_name("child");
        ev.wait();           // block event
        weft::this_fiber::yield();
      });
      ev.set();              // wake child (by main)
      weft::this_fiber::sleep_for(std::chrono::milliseconds(1));
      child.join();
    });
    script = r.script(main_id);
  }
  // Ids are relative to the main fiber: main is 0, child is 1.
  const std::vector<std::string> expected = {
      "spawn 0",        // main queued from the plain thread
      "start 0",
      "spawn 1",        // child spawned by main, runs at once
      "start 1",
      "block 1 event",
      "resume 0",
      "wake 1",         // main sets the event
      "sleep 0",
      "resume 1",
      "finish 1",       // child's yield finds nobody ready: no yield event
      "wake 0 timer",
      "resume 0",
      "finish 0",
  };
  CHECK(script == expected);
}

TEST_CASE("a yield to another fiber is a yield event, then that fiber's resume", "[trace]") {
  std::vector<std::string> script;
  std::uint64_t main_id = 0;
  {
    recorder r;
    weft::run([&] {
      main_id = weft::this_fiber::id();
      auto child = weft::spawn([] {
        for (int i = 0; i < 3; ++i) weft::this_fiber::yield();
      });
      for (int i = 0; i < 3; ++i) weft::this_fiber::yield();
      child.join();
    });
    script = r.script(main_id);
  }
  const std::vector<std::string> expected = {
      "spawn 0", "start 0", "spawn 1", "start 1",
      "yield 1", "resume 0",  // the child yields to its spawner
      "yield 0", "resume 1",
      "yield 1", "resume 0",
      "yield 0", "resume 1",
      "yield 1", "resume 0",
      "yield 0", "resume 1",
      "finish 1", "resume 0",  // the child's end hands the worker back to main
      "finish 0",
  };
  CHECK(script == expected);
}

TEST_CASE("wake and spawn events name the other fiber, and names travel", "[trace]") {
  recorder r;
  std::uint64_t main_id = 0, child_id = 0;
  weft::run([&] {
    weft::this_fiber::set_name("parent");
    main_id = weft::this_fiber::id();
    weft::event ev;
    auto child = weft::spawn([&] {
      child_id = weft::this_fiber::id();
      ev.wait();
    });
    ev.set();
    child.join();
  });
  bool saw_spawn = false, saw_wake = false;
  for (auto& e : r.events) {
    if (e.kind == weft::trace::event_kind::spawn && e.fiber == child_id) {
      saw_spawn = true;
      CHECK(e.other == main_id);
    }
    if (e.kind == weft::trace::event_kind::wake && e.fiber == child_id) {
      saw_wake = true;
      CHECK(e.other == main_id);
    }
    if (e.fiber == main_id && e.kind == weft::trace::event_kind::finish) CHECK(e.name == "parent");
  }
  CHECK(saw_spawn);
  CHECK(saw_wake);
}

TEST_CASE("spawn_options::name is in the spawn and start events", "[trace][spawn_options]") {
  recorder r;
  std::uint64_t inside_id = 0, outside_id = 0;
  {
    weft::executor ex;
    outside_id = ex.spawn(weft::spawn_options{.name = "outside"}, [&] {
                     inside_id = weft::spawn(weft::spawn_options{.name = "inside"}, [] {}).id();
                   }).id();
    ex.run();
  }
  std::vector<std::string> named;
  for (auto& e : r.events)
    if ((e.kind == weft::trace::event_kind::spawn || e.kind == weft::trace::event_kind::start) &&
        (e.fiber == inside_id || e.fiber == outside_id))
      named.push_back(std::string(weft::trace::to_string(e.kind)) + " " + e.name);
  const std::vector<std::string> expected = {"spawn outside", "start outside", "spawn inside",
                                             "start inside"};
  CHECK(named == expected);
}

TEST_CASE("an exception escaping a fiber is an exception event with its message", "[trace]") {
  recorder r;
  CHECK_THROWS_AS(weft::run([] { throw std::runtime_error("boom"); }), std::runtime_error);
  bool found = false;
  for (auto& e : r.events)
    if (e.kind == weft::trace::event_kind::exception) {
      found = true;
      CHECK(e.detail.find("boom") != std::string::npos);
    }
  CHECK(found);
}

TEST_CASE("stderr tracing prints one aligned line per event", "[trace]") {
  std::FILE* capture = std::tmpfile();
  REQUIRE(capture);
  std::fflush(stderr);
  int saved = dup(fileno(stderr));
  dup2(fileno(capture), fileno(stderr));
  weft::trace::enable("stderr");
  weft::run([] {
    weft::this_fiber::set_name("solo");
    weft::this_fiber::yield();
  });
  weft::trace::disable();
  std::fflush(stderr);
  dup2(saved, fileno(stderr));
  close(saved);
  std::rewind(capture);
  std::vector<std::string> lines;
  char buf[512];
  while (std::fgets(buf, sizeof buf, capture)) lines.emplace_back(buf);
  std::fclose(capture);
  REQUIRE(lines.size() == 3);  // spawn, start, finish
  CHECK(lines[0].find("spawn") != std::string::npos);
  CHECK(lines[1].find("start") != std::string::npos);
  CHECK(lines[2].find("finish") != std::string::npos);
  CHECK(lines[2].find("\"solo\"") != std::string::npos);
  // Aligned: the event name starts in the same column on every line.
  const auto column = lines[0].find("spawn");
  CHECK(lines[1].find("start") == column);
  CHECK(lines[2].find("finish") == column);
  CHECK(lines[0].rfind("weft ", 0) == 0);
}

TEST_CASE("a bad trace spec is rejected with the choices", "[trace]") {
  CHECK_THROWS_WITH(weft::trace::enable("nowhere"), Catch::Contains("chrome:PATH"));
  CHECK_FALSE(weft::trace::enabled());
}

TEST_CASE("an unwritable chrome trace path is an error at enable, with the reason", "[trace]") {
  // Once reported only at exit, without the reason.
  try {
    weft::trace::enable("chrome:/nonexistent-weft-dir/trace.json");
    FAIL("enable accepted an unwritable path");
  } catch (const std::system_error& e) {
    CHECK(e.code() == std::errc::no_such_file_or_directory);
    CHECK_THAT(e.what(), Catch::Contains("/nonexistent-weft-dir/trace.json"));
    CHECK_THAT(e.what(), Catch::Contains("No such file or directory"));
  }
  CHECK_FALSE(weft::trace::enabled());
}

TEST_CASE("with several workers, park events name their worker", "[trace]") {
  recorder r;
  weft::executor_options o;
  o.workers = 2;
  weft::run([] { weft::this_fiber::sleep_for(std::chrono::milliseconds(5)); }, o);
  weft::trace::disable();
  std::lock_guard guard(r.mutex);
  bool parked = false;
  for (auto& e : r.events)
    if (e.kind == weft::trace::event_kind::park) parked = true;
  CHECK(parked);
}

TEST_CASE("waits on the std vocabulary are block events naming the primitive", "[trace]") {
  std::vector<std::string> blocks;
  {
    recorder r;
    weft::run([] {
      weft::latch l(1);
      weft::counting_semaphore<> s(0);
      weft::promise<int> p;
      auto f = p.get_future();
      weft::barrier<> b(2);
      weft::shared_mutex m;
      auto waiter = weft::spawn([&] {
        l.wait();
        s.acquire();
        (void)f.get();
        b.arrive_and_wait();
        m.lock();
      });
      l.count_down();
      weft::this_fiber::yield();
      s.release();
      weft::this_fiber::yield();
      p.set_value(1);
      weft::this_fiber::yield();
      m.lock_shared();
      b.arrive_and_wait();
      weft::this_fiber::yield();
      m.unlock_shared();
      waiter.join();
      m.unlock();
    });
    for (auto& e : r.events)
      if (e.kind == weft::trace::event_kind::block) blocks.push_back(e.detail);
  }
  const std::vector<std::string> expected = {"latch", "semaphore", "future", "barrier",
                                             "shared_mutex", "join"};
  CHECK(blocks == expected);
}

namespace {
// The text of a file.
std::string read_all(const std::string& path) {
  std::string text;
  if (std::FILE* f = std::fopen(path.c_str(), "r")) {
    char buf[65536];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
    std::fclose(f);
  }
  return text;
}
}  // namespace

TEST_CASE("the chrome trace records every thread's events, and drops the oldest past its capacity",
          "[trace]") {
  const std::string path = "weft-trace-test-" + std::to_string(::getpid()) + ".json";
  auto trace_run = [&](std::size_t capacity) {
    weft::trace::set_chrome_capacity(capacity);
    weft::trace::enable("chrome:" + path);
    weft::executor_options o;
    o.workers = 1;  // one thread records: past its two chunks, it must drop
    weft::run(
        [] {
          weft::this_fiber::set_name("root");
          weft::channel<int> ping, pong;
          auto echo = weft::spawn([&] {
            weft::this_fiber::set_name("echo");
            while (auto v = ping.recv()) pong.send(*v);
          });
          for (int i = 0; i < 6000; ++i) {
            ping.send(i);
            (void)pong.recv();
            if (i % 100 == 0) weft::this_fiber::yield();
          }
          ping.close();
          echo.join();
        },
        o);
    weft::trace::disable();  // writes the file
    std::string text = read_all(path);
    std::remove(path.c_str());
    return text;
  };
  const std::string big = trace_run(1'000'000);
  CHECK_THAT(big, Catch::Contains("\"dropped_events\":0}"));
  CHECK_THAT(big, Catch::Contains("\"name\":\"root (fiber "));
  CHECK_THAT(big, Catch::Contains("\"name\":\"echo (fiber "));
  CHECK_THAT(big, Catch::Contains("block channel recv"));
  CHECK(big.size() > 100'000);
  CHECK(big.substr(big.size() - 3) == "]}\n");
  const std::string small = trace_run(4096);  // two chunks of 4096 events: the rest dropped
  CHECK_THAT(small, !Catch::Contains("\"dropped_events\":0}"));
  CHECK(small.size() < big.size());
  CHECK_THAT(small, Catch::Contains("\"name\":\"root (fiber "));  // names are never dropped
  CHECK_THAT(small, Catch::Contains("\"name\":\"echo (fiber "));
  CHECK(small.substr(small.size() - 3) == "]}\n");
  weft::trace::set_chrome_capacity(1'000'000);
}

TEST_CASE("in the chrome trace, each fiber a yield switches to has its running slice",
          "[trace]") {
  const std::string path = "weft-trace-yield-" + std::to_string(::getpid()) + ".json";
  weft::trace::enable("chrome:" + path);
  weft::run([] {
    weft::this_fiber::set_name("first");
    auto second = weft::spawn([] {
      weft::this_fiber::set_name("second");
      for (int i = 0; i < 3; ++i) weft::this_fiber::yield();
    });
    for (int i = 0; i < 3; ++i) weft::this_fiber::yield();
    second.join();
  });
  weft::trace::disable();
  const std::string text = read_all(path);
  std::remove(path.c_str());
  // The running slices in time order: the two fibers take turns at every yield.
  std::string turns;
  for (std::size_t at = text.find("\"name\":\""); at != std::string::npos;
       at = text.find("\"name\":\"", at + 1)) {
    const std::size_t slice_end = text.find('}', at);
    if (text.compare(at + 8, 6, "first ") == 0 && text.find("\"ph\":\"X\"", at) < slice_end)
      turns += 'f';
    if (text.compare(at + 8, 7, "second ") == 0 && text.find("\"ph\":\"X\"", at) < slice_end)
      turns += 's';
  }
  CHECK(turns == "fsfsfsfsf");
}

namespace {
weft::executor* exiting_thread_executor = nullptr;
std::latch exiting_thread_gave_back(1), other_thread_attached(1);
weft::detail::trace_buffer* other_thread_buffer = nullptr;
weft::detail::trace_buffer* exiting_thread_buffer_at_exit = nullptr;

// Destroyed after the thread's trace buffer was given back (it was made before the thread's
// first trace event): what it records then must not go into the buffer another thread took.
struct records_at_thread_exit {
  ~records_at_thread_exit() {
    exiting_thread_gave_back.count_down();
    other_thread_attached.wait();
    for (int i = 0; i < 2000; ++i) exiting_thread_executor->spawn([] {}).detach();
    exiting_thread_buffer_at_exit = weft::detail::trace_buffers::mine_if_any();
  }
};
thread_local records_at_thread_exit late_recorder;
}  // namespace

TEST_CASE("a thread's trace events after its buffer was given back at exit are dropped",
          "[trace]") {
  const std::string path = "weft-trace-exit-" + std::to_string(::getpid()) + ".json";
  weft::trace::enable("chrome:" + path);
  {
    weft::executor ex;
    exiting_thread_executor = &ex;
    std::thread exiting([&] {
      (void)&late_recorder;          // its destructor runs after the buffer owner's
      ex.spawn([] {}).detach();      // the first trace event: takes a buffer
    });
    exiting_thread_gave_back.wait();
    std::thread other([&] {
      ex.spawn([] {}).detach();      // takes the buffer the exiting thread gave back
      other_thread_buffer = weft::detail::trace_buffers::mine_if_any();
      other_thread_attached.count_down();
      for (int i = 0; i < 2000; ++i) ex.spawn([] {}).detach();  // while the other records
    });
    exiting.join();
    other.join();
    ex.run();
  }
  weft::trace::disable();
  std::remove(path.c_str());
  CHECK(other_thread_buffer != nullptr);
  CHECK(exiting_thread_buffer_at_exit == nullptr);
}
