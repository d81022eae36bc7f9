#include "runtime/session.h"

#include <algorithm>
#include <cstring>

#include "tensor/kernels.h"

#include "common/error.h"

namespace minnow::runtime {

void KVCache::init(const Config& c, int32_t n_ctx, int32_t n_ubatch, DType type) {
  if (type != DType::F16 && type != DType::F32) fail("KV cache type must be F16 or F32, not ", type_name(type));
  type_ = type;
  esize_ = type == DType::F32 ? 4 : 2;
  n_ctx_ = n_ctx;
  n_embd_k_ = c.n_embd_k();
  n_embd_v_ = c.n_embd_v();
  cap_.resize(c.n_layer);
  k_.resize(c.n_layer);
  v_.resize(c.n_layer);
  for (int32_t il = 0; il < c.n_layer; ++il) {
    const int32_t w = c.layers[il].sliding_window;
    cap_[il] = w > 0 ? std::min(n_ctx, w + n_ubatch - 1) : n_ctx;
    k_[il].assign(static_cast<size_t>(cap_[il]) * n_embd_k_ * esize_, 0);
    v_[il].assign(static_cast<size_t>(cap_[il]) * n_embd_v_ * esize_, 0);
  }
}

void KVCache::store(int32_t layer, int32_t pos, const float* k, const float* v) {
  uint8_t* kd = k_[layer].data() + slot(layer, pos) * n_embd_k_ * esize_;
  uint8_t* vd = v_[layer].data() + slot(layer, pos) * n_embd_v_ * esize_;
  if (type_ == DType::F32) {
    std::memcpy(kd, k, static_cast<size_t>(n_embd_k_) * 4);
    std::memcpy(vd, v, static_cast<size_t>(n_embd_v_) * 4);
  } else {
    vec_ops().to_f16(k, reinterpret_cast<uint16_t*>(kd), n_embd_k_);
    vec_ops().to_f16(v, reinterpret_cast<uint16_t*>(vd), n_embd_v_);
  }
}

size_t KVCache::bytes() const {
  size_t b = 0;
  for (size_t il = 0; il < k_.size(); ++il) b += k_[il].size() + v_[il].size();
  return b;
}

Session::Session(const Model& m, ThreadPool& p, const SessionOptions& opts) : model(m), cfg(m.config()), pool(p) {
  int32_t n_ctx = opts.n_ctx > 0 ? opts.n_ctx : std::min(cfg.n_ctx_train, 4096);
  if (n_ctx > cfg.n_ctx_train)
    fail("context of ", n_ctx, " tokens exceeds the model's training context of ", cfg.n_ctx_train);
  n_ubatch_ = std::max(1, opts.n_ubatch);
  kv.init(cfg, n_ctx, n_ubatch_, opts.kv_type);
  scratch.resize(pool.size());
}

void Session::reserve(int32_t n) {
  if (n <= reserved_) return;
  const size_t N = static_cast<size_t>(n);
  const size_t wide = std::max<size_t>({static_cast<size_t>(cfg.n_embd), static_cast<size_t>(cfg.n_embd_q()),
                                         static_cast<size_t>(cfg.n_head) * cfg.head_dim_v});
  x.resize(N * cfg.n_embd);
  h.resize(N * wide);
  q.resize(N * cfg.n_embd_q());
  k.resize(N * cfg.n_embd_k());
  v.resize(N * cfg.n_embd_v());
  att.resize(N * wide);
  gate.resize(N * cfg.n_ff);
  up.resize(N * cfg.n_ff);
  reserved_ = n;
}

bool Session::truncate(int32_t n) {
  if (n >= n_past_) return true;
  for (int32_t il = 0; il < cfg.n_layer; ++il)
    if (kv.capacity(il) < n_past_) {  // a ring buffer has wrapped: older positions may be gone
      n_past_ = 0;
      return false;
    }
  n_past_ = std::max(0, n);
  return true;
}

const float* Session::eval(const int32_t* tokens, int32_t n, bool all_logits) {
  if (n <= 0) fail("nothing to evaluate: the batch is empty");
  if (n > kv.n_ctx() - n_past_)
    fail("context full: ", n_past_, " tokens already in a context of ", kv.n_ctx(), ", cannot add ", n, " more");
  for (int32_t i = 0; i < n; ++i)
    if (tokens[i] < 0 || tokens[i] >= cfg.n_vocab)
      fail("token id ", tokens[i], " is out of range (vocabulary has ", cfg.n_vocab, " tokens)");
  reserve(std::min(n, n_ubatch_));
  const size_t scratch_floats =
      std::max<size_t>({static_cast<size_t>(cfg.n_embd), static_cast<size_t>(cfg.n_ff),
                        static_cast<size_t>(cfg.n_embd_q()), static_cast<size_t>(kv.n_ctx()),
                        static_cast<size_t>(cfg.n_vocab)}) + 64;
  for (auto& sc : scratch)
    if (sc.size() < scratch_floats) sc.resize(scratch_floats);
  logits.resize(static_cast<size_t>(all_logits ? n : 1) * cfg.n_vocab);
  want_all_logits = all_logits;
  for (int32_t done = 0; done < n;) {
    const int32_t chunk = std::min(n_ubatch_, n - done);
    const bool last = done + chunk == n;
    pos0 = n_past_ + done;
    n_tokens = chunk;
    batch_tokens = tokens + done;
    // Rows this ubatch must produce: all of them, or only the final token of the whole batch.
    logits_out = all_logits ? logits.data() + static_cast<size_t>(done) * cfg.n_vocab : (last ? logits.data() : nullptr);
    model.recipe().forward(*this, chunk);
    done += chunk;
  }
  n_past_ += n;
  return logits.data();
}

}  // namespace minnow::runtime
