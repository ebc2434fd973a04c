// weft_bench_asio_http: the IO benchmark's Boost.Asio baseline (bench/io_bench).
//
//     weft_bench_asio_http [--port P]
//
// One io_context run on one thread, C++20 coroutines (co_spawn, use_awaitable), one coroutine
// per connection. HTTP/1.1 keep-alive with pipelining: after each read, every complete request
// in the buffer is answered and the answers go out in one write. Binds 127.0.0.1 only and
// prints "listening on PORT" when ready; SIGINT or SIGTERM stops it.

// Boost 1.74's awaitable.hpp uses std::exchange without including <utility> (fixed in 1.75).
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <cstring>
#include <exception>
#include <iostream>
#include <memory>
#include <string>

#include "http_response.hpp"

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;
namespace http = weft_bench_http;

namespace {

asio::awaitable<void> serve(tcp::socket s) {
  error_code ec;
  s.set_option(tcp::no_delay(true), ec);
  auto in = std::make_unique<char[]>(http::input_buffer);
  std::size_t have = 0;
  std::string out;
  for (;;) {
    std::size_t n = co_await s.async_read_some(
        asio::buffer(in.get() + have, http::input_buffer - have),
        asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      co_return;  // the peer closed, or an error: the socket closes with the coroutine
    }
    have += n;
    out.clear();
    std::size_t used = 0;
    for (;;) {
      long len = http::request_length(in.get() + used, have - used);
      if (len < 0) {
        co_return;
      }
      if (len == 0) {
        break;
      }
      used += static_cast<std::size_t>(len);
      out.append(http::response);
    }
    if (used != 0) {
      std::memmove(in.get(), in.get() + used, have - used);
      have -= used;
    }
    if (have == http::input_buffer) {
      co_return;  // one request larger than the buffer
    }
    if (!out.empty()) {
      co_await asio::async_write(s, asio::buffer(out),
                                 asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        co_return;
      }
    }
  }
}

asio::awaitable<void> accept_loop(tcp::acceptor& acceptor) {
  for (;;) {
    error_code ec;
    tcp::socket s = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted) {
      co_return;
    }
    if (!ec) {
      asio::co_spawn(acceptor.get_executor(), serve(std::move(s)), asio::detached);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  int port = http::parse_port(argc, argv, "weft_bench_asio_http");
  if (port < 0) {
    return 2;
  }
  try {
    asio::io_context ioc(1);  // concurrency hint: run by one thread
    tcp::acceptor acceptor(ioc);
    tcp::endpoint ep(asio::ip::make_address_v4("127.0.0.1"), static_cast<unsigned short>(port));
    acceptor.open(ep.protocol());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    acceptor.bind(ep);
    acceptor.listen(asio::socket_base::max_listen_connections);
    asio::signal_set stop(ioc, SIGINT, SIGTERM);
    stop.async_wait([&](const error_code&, int) { ioc.stop(); });
    asio::co_spawn(ioc, accept_loop(acceptor), asio::detached);
    std::cout << "listening on " << acceptor.local_endpoint().port() << std::endl;
    ioc.run();
  } catch (const std::exception& e) {
    std::cerr << "weft_bench_asio_http: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
