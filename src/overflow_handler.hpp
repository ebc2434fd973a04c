// Stack overflow reports: a SIGSEGV/SIGBUS handler that recognises a fiber running into the
// guard page below its stack, says so on stderr and aborts; every other fault goes to the
// handler that was installed before weft's (or kills the process as usual).
#pragma once

namespace weft::detail {

// Installs the process-wide SIGSEGV and SIGBUS handler, once; later calls do nothing. Called
// when an executor is created. The handler runs on an alternate signal stack (see below), so
// it still runs when the faulting fiber has no stack left.
void install_overflow_handler() noexcept;

// Gives the calling thread an alternate signal stack unless it already has one (its own, the
// application's or a sanitizer's). Ours is freed when the thread exits. Called by every thread
// as it starts running fibers.
void ensure_signal_stack() noexcept;

}  // namespace weft::detail
