// lazy_coroutine: the smallest C++20 coroutine type, for tests of weft's coroutine bridges
// (await_test.cpp) and the stackless baseline of bench/switch_bench.cpp.
#pragma once

#include <coroutine>
#include <exception>

namespace weft_test {

// The return type of a coroutine that does not run until resumed through `handle`, stays
// suspended at its end until its owner calls handle.destroy(), and calls std::terminate if an
// exception escapes it.
struct lazy_coroutine {
  struct promise_type {
    lazy_coroutine get_return_object() noexcept {
      return {std::coroutine_handle<promise_type>::from_promise(*this)};
    }
    std::suspend_always initial_suspend() noexcept { return {}; }
    std::suspend_always final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { std::terminate(); }
  };
  std::coroutine_handle<promise_type> handle;
};

}  // namespace weft_test
