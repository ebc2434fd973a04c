// errno_now(): the calling thread's errno, looked up afresh on every call.
//
// glibc declares errno's lookup (__errno_location) `const`, so a compiler may find errno's
// address once per function and use it again after a fiber switch, when the fiber may run on
// another thread: it would then read the first thread's errno. Code that can suspend between
// a failing call and reading errno (an io loop that waits and retries, or anything inlined
// into one) reads errno only through here.
#pragma once

namespace weft::detail {

int errno_now() noexcept;  // out of line: never inlined, so never cached

}  // namespace weft::detail
