#include "fp_env.hpp"

#include <cstdio>
#include <cstdlib>

#include "fiber.hpp"

namespace weft::detail {

#ifdef WEFT_CHECKED
void check_fp_env_kept(const fiber& f, const fp_env& thread) noexcept {
  const fp_env now = fp_env::current();
  if (now.same_control(thread)) [[likely]] return;
#if defined(__x86_64__)
  const bool mxcsr = ((now.mxcsr ^ thread.mxcsr) & fp_env::mxcsr_control_bits) != 0;
  const char* what = mxcsr ? "MXCSR control bits" : "x87 control word";
  const unsigned was = mxcsr ? thread.mxcsr : thread.x87_control_word;
  const unsigned is = mxcsr ? now.mxcsr : now.x87_control_word;
#elif defined(__aarch64__)
  const char* what = "FPCR";
  const auto was = static_cast<unsigned>(thread.fpcr);
  const auto is = static_cast<unsigned>(now.fpcr);
#else
  const char* what = "rounding mode";
  const unsigned was = static_cast<unsigned>(thread.rounding);
  const unsigned is = static_cast<unsigned>(now.rounding);
#endif
  std::fprintf(stderr,
               "weft: fiber %llu \"%s\" switched away with the %s changed (0x%x, the thread's is "
               "0x%x); a fiber that changes the floating-point control state needs "
               "spawn_options::own_fp_env\n",
               static_cast<unsigned long long>(f.id), f.name.c_str(), what, is, was);
  std::abort();
}
#endif

}  // namespace weft::detail
