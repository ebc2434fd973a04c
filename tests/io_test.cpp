// <weft/io.hpp>: waiting on, reading and writing pipes, socketpairs and eventfds from fibers
// and plain threads, on 1, 2 and 4 workers; timeouts, io::close waking waiters, bad
// descriptors, several waiters on one descriptor, a fiber waiting when its executor is
// destroyed, and an idle executor's CPU use.
#include <fcntl.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include <weft/weft.hpp>

#include "support/fixtures.hpp"
#include "support/descriptors.hpp"
#include "support/sanitizers.hpp"

using namespace std::chrono_literals;
using weft_test::with_workers;
using Catch::Matchers::Contains;
using weft_test::bytes_of;
using weft_test::text_of;

namespace {

struct fd_pair {  // closes what it still holds; move-only
  int read_end = -1, write_end = -1;
  fd_pair(int r, int w) noexcept : read_end(r), write_end(w) {}
  fd_pair(fd_pair&& o) noexcept
      : read_end(std::exchange(o.read_end, -1)), write_end(std::exchange(o.write_end, -1)) {}
  fd_pair& operator=(fd_pair&&) = delete;
  ~fd_pair() {
    for (int fd : {read_end, write_end})
      if (fd >= 0) ::close(fd);
  }
};

// These throw rather than use Catch's assertions, which are not thread-safe: fibers on
// several workers make pairs at once.
fd_pair make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    throw std::system_error(errno, std::generic_category(), "pipe2");
  return {fds[0], fds[1]};
}

fd_pair make_socketpair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
    throw std::system_error(errno, std::generic_category(), "socketpair");
  return {fds[0], fds[1]};
}

// Fibers echo `rounds` messages of growing size through `there` and `back` (each end of which
// one fiber reads and another writes); returns how many came back intact.
int echo_rounds(int there_write, int there_read, int back_write, int back_read, int rounds) {
  auto echo = weft::spawn([&] {
    std::vector<std::byte> buf(4096);
    for (;;) {
      const std::size_t n = weft::io::read_some(there_read, buf);
      if (n == 0) break;
      weft::io::write_all(back_write, std::span(buf.data(), n));
    }
    ::close(std::exchange(back_write, -1));
  });
  int intact = 0;
  for (int i = 0; i < rounds; ++i) {
    const std::string msg(1 + i % 3000, static_cast<char>('a' + i % 26));
    weft::io::write_all(there_write, bytes_of(msg));
    std::string got(msg.size(), '\0');
    std::size_t done = 0;
    while (done < got.size())
      done += weft::io::read_some(back_read, std::as_writable_bytes(std::span(got)).subspan(done));
    if (got == msg) ++intact;
  }
  ::close(std::exchange(there_write, -1));
  echo.join();
  std::byte end[1];
  CHECK(weft::io::read_some(back_read, end) == 0);  // the echo closed its end
  return intact;
}

}  // namespace

TEST_CASE("echo between fibers over a pipe and over a socketpair", "[io]") {
  const std::size_t workers = GENERATE(1, 2, 4);
  const bool use_pipe = GENERATE(true, false);
  CAPTURE(workers, use_pipe);
  const std::size_t fds_before = weft_test::open_fd_count();
  {
    fd_pair there = use_pipe ? make_pipe() : make_socketpair();
    fd_pair back = use_pipe ? make_pipe() : make_socketpair();
    const int rounds = 500;
    const int intact = weft::run(
        [&] {
          return echo_rounds(std::exchange(there.write_end, -1), there.read_end,
                             std::exchange(back.write_end, -1), back.read_end, rounds);
        },
        with_workers(workers));
    CHECK(intact == rounds);
  }
  CHECK(weft_test::open_fd_count() == fds_before);
}

TEST_CASE("io calls from a plain thread block that thread", "[io]") {
  fd_pair p = make_pipe();
  std::atomic<bool> written{false};
  std::thread writer([&] {
    std::this_thread::sleep_for(20ms);
    written = true;
    weft::io::write_all(p.write_end, bytes_of("plain"));
  });
  CHECK_FALSE(weft::io::wait_readable(p.read_end, 1ms));  // nothing yet: a timeout
  CHECK(weft::io::wait_readable(p.read_end));
  CHECK(written.load());
  std::byte buf[16];
  CHECK(text_of(std::span(buf, weft::io::read_some(p.read_end, buf))) == "plain");
  writer.join();
  CHECK((::fcntl(p.read_end, F_GETFL) & O_NONBLOCK) != 0);  // weft left it non-blocking
}

