// Runs the schedule fuzzer's program logic over files: each argument is an input file or a
// directory of them (the seed corpus, crash reproducers). CTest runs it over tests/fuzz/corpus
// in every configuration, so the corpus is exercised without libFuzzer.
//
//   schedule_replay [--workers N] [--repeat N] [--verbose] PATH...
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "schedule_harness.hpp"

int main(int argc, char** argv) {
  weft_fuzz::harness_options options = weft_fuzz::options_from_environment();
  int repeat = 1;
  bool describe_only = false;
  std::vector<std::filesystem::path> files;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--workers" && i + 1 < argc) options.workers = std::strtoul(argv[++i], nullptr, 10);
    else if (arg == "--repeat" && i + 1 < argc) repeat = std::atoi(argv[++i]);
    else if (arg == "--verbose") options.verbose = true;
    else if (arg == "--describe") describe_only = true;
    else if (std::filesystem::is_directory(arg)) {
      for (const auto& entry : std::filesystem::directory_iterator(arg))
        if (entry.is_regular_file()) files.push_back(entry.path());
    } else if (std::filesystem::is_regular_file(arg)) {
      files.push_back(arg);
    } else {
      std::fprintf(stderr, "schedule_replay: no such file or directory: %s\n", arg.c_str());
      return 2;
    }
  }
  if (files.empty()) {
    std::fprintf(stderr, "usage: schedule_replay [--workers N] [--repeat N] [--verbose] "
                         "[--describe] FILE_OR_DIR...\n");
    return 2;
  }
  if (options.workers == 0) options.workers = 1;
  std::sort(files.begin(), files.end());
  for (int r = 0; r < repeat; ++r)
    for (const auto& file : files) {
      std::ifstream in(file, std::ios::binary);
      const std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)),
                                             std::istreambuf_iterator<char>());
      if (describe_only) {
        std::printf("== %s\n%s", file.filename().c_str(),
                    weft_fuzz::describe_program(bytes.data(), bytes.size()).c_str());
        continue;
      }
      if (options.verbose) std::fprintf(stderr, "== %s\n", file.c_str());
      weft_fuzz::run_schedule_program(bytes.data(), bytes.size(), options);
    }
  if (!describe_only)
    std::printf("schedule_replay: %zu inputs x %d passed (%zu workers)\n", files.size(), repeat,
                options.workers);
  return 0;
}
