// mmap'd fiber stacks with guard pages.
#include <weft/stack.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
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

namespace {

#if defined(__x86_64__)
// mmap without an address hint never maps above 47 bits (128 TiB), even with 5-level paging.
constexpr std::size_t address_space_bytes = std::size_t{1} << 47;
#elif defined(__aarch64__)
// Nor above 48 bits (256 TiB) on AArch64, even where the kernel supports 52-bit addresses.
constexpr std::size_t address_space_bytes = std::size_t{1} << 48;
#else
constexpr std::size_t address_space_bytes = std::numeric_limits<std::size_t>::max() / 2;
#endif

// Reads a small /proc file into `buf` without allocating (this runs when memory ran out).
std::size_t read_proc(const char* path, char* buf, std::size_t cap) noexcept {
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  std::size_t n = 0;
  while (n + 1 < cap) {
    const ssize_t r = ::read(fd, buf + n, cap - 1 - n);
    if (r > 0) n += static_cast<std::size_t>(r);
    else if (r == 0 || errno != EINTR) break;
  }
  ::close(fd);
  buf[n] = '\0';
  return n;
}

// Lines of /proc/self/maps: the process's memory mappings. 0 if unreadable.
std::size_t count_mappings() noexcept {
  const int fd = ::open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[16384];
  std::size_t lines = 0;
  for (;;) {
    const ssize_t r = ::read(fd, buf, sizeof buf);
    if (r > 0) {
      for (ssize_t i = 0; i < r; ++i) lines += buf[i] == '\n';
    } else if (r == 0 || errno != EINTR) {
      break;
    }
  }
  ::close(fd);
  return lines;
}

// Why an mmap/mprotect of about `bytes` failed with ENOMEM, as precisely as can be told.
std::string diagnose_enomem(std::size_t bytes) {
  char buf[4096];
  // 1. An address-space limit (ulimit -v) that this mapping would exceed.
  struct rlimit as_limit {};
  if (::getrlimit(RLIMIT_AS, &as_limit) == 0 && as_limit.rlim_cur != RLIM_INFINITY) {
    std::size_t vm_kib = 0;
    if (read_proc("/proc/self/status", buf, sizeof buf) > 0)
      if (const char* line = std::strstr(buf, "VmSize:")) vm_kib = std::strtoull(line + 7, nullptr, 10);
    const std::size_t mapped = vm_kib * 1024;
    if (mapped + bytes > as_limit.rlim_cur)
      return "the address-space limit RLIMIT_AS (ulimit -v) is " +
             std::to_string(as_limit.rlim_cur) + " bytes and " + std::to_string(mapped) +
             " bytes are mapped already";
  }
  // 2. The process's mapping count at vm.max_map_count.
  std::size_t max_map_count = 0;
  if (read_proc("/proc/sys/vm/max_map_count", buf, sizeof buf) > 0)
    max_map_count = std::strtoull(buf, nullptr, 10);
  const std::size_t mappings = count_mappings();
  if (max_map_count != 0 && mappings + 8 >= max_map_count)
    return "the process has " + std::to_string(mappings) + " memory mappings and "
           "vm.max_map_count is " + std::to_string(max_map_count) +
           " (each guarded stack takes two: raise the sysctl, or lower "
           "executor_options::max_guarded_stacks so that more stacks share unguarded slabs)";
  return "likely causes: too many memory mappings (each guarded stack takes two; see "
         "/proc/sys/vm/max_map_count), an address-space limit (ulimit -v / RLIMIT_AS), or too "
         "little memory for the size asked";
}

}  // namespace

std::size_t round_stack_size(std::size_t size, const char* who) {
  if (size == 0)
    throw std::invalid_argument(std::string(who) + ": stack size 0 is too small; ask for at least "
                                "one page (" + std::to_string(page_size()) + " bytes)");
  const std::size_t page = page_size();
  // Leave room for the guard page and rounding without overflow; nothing larger than the
  // address space can be mapped at all.
  if (size > address_space_bytes - 2 * page)
    throw std::length_error(std::string(who) + ": stack size " + std::to_string(size) +
                            " bytes is too large to map (the address space has " +
                            std::to_string(address_space_bytes) + " bytes)");
  return (size + page - 1) / page * page;
}

[[noreturn]] void throw_map_failure(int error, const char* call, std::size_t size, const char* who) {
  std::string why;
  if (error == ENOMEM) why = "; " + diagnose_enomem(size + page_size());
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
