// The IO benchmark's HTTP pieces, shared by its baseline servers (weft_bench_asio_http,
// weft_bench_epoll_http): the one response every request gets, a minimal parser that finds
// where a request ends, and the command line. Not a general HTTP implementation: enough for
// wrk's keep-alive GET requests, pipelined or not.
#pragma once

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace weft_bench_http {

// The response to every request (13-byte body). weft_http_hello answers with the same bytes.
inline constexpr std::string_view response =
    "HTTP/1.1 200 OK\r\n"
    "Content-Length: 13\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "Hello, World!";

// A request's head (request line and headers) longer than this closes the connection.
inline constexpr std::size_t max_head = 8192;

// Each connection's input buffer. A request that does not fit (a body of more than about
// this size) closes the connection.
inline constexpr std::size_t input_buffer = 16384;

// The length of the first complete request in [p, p + n): its head up to and including the
// blank line, plus the body its Content-Length names. 0: not complete yet. -1: malformed or
// unsupported (a head longer than max_head, a bad Content-Length, a chunked body); the caller
// closes the connection.
inline long request_length(const char* p, std::size_t n) noexcept {
  std::string_view in(p, n);
  std::size_t end = in.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    return n > max_head ? -1 : 0;
  }
  std::size_t head = end + 4;
  if (head > max_head) {
    return -1;
  }
  // Headers that give the request a body. A request without them (wrk's GET) has none.
  std::size_t body = 0;
  std::size_t line = in.find("\r\n") + 2;  // skip the request line
  while (line < end) {
    std::size_t eol = in.find("\r\n", line);
    std::string_view h = in.substr(line, eol - line);
    auto named = [&](std::string_view name) {
      if (h.size() <= name.size() || h[name.size()] != ':') return false;
      for (std::size_t i = 0; i < name.size(); ++i) {
        char c = h[i];
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        if (c != name[i]) return false;
      }
      return true;
    };
    if (named("content-length")) {
      std::size_t i = sizeof("content-length:") - 1;
      while (i < h.size() && (h[i] == ' ' || h[i] == '\t')) ++i;
      if (i == h.size()) return -1;
      std::size_t v = 0;
      for (; i < h.size() && h[i] >= '0' && h[i] <= '9'; ++i) {
        v = v * 10 + static_cast<std::size_t>(h[i] - '0');
        if (v > (std::size_t{1} << 30)) return -1;
      }
      while (i < h.size() && (h[i] == ' ' || h[i] == '\t')) ++i;
      if (i != h.size()) return -1;
      body = v;
    } else if (named("transfer-encoding")) {
      return -1;  // chunked bodies: not supported by these servers
    }
    line = eol + 2;
  }
  if (n - head < body) {
    return 0;
  }
  return static_cast<long>(head + body);
}

// `--port P` (0: any free port). Returns -1 after printing usage for anything else.
inline int parse_port(int argc, char** argv, const char* prog) {
  int port = 0;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
      char* end = nullptr;
      long v = std::strtol(argv[++i], &end, 10);
      if (*end != '\0' || v < 0 || v > 65535) {
        std::fprintf(stderr, "%s: bad port '%s'\n", prog, argv[i]);
        return -1;
      }
      port = static_cast<int>(v);
    } else {
      std::fprintf(stderr,
                   "usage: %s [--port P]\n"
                   "HTTP/1.1 server on 127.0.0.1:P (0: any free port) answering every request "
                   "with 200 \"Hello, World!\"; prints 'listening on PORT' when ready.\n",
                   prog);
      return -1;
    }
  }
  return port;
}

}  // namespace weft_bench_http
