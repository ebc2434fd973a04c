// weft_http_hello: an HTTP/1.1 server answering every request with "Hello, World!", one fiber
// per connection, with keep-alive and pipelining.
//
//   weft_http_hello [--port P] [--workers N] [--idle-timeout-ms T] [--header-timeout-ms H]
//
// Listens on 127.0.0.1:P (0, the default: any free port) and prints "listening on PORT" when
// ready. Every complete request gets "200 OK" with the 13-byte body; the responses to the
// requests found in one read go out in one write. A connection closes when the client asks
// (Connection: close, or HTTP/1.0 without keep-alive), after T ms without a request (default
// 10000), when a request's head has not arrived H ms after it began (default 5000: a client
// trickling bytes cannot hold it open), and after answering a bad request: 400 for a malformed
// request line or header, 431 for a head over 8 KiB, 501 for a chunked body, 413 for a body
// over 1 MiB. Running out of descriptors is reported once; the server then waits for some.
#include <weft/weft.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "server_main.hpp"

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

constexpr std::string_view hello =
    "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello, World!";
constexpr std::size_t max_head = 8192;
constexpr std::size_t max_body = 1 << 20;

struct settings {
  std::chrono::milliseconds idle_timeout{10000};
  std::chrono::milliseconds header_timeout{5000};
};

// What a request at the front of the input is: complete (its length, and whether the
// connection stays open after the answer), incomplete, or bad (the status to answer).
struct request {
  enum { complete, incomplete, bad } state = incomplete;
  std::size_t length = 0;
  bool keep_alive = true;
  int status = 0;
};

bool is_token_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!is_token_char(c)) return false;
  return true;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

request bad(int status) {
  request r;
  r.state = request::bad;
  r.status = status;
  r.keep_alive = false;
  return r;
}

// Parses the request at the front of `in`.
request parse(std::string_view in) {
  const std::size_t head_end = in.find("\r\n\r\n");
  if (head_end == std::string_view::npos) return in.size() > max_head ? bad(431) : request{};
  if (head_end + 4 > max_head) return bad(431);
  std::string_view head = in.substr(0, head_end + 2);  // every line ends with \r\n
  const std::size_t line_end = head.find("\r\n");
  const std::string_view line = head.substr(0, line_end);
  const std::size_t sp1 = line.find(' ');
  const std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return bad(400);
  const std::string_view method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (!is_token(method) || target.empty()) return bad(400);
  for (char c : target)
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return bad(400);
  request r;
  if (version == "HTTP/1.1") r.keep_alive = true;
  else if (version == "HTTP/1.0") r.keep_alive = false;
  else return bad(400);
  std::size_t body = 0;
  for (std::size_t at = line_end + 2; at < head.size();) {
    const std::size_t end = head.find("\r\n", at);
    const std::string_view field = head.substr(at, end - at);
    at = end + 2;
    const std::size_t colon = field.find(':');
    if (colon == std::string_view::npos || !is_token(field.substr(0, colon))) return bad(400);
    const std::string_view name = field.substr(0, colon);
    const std::string_view value = trim(field.substr(colon + 1));
    for (char c : value)
      if ((static_cast<unsigned char>(c) < ' ' && c != '\t') || c == 0x7f) return bad(400);
    if (equals_ignoring_case(name, "content-length")) {
      if (value.empty() || value.size() > 9) return value.size() > 9 ? bad(413) : bad(400);
      body = 0;
      for (char c : value) {
        if (c < '0' || c > '9') return bad(400);
        body = body * 10 + static_cast<std::size_t>(c - '0');
      }
      if (body > max_body) return bad(413);
    } else if (equals_ignoring_case(name, "transfer-encoding")) {
      return bad(501);
    } else if (equals_ignoring_case(name, "connection")) {
      if (equals_ignoring_case(value, "close")) r.keep_alive = false;
      else if (equals_ignoring_case(value, "keep-alive")) r.keep_alive = true;
    }
  }
  const std::size_t length = head_end + 4 + body;
  if (in.size() < length) return request{};  // the body is still coming
  r.state = request::complete;
  r.length = length;
  return r;
}