TEST_CASE("wait_readable and wait_writable time out and report readiness", "[io]") {
  const std::size_t workers = GENERATE(1, 2);
  CAPTURE(workers);
  fd_pair p = make_pipe();
  weft::run(
      [&] {
        using clock = std::chrono::steady_clock;
        const auto start = clock::now();
        CHECK_FALSE(weft::io::wait_readable(p.read_end, 20ms));
        CHECK(clock::now() - start >= 20ms);
        CHECK(weft::io::wait_writable(p.write_end, 0ns));  // an empty pipe is writable
        CHECK_FALSE(weft::io::wait_readable(p.read_end, 0ns));
        weft::io::write_all(p.write_end, bytes_of("x"));
        CHECK(weft::io::wait_readable(p.read_end, 0ns));
        CHECK(weft::io::wait_readable(p.read_end));  // still readable: nothing was read
      },
      with_workers(workers));
}

TEST_CASE("a timer and other fibers keep running while a fiber waits on a descriptor", "[io]") {
  const std::size_t workers = GENERATE(1, 2);
  CAPTURE(workers);
  fd_pair p = make_pipe();
  int ticks = 0;
  weft::run(
      [&] {
        auto reader = weft::spawn([&] {
          std::byte b[1];
          return weft::io::read_some(p.read_end, b);
        });
        for (int i = 0; i < 10; ++i) {
          weft::this_fiber::sleep_for(2ms);
          ++ticks;
        }
        weft::io::write_all(p.write_end, bytes_of("!"));
        CHECK(reader.join() == 1);
      },
      with_workers(workers));
  CHECK(ticks == 10);
}

TEST_CASE("an eventfd wakes a fiber written from a plain thread", "[io]") {
  const int efd = ::eventfd(0, EFD_CLOEXEC);
  REQUIRE(efd >= 0);
  std::uint64_t got = 0;
  weft::executor ex(with_workers(2));
  ex.spawn([&] {
    std::byte buf[8];
    REQUIRE(weft::io::read_some(efd, buf) == 8);
    std::memcpy(&got, buf, 8);
  });
  std::atomic<ssize_t> posted{0};
  std::thread poster([&] {  // no assertions off the test's thread: Catch is not thread-safe
    std::this_thread::sleep_for(10ms);
    const std::uint64_t seven = 7;
    posted = ::write(efd, &seven, 8);
  });
  ex.run();  // the reader waits on the descriptor: no deadlock while the poster sleeps
  poster.join();
  CHECK(posted == 8);
  ::close(efd);
  CHECK(got == 7);
}

TEST_CASE("io::close wakes the fibers waiting on the descriptor", "[io]") {
  const std::size_t workers = GENERATE(1, 2, 4);
  CAPTURE(workers);
  fd_pair p = make_pipe();
  std::atomic<int> canceled{0};
  weft::run(
      [&] {
        std::vector<weft::join_handle<std::string>> readers;
        for (int i = 0; i < 3; ++i)
          readers.push_back(weft::spawn([&]() -> std::string {  // no assertions in fibers that
            std::byte b[1];                                     // may run at once
            try {
              weft::io::read_some(p.read_end, b);
            } catch (const std::system_error& e) {
              if (e.code() == std::errc::operation_canceled) ++canceled;
              return e.what();
            }
            return "no exception";
          }));
        weft::this_fiber::sleep_for(5ms);
        weft::io::close(std::exchange(p.read_end, -1));
        for (auto& r : readers) CHECK_THAT(r.join(), Contains("read"));
      },
      with_workers(workers));
  CHECK(canceled == 3);
}

// Readiness that arrived while nobody waited, and that a read consumed since, is not an answer:
// a descriptor a weft object owns stays registered between calls, so the edge is remembered.
TEST_CASE("wait_readable does not answer with readiness that a read consumed", "[io]") {
  const std::size_t workers = GENERATE(1, 2);
  CAPTURE(workers);
  fd_pair p = make_socketpair();
  weft::net::tcp_stream owned(std::exchange(p.read_end, -1));  // registered from its first wait
  weft::run(
      [&] {
        std::byte b[8];
        auto first = weft::spawn([&] { return owned.read_some(b); });  // waits: registered
        weft::this_fiber::sleep_for(2ms);
        weft::io::write_all(p.write_end, bytes_of("x"));
        CHECK(first.join() == 1);
        weft::io::write_all(p.write_end, bytes_of("y"));  // nobody waits: the edge is kept
        // The reactor polls while some fiber waits on a descriptor: one does, meanwhile.
        fd_pair other = make_socketpair();
        CHECK_FALSE(weft::io::wait_readable(other.read_end, 5ms));
        CHECK(owned.read_some(b) == 1);                   // consumes it without waiting
        CHECK_FALSE(weft::io::wait_readable(owned.native_handle(), 20ms));
      },
      with_workers(workers));
}

