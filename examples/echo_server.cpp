// weft_echo_server: a TCP echo server, one fiber per connection.
//
//   weft_echo_server [--port P] [--workers N]
//
// Listens on 127.0.0.1:P (0, the default: any free port), prints "listening on PORT" when
// ready, and sends back every byte each client sends until the client ends its side.
#include <weft/weft.hpp>

#include <chrono>
#include <cstdio>
#include <string_view>

#include "server_main.hpp"

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
  bool ok = argc % 2 == 1;
  for (int i = 1; ok && i + 1 < argc; i += 2) {
    const std::string_view flag = argv[i];
    if (flag == "--port") ok = example::parse_number(argv[i + 1], 65535, port);
    else if (flag == "--workers") ok = example::parse_number(argv[i + 1], 1024, workers) && workers > 0;
    else ok = false;
  }
  if (!ok) {
    std::fprintf(stderr, "usage: %s [--port P] [--workers N]\n", argv[0]);
    return 2;
  }
  weft::executor_options options;
  options.workers = workers;
  return example::serve_or_report("weft_echo_server", [&] {
    weft::run(
        [port] {
          auto listener = weft::net::tcp_listener::bind("127.0.0.1", static_cast<std::uint16_t>(port));
          std::printf("listening on %u\n", listener.local_port());
          std::fflush(stdout);
          for (;;) {
            try {
              weft::spawn(echo, listener.accept()).detach();
            } catch (const std::system_error& e) {
              if (!example::out_of_descriptors(e)) throw;
              weft::this_fiber::sleep_for(std::chrono::milliseconds(10));  // until some close
            }
          }
        },
        options);
  });
}
