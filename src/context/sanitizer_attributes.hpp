// Attributes that leave a function to the sanitizers, for code that straddles stack switches.
#pragma once

#include "sanitizers.hpp"

// For functions that never return: under ThreadSanitizer their entry would never be popped
// from the (reused) TSan fiber's shadow stack.
#if WEFT_HAS_TSAN
#define WEFT_NO_TSAN __attribute__((no_sanitize("thread")))
#else
#define WEFT_NO_TSAN
#endif

// For code that runs on a fiber's stack after its final switch annotation: ASan has freed the
// fiber's fake stack by then, where an instrumented frame could live.
#if WEFT_HAS_ASAN
#define WEFT_NO_ASAN __attribute__((no_sanitize("address")))
#else
#define WEFT_NO_ASAN
#endif
