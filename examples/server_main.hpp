// What the example servers share around their serving code: reading their numeric flags,
// telling an accept out of descriptors from other failures, and reporting a failure to serve
// (a port in use, an address refused) as one line naming the program, with exit status 1,
// instead of std::terminate.
#pragma once

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <system_error>

namespace example {

// `text` as a whole decimal number no greater than `max`.
inline bool parse_number(const char* text, unsigned long max, unsigned long& value) {
  if (text[0] < '0' || text[0] > '9') return false;  // strtoul takes a sign and blanks
  char* end = nullptr;
  errno = 0;
  value = std::strtoul(text, &end, 10);
  return errno == 0 && *end == '\0' && value <= max;
}

// Whether an accept failed for want of descriptors (the server waits for some to close).
inline bool out_of_descriptors(const std::system_error& e) {
  return e.code() == std::errc::too_many_files_open ||
         e.code() == std::errc::too_many_files_open_in_system;
}

// Runs `serve` (which returns only by throwing, or when it is done): 0 if it returns, 1 after
// printing "program: what" if it throws.
template <class Serve>
int serve_or_report(const char* program, Serve serve) {
  try {
    serve();
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", program, e.what());
    return 1;
  }
}

}  // namespace example
