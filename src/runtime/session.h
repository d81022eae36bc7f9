// Session: one conversation's mutable state over a shared Model: the KV cache, the position, and the
// scratch activations of a batch. eval() runs the architecture's recipe over a batch of tokens.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "model/model.h"
#include "runtime/threadpool.h"

namespace minnow::runtime {

struct SessionOptions {
  int32_t n_ctx = 0;       // 0: the model's training context, capped at 4096
  int32_t n_ubatch = 512;  // a longer batch is evaluated in pieces of this many tokens
  DType kv_type = DType::F16;  // F16 or F32
};

// K and V for every layer, in F16 (the default: half the memory, as llama.cpp) or F32 (exact; the goldens
// and `minnow logits` use it). A sliding-window layer keeps only window + ubatch - 1 positions in a ring, so its
// memory stays bounded however long the context grows; a global layer keeps all n_ctx positions.
class KVCache {
 public:
  void init(const Config& c, int32_t n_ctx, int32_t n_ubatch, DType type);
  DType type() const { return type_; }
  // Stores one position's K and V (float rows of n_embd_k / n_embd_v), converting to the cache type.
  void store(int32_t layer, int32_t pos, const float* k, const float* v);
  // Raw rows: float* when type() is F32, uint16_t* (fp16) when F16.
  const void* k(int32_t layer, int32_t pos) const { return k_[layer].data() + slot(layer, pos) * n_embd_k_ * esize_; }
  const void* v(int32_t layer, int32_t pos) const { return v_[layer].data() + slot(layer, pos) * n_embd_v_ * esize_; }
  int32_t n_ctx() const { return n_ctx_; }
  int32_t capacity(int32_t layer) const { return cap_[layer]; }
  size_t bytes() const;

 private:
  size_t slot(int32_t layer, int32_t pos) const { return static_cast<size_t>(pos % cap_[layer]); }
  DType type_ = DType::F16;
  size_t esize_ = 2;
  int32_t n_ctx_ = 0, n_embd_k_ = 0, n_embd_v_ = 0;
  std::vector<int32_t> cap_;
  std::vector<std::vector<uint8_t>> k_, v_;
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
  // Forget every position from n on, keeping the cache before it (to reuse a shared prompt prefix).
  // Returns false, and resets instead, where sliding-window layers may have overwritten what is kept.
  bool truncate(int32_t n);

  // State the recipes work on (see runtime/blocks.h).
  const Model& model;
  const Config& cfg;
  ThreadPool& pool;
  KVCache kv;
  int32_t pos0 = 0;      // position of the first token of the current (u)batch
  int32_t n_tokens = 0;  // tokens in the current (u)batch
  bool want_all_logits = false;
  float* logits_out = nullptr;  // where output_logits writes this ubatch's rows
  const int32_t* batch_tokens = nullptr;
  // Activations, [n_tokens][width], sized for the largest batch seen.
  std::vector<float> x, h, q, k, v, att, gate, up, logits;
  std::vector<uint8_t> act_q;              // activations quantized for integer kernels
  // Sees the input of every weight matrix product (not the output projection), e.g. for `imatrix`.
  std::function<void(const Tensor& w, const float* x, int64_t n_tokens)> observer;
  std::vector<float> scratch_batch;         // recipe-specific batch buffer (fused projections)
  std::vector<std::vector<float>> scratch;  // per thread: dequantized rows, attention scores

 private:
  void reserve(int32_t n);
  int32_t n_past_ = 0;
  int32_t reserved_ = 0;
  int32_t n_ubatch_ = 512;
};

}  // namespace minnow::runtime
