// The process-wide table of descriptors that fibers wait on (io_descriptor.hpp).
#include "io_descriptor.hpp"

#include <cerrno>
#include <memory>
#include <system_error>

#include "thread_mutex.hpp"

namespace weft::detail {

std::atomic<io_descriptor*> descriptor_table[descriptor_chunks];

namespace {
thread_mutex chunk_mutex;  // making a chunk (rare: the first descriptor of each 1024)
}  // namespace

io_descriptor* find_descriptor(int fd) noexcept {
  if (fd < 0 || fd >= descriptors_per_chunk * descriptor_chunks) return nullptr;
  io_descriptor* chunk =
      descriptor_table[fd / descriptors_per_chunk].load(std::memory_order_acquire);
  return chunk ? &chunk[fd % descriptors_per_chunk] : nullptr;
}

io_descriptor& descriptor_of(int fd, const char* call) {
  if (fd < 0 || fd >= descriptors_per_chunk * descriptor_chunks)
    throw std::system_error(EBADF, std::system_category(), call);
  if (io_descriptor* d = find_descriptor(fd)) return *d;
  thread_lock guard(chunk_mutex);
  std::atomic<io_descriptor*>& slot = descriptor_table[fd / descriptors_per_chunk];
  if (!slot.load(std::memory_order_relaxed)) {
    auto chunk = std::make_unique<io_descriptor[]>(descriptors_per_chunk);
    const int first = fd / descriptors_per_chunk * descriptors_per_chunk;
    for (int i = 0; i < descriptors_per_chunk; ++i) chunk[i].fd = first + i;
    slot.store(chunk.release(), std::memory_order_release);  // lives as long as the process
  }
  return *find_descriptor(fd);
}

}  // namespace weft::detail
