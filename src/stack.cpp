// mmap'd fiber stacks with guard pages.
#include <weft/stack.hpp>

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <limits>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

#include "stack_memory.hpp"

#ifdef WEFT_VALGRIND
#include <valgrind/valgrind.h>
#endif

namespace weft {

std::size_t page_size() noexcept {
  static const std::size_t size = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return size;
}

namespace detail {

std::size_t round_stack_size(std::size_t size, const char* who) {
  if (size == 0)
    throw std::invalid_argument(std::string(who) + ": stack size 0 is too small; ask for at least "
                                "one page (" + std::to_string(page_size()) + " bytes)");
  const std::size_t page = page_size();
  // Leave room for the guard page and rounding without overflow.
  if (size > std::numeric_limits<std::size_t>::max() / 2 - 2 * page)
    throw std::length_error(std::string(who) + ": stack size " + std::to_string(size) +
                            " bytes is too large to map");
  return (size + page - 1) / page * page;
}

[[noreturn]] void throw_map_failure(int error, const char* call, std::size_t size, const char* who) {
  std::string why;
  if (error == ENOMEM)
    why = "; likely causes: too many memory mappings (each guarded stack takes two; see "
          "/proc/sys/vm/max_map_count), an address-space limit (ulimit -v / RLIMIT_AS), or too "
          "little memory for the size asked";
  throw std::system_error(error, std::generic_category(),
                          std::string(who) + ": " + call + " failed for a stack of " +
                              std::to_string(size) + " bytes" + why);
}

void* map_region(std::size_t bytes, std::size_t size_asked, const char* who) {
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (p == MAP_FAILED) throw_map_failure(errno, "mmap", size_asked, who);
  return p;
}

void protect_guard(void* base, std::size_t mapped, std::size_t size_asked, const char* who) {
  if (::mprotect(base, page_size(), PROT_NONE) != 0) {
    int error = errno;
    ::munmap(base, mapped);
    throw_map_failure(error, "mprotect (guard page)", size_asked, who);
  }
}

void register_stack(stack_span s, unsigned& id) noexcept {
#ifdef WEFT_VALGRIND
  id = VALGRIND_STACK_REGISTER(s.low, s.top());
#else
  (void)s;
  (void)id;
#endif
}

void deregister_stack(unsigned id) noexcept {
#ifdef WEFT_VALGRIND
  VALGRIND_STACK_DEREGISTER(id);
#else
  (void)id;
#endif
}

}  // namespace detail

stack::stack(std::size_t size, bool guard_page) : guarded_(guard_page) {
  const std::size_t usable = detail::round_stack_size(size, "weft::stack");
  const std::size_t guard = guard_page ? page_size() : 0;
  void* base = detail::map_region(usable + guard, size, "weft::stack");
  if (guard_page) detail::protect_guard(base, usable + guard, size, "weft::stack");
  span_ = stack_span{static_cast<char*>(base) + guard, usable};
  detail::register_stack(span_, valgrind_id_);
}

stack::~stack() { release(); }

stack::stack(stack&& other) noexcept
    : span_(std::exchange(other.span_, {})),
      guarded_(other.guarded_),
      valgrind_id_(std::exchange(other.valgrind_id_, 0)) {}

stack& stack::operator=(stack&& other) noexcept {
  if (this != &other) {
    release();
    span_ = std::exchange(other.span_, {});
    guarded_ = other.guarded_;
    valgrind_id_ = std::exchange(other.valgrind_id_, 0);
  }
  return *this;
}

void stack::release() noexcept {
  if (span_.low == nullptr) return;
  detail::deregister_stack(valgrind_id_);
  const std::size_t guard = guarded_ ? page_size() : 0;
  ::munmap(static_cast<char*>(span_.low) - guard, span_.size + guard);
  span_ = {};
}

}  // namespace weft
