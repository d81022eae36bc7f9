// Session: one conversation's mutable state over a shared Model: the KV cache, the position, and the
// scratch activations of a batch. eval() runs the architecture's recipe over a batch of tokens.
#pragma once
#include <cstdint>
#include <vector>

#include "model/model.h"
#include "runtime/threadpool.h"

namespace minnow::runtime {

struct SessionOptions {
  int32_t n_ctx = 0;  // 0: the model's training context, capped at 4096
};

// K and V for every layer and position, float32 (exact; the goldens are made with an F32 cache).
class KVCache {
 public:
  void init(const Config& c, int32_t n_ctx);
  float* k(int32_t layer, int32_t pos) { return k_[layer].data() + static_cast<size_t>(pos) * n_embd_k_; }
  float* v(int32_t layer, int32_t pos) { return v_[layer].data() + static_cast<size_t>(pos) * n_embd_v_; }
  int32_t n_ctx() const { return n_ctx_; }
  size_t bytes() const;

 private:
  int32_t n_ctx_ = 0, n_embd_k_ = 0, n_embd_v_ = 0;
  std::vector<std::vector<float>> k_, v_;
};

class Session {
 public:
  Session(const Model& model, ThreadPool& pool, const SessionOptions& opts = {});

  // Evaluates tokens at positions n_past() .. n_past()+n-1 and advances. Returns the logits of the
  // last token, or of every token ([n][n_vocab]) when all_logits. Throws minnow::Error when the
  // context would overflow or a token id is out of range; the session is then unchanged.
  const float* eval(const int32_t* tokens, int32_t n, bool all_logits = false);
  int32_t n_past() const { return n_past_; }
  int32_t n_ctx() const { return kv.n_ctx(); }
  void reset() { n_past_ = 0; }

  // State the recipes work on (see runtime/blocks.h).
  const Model& model;
  const Config& cfg;
  ThreadPool& pool;
  KVCache kv;
  int32_t pos0 = 0;      // position of the first token of the current batch
  int32_t n_tokens = 0;  // tokens in the current batch
  bool want_all_logits = false;
  const int32_t* batch_tokens = nullptr;
  // Activations, [n_tokens][width], sized for the largest batch seen.
  std::vector<float> x, h, q, k, v, att, gate, up, logits;
  std::vector<std::vector<float>> scratch;  // per thread: dequantized rows, attention scores

 private:
  void reserve(int32_t n);
  int32_t n_past_ = 0;
  int32_t reserved_ = 0;
};

}  // namespace minnow::runtime
