// Which sanitizers this translation unit is built with: WEFT_HAS_ASAN and WEFT_HAS_TSAN, 0 or 1
// (GCC defines __SANITIZE_*__; clang has __has_feature).
#pragma once

#if defined(__SANITIZE_ADDRESS__)
#define WEFT_HAS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WEFT_HAS_ASAN 1
#endif
#endif
#ifndef WEFT_HAS_ASAN
#define WEFT_HAS_ASAN 0
#endif

#if defined(__SANITIZE_THREAD__)
#define WEFT_HAS_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WEFT_HAS_TSAN 1
#endif
#endif
#ifndef WEFT_HAS_TSAN
#define WEFT_HAS_TSAN 0
#endif
