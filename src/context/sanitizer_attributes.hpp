// Attributes that leave a function to the sanitizers, for code that straddles stack switches.
#pragma once

// For functions that never return: under ThreadSanitizer their entry would never be popped
// from the (reused) TSan fiber's shadow stack.
#if defined(__SANITIZE_THREAD__)
#define WEFT_NO_TSAN __attribute__((no_sanitize_thread))
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WEFT_NO_TSAN __attribute__((no_sanitize("thread")))
#endif
#endif
#ifndef WEFT_NO_TSAN
#define WEFT_NO_TSAN
#endif

// For code that runs on a fiber's stack after its final switch annotation: ASan has freed the
// fiber's fake stack by then, where an instrumented frame could live.
#if defined(__SANITIZE_ADDRESS__)
#define WEFT_NO_ASAN __attribute__((no_sanitize_address))
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WEFT_NO_ASAN __attribute__((no_sanitize("address")))
#endif
#endif
#ifndef WEFT_NO_ASAN
#define WEFT_NO_ASAN
#endif
