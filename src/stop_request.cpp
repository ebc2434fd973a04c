// Stop requests to fibers (stop_request.hpp) and the public calls built on them.
#include "stop_request.hpp"

#include <typeinfo>

#include <weft/cancellation.hpp>
#include <weft/this_fiber.hpp>

#include "asymmetric_barrier.hpp"
#include "current.hpp"
#include "executor_core.hpp"

namespace weft {
const char* operation_cancelled::what() const noexcept { return "weft: operation cancelled"; }
}  // namespace weft

namespace weft::detail {

void throw_cancelled() { throw operation_cancelled(); }

bool mark_stop(fiber& f, std::stop_source& source) noexcept {
  if (f.stop_requested.exchange(true, std::memory_order_acq_rel)) return false;
  spin_guard guard(f.lock);
  source = f.stop_source;  // none if never made: request_stop() on it is then a no-op
  return true;
}

void wake_for_stop(fiber& f) noexcept {
  if (f.token.claim_for_stop()) f.owner->schedule(&f);
}

bool request_stop(fiber& f) noexcept {
  std::stop_source source{std::nostopstate};
  if (!mark_stop(f, source)) return false;
  // A fiber already waiting with its token open needs no barrier: claimed, it is ours to
  // wake, and its worker's own claim fails. Otherwise the barrier first (see the header).
  bool claimed = f.token.claim_for_stop();
  if (!claimed) {
    heavy_barrier();
    claimed = f.token.claim_for_stop();
  }
  if (claimed) f.owner->schedule(&f);
  source.request_stop();  // the callbacks, after the wake
  return true;
}

std::stop_token stop_token_of(fiber& f) {
  std::stop_source source{std::nostopstate};
  {
    spin_guard guard(f.lock);
    if (!f.stop_source.stop_possible()) f.stop_source = std::stop_source();  // may throw
    source = f.stop_source;
  }
  // A request that came before the source existed (mark_stop found none to request on).
  if (f.stop_requested.load(std::memory_order_acquire)) source.request_stop();
  return source.get_token();
}

bool is_cancellation(const std::exception_ptr& error) noexcept {
#if defined(__GLIBCXX__)
  // libstdc++ names the type without rethrowing (a rethrow unwinds: thousands of
  // instructions, for each of 100k cancelled fibers of a scope). A type derived from
  // operation_cancelled takes the rethrow below.
  if (const std::type_info* type = error.__cxa_exception_type();
      type && *type == typeid(operation_cancelled))
    return true;
#endif
  try {
    std::rethrow_exception(error);
  } catch (const operation_cancelled&) {
    return true;
  } catch (...) {
    return false;
  }
}

bool handle_request_stop(fiber_head& head) noexcept { return request_stop(control_of(head)); }
std::stop_token handle_stop_token(fiber_head& head) { return stop_token_of(control_of(head)); }
std::stop_token current_stop_token() { return this_fiber::stop_token(); }

}  // namespace weft::detail

namespace weft::this_fiber {

std::stop_token stop_token() {
  detail::fiber* f = detail::current_fiber();
  return f ? detail::stop_token_of(*f) : std::stop_token();
}

bool stop_requested() noexcept {
  const detail::fiber* f = detail::current_fiber();
  return f && f->stop_requested.load(std::memory_order_relaxed);
}

}  // namespace weft::this_fiber
