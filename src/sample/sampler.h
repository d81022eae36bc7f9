// Sampling: turns one row of logits into the next token id.
// The chain follows llama.cpp's default order: repetition penalty -> top-k -> top-p -> min-p ->
// temperature -> draw. temp <= 0 means greedy (argmax; the lowest id wins ties), which ignores the rest.
#pragma once
#include <cstdint>
#include <deque>
#include <random>
#include <vector>

namespace minnow {

struct SamplerParams {
  float temp = 0.8f;
  int32_t top_k = 40;          // <= 0: off
  float top_p = 0.95f;         // >= 1: off
  float min_p = 0.05f;         // <= 0: off
  float repeat_penalty = 1.0f; // 1: off. Divides positive logits, multiplies negative ones (llama.cpp / CTRL).
  int32_t repeat_last_n = 64;  // how many recent tokens the penalty looks at
  uint64_t seed = 0xFFFFFFFFu; // LLAMA_DEFAULT_SEED-style "random" value means: seed from the clock
  bool seed_random = true;     // true: ignore `seed` and seed from std::random_device
};

class Sampler {
 public:
  explicit Sampler(const SamplerParams& p);
  // Choose a token from logits[0..n_vocab). Does not modify `logits`. Allocation-free after the first call.
  int32_t sample(const float* logits, int32_t n_vocab);
  // Record a token as part of the history (prompt tokens and generated ones) for the repetition penalty.
  void accept(int32_t token);
  void reset();
  static int32_t argmax(const float* logits, int32_t n_vocab);

 private:
  SamplerParams p_;
  std::mt19937 rng_;
  std::deque<int32_t> history_;
  struct Candidate { int32_t id; float logit; float p; };
  std::vector<Candidate> cand_;
};

}  // namespace minnow
