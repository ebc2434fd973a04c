// What weft knows about a file descriptor that fibers wait on, process-wide and indexed by the
// descriptor's number: the fibers waiting to read and to write, the readiness that arrived with
// nobody waiting (edge-triggered epoll reports each change once), and the reactor whose epoll
// set holds it. Entries live as long as the process and serve every file that gets the number.
//
// A descriptor that a weft object owns (tcp_stream, tcp_listener) stays registered until
// io::close; any other stays registered only while a fiber waits on it, so that a plain
// ::close() and a new file with the same number cannot leave a stale registration behind.
#pragma once

#include <atomic>
#include <cstdint>

#include <weft/detail/spinlock.hpp>
#include <weft/detail/thread_annotations.hpp>
#include <weft/detail/waiter.hpp>

namespace weft::detail {

class reactor;

enum class io_direction : std::uint8_t { read = 0, write = 1 };

// How write_all must write to a descriptor: what the last write found it to be. A stale answer
// (the number now names another file) costs a retry, never a SIGPIPE (see io.cpp).
enum class io_kind : std::uint8_t { unknown, socket, other };

struct io_descriptor {
  int fd = -1;  // its number (set once, with the table entry)
  spinlock lock;
  reactor* registered_in WEFT_GUARDED_BY(lock) = nullptr;  // the epoll set holding it, if any
  bool owned WEFT_GUARDED_BY(lock) = false;  // by a weft object: registered until io::close
  bool ready[2] WEFT_GUARDED_BY(lock) = {};  // a change seen with nobody waiting, per direction
  std::uint32_t waits WEFT_GUARDED_BY(lock) = 0;  // fibers waiting on it now
  waiter_queue waiters[2] WEFT_GUARDED_BY(lock);  // per direction
  std::atomic<io_kind> kind{io_kind::unknown};
};

// The entry of `fd`, made on first use. Throws std::system_error (EBADF) naming `call` for a
// negative descriptor or one beyond the table (2^20).
io_descriptor& descriptor_of(int fd, const char* call);
// The entry of `fd` if it was ever made, else null.
io_descriptor* find_descriptor(int fd) noexcept;
// Calls fn(d) for every entry made so far (for a reactor forgetting its registrations).
template <class Fn>
void for_each_descriptor(Fn fn);

// ---- the table: chunks of entries, made on demand, never freed ----
inline constexpr int descriptors_per_chunk = 1024;
inline constexpr int descriptor_chunks = 1024;
extern std::atomic<io_descriptor*> descriptor_table[descriptor_chunks];

template <class Fn>
void for_each_descriptor(Fn fn) {
  for (auto& slot : descriptor_table)
    if (io_descriptor* chunk = slot.load(std::memory_order_acquire))
      for (int i = 0; i < descriptors_per_chunk; ++i) fn(chunk[i]);
}

}  // namespace weft::detail
