// The Gemma 2 / Gemma 3 recipe. Differences from llama: embeddings scaled by sqrt(n_embd); GELU(tanh)
// gated FFN; extra norms on the attention and FFN outputs before each residual add; Q scaled by
// 1/sqrt(head_dim) before attention; sliding-window attention on some layers.
//   gemma2: attention logit and final logit soft-capping; window on even layers.
//   gemma3: per-head q/k RMS norms; 5 local : 1 global layers (il % 6 < 5 is local); local layers use
//           rope base 10000 without scaling, the global ones the file's base and linear scaling.
// Norm weights are stored with Gemma's "1 +" already folded in by the converter.
#include <cmath>

#include "common/error.h"
#include "model/model.h"
#include "runtime/blocks.h"

namespace minnow {

namespace {

void load_gemma(Model& m) {
  m.read_common_config();
  Config& c = m.mutable_config();
  Weights& w = m.mutable_weights();
  const bool g3 = c.arch == "gemma3";
  c.rope_type = RopeType::Neox;
  c.ffn_act = Activation::GeluTanh;
  c.embd_scale = std::sqrt(static_cast<float>(c.n_embd));
  // 27B models (46 layers for gemma2, 62 for gemma3) scale by n_embd/n_head instead (query_pre_attn_scalar).
  const bool is_27b = (!g3 && c.n_layer == 46) || (g3 && c.n_layer == 62);
  c.attn_scale = 1.0f / std::sqrt(static_cast<float>(is_27b ? c.n_embd / c.n_head : c.head_dim));
  if (!g3) {
    c.attn_softcap = static_cast<float>(m.arch_float("attn_logit_softcapping", 50.0));
    c.final_softcap = static_cast<float>(m.arch_float("final_logit_softcapping", 30.0));
    if (!(c.attn_softcap > 0.0f) || !(c.final_softcap > 0.0f))
      fail(m.file().path(), ": gemma2 soft-capping values must be positive");
  }
  const uint64_t window = m.arch_uint("attention.sliding_window", g3 ? 512 : 4096);
  if (window == 0 || window > (1u << 24)) fail(m.file().path(), ": attention.sliding_window ", window, " is out of range");
  for (int il = 0; il < c.n_layer; ++il) {
    LayerConfig& lc = c.layers[il];
    const bool local = g3 ? il % 6 < 5 : il % 2 == 0;
    if (!local) continue;
    lc.sliding_window = static_cast<int32_t>(window);
    if (g3) {  // fixed in llama.cpp, not read from the file
      lc.rope_freq_base = 10000.0f;
      lc.rope_freq_scale = 1.0f;
    }
  }

  m.load_embeddings();

  const int64_t d = c.n_embd;
  w.layers.resize(c.n_layer);
  for (int il = 0; il < c.n_layer; ++il) {
    LayerWeights& L = w.layers[il];
    const std::string p = "blk." + std::to_string(il) + ".";
    m.load_attention(L, p);
    L.q_norm = m.tensor(p + "attn_q_norm.weight", {c.head_dim}, g3);
    L.k_norm = m.tensor(p + "attn_k_norm.weight", {c.head_dim}, g3);
    L.post_attn_norm = m.tensor(p + "post_attention_norm.weight", {d});
    m.load_ffn(L, p);
    L.post_ffn_norm = m.tensor(p + "post_ffw_norm.weight", {d});
  }
  c.attn_scale_on_q = true;
}

void forward_gemma(runtime::Session& s, int32_t n) {
  using namespace runtime;
  const Config& c = s.cfg;
  const Weights& w = s.model.weights();
  const int64_t d = c.n_embd;
  embed(s, s.x.data(), c.embd_scale);
  for (int32_t il = 0; il < c.n_layer; ++il) {
    const LayerWeights& L = w.layers[il];
    rmsnorm(s, s.x.data(), s.h.data(), d, L.attn_norm);
    linear(s, L.wq, s.h.data(), s.q.data());
    linear(s, L.wk, s.h.data(), s.k.data());
    linear(s, L.wv, s.h.data(), s.v.data());
    if (L.q_norm) rmsnorm_heads(s, s.q.data(), c.n_head, c.head_dim, L.q_norm);
    if (L.k_norm) rmsnorm_heads(s, s.k.data(), c.n_head_kv, c.head_dim, L.k_norm);
    rope(s, s.q.data(), c.n_head, il);
    rope(s, s.k.data(), c.n_head_kv, il);
    scale(s, s.q.data(), c.n_embd_q(), c.attn_scale);  // as llama.cpp: Q is scaled, then kq_scale = 1
    attention(s, il, s.q.data(), s.k.data(), s.v.data(), s.att.data());
    linear(s, L.wo, s.att.data(), s.h.data());
    rmsnorm(s, s.h.data(), s.h.data(), d, L.post_attn_norm);
    add(s, s.x.data(), s.h.data(), d);

    rmsnorm(s, s.x.data(), s.h.data(), d, L.ffn_norm);
    linear(s, L.ffn_gate, s.h.data(), s.gate.data());
    linear(s, L.ffn_up, s.h.data(), s.up.data());
    geglu(s, s.gate.data(), s.up.data(), c.n_ff);
    linear(s, L.ffn_down, s.gate.data(), s.h.data());
    rmsnorm(s, s.h.data(), s.h.data(), d, L.post_ffn_norm);
    add(s, s.x.data(), s.h.data(), d);
  }
  output_logits(s, s.x.data());
}

}  // namespace

extern const Recipe kGemma2Recipe = {"gemma2", load_gemma, forward_gemma};
extern const Recipe kGemma3Recipe = {"gemma3", load_gemma, forward_gemma};

}  // namespace minnow
