// The llama family recipe: pre-norm decoder, RMSNorm -> attention (GQA, RoPE) -> residual -> RMSNorm ->
// SwiGLU FFN -> residual. Variants differ only in options read at load:
//   llama   (Llama 2/3.x, TinyLlama, SmolLM2): NORM rope, optional Llama-3 rope_freqs, tied or separate output
//   qwen2   (Qwen2/2.5, DeepSeek-R1-Distill-Qwen): q/k/v biases, NEOX rope
//   qwen3   (Qwen3): per-head RMS norms on q and k before rope, NEOX rope, head_dim may differ from n_embd/n_head
//   smollm3 (SmolLM3): llama with no rope on every 4th layer (NoPE; fixed step, as llama.cpp)
#include "common/error.h"
#include "model/model.h"
#include "runtime/blocks.h"

namespace minnow {

namespace {

void load_llama_like(Model& m, RopeType rope_type) {
  m.read_common_config();
  Config& c = m.mutable_config();
  Weights& w = m.mutable_weights();
  c.rope_type = rope_type;
  if (c.arch == "smollm3")
    for (int il = 0; il < c.n_layer; ++il) c.layers[il].use_rope = (il + 1) % 4 != 0;

  m.load_embeddings();
  w.rope_freqs = m.tensor("rope_freqs.weight", {c.n_rot / 2}, false);

  const int64_t d = c.n_embd, dq = c.n_embd_q(), dk = c.n_embd_k(), dv = c.n_embd_v();
  const bool qk_norm = c.arch == "qwen3";
  w.layers.resize(c.n_layer);
  for (int il = 0; il < c.n_layer; ++il) {
    LayerWeights& L = w.layers[il];
    const std::string p = "blk." + std::to_string(il) + ".";
    m.load_attention(L, p);
    L.bq = m.tensor(p + "attn_q.bias", {dq}, false);
    L.bk = m.tensor(p + "attn_k.bias", {dk}, false);
    L.bv = m.tensor(p + "attn_v.bias", {dv}, false);
    L.bo = m.tensor(p + "attn_output.bias", {d}, false);
    L.q_norm = m.tensor(p + "attn_q_norm.weight", {c.head_dim}, qk_norm);
    L.k_norm = m.tensor(p + "attn_k_norm.weight", {c.head_dim}, qk_norm);
    m.load_ffn(L, p);
  }
}

void forward_llama(runtime::Session& s, int32_t n) {
  using namespace runtime;
  const Config& c = s.cfg;
  const Weights& w = s.model.weights();
  const int64_t d = c.n_embd;
  embed(s, s.x.data());
  for (int32_t il = 0; il < c.n_layer; ++il) {
    const LayerWeights& L = w.layers[il];
    rmsnorm(s, s.x.data(), s.h.data(), d, L.attn_norm);
    linear(s, L.wq, s.h.data(), s.q.data(), L.bq);
    linear(s, L.wk, s.h.data(), s.k.data(), L.bk);
    linear(s, L.wv, s.h.data(), s.v.data(), L.bv);
    if (L.q_norm) rmsnorm_heads(s, s.q.data(), c.n_head, c.head_dim, L.q_norm);
    if (L.k_norm) rmsnorm_heads(s, s.k.data(), c.n_head_kv, c.head_dim, L.k_norm);
    rope(s, s.q.data(), c.n_head, il);
    rope(s, s.k.data(), c.n_head_kv, il);
    attention(s, il, s.q.data(), s.k.data(), s.v.data(), s.att.data());
    linear(s, L.wo, s.att.data(), s.h.data(), L.bo);
    add(s, s.x.data(), s.h.data(), d);

    rmsnorm(s, s.x.data(), s.h.data(), d, L.ffn_norm);
    linear(s, L.ffn_gate, s.h.data(), s.gate.data());
    linear(s, L.ffn_up, s.h.data(), s.up.data());
    swiglu(s, s.gate.data(), s.up.data(), c.n_ff);
    linear(s, L.ffn_down, s.gate.data(), s.h.data());
    add(s, s.x.data(), s.h.data(), d);
  }
  output_logits(s, s.x.data());
}

}  // namespace

extern const Recipe kLlamaRecipe = {"llama", [](Model& m) { load_llama_like(m, RopeType::Norm); }, forward_llama};
extern const Recipe kQwen2Recipe = {"qwen2", [](Model& m) { load_llama_like(m, RopeType::Neox); }, forward_llama};
extern const Recipe kQwen3Recipe = {"qwen3", [](Model& m) { load_llama_like(m, RopeType::Neox); }, forward_llama};
extern const Recipe kSmolLM3Recipe = {"smollm3", [](Model& m) { load_llama_like(m, RopeType::Norm); }, forward_llama};

}  // namespace minnow
