// Phi-3 / Phi-3.5-mini / Phi-4-mini (`phi3`): a llama-style block with a fused q|k|v projection, a fused
// gate|up FFN projection, partial rotary (rope.dimension_count < head_dim, NEOX), and LongRoPE: per-pair
// frequency factors, `rope_factors_long` when the context exceeds rope.scaling.original_context_length,
// else `rope_factors_short`, with cos/sin scaled by rope.scaling.attn_factor.
// attention.sliding_window is read but not applied, exactly as llama.cpp (2025-09) does for phi3.
#include <cmath>

#include "common/error.h"
#include "model/model.h"
#include "runtime/blocks.h"

namespace minnow {

namespace {

void load_phi3(Model& m) {
  m.read_common_config();
  Config& c = m.mutable_config();
  Weights& w = m.mutable_weights();
  c.rope_type = RopeType::Neox;
  c.n_ctx_orig = static_cast<int32_t>(m.arch_uint("rope.scaling.original_context_length", c.n_ctx_train));
  c.rope_attn_factor = static_cast<float>(m.arch_float("rope.scaling.attn_factor", 1.0));
  if (!(c.rope_attn_factor > 0.0f) || !std::isfinite(c.rope_attn_factor))
    fail(m.file().path(), ": phi3.rope.scaling.attn_factor must be positive");

  m.load_embeddings();
  w.rope_factors_long = m.tensor("rope_factors_long.weight", {c.n_rot / 2}, false);
  w.rope_factors_short = m.tensor("rope_factors_short.weight", {c.n_rot / 2}, false);

  const int64_t d = c.n_embd, dq = c.n_embd_q(), dk = c.n_embd_k(), dv = c.n_embd_v();
  w.layers.resize(c.n_layer);
  for (int il = 0; il < c.n_layer; ++il) {
    LayerWeights& L = w.layers[il];
    const std::string p = "blk." + std::to_string(il) + ".";
    L.attn_norm = m.tensor(p + "attn_norm.weight", {d});
    L.wqkv = m.tensor(p + "attn_qkv.weight", {d, dq + dk + dv}, false);
    if (!L.wqkv) {  // some conversions keep q, k, v separate
      L.wq = m.tensor(p + "attn_q.weight", {d, dq});
      L.wk = m.tensor(p + "attn_k.weight", {d, dk});
      L.wv = m.tensor(p + "attn_v.weight", {d, dv});
    }
    L.wo = m.tensor(p + "attn_output.weight", {static_cast<int64_t>(c.n_head) * c.head_dim_v, d});
    L.ffn_norm = m.tensor(p + "ffn_norm.weight", {d});
    L.ffn_up = m.tensor(p + "ffn_up.weight", {d, 2 * static_cast<int64_t>(c.n_ff)});
    L.ffn_up_fused = true;
    L.ffn_down = m.tensor(p + "ffn_down.weight", {c.n_ff, d});
  }
}

void forward_phi3(runtime::Session& s, int32_t n) {
  using namespace runtime;
  const Config& c = s.cfg;
  const Weights& w = s.model.weights();
  const int64_t d = c.n_embd, dq = c.n_embd_q(), dk = c.n_embd_k(), dv = c.n_embd_v(), ff = c.n_ff;
  std::vector<float>& fused = s.scratch_batch;
  embed(s, s.x.data());
  for (int32_t il = 0; il < c.n_layer; ++il) {
    const LayerWeights& L = w.layers[il];
    rmsnorm(s, s.x.data(), s.h.data(), d, L.attn_norm);
    if (L.wqkv) {
      fused.resize(static_cast<size_t>(n) * (dq + dk + dv));
      linear(s, L.wqkv, s.h.data(), fused.data());
      split3(s, fused.data(), dq, dk, dv, s.q.data(), s.k.data(), s.v.data());
    } else {
      linear(s, L.wq, s.h.data(), s.q.data());
      linear(s, L.wk, s.h.data(), s.k.data());
      linear(s, L.wv, s.h.data(), s.v.data());
    }
    rope(s, s.q.data(), c.n_head, il);
    rope(s, s.k.data(), c.n_head_kv, il);
    attention(s, il, s.q.data(), s.k.data(), s.v.data(), s.att.data());
    linear(s, L.wo, s.att.data(), s.h.data());
    add(s, s.x.data(), s.h.data(), d);

    rmsnorm(s, s.x.data(), s.h.data(), d, L.ffn_norm);
    fused.resize(static_cast<size_t>(n) * 2 * ff);
    linear(s, L.ffn_up, s.h.data(), fused.data());
    split3(s, fused.data(), ff, ff, 0, s.gate.data(), s.up.data(), nullptr);
    swiglu(s, s.gate.data(), s.up.data(), ff);
    linear(s, L.ffn_down, s.gate.data(), s.h.data());
    add(s, s.x.data(), s.h.data(), d);
  }
  output_logits(s, s.x.data());
}

}  // namespace

extern const Recipe kPhi3Recipe = {"phi3", load_phi3, forward_phi3};

}  // namespace minnow
