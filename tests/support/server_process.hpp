// A server program running beside a test: started with posix_spawn, its stdout read line by
// line (to learn its port), its stderr kept in a file, and stopped (SIGTERM, then SIGKILL
// after a second) when the object goes.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace weft_test {

class server_process {
 public:
  // Starts `path` with `args`. Throws std::system_error if it cannot.
  server_process(const std::string& path, const std::vector<std::string>& args);
  ~server_process();
  server_process(const server_process&) = delete;
  server_process& operator=(const server_process&) = delete;

  // The next line the program prints on stdout (without the newline), or "" if it prints
  // none within `limit` or exits.
  std::string read_line(std::chrono::milliseconds limit = std::chrono::seconds(20));
  // The port of its "listening on PORT" line (0 if it prints none).
  unsigned listening_port();
  // Whether it still runs.
  bool running();
  // What it printed on stderr so far.
  std::string errors() const;

 private:
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string pending_;  // read from stdout, not yet returned as a line
  std::string stderr_path_;
};

}  // namespace weft_test
