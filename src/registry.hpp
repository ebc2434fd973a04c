// The process-wide list of executors, for debuggers: tools/weft-gdb.py finds every fiber of a
// live process or a core file through it, without debug information. Two symbols with C
// linkage are its interface:
//
//   weft_registry_head   a pointer to the first node of a list of every live executor_core,
//                        each node {next, core} (registry_node below)
//   weft_debug_layout    a NUL-terminated text "weft-debug <version>;key=value;..." giving the
//                        offsets of the fields the debugger reads (executor_core, worker,
//                        fiber, context, std::string), the backend's saved-frame layout, and
//                        the names of the wait kinds
//
// Offsets follow the code automatically; the walk does not. The debugger walks every worker's
// live list (worker::live_, a live_list) and reads each worker's running fiber: keep
// registry.cpp and tools/weft-gdb.py in step when those structures change.
#pragma once

namespace weft::detail {

class executor_core;

// Adds a new executor; removes it just before it is freed. Thread-safe. A registration that
// cannot get its small node (out of memory) is skipped: the executor works, unseen by gdb.
void register_core(executor_core& core) noexcept;
void unregister_core(executor_core& core) noexcept;

}  // namespace weft::detail
