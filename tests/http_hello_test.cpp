// examples/http_hello.cpp (weft_http_hello) run as a server process: pipelined keep-alive
// requests, hostile clients (malformed request lines, oversized heads, a client trickling one
// byte every 100 ms, an idle one), and the server serving on throughout. Clients are plain
// blocking sockets of the test's thread, each read bounded by SO_RCVTIMEO. Also how both
// example servers (weft_http_hello, weft_echo_server) refuse bad flags and a port in use.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include "support/child_process.hpp"
#include "support/server_process.hpp"

using namespace std::chrono_literals;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

const std::string hello =
    "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello, World!";

// A blocking client socket on 127.0.0.1:port; reads give up after `read_limit`.
class client {
 public:
  client(unsigned port, std::chrono::milliseconds read_limit = 5s) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    const timeval tv{static_cast<time_t>(read_limit.count() / 1000),
                     static_cast<suseconds_t>(read_limit.count() % 1000 * 1000)};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  }
  ~client() { ::close(fd_); }
  void send(const std::string& text) {
    REQUIRE(::send(fd_, text.data(), text.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(text.size()));
  }
  // Reads until `n` bytes, the end of the stream or the read limit.
  std::string receive(std::size_t n) {
    std::string got;
    char buf[4096];
    while (got.size() < n) {
      const ssize_t r = ::recv(fd_, buf, std::min(sizeof buf, n - got.size()), 0);
      if (r <= 0) break;
      got.append(buf, static_cast<std::size_t>(r));
    }
    return got;
  }
  int fd_for_test() const noexcept { return fd_; }
  // Whether the server closed the connection: the end of the stream (or a reset) comes
  // before the read limit.
  bool closed_by_server() {
    char c;
    const ssize_t r = ::recv(fd_, &c, 1, 0);
    return r == 0 || (r < 0 && errno == ECONNRESET);
  }

 private:
  int fd_ = -1;
};

struct hello_server {
  weft_test::server_process process;
  unsigned port;
  explicit hello_server(std::vector<std::string> args)
      : process(WEFT_HTTP_HELLO, args), port(process.listening_port()) {
    REQUIRE(port != 0);
  }
  // A fresh connection still gets its answer.
  void check_serving() {
    client c(port);
    c.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    CHECK(c.receive(hello.size()) == hello);
    CHECK(process.running());
  }
};

}  // namespace

TEST_CASE("the example servers refuse a port in use and bad flags with one line", "[http]") {
  hello_server holder({"--port", "0"});
  const std::string port = std::to_string(holder.port);
  for (const std::string program : {WEFT_HTTP_HELLO, WEFT_ECHO_SERVER}) {
    const std::string name = program.substr(program.rfind('/') + 1);
    const auto in_use = weft_test::run_program(program, {"--port", port}, 30s);
    INFO(in_use.describe());
    CHECK(in_use.exited(1));
    CHECK_THAT(in_use.err, StartsWith(name + ": ") && Contains("Address already in use"));
    CHECK(std::count(in_use.err.begin(), in_use.err.end(), '\n') == 1);
    for (const char* bad : {"-1", "65536", "12x", ""}) {
      const auto refused = weft_test::run_program(program, {"--port", bad}, 30s);
      INFO(refused.describe());
      CHECK(refused.exited(2));
      CHECK_THAT(refused.err, StartsWith("usage: "));
    }
  }
  holder.check_serving();
}

TEST_CASE("weft_http_hello answers pipelined keep-alive requests", "[http]") {
  const std::string workers = GENERATE("1", "2");
  hello_server server({"--port", "0", "--workers", workers});
  client c(server.port);
  c.send("GET / HTTP/1.1\r\nHost: t\r\n\r\nGET /a HTTP/1.1\r\n\r\nPOST /b HTTP/1.1\r\n"
         "Content-Length: 5\r\n\r\nhello");
  CHECK(c.receive(3 * hello.size()) == hello + hello + hello);
  c.send("GET /again HTTP/1.1\r\n\r\n");  // the connection stays open
  CHECK(c.receive(hello.size()) == hello);
  c.send("GET /last HTTP/1.1\r\nConnection: close\r\n\r\n");
  CHECK(c.receive(hello.size()) == hello);
  CHECK(c.closed_by_server());
}

TEST_CASE("weft_http_hello answers bad requests with 400, 431 or 501 and closes", "[http]") {
  hello_server server({"--workers", "2"});
  struct bad_case {
    std::string request;
    std::string status;
  };
  const bad_case cases[] = {
      {"GARBAGE\r\n\r\n", "400"},
      {"GET / HTTP/9.9\r\n\r\n", "400"},
      {"GET  / HTTP/1.1\r\n\r\n", "400"},
      {"G(T / HTTP/1.1\r\n\r\n", "400"},
      {"GET / HTTP/1.1\r\nno colon here\r\n\r\n", "400"},
      {"GET / HTTP/1.1\r\n folded: line\r\n\r\n", "400"},
      {"POST / HTTP/1.1\r\nContent-Length: 12x\r\n\r\n", "400"},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", "501"},
      {"GET / HTTP/1.1\r\nX-Big: " + std::string(9000, 'a') + "\r\n\r\n", "431"},
      {"GET /" + std::string(9000, 'u'), "431"},  // a request line that never ends
  };
  for (const bad_case& bad : cases) {
    CAPTURE(bad.request.substr(0, 40), bad.status);
    client c(server.port);
    c.send(bad.request);
    const std::string answer = c.receive(12);
    CHECK_THAT(answer, StartsWith("HTTP/1.1 " + bad.status));
    c.receive(1000);  // the rest of the answer
    CHECK(c.closed_by_server());
  }
  server.check_serving();
}

TEST_CASE("weft_http_hello: a client trickling bytes delays nobody and is closed", "[http]") {
  hello_server server({"--workers", "1", "--header-timeout-ms", "400", "--idle-timeout-ms", "5000"});
  client slow(server.port);
  std::atomic<bool> slow_closed{false};
  std::thread trickle([&] {  // no assertions here: Catch is not thread-safe
    const std::string request = "GET /slow HTTP/1.1\r\nHost: slowly\r\n\r\n";
    for (char c : request) {
      if (::send(slow.fd_for_test(), &c, 1, MSG_NOSIGNAL) != 1) break;
      std::this_thread::sleep_for(100ms);
    }
  });
  // Meanwhile others are served at once.
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i) {
    client quick(server.port);
    quick.send("GET / HTTP/1.1\r\n\r\n");
    CHECK(quick.receive(hello.size()) == hello);
  }
  CHECK(std::chrono::steady_clock::now() - start < 2s);  // far less: 20 quick requests
  slow_closed = slow.closed_by_server();  // within the head timeout, long before it finishes
  trickle.join();
  CHECK(slow_closed);
  server.check_serving();
}

TEST_CASE("weft_http_hello closes an idle connection after its idle timeout", "[http]") {
  hello_server server({"--idle-timeout-ms", "200"});
  client idle(server.port);
  idle.send("GET / HTTP/1.1\r\n\r\n");
  CHECK(idle.receive(hello.size()) == hello);
  const auto start = std::chrono::steady_clock::now();
  CHECK(idle.closed_by_server());
  CHECK(std::chrono::steady_clock::now() - start >= 150ms);
  server.check_serving();
}
