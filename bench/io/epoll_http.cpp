// weft_bench_epoll_http: the IO benchmark's floor (bench/io_bench): what one thread does with
// a hand-written epoll loop and nothing else.
//
//     weft_bench_epoll_http [--port P]
//
// One thread, one edge-triggered epoll set, non-blocking accept, read and write. Each socket is
// registered once for input and output (EPOLLET), so the loop makes no epoll_ctl call after a
// connection's first. HTTP/1.1 keep-alive with pipelining: after each read, every complete
// request in the buffer is answered and the answers go out in one write. A read that fills
// less than the free space has drained the socket, so the loop waits for the next edge instead
// of reading until EAGAIN. Output that the socket does not take is kept until its EPOLLOUT edge;
// meanwhile the connection reads nothing. Binds 127.0.0.1 only and prints "listening on PORT"
// when ready; SIGINT or SIGTERM ends it.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>
#include <cstdint>
#include <string>

#include "http_response.hpp"

namespace http = weft_bench_http;

namespace {

struct connection {
  explicit connection(int socket) : fd(socket) {}
  int fd;
  std::size_t have = 0;       // bytes in `in`
  std::string out;            // answers not yet written
  std::size_t out_sent = 0;   // of `out`
  std::unique_ptr<char[]> in{new char[http::input_buffer]};
};

// Writes what is pending. False: the connection failed.
bool flush(connection& c) {
  while (c.out_sent < c.out.size()) {
    ssize_t n = ::send(c.fd, c.out.data() + c.out_sent, c.out.size() - c.out_sent, MSG_NOSIGNAL);
    if (n > 0) {
      c.out_sent += static_cast<std::size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && errno == EAGAIN) {
      return true;  // the rest waits for EPOLLOUT
    } else {
      return false;
    }
  }
  c.out.clear();
  c.out_sent = 0;
  return true;
}

// Runs the connection as far as the socket allows. False: close it.
bool drive(connection& c) {
  for (;;) {
    if (!c.out.empty()) {
      if (!flush(c)) {
        return false;
      }
      if (!c.out.empty()) {
        return true;  // blocked on output
      }
    }
    std::size_t room = http::input_buffer - c.have;
    ssize_t n = ::recv(c.fd, c.in.get() + c.have, room, 0);
    if (n == 0) {
      return false;  // the peer closed
    }
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return errno == EAGAIN;
    }
    c.have += static_cast<std::size_t>(n);
    std::size_t used = 0;
    for (;;) {
      long len = http::request_length(c.in.get() + used, c.have - used);
      if (len < 0) {
        return false;
      }
      if (len == 0) {
        break;
      }
      used += static_cast<std::size_t>(len);
      c.out.append(http::response);
    }
    if (used != 0) {
      std::memmove(c.in.get(), c.in.get() + used, c.have - used);
      c.have -= used;
    }
    if (c.have == http::input_buffer) {
      return false;  // one request larger than the buffer
    }
    if (!flush(c)) {
      return false;
    }
    if (static_cast<std::size_t>(n) < room && c.out.empty()) {
      return true;  // the socket is drained: the next data brings a new edge
    }
  }
}

volatile std::sig_atomic_t stopping = 0;

}  // namespace

int main(int argc, char** argv) {
  int port = http::parse_port(argc, argv, "weft_bench_epoll_http");
  if (port < 0) {
    return 2;
  }
  struct sigaction sa {};
  sa.sa_handler = [](int) { stopping = 1; };
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (lfd < 0 || ::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(lfd, SOMAXCONN) != 0) {
    std::perror("weft_bench_epoll_http: listen on 127.0.0.1");
    return 1;
  }
  socklen_t len = sizeof addr;
  ::getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len);

  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLET;
  ev.data.ptr = nullptr;  // the listener
  ::epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);

  std::printf("listening on %d\n", ntohs(addr.sin_port));
  std::fflush(stdout);

  constexpr int max_events = 256;
  epoll_event events[max_events];
  while (!stopping) {
    int n = ::epoll_wait(ep, events, max_events, -1);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      std::perror("weft_bench_epoll_http: epoll_wait");
      return 1;
    }
    for (int i = 0; i < n; ++i) {
      auto* c = static_cast<connection*>(events[i].data.ptr);
      if (c == nullptr) {
        for (;;) {
          int fd = ::accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) {
              continue;
            }
            break;  // EAGAIN; or out of descriptors: the next connection's edge retries
          }
          ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          auto* nc = new connection(fd);
          epoll_event cev{};
          cev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
          cev.data.ptr = nc;
          // The registration reports the socket's state at once (writable, and readable if
          // a request came with the handshake): the next epoll_wait drives it.
          ::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
        }
        continue;
      }
      bool ok = (events[i].events & EPOLLERR) == 0 && drive(*c);
      if (!ok) {
        ::close(c->fd);  // also removes it from the epoll set
        delete c;
      }
    }
  }
  return 0;
}
