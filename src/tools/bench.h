// `minnow bench`: prompt-processing and generation speed, like llama-bench (same tests, same JSON field
// names), plus load time, time to first token, peak RSS, and optionally the machine's measured read
// bandwidth and how close decode gets to the bandwidth bound (weight bytes per token / bandwidth).
#pragma once
#include <string>
#include <vector>

namespace minnow::tools {

struct BenchOptions {
  std::string model;
  std::vector<int> n_prompt = {512};
  std::vector<int> n_gen = {128};
  std::vector<int> threads;  // empty: physical cores
  int reps = 5;
  bool json = false;
  bool membw = false;
};

// Prints the table (or JSON) to stdout, progress to stderr.
void bench(const BenchOptions& o);
// Read bandwidth in GB/s with n threads (best of a few passes over a buffer much larger than caches).
double measure_read_bandwidth(int n_threads);

}  // namespace minnow::tools
