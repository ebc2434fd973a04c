// The per-fiber C++ exception state (eh_state.hpp).
#include "eh_state.hpp"

namespace weft::detail {

__attribute__((noinline)) abi::__cxa_eh_globals* current_eh_globals() noexcept {
  auto* globals = abi::__cxa_get_globals();
  asm volatile("" : "+r"(globals) : : "memory");  // not const: the answer depends on the thread
  return globals;
}

}  // namespace weft::detail