TEST_CASE("two fibers reading one descriptor are both served", "[io]") {
  const std::size_t workers = GENERATE(1, 2);
  CAPTURE(workers);
  fd_pair p = make_socketpair();
  weft::run(
      [&] {
        std::atomic<int> bytes{0};
        auto reader = [&] {
          std::byte b[1];
          bytes += static_cast<int>(weft::io::read_some(p.read_end, b));
        };
        auto a = weft::spawn(reader);
        auto b = weft::spawn(reader);
        weft::this_fiber::sleep_for(2ms);  // both wait now
        weft::io::write_all(p.write_end, bytes_of("1"));
        weft::this_fiber::sleep_for(2ms);
        weft::io::write_all(p.write_end, bytes_of("2"));
        a.join();
        b.join();
        CHECK(bytes == 2);
      },
      with_workers(workers));
}

TEST_CASE("bad descriptors: EBADF naming the call", "[io]") {
  fd_pair p = make_pipe();
  const int closed = p.read_end;
  ::close(std::exchange(p.read_end, -1));
  auto check_ebadf = [](auto&& call, const char* name) {
    try {
      call();
      FAIL("no exception from " << name);
    } catch (const std::system_error& e) {
      CHECK(e.code() == std::errc::bad_file_descriptor);
      CHECK_THAT(e.what(), Contains(name));
    }
  };
  auto all = [&] {
    std::byte b[4];
    for (int fd : {-1, closed}) {
      check_ebadf([&] { weft::io::read_some(fd, b); }, "read");
      check_ebadf([&] { weft::io::write_all(fd, bytes_of("x")); }, "write");
      check_ebadf([&] { weft::io::wait_readable(fd, 1ms); }, "wait_readable");
      check_ebadf([&] { weft::io::wait_writable(fd, 1ms); }, "wait_writable");
      check_ebadf([&] { weft::io::close(fd); }, "close");
    }
  };
  all();              // from a plain thread
  weft::run(all);     // from a fiber
}

TEST_CASE("writing to a pipe whose reader is gone throws broken_pipe, without SIGPIPE", "[io]") {
  fd_pair p = make_pipe();
  ::close(std::exchange(p.read_end, -1));
  auto write_to_closed = [&] {
    try {
      weft::io::write_all(p.write_end, bytes_of("lost"));
      FAIL("no exception");
    } catch (const std::system_error& e) {
      CHECK(e.code() == std::errc::broken_pipe);
    }
  };
  write_to_closed();
  weft::run(write_to_closed);
  sigset_t pending;
  sigpending(&pending);
  CHECK_FALSE(sigismember(&pending, SIGPIPE));
}

TEST_CASE("a fiber waiting on a socket is unwound when its executor is destroyed", "[io]") {
  const std::size_t workers = GENERATE(1, 2);
  CAPTURE(workers);
  const std::size_t fds_before = weft_test::open_fd_count();
  std::atomic<int> unwound{0};
  {
    weft::executor ex(with_workers(workers));
    for (int i = 0; i < 4; ++i)
      ex.spawn([&] {
        fd_pair p = make_socketpair();  // closed by its destructor as the fiber unwinds
        struct count_unwind {
          std::atomic<int>& n;
          ~count_unwind() { ++n; }
        } counted{unwound};
        std::byte b[1];
        weft::io::read_some(p.read_end, b);
      });
    // A join from a plain thread drives the executor until that one fiber ends; the readers
    // are left waiting (run() would wait for them: a descriptor can become ready any time).
    ex.spawn([] { weft::this_fiber::sleep_for(20ms); }).join();
    CHECK(ex.live_fibers() == 4);
  }  // the executor's destruction unwinds the four readers
  CHECK(unwound == 4);
  CHECK(weft_test::open_fd_count() == fds_before);
}

TEST_CASE("an idle executor with many descriptors waited on uses almost no CPU", "[io]") {
  const std::size_t workers = GENERATE(1, 2);
  CAPTURE(workers);
  constexpr int waiters = 200;
  std::vector<fd_pair> pipes;
  for (int i = 0; i < waiters; ++i) pipes.push_back(make_pipe());
  double cpu = -1;
  weft::run(
      [&] {
        std::vector<weft::join_handle<void>> readers;
        for (auto& p : pipes)
          readers.push_back(weft::spawn([&p] {
            std::byte b[1];
            weft::io::read_some(p.read_end, b);
          }));
        weft::this_fiber::sleep_for(20ms);
        rusage before{}, after{};
        ::getrusage(RUSAGE_SELF, &before);
        weft::this_fiber::sleep_for(500ms);
        ::getrusage(RUSAGE_SELF, &after);
        auto seconds = [](const rusage& r) {
          return r.ru_utime.tv_sec + r.ru_stime.tv_sec +
                 (r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
        };
        cpu = seconds(after) - seconds(before);
        for (auto& p : pipes) weft::io::write_all(p.write_end, bytes_of("."));
        for (auto& r : readers) r.join();
      },
      with_workers(workers));
  CHECK(cpu >= 0);
  // 500 ms of waiting: the workers sleep in the kernel (a sanitizer's runtime runs threads of
  // its own meanwhile).
  CHECK(cpu < (weft_test::under_tsan || weft_test::under_asan ? 0.05 : 0.02));
}
