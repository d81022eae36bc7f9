// The Gemma-3n text decoder (gemma3n), as llama.cpp's llm_build_gemma3n_iswa runs it. On top of the
// gemma3 block (embedding scale sqrt(n_embd), per-head q/k RMS norms, post-attention and post-FFN norms,
// GELU(tanh) gated FFN, NEOX rope, local/global layers) it has:
//   AltUp: the hidden state is 4 streams. Stream 0 is the "active" one that goes through the block; a
//     per-layer router (tanh of a projection of the normed active stream) mixes the streams before the
//     block (predict) and spreads the block's innovation over all of them after it (correct). The extra
//     streams are made from the embedding by altup_proj at the start and folded back by
//     altup_unembd_proj at the end, each rescaled to the L2 magnitude of stream 0.
//   LAuReL: a low-rank residual branch (laurel_l, laurel_r, laurel_post_norm) beside the attention.
//   Per-layer inputs: a second token embedding (per_layer_token_embd, 256 values per layer) mixed with a
//     projection of the main embedding, gating a small per-layer projection added to streams 1..3.
//   Activation sparsity: in the first layers the FFN gate keeps only values above mean + 1.645 std.
//   V is RMS-normed per head without a weight; attention scale is 1 (Q and K are normed instead).
//   KV sharing: layers from n_layer_kv_from_start on compute no K/V and attend over the cache of an
//     earlier layer of the same kind (local or global).
//   Final logit soft-cap 30.
// Norm weights are stored with Gemma's "1 +" already folded in by the converter.
#include <algorithm>
#include <cmath>
#include <vector>

#include "common/error.h"
#include "model/model.h"
#include "runtime/blocks.h"
#include "tensor/types.h"

