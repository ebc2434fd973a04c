// The public context API over the selected backend, with sanitizer annotations.
#include <weft/context.hpp>

#include <utility>

#include "context/backend.hpp"
#include "context/switch.hpp"

namespace weft {

using backend = context_backend_type;

std::string_view context_backend() noexcept { return backend::name; }

context::context(stack& s, void (*entry)(void*), void* arg) : context(s.span(), entry, arg) {}

context::context(stack_span s, void (*entry)(void*), void* arg) : stack_(s) {
  sp_ = backend::make(s, entry, arg);
  annotations::on_create(*this);
}

context::~context() { annotations::on_destroy(*this); }

context::context(context&& other) noexcept
    : sp_(std::exchange(other.sp_, nullptr)),
      stack_(std::exchange(other.stack_, {})),
      asan_fake_stack_(std::exchange(other.asan_fake_stack_, nullptr)),
      tsan_fiber_(std::exchange(other.tsan_fiber_, nullptr)),
      owns_tsan_fiber_(std::exchange(other.owns_tsan_fiber_, false)) {}

context& context::operator=(context&& other) noexcept {
  context taken(std::move(other));
  swap(taken);  // our old state is destroyed with `taken`
  return *this;
}

void context::swap(context& other) noexcept {
  std::swap(sp_, other.sp_);
  std::swap(stack_, other.stack_);
  std::swap(asan_fake_stack_, other.asan_fake_stack_);
  std::swap(tsan_fiber_, other.tsan_fiber_);
  std::swap(owns_tsan_fiber_, other.owns_tsan_fiber_);
}

void switch_context(context& from, context& to) noexcept { switch_inline(from, to); }

void switch_context_final(context& from, context& to) noexcept { switch_final_inline(from, to); }

}  // namespace weft
