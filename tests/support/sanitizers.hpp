// Which sanitizer this build runs under: the macros WEFT_TEST_ASAN and WEFT_TEST_TSAN (for
// #if, e.g. around sanitizer interface headers) and the constants under_asan and under_tsan
// (for tests that scale down or skip a check there). GCC defines __SANITIZE_*__, clang has
// __has_feature.
#pragma once

#if defined(__SANITIZE_ADDRESS__)
#define WEFT_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WEFT_TEST_ASAN 1
#endif
#endif

#if defined(__SANITIZE_THREAD__)
#define WEFT_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WEFT_TEST_TSAN 1
#endif
#endif

namespace weft_test {

#ifdef WEFT_TEST_ASAN
inline constexpr bool under_asan = true;
#else
inline constexpr bool under_asan = false;
#endif

// ThreadSanitizer limits live threads plus fibers to 8128 and makes fiber creation slow:
// tests scale their fiber counts down there.
#ifdef WEFT_TEST_TSAN
inline constexpr bool under_tsan = true;
#else
inline constexpr bool under_tsan = false;
#endif

}  // namespace weft_test
