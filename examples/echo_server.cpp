// weft_echo_server: a TCP echo server, one fiber per connection.
//
//   weft_echo_server [--port P] [--workers N]
//
// Listens on 127.0.0.1:P (0, the default: any free port), prints "listening on PORT" when
// ready, and sends back every byte each client sends until the client ends its side.
#include <weft/weft.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

void echo(weft::net::tcp_stream stream) {
  std::byte buf[16384];
  try {
    while (const std::size_t n = stream.read_some(buf)) stream.write_all(std::span(buf, n));
  } catch (const std::system_error&) {  // a reset or a vanished peer ends this client only
  }
}

}  // namespace

int main(int argc, char** argv) {
  unsigned long port = 0, workers = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const char* value = argv[i + 1];
    if (std::strcmp(argv[i], "--port") == 0) port = std::strtoul(value, nullptr, 10);
    else if (std::strcmp(argv[i], "--workers") == 0) workers = std::strtoul(value, nullptr, 10);
  }
  if (argc % 2 == 0 || port > 65535 || workers == 0) {
    std::fprintf(stderr, "usage: %s [--port P] [--workers N]\n", argv[0]);
    return 2;
  }
  weft::executor_options options;
  options.workers = workers;
  weft::run(
      [port] {
        auto listener = weft::net::tcp_listener::bind("127.0.0.1", static_cast<std::uint16_t>(port));
        std::printf("listening on %u\n", listener.local_port());
        std::fflush(stdout);
        for (;;) {
          try {
            weft::spawn(echo, listener.accept()).detach();
          } catch (const std::system_error& e) {
            if (e.code() != std::errc::too_many_files_open) throw;
            weft::this_fiber::sleep_for(std::chrono::milliseconds(10));  // until some close
          }
        }
      },
      options);
}