namespace minnow {

namespace {

// Fixed in llama.cpp (llama_hparams / llm_build_gemma3n_iswa / llama_model::load_hparams), not read from the file.
constexpr int kNAltup = 4;             // altup_num_inputs: number of AltUp streams
constexpr int kAltupActive = 0;        // altup_active_idx: the stream that goes through attention and FFN
constexpr int64_t kNEmbdAltup = 256;   // hidden_size_per_layer_input: width of each layer's per-layer input
constexpr int kNLayerSparsity = 10;    // layers il < 10 use activation sparsity on the FFN gate
constexpr float kSparsityStdMul = 1.6448533535003662f;  // normal_dist.icdf(0.95), as llama.cpp's float
constexpr int kNLayerKvFromStart = 20; // layers il >= 20 have no K/V of their own (KV sharing)
constexpr int kSwaPattern = 5;         // layer il is local (sliding window) when il % 5 < 4
constexpr float kSwaRopeBase = 10000.0f;  // local layers' rope base (no scaling); global layers use the file's
constexpr float kFinalSoftcap = 30.0f; // final logit soft-cap (llama.cpp ignores the file's softcap keys here)
// The LAuReL rank (64 in llama.cpp and the real models) is taken from the laurel_l tensor's shape.

static_assert(kAltupActive == 0, "the forward pass below keeps the active stream in slot 0");

// Model-level extra tensors (Weights::extra).
enum GlobalExtra {
  kPerLayerTokenEmbd,  // [256 * n_layer, n_vocab]
  kPerLayerModelProj,  // [n_embd, 256 * n_layer]
  kPerLayerProjNorm,   // [256]
  kAltupProj0,         // altup_proj [n_embd, n_embd, 3] as 3 matrix views: stream j uses kAltupProj0 + j - 1
  kAltupUnembdProj0 = kAltupProj0 + kNAltup - 1,  // altup_unembd_proj, likewise
  kNGlobalExtra = kAltupUnembdProj0 + kNAltup - 1,
};

// Per-layer extra tensors (LayerWeights::extra).
enum LayerExtra {
  kInpGate,            // per_layer_inp_gate [n_embd -> 256]
  kProj,               // per_layer_proj [256 -> n_embd]
  kPostNorm,           // per_layer_post_norm [n_embd]
  kAltupCorrectCoef,   // [4 -> 4]
  kAltupCorrectScale,  // [n_embd]
  kAltupPredictCoef,   // [4 -> 16]
  kAltupRouter,        // [n_embd -> 4]
  kAltupRouterNorm,    // [n_embd]
  kLaurelL,            // [n_embd -> rank]
  kLaurelR,            // [rank -> n_embd]
  kLaurelPostNorm,     // [n_embd]
  kNLayerExtra,
};

bool is_swa(int il) { return il % kSwaPattern < kSwaPattern - 1; }

// The layer whose K/V cache layer il attends over: its own, or for a KV-shared layer, as llama.cpp's
// layer_reuse_cb: n_layer_kv_from_start - 2 for a local layer, - 1 for a global one (the last earlier
// layer of the same kind, given the 4:1 pattern).
int kv_layer(int il) {
  if (il < kNLayerKvFromStart) return il;
  return kNLayerKvFromStart - (is_swa(il) ? 2 : 1);
}

// Matrix j (0-based along ne2) of a 3-D weight [ne0, ne1, ne2], as a 2-D tensor that `linear` can use.
Tensor matrix_slice(const Tensor& t, int64_t j) {
  Tensor s = t;
  s.data = t.data + static_cast<size_t>(j) * static_cast<size_t>(t.ne[1]) * t.row_bytes;
  s.ne[2] = 1;
  s.ne[3] = 1;
  return s;
}

// A small weight vector as float (F32 in every real file; dequantized otherwise).
std::vector<float> vector_f32(const Tensor& t) {
  std::vector<float> v(static_cast<size_t>(t.cols() * t.rows()));
  dequantize_row(t.type, t.data, v.data(), static_cast<int64_t>(v.size()));
  return v;
}

void load_gemma3n(Model& m) {
  m.read_common_config();
  Config& c = m.mutable_config();
  Weights& w = m.mutable_weights();
  const std::string& path = m.file().path();
  c.rope_type = RopeType::Neox;
  c.ffn_act = Activation::GeluTanh;
  c.embd_scale = std::sqrt(static_cast<float>(c.n_embd));
  c.attn_scale = 1.0f;  // f_attention_scale: Q and K are RMS-normed, no 1/sqrt(head_dim)
  c.attn_scale_on_q = false;
  c.final_softcap = kFinalSoftcap;
  const uint64_t window = m.arch_require_uint("attention.sliding_window");
  if (window == 0 || window > (1u << 24)) fail(path, ": attention.sliding_window ", window, " is out of range");
  for (int il = 0; il < c.n_layer; ++il) {
    if (!is_swa(il)) continue;
    LayerConfig& lc = c.layers[il];
    lc.sliding_window = static_cast<int32_t>(window);
    lc.rope_freq_base = kSwaRopeBase;
    lc.rope_freq_scale = 1.0f;
  }

  const int64_t d = c.n_embd, nl = c.n_layer;
  m.load_embeddings();

  w.extra.resize(kNGlobalExtra);
  w.extra[kPerLayerTokenEmbd] = m.tensor("per_layer_token_embd.weight", {kNEmbdAltup * nl, c.n_vocab});
  w.extra[kPerLayerModelProj] = m.tensor("per_layer_model_proj.weight", {d, kNEmbdAltup * nl});
  w.extra[kPerLayerProjNorm] = m.tensor("per_layer_proj_norm.weight", {kNEmbdAltup});
  const Tensor proj = m.tensor("altup_proj.weight", {d, d, kNAltup - 1});
  const Tensor unembd = m.tensor("altup_unembd_proj.weight", {d, d, kNAltup - 1});
  for (int j = 0; j < kNAltup - 1; ++j) {
    w.extra[kAltupProj0 + j] = matrix_slice(proj, j);
    w.extra[kAltupUnembdProj0 + j] = matrix_slice(unembd, j);
  }

  const Tensor laurel0 = m.tensor("blk.0.laurel_l.weight", {d, -1});
  const int64_t rank = laurel0.ne[1];
  if (rank < 1 || rank > d) fail(path, ": blk.0.laurel_l.weight has rank ", rank, ", outside [1, n_embd ", d, "]");

  const int64_t hd = c.head_dim;
  w.layers.resize(c.n_layer);
  for (int il = 0; il < c.n_layer; ++il) {
    LayerWeights& L = w.layers[il];
    const std::string p = "blk." + std::to_string(il) + ".";
    const bool own_kv = kv_layer(il) == il;
    // KV-shared layers never use their K/V projections (llama.cpp still requires them in the file).
    m.load_attention(L, p);
    L.q_norm = m.tensor(p + "attn_q_norm.weight", {hd});
    L.k_norm = m.tensor(p + "attn_k_norm.weight", {hd});
    L.post_attn_norm = m.tensor(p + "post_attention_norm.weight", {d});
    m.load_ffn(L, p);
    L.post_ffn_norm = m.tensor(p + "post_ffw_norm.weight", {d});
    L.extra.resize(kNLayerExtra);
    L.extra[kInpGate] = m.tensor(p + "inp_gate.weight", {d, kNEmbdAltup});
    L.extra[kProj] = m.tensor(p + "proj.weight", {kNEmbdAltup, d});
    L.extra[kPostNorm] = m.tensor(p + "post_norm.weight", {d});
    L.extra[kAltupCorrectCoef] = m.tensor(p + "altup_correct_coef.weight", {kNAltup, kNAltup});
    L.extra[kAltupCorrectScale] = m.tensor(p + "altup_correct_scale.weight", {d});
    L.extra[kAltupPredictCoef] = m.tensor(p + "altup_predict_coef.weight", {kNAltup, kNAltup * kNAltup});
    L.extra[kAltupRouter] = m.tensor(p + "altup_router.weight", {d, kNAltup});
    L.extra[kAltupRouterNorm] = m.tensor(p + "altup_router_norm.weight", {d});
    L.extra[kLaurelL] = m.tensor(p + "laurel_l.weight", {d, rank});
    L.extra[kLaurelR] = m.tensor(p + "laurel_r.weight", {rank, d});
    L.extra[kLaurelPostNorm] = m.tensor(p + "laurel_post_norm.weight", {d});
    if (!own_kv && is_swa(kv_layer(il)) != is_swa(il))
      fail(path, ": layer ", il, " would share the K/V of layer ", kv_layer(il), ", which is of the other kind");
  }
}

// Per token: sqrt(sum of squares) over `width` values (ggml: sqrt(sum_rows(sqr(x))), the sum in double).
void magnitudes(const float* x, int32_t n, int64_t width, float* out) {
  for (int32_t t = 0; t < n; ++t) {
    const float* r = x + t * width;
    double sum = 0.0;
    for (int64_t i = 0; i < width; ++i) sum += static_cast<double>(r[i] * r[i]);
    out[t] = std::sqrt(static_cast<float>(sum));
  }
}

// y = y * target / |y| per token (rescales an AltUp stream to the magnitude of another).
void match_magnitude(float* y, int32_t n, int64_t width, const float* target, float* mag) {
  magnitudes(y, n, width, mag);
  for (int32_t t = 0; t < n; ++t)
    for (int64_t i = 0; i < width; ++i) y[t * width + i] = y[t * width + i] * target[t] / mag[t];
}

// AltUp router: tanh(altup_router(rms(x, altup_router_norm) / n_embd)), [n][4].
void router_modalities(runtime::Session& s, const LayerWeights& L, const float* x, float* tmp, float* out) {
  const int64_t d = s.cfg.n_embd;
  runtime::rmsnorm(s, x, tmp, d, L.extra[kAltupRouterNorm]);
  runtime::scale(s, tmp, d, 1.0f / static_cast<float>(d));
  runtime::linear(s, L.extra[kAltupRouter], tmp, out);
  for (int64_t i = 0; i < static_cast<int64_t>(s.n_tokens) * kNAltup; ++i) out[i] = std::tanh(out[i]);
}

// Activation sparsity (llama.cpp's gaussian_topk) per token: relu(g - (mean + 1.645 * std)), std with n - 1.
void gaussian_topk(float* g, int32_t n, int64_t width) {
  for (int32_t t = 0; t < n; ++t) {
    float* r = g + t * width;
    double sum = 0.0;
    for (int64_t i = 0; i < width; ++i) sum += r[i];
    const float mean = static_cast<float>(sum) / static_cast<float>(width);
    double sq = 0.0;
    for (int64_t i = 0; i < width; ++i) {
      const float dlt = r[i] - mean;
      sq += static_cast<double>(dlt * dlt);
    }
    const float sd = std::sqrt(static_cast<float>(sq) * (1.0f / static_cast<float>(width - 1)));
    const float cutoff = mean + sd * kSparsityStdMul;
    for (int64_t i = 0; i < width; ++i) r[i] = std::max(r[i] - cutoff, 0.0f);
  }
}

void forward_gemma3n(runtime::Session& s, int32_t n) {
  using namespace runtime;
  const Config& c = s.cfg;
  const Weights& w = s.model.weights();
  const int64_t d = c.n_embd, nl = c.n_layer, N = n;
  const int64_t rank = w.layers[0].extra[kLaurelL].ne[1];
  const float inv_sqrt2 = 1.0f / std::sqrt(2.0f);

  // Batch buffers, carved from the session's recipe scratch.
  const int64_t nd = N * d;
  const size_t need = static_cast<size_t>(2 * kNAltup * nd + N * nl * kNEmbdAltup + 3 * nd + N * rank +
                                          N * kNEmbdAltup + N * (kNAltup + kNAltup * kNAltup) + 2 * N);
  if (s.scratch_batch.size() < need) s.scratch_batch.resize(need);
  float* p = s.scratch_batch.data();
  auto take = [&](int64_t count) { float* r = p; p += count; return r; };
  float* streams = take(kNAltup * nd);  // [stream][t][d]; stream 0 is the active one
  float* pred = take(kNAltup * nd);     // predictions, same layout
  float* pli = take(N * nl * kNEmbdAltup);  // per-layer inputs [t][layer][256]
  float* tmp = take(nd);
  float* laurel = take(nd);
  float* f = take(nd);
  float* lrank = take(N * rank);
  float* pl = take(N * kNEmbdAltup);
  float* mod = take(N * kNAltup);
  float* coef = take(N * kNAltup * kNAltup);
  float* target = take(N);
  float* mag = take(N);
  // matmul_rows dequantizes one weight row per thread: make room for the 256-wide per-layer rows too.
  const size_t row_floats = static_cast<size_t>(std::max(kNEmbdAltup, rank)) + 64;
  for (auto& sc : s.scratch)
    if (sc.size() < row_floats) sc.resize(row_floats);
  auto stream = [&](float* base, int j) { return base + j * nd; };

  // x0 = token_embd * sqrt(n_embd), in stream 0.
  embed(s, streams, c.embd_scale);

  // Per-layer inputs: (per_layer_token_embd[id] * sqrt(256) + rms(per_layer_model_proj x0 / sqrt(n_embd))) / sqrt(2).
  {
    const int64_t wpl = nl * kNEmbdAltup;
    linear(s, w.extra[kPerLayerModelProj], streams, pli);
    scale(s, pli, wpl, 1.0f / std::sqrt(static_cast<float>(d)));
    rmsnorm_heads(s, pli, static_cast<int32_t>(nl), static_cast<int32_t>(kNEmbdAltup), w.extra[kPerLayerProjNorm]);
    const Tensor& e = w.extra[kPerLayerTokenEmbd];
    std::vector<float> row(static_cast<size_t>(wpl));
    const float emb_scale = std::sqrt(static_cast<float>(kNEmbdAltup));
    for (int32_t t = 0; t < n; ++t) {
      dequantize_row(e.type, e.row(s.batch_tokens[t]), row.data(), wpl);
      float* q = pli + t * wpl;
      for (int64_t i = 0; i < wpl; ++i) q[i] = (row[i] * emb_scale + q[i]) * inv_sqrt2;
    }
  }

  // Streams 1..3: altup_proj_j x0, rescaled to |x0|.
  magnitudes(streams, n, d, target);
  for (int j = 1; j < kNAltup; ++j) {
    linear(s, w.extra[kAltupProj0 + j - 1], streams, stream(streams, j));
    match_magnitude(stream(streams, j), n, d, target, mag);
  }

  for (int32_t il = 0; il < c.n_layer; ++il) {
    const LayerWeights& L = w.layers[il];

    // AltUp predict: pred_r = s_r + sum_k c[r*4 + k] s_k, c = altup_predict_coef(router(s_0)).
    router_modalities(s, L, streams, tmp, mod);
    linear(s, L.extra[kAltupPredictCoef], mod, coef);
    for (int32_t t = 0; t < n; ++t) {
      const float* ct = coef + t * kNAltup * kNAltup;
      for (int r = 0; r < kNAltup; ++r) {
        float* out = stream(pred, r) + t * d;
        for (int64_t i = 0; i < d; ++i) {
          float acc = 0.0f;
          for (int k = 0; k < kNAltup; ++k) acc += stream(streams, k)[t * d + i] * ct[r * kNAltup + k];
          out[i] = acc + stream(streams, r)[t * d + i];
        }
      }
    }
    float* active = stream(pred, kAltupActive);

    // h = rms(active, attn_norm); LAuReL: h + rms(laurel_r(laurel_l h), laurel_post_norm).
    rmsnorm(s, active, s.h.data(), d, L.attn_norm);
    linear(s, L.extra[kLaurelL], s.h.data(), lrank);
    linear(s, L.extra[kLaurelR], lrank, laurel);
    rmsnorm(s, laurel, laurel, d, L.extra[kLaurelPostNorm]);
    add(s, laurel, s.h.data(), d);

    // Attention (scale 1; Q, K per-head normed with weights, V without).
    linear(s, L.wq, s.h.data(), s.q.data());
    rmsnorm_heads(s, s.q.data(), c.n_head, c.head_dim, L.q_norm);
    rope(s, s.q.data(), c.n_head, il);
    const int src = kv_layer(il);
    if (src == il) {
      linear(s, L.wk, s.h.data(), s.k.data());
      linear(s, L.wv, s.h.data(), s.v.data());
      rmsnorm_heads(s, s.k.data(), c.n_head_kv, c.head_dim, L.k_norm);
      rmsnorm_heads(s, s.v.data(), c.n_head_kv, c.head_dim_v, Tensor());
      rope(s, s.k.data(), c.n_head_kv, il);
    }
    // KV sharing: a layer past the sharing point has no K/V of its own and attends over the cache of its
    // source layer (same kind, so same window), which already holds this ubatch's K/V.
    attention(s, src, s.q.data(), src == il ? s.k.data() : nullptr, src == il ? s.v.data() : nullptr, s.att.data());
    linear(s, L.wo, s.att.data(), tmp);
    rmsnorm(s, tmp, tmp, d, L.post_attn_norm);
    add(s, tmp, active, d);
    // a2 = (attn + active + laurel) / sqrt(2), in f.
    for (int64_t i = 0; i < nd; ++i) f[i] = (tmp[i] + laurel[i]) * inv_sqrt2;

    // FFN with activation sparsity on the gate in the first layers.
    rmsnorm(s, f, s.h.data(), d, L.ffn_norm);
    linear(s, L.ffn_up, s.h.data(), s.up.data());
    linear(s, L.ffn_gate, s.h.data(), s.gate.data());
    if (il < kNLayerSparsity) gaussian_topk(s.gate.data(), n, c.n_ff);
    geglu(s, s.gate.data(), s.up.data(), c.n_ff);
    linear(s, L.ffn_down, s.gate.data(), tmp);
    rmsnorm(s, tmp, tmp, d, L.post_ffn_norm);
    add(s, f, tmp, d);

    // AltUp correct: corr_j = pred_j + (altup_correct_coef(router(f)) + 1)_j * (f - pred_0), into streams.
    router_modalities(s, L, f, tmp, mod);
    linear(s, L.extra[kAltupCorrectCoef], mod, coef);
    for (int32_t t = 0; t < n; ++t) {
      const float* ct = coef + t * kNAltup;
      for (int j = 0; j < kNAltup; ++j) {
        const float e = ct[j] + 1.0f;
        float* out = stream(streams, j) + t * d;
        const float* pj = stream(pred, j) + t * d;
        for (int64_t i = 0; i < d; ++i) out[i] = (f[t * d + i] - active[t * d + i]) * e + pj[i];
      }
    }

    // Per-layer input: rms(proj(gelu(inp_gate(corr_0 * altup_correct_scale)) * pli[il]), post_norm),
    // added to streams 1..3.
    {
      const std::vector<float> cs = vector_f32(L.extra[kAltupCorrectScale]);
      for (int32_t t = 0; t < n; ++t)
        for (int64_t i = 0; i < d; ++i) tmp[t * d + i] = streams[t * d + i] * cs[i];
      linear(s, L.extra[kInpGate], tmp, pl);
      for (int32_t t = 0; t < n; ++t) {
        const float* in = pli + (t * nl + il) * kNEmbdAltup;
        float* g = pl + t * kNEmbdAltup;
        for (int64_t i = 0; i < kNEmbdAltup; ++i) g[i] = gelu_tanh_table(g[i]) * in[i];
      }
      linear(s, L.extra[kProj], pl, tmp);
      rmsnorm(s, tmp, tmp, d, L.extra[kPostNorm]);
      for (int j = 1; j < kNAltup; ++j) add(s, stream(streams, j), tmp, d);
    }
  }

  // Merge: x = (s_0 + sum_j unembd_j(s_j) rescaled to |s_0|) / 4, then norm, output, soft-cap.
  magnitudes(streams, n, d, target);
  float* x = s.x.data();
  std::copy(streams, streams + nd, x);
  for (int j = 1; j < kNAltup; ++j) {
    linear(s, w.extra[kAltupUnembdProj0 + j - 1], stream(streams, j), tmp);
    match_magnitude(tmp, n, d, target, mag);
    add(s, x, tmp, d);
  }
  scale(s, x, d, 1.0f / static_cast<float>(kNAltup));
  output_logits(s, x);
}

}  // namespace

extern const Recipe kGemma3nRecipe = {"gemma3n", load_gemma3n, forward_gemma3n};

}  // namespace minnow
