// The executor registry and the layout description that tools/weft-gdb.py reads.
#include "registry.hpp"

#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include "context/backend.hpp"
#include "executor_core.hpp"
#include "fiber.hpp"
#include "live_list.hpp"
#include "thread_mutex.hpp"
#include "worker.hpp"

namespace weft::detail {
namespace {
thread_mutex registry_mutex;  // guards the list (a debugger reads it with the process stopped)
}  // namespace
}  // namespace weft::detail

// The debugger's entry points (see registry.hpp). Plain C symbols, kept by the linker as long as
// this file is linked in, which every program creating an executor does.
extern "C" {
struct weft_registry_node {
  weft_registry_node* next;
  weft::detail::executor_core* core;
};
[[gnu::used, gnu::visibility("default")]] weft_registry_node* weft_registry_head
    WEFT_GUARDED_BY(weft::detail::registry_mutex) = nullptr;
[[gnu::used, gnu::visibility("default")]] char weft_debug_layout[2048] = "";
}

namespace weft::detail {

// Appends "key=value;" fields to a fixed buffer.
struct layout_writer {
  char* out;
  std::size_t size;
  std::size_t used = 0;

  void add(const char* key, std::size_t value) noexcept { print("%s=%zu;", key, value); }
  __attribute__((format(printf, 2, 3))) void print(const char* format, ...) noexcept {
    if (used >= size) return;
    std::va_list args;
    va_start(args, format);
    const int n = std::vsnprintf(out + used, size - used, format, args);
    va_end(args);
    if (n > 0) used += static_cast<std::size_t>(n);
  }
};

// Reads private offsets: a friend of executor_core, worker and live_list.
struct registry_layout {
  static void describe(char* out, std::size_t size) noexcept;
  static void describe_lists(layout_writer& w) noexcept;
};

namespace {

std::once_flag layout_written;

// The frame a switch leaves on a suspended stack, for both backends: where each register the
// resumed code gets back is saved (named as gdb names them), the pc first; the stack pointer
// it resumes with is the frame's address plus frame_size. The asm numbers come from the frame
// headers; Boost's from its jump_fcontext (x86-64 SysV ELF: the same layout since Boost 1.61,
// though builds with shadow-stack support, BOOST_USE_CET/SHSTK, add a slot; AArch64 AAPCS ELF:
// as weft's, with the pc at 0xa0).
struct saved_register {
  const char* name;
  std::size_t offset;
};
#if defined(__x86_64__) && defined(WEFT_CONTEXT_BACKEND_ASM)
constexpr saved_register frame_registers[] = {
    {"rip", WEFT_CTX_RIP}, {"rbp", WEFT_CTX_RBP}, {"rbx", WEFT_CTX_RBX}, {"r12", WEFT_CTX_R12},
    {"r13", WEFT_CTX_R13}, {"r14", WEFT_CTX_R14}, {"r15", WEFT_CTX_R15}};
constexpr std::size_t frame_size = WEFT_CTX_FRAME_SIZE;
#elif defined(__x86_64__)
constexpr saved_register frame_registers[] = {{"rip", 0x38}, {"rbp", 0x30}, {"rbx", 0x28},
                                              {"r12", 0x08}, {"r13", 0x10}, {"r14", 0x18},
                                              {"r15", 0x20}};
constexpr std::size_t frame_size = 0x40;
#elif defined(__aarch64__)
#if defined(WEFT_CONTEXT_BACKEND_ASM)
constexpr std::size_t frame_pc = WEFT_CTX_LR;
#else
constexpr std::size_t frame_pc = 0xa0;
#endif
constexpr saved_register frame_registers[] = {
    {"pc", frame_pc}, {"x29", 0x90}, {"x30", 0x98}, {"x19", 0x40}, {"x20", 0x48},
    {"x21", 0x50},    {"x22", 0x58}, {"x23", 0x60}, {"x24", 0x68}, {"x25", 0x70},
    {"x26", 0x78},    {"x27", 0x80}, {"x28", 0x88}};
constexpr std::size_t frame_size = 0xb0;
#if defined(WEFT_CONTEXT_BACKEND_ASM)
static_assert(WEFT_CTX_FP == 0x90 && WEFT_CTX_X19 == 0x40 && WEFT_CTX_X27 == 0x80 &&
              WEFT_CTX_FRAME_SIZE == frame_size);
#endif
#else
#error "registry.cpp: describe this architecture's saved frame"
#endif

// "ptr0,size8" when std::string keeps its data pointer first and its length after it
// (libstdc++'s C++11 ABI), checked on a real string; "unknown" otherwise.
const char* string_layout() noexcept {
  const std::string probe(40, 'x');  // long enough to live on the heap
  const char* data = nullptr;
  std::size_t length = 0;
  std::memcpy(&data, reinterpret_cast<const char*>(&probe), sizeof data);
  std::memcpy(&length, reinterpret_cast<const char*>(&probe) + sizeof data, sizeof length);
  return data == probe.data() && length == probe.size() ? "ptr0,size8" : "unknown";
}

// "begin0,end8" when std::vector starts with pointers to its first element and past its last
// one (libstdc++), checked on a real vector; "unknown" otherwise.
const char* vector_layout() noexcept {
  std::vector<void*> probe(3);
  void** begin = nullptr;
  void** end = nullptr;
  std::memcpy(&begin, reinterpret_cast<const char*>(&probe), sizeof begin);
  std::memcpy(&end, reinterpret_cast<const char*>(&probe) + sizeof begin, sizeof end);
  return begin == probe.data() && end == probe.data() + 3 ? "begin0,end8" : "unknown";
}

// How far below the top of a new context's stack (rounded down to 16 bytes) the backend puts
// the frame that the context's first switch resumes. A fiber's stack ends where its control
// block starts, so a fiber whose saved context is still there has never run.
std::size_t start_frame_depth() noexcept {
  alignas(16) static unsigned char scratch[512];
  const stack_span span{scratch, sizeof scratch};
  context probe(span, [](void*) {}, nullptr);  // prepared, never switched to
  const auto top = reinterpret_cast<std::uintptr_t>(span.top()) & ~std::uintptr_t{15};
  return top - reinterpret_cast<std::uintptr_t>(context_access::handle(probe));
}

}  // namespace

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winvalid-offsetof"  // fine for these non-virtual classes

// Where the executor keeps its fibers: every worker has a list of live fibers (those that
// suspended on it or were queued there unstarted) and the fiber it runs now.
void registry_layout::describe_lists(layout_writer& w) noexcept {
  static_assert(sizeof(decltype(executor_core::workers_)::value_type) == sizeof(void*),
                "workers_ holds plain pointers to workers");
  w.add("core.workers", offsetof(executor_core, workers_));
  w.add("worker.live_head", offsetof(worker, live_) + offsetof(live_list, head_));
  w.add("worker.running", offsetof(worker, running_));
  w.print("vector=%s;", vector_layout());
}

void registry_layout::describe(char* out, std::size_t size) noexcept {
  context probe;
  const std::size_t context_sp = static_cast<std::size_t>(
      reinterpret_cast<char*>(&context_access::handle(probe)) - reinterpret_cast<char*>(&probe));
  layout_writer w{out, size};
  w.print("weft-debug 1;backend=%s;", std::string(context_backend_type::name).c_str());
  w.add("pointer", sizeof(void*));
  w.add("node.next", offsetof(weft_registry_node, next));
  w.add("node.core", offsetof(weft_registry_node, core));
  describe_lists(w);
  w.add("fiber.ctx_sp", offsetof(fiber, ctx) + context_sp);
  w.add("fiber.start_depth", start_frame_depth());
  w.add("fiber.id", offsetof(fiber, id));
  w.add("fiber.name", offsetof(fiber, name));
  w.add("fiber.finished", offsetof(fiber, finished));
  w.add("fiber.waiting_on", offsetof(fiber, waiting_on));
  w.add("fiber.wait_object", offsetof(fiber, wait_object));
  w.add("fiber.next_ready", offsetof(fiber, next_ready));
  w.add("fiber.next_live", offsetof(fiber, next_live));
  w.add("fiber.region_low", offsetof(fiber, region) + offsetof(stack_span, low));
  w.add("fiber.region_size", offsetof(fiber, region) + offsetof(stack_span, size));
  w.add("fiber.guarded", offsetof(fiber, guarded));
  w.add("fiber.ops", offsetof(fiber, ops));
  w.add("ops.runs_coroutine", offsetof(task_ops, runs_coroutine));
  static_assert(sizeof(wait_kind) == 1 && sizeof(bool) == 1 && sizeof(std::atomic<bool>) == 1);
  // frame_registers=pc|...: the names, pc first; frame.<name>=offset for each.
  w.print("frame_registers=");
  for (const saved_register& r : frame_registers)
    w.print(&r == frame_registers ? "%s" : "|%s", r.name);
  w.print(";");
  for (const saved_register& r : frame_registers) {
    char key[32];
    std::snprintf(key, sizeof key, "frame.%s", r.name);
    w.add(key, r.offset);
  }
  w.add("frame.size", frame_size);
  w.print("string=%s;", string_layout());
  w.print("wait_kinds=");
  for (int k = 0; k < 64; ++k) {
    const std::string_view name = to_string(static_cast<wait_kind>(k));
    if (name == "?") break;
    w.print(k == 0 ? "%.*s" : "|%.*s", static_cast<int>(name.size()), name.data());
  }
  w.print(";");
}

#pragma GCC diagnostic pop

void register_core(executor_core& core) noexcept {
  // Written with the first executor, before any fiber exists for a debugger to look at.
  std::call_once(layout_written,
                 [] { registry_layout::describe(weft_debug_layout, sizeof weft_debug_layout); });
  auto* node = new (std::nothrow) weft_registry_node{nullptr, &core};
  if (node == nullptr) return;
  thread_lock guard(registry_mutex);
  node->next = weft_registry_head;
  weft_registry_head = node;
}

void unregister_core(executor_core& core) noexcept {
  weft_registry_node* found = nullptr;
  {
    thread_lock guard(registry_mutex);
    for (weft_registry_node** link = &weft_registry_head; *link; link = &(*link)->next) {
      if ((*link)->core == &core) {
        found = *link;
        *link = found->next;
        break;
      }
    }
  }
  delete found;
}

}  // namespace weft::detail