std::string_view reason(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 413: return "Content Too Large";
    case 431: return "Request Header Fields Too Large";
    default: return "Not Implemented";
  }
}

void write_text(weft::net::tcp_stream& stream, std::string_view text) {
  stream.write_all(std::as_bytes(std::span(text.data(), text.size())));
}

// One connection: read, answer every complete request, write the answers at once, again.
void serve(weft::net::tcp_stream stream, settings config) {
  std::string in, out;
  std::optional<clock_type::time_point> head_deadline;  // while a request is partly here
  char buf[16384];
  try {
    for (;;) {
      std::size_t used = 0;
      bool keep_alive = true;
      while (keep_alive) {
        const request r = parse(std::string_view(in).substr(used));
        if (r.state == request::incomplete) break;
        if (r.state == request::bad) {
          out += "HTTP/1.1 " + std::to_string(r.status) + " " + std::string(reason(r.status)) +
                 "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
          keep_alive = false;
          break;
        }
        out += hello;
        used += r.length;
        keep_alive = r.keep_alive;
      }
      in.erase(0, used);
      if (!out.empty()) {
        write_text(stream, out);
        out.clear();
      }
      if (!keep_alive) return;
      // Between requests the idle timeout applies; once a request has begun, its head must
      // arrive by the head deadline.
      if (in.empty()) {
        head_deadline.reset();
        stream.set_timeout(config.idle_timeout);
      } else {
        if (!head_deadline) head_deadline = clock_type::now() + config.header_timeout;
        stream.set_timeout(std::max(*head_deadline - clock_type::now(), clock_type::duration{0}));
      }
      const std::size_t n = stream.read_some(std::as_writable_bytes(std::span(buf)));
      if (n == 0) return;  // the client ended its side
      in.append(buf, n);
    }
  } catch (const weft::timeout_error&) {  // idle, or a request that trickles in: close
  } catch (const std::system_error&) {    // a reset or a vanished peer ends this client only
  }
}

// Accepts forever; out of descriptors, says so once and waits for some to be freed.
void listen_and_serve(std::uint16_t port, settings config) {
  auto listener = weft::net::tcp_listener::bind("127.0.0.1", port);
  std::printf("listening on %u\n", listener.local_port());
  std::fflush(stdout);
  bool reported = false;
  for (;;) {
    try {
      weft::spawn(serve, listener.accept(), config).detach();
    } catch (const std::system_error& e) {
      if (!example::out_of_descriptors(e)) throw;
      if (!reported) std::fprintf(stderr, "weft_http_hello: %s; waiting for descriptors\n", e.what());
      reported = true;
      weft::this_fiber::sleep_for(10ms);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  unsigned long port = 0, workers = 1, idle_ms = 10000, header_ms = 5000;
  bool ok = argc % 2 == 1;
  for (int i = 1; ok && i + 1 < argc; i += 2) {
    const std::string_view flag = argv[i];
    const char* value = argv[i + 1];
    if (flag == "--port") ok = example::parse_number(value, 65535, port);
    else if (flag == "--workers") ok = example::parse_number(value, 1024, workers) && workers > 0;
    else if (flag == "--idle-timeout-ms") ok = example::parse_number(value, 86'400'000, idle_ms);
    else if (flag == "--header-timeout-ms") ok = example::parse_number(value, 86'400'000, header_ms);
    else ok = false;
  }
  if (!ok) {
    std::fprintf(stderr,
                 "usage: %s [--port P] [--workers N] [--idle-timeout-ms T] [--header-timeout-ms H]\n",
                 argv[0]);
    return 2;
  }
  settings config;
  config.idle_timeout = std::chrono::milliseconds(idle_ms);
  config.header_timeout = std::chrono::milliseconds(header_ms);
  weft::executor_options options;
  options.workers = workers;
  return example::serve_or_report("weft_http_hello", [&] {
    weft::run([&] { listen_and_serve(static_cast<std::uint16_t>(port), config); }, options);
  });
}
