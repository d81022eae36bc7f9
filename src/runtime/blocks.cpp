#include "runtime/blocks.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "common/error.h"
#include "tensor/fp16.h"
#include "tensor/kernels.h"
#include "tensor/matmul.h"

namespace minnow::runtime {

namespace {
// Batches of at least this many tokens take the matrix-product attention path, in chunks of this many tokens.
constexpr int32_t kBatchAttentionTokens = 8;
constexpr int32_t kAttentionChunk = 64;

MatView view(const Tensor& t) {
  MatView m;
  m.type = t.type;
  m.data = t.data;
  m.row_bytes = t.row_bytes;
  m.cols = t.cols();
  m.rows = t.rows();
  m.packed = t.packed;
  return m;
}

// A small weight vector (norm weights, biases) as float: F32 in practice; dequantized when not.
const float* as_f32(Session& s, const Tensor& t, std::vector<float>& buf) {
  if (t.type == DType::F32) return reinterpret_cast<const float*>(t.data);
  buf.resize(static_cast<size_t>(t.cols() * t.rows()));
  dequantize_row(t.type, t.data, buf.data(), t.cols() * t.rows());
  return buf.data();
}
}  // namespace

void embed(Session& s, float* x, float scale) {
  const Tensor& e = s.model.weights().token_embd;
  const int64_t d = e.cols();
  for (int32_t t = 0; t < s.n_tokens; ++t) {
    float* out = x + t * d;
    tensor_row(e, s.batch_tokens[t], out);
    if (scale != 1.0f)
      for (int64_t i = 0; i < d; ++i) out[i] *= scale;
  }
}

static void rmsnorm_row(const float* x, float* out, int64_t n, const float* w, float eps) {
  // As ggml: sum of squares in double, scale computed in float.
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i] * x[i]);
  const float mean = static_cast<float>(sum / static_cast<double>(n));
  const float scale = 1.0f / std::sqrt(mean + eps);
  if (w)
    for (int64_t i = 0; i < n; ++i) out[i] = (x[i] * scale) * w[i];
  else
    for (int64_t i = 0; i < n; ++i) out[i] = x[i] * scale;
}

void rmsnorm(Session& s, const float* x, float* out, int64_t width, const Tensor& w) {
  std::vector<float> buf;
  const float* wf = w ? as_f32(s, w, buf) : nullptr;
  auto job = [&](int64_t t0, int64_t t1, int) {
    for (int64_t t = t0; t < t1; ++t) rmsnorm_row(x + t * width, out + t * width, width, wf, s.cfg.rms_eps);
  };
  if (s.n_tokens >= 4) s.pool.parallel_for(s.n_tokens, job);
  else job(0, s.n_tokens, 0);
}

void rmsnorm_heads(Session& s, float* x, int32_t n_heads, int32_t head_dim, const Tensor& w) {
  std::vector<float> buf;
  const float* wf = w ? as_f32(s, w, buf) : nullptr;
  const int64_t rows = static_cast<int64_t>(s.n_tokens) * n_heads;
  for (int64_t r = 0; r < rows; ++r) rmsnorm_row(x + r * head_dim, x + r * head_dim, head_dim, wf, s.cfg.rms_eps);
}

void linear(Session& s, const Tensor& w, const float* x, float* out, const Tensor& bias) {
  const MatView m = view(w);
  const int64_t n_tok = s.n_tokens;
  if (s.observer && out != s.logits_out) s.observer(w, x, n_tok);
  const Kernel k = w.packed ? packed_kernel_for(w.type) : kernel_for(w.type);
  const void* act = x;
  size_t stride = static_cast<size_t>(m.cols) * sizeof(float);
  if (k.int_act) {
    // Quantize the activations once per batch; every weight row then reuses them.
    stride = act_row_bytes(m.cols);
    if (s.act_q.size() < stride * n_tok) s.act_q.resize(stride * n_tok);
    const QuantizeActFn quantize = quantize_act_for(k.isa);
    uint8_t* aq = s.act_q.data();
    auto qjob = [&](int64_t t0, int64_t t1, int) {
      for (int64_t t = t0; t < t1; ++t) quantize(x + t * m.cols, m.cols, aq + t * stride, k.act_kind);
    };
    if (n_tok >= 4) s.pool.parallel_for(n_tok, qjob);
    else qjob(0, n_tok, 0);
    act = aq;
  }
  auto job = [&](int64_t r0, int64_t r1, int) { k.gemm(m, act, stride, n_tok, out, m.rows, r0, r1); };
  s.pool.parallel_for(m.rows, job, 16);
  if (bias) {
    std::vector<float> buf;
    const float* b = as_f32(s, bias, buf);
    for (int64_t t = 0; t < n_tok; ++t)
      for (int64_t r = 0; r < m.rows; ++r) out[t * m.rows + r] += b[r];
  }
}

void rope(Session& s, float* x, int32_t n_heads, int32_t layer) {
  const Config& c = s.cfg;
  const LayerConfig& lc = c.layers[layer];
  if (!lc.use_rope || c.n_rot == 0) return;
  const int32_t hd = c.head_dim;
  const int32_t n_rot = c.n_rot;
  std::vector<float> ffbuf;
  const Weights& w = s.model.weights();
  // Llama-3 rope_freqs, or LongRoPE's long/short factors chosen by the context size (as llama.cpp:
  // long when the context exceeds the original training context).
  const Tensor& ff = w.rope_freqs                                   ? w.rope_freqs
                     : (w.rope_factors_long && s.n_ctx() > c.n_ctx_orig) ? w.rope_factors_long
                                                                       : w.rope_factors_short;
  const float* freq_factors = ff ? as_f32(s, ff, ffbuf) : nullptr;
  const float mscale = c.rope_attn_factor;
  // Same float recurrence as ggml's rope cache: theta_i = p * base^(-2i/n_rot), divided by freq factor,
  // times freq_scale (linear scaling). No YaRN here (ext_factor 0).
  const float theta_scale = std::pow(lc.rope_freq_base, -2.0f / static_cast<float>(n_rot));
  thread_local std::vector<float> cs;  // reused: no allocation per token
  cs.resize(static_cast<size_t>(n_rot));
  for (int32_t t = 0; t < s.n_tokens; ++t) {
    float theta = static_cast<float>(s.pos0 + t);
    for (int32_t i0 = 0; i0 < n_rot; i0 += 2) {
      const float f = freq_factors ? freq_factors[i0 / 2] : 1.0f;
      const float th = lc.rope_freq_scale * (theta / f);
      cs[i0] = std::cos(th) * mscale;
      cs[i0 + 1] = std::sin(th) * mscale;
      theta *= theta_scale;
    }
    for (int32_t h = 0; h < n_heads; ++h) {
      float* v = x + (static_cast<int64_t>(t) * n_heads + h) * hd;
      if (c.rope_type == RopeType::Norm) {
        for (int32_t i0 = 0; i0 < n_rot; i0 += 2) {
          const float x0 = v[i0], x1 = v[i0 + 1];
          v[i0] = x0 * cs[i0] - x1 * cs[i0 + 1];
          v[i0 + 1] = x0 * cs[i0 + 1] + x1 * cs[i0];
        }
      } else {
        const int32_t half = n_rot / 2;
        for (int32_t i0 = 0; i0 < n_rot; i0 += 2) {
          const int32_t i = i0 / 2;
          const float x0 = v[i], x1 = v[i + half];
          v[i] = x0 * cs[i0] - x1 * cs[i0 + 1];
          v[i + half] = x0 * cs[i0 + 1] + x1 * cs[i0];
        }
      }
    }
  }
}

namespace {
struct AttnParams {
  int32_t hd, hdv, group, window;
  float scale, softcap, inv_cap;
};

// Scores of one query row over positions first..pos of the cache, softmaxed; returns the normaliser 1/sum.
float softmax_row(float* sc, int32_t n, const AttnParams& a) {
  float mx = -INFINITY;
  for (int32_t i = 0; i < n; ++i) {
    float v = sc[i] * a.scale;
    if (a.softcap > 0.0f) v = std::tanh(v * a.inv_cap) * a.softcap;
    sc[i] = v;
    mx = std::max(mx, v);
  }
  return 1.0f / vec_ops().exp_sum(sc, n, mx);
}

// Prefill: for one KV head and a chunk of tokens, scores = Q K^T and out = P V as two matrix products
// through the same kernels as the weights (the keys, and the values transposed, play the weight matrix),
// so each cached K/V row is read once per chunk instead of once per query head and token.
void attention_chunk(Session& s, int32_t layer, const float* q, float* out, int32_t kvh, int32_t t0, int32_t t1,
                     const AttnParams& a) {
  const Config& c = s.cfg;
  const int32_t pos_first = s.pos0 + t0, pos_last = s.pos0 + t1 - 1;
  const int32_t p_lo = a.window > 0 ? std::max(0, pos_first - a.window + 1) : 0;
  const int32_t n_pos = pos_last - p_lo + 1;
  const int32_t n_q = (t1 - t0) * a.group;
  const DType kv_type = s.kv.type();
  const size_t es = kv_type == DType::F16 ? 2 : 4;
  thread_local std::vector<uint8_t> keys;
  thread_local std::vector<float> vt, qs, scores, o;
  keys.resize(static_cast<size_t>(n_pos) * a.hd * es);
  vt.resize(static_cast<size_t>(a.hdv) * n_pos);
  qs.resize(static_cast<size_t>(n_q) * a.hd);
  scores.resize(static_cast<size_t>(n_q) * n_pos);
  o.resize(static_cast<size_t>(n_q) * a.hdv);
  for (int32_t p = 0; p < n_pos; ++p) {
    const auto* kr = static_cast<const uint8_t*>(s.kv.k(layer, p_lo + p)) + static_cast<size_t>(kvh) * a.hd * es;
    std::memcpy(keys.data() + static_cast<size_t>(p) * a.hd * es, kr, a.hd * es);
    const void* vr = s.kv.v(layer, p_lo + p);
    for (int32_t i = 0; i < a.hdv; ++i)
      vt[static_cast<size_t>(i) * n_pos + p] =
          kv_type == DType::F16 ? fp16_to_f32(static_cast<const uint16_t*>(vr)[kvh * a.hdv + i])
                                : static_cast<const float*>(vr)[kvh * a.hdv + i];
  }
  for (int32_t t = t0; t < t1; ++t)
    std::memcpy(qs.data() + static_cast<size_t>(t - t0) * a.group * a.hd,
                q + (static_cast<int64_t>(t) * c.n_head + kvh * a.group) * a.hd, sizeof(float) * a.group * a.hd);
  MatView km{kv_type, keys.data(), a.hd * es, a.hd, n_pos};
  const Kernel kk = kernel_for(kv_type);
  kk.gemm(km, qs.data(), sizeof(float) * a.hd, n_q, scores.data(), n_pos, 0, n_pos);
  for (int32_t i = 0; i < n_q; ++i) {
    const int32_t pos = pos_first + i / a.group;
    const int32_t first = a.window > 0 ? std::max(0, pos - a.window + 1) : 0;
    float* row = scores.data() + static_cast<size_t>(i) * n_pos;
    const int32_t lo = first - p_lo, n = pos - first + 1;
    const float inv = softmax_row(row + lo, n, a);
    for (int32_t p = 0; p < lo; ++p) row[p] = 0.0f;
    for (int32_t p = lo; p < lo + n; ++p) row[p] *= inv;
    for (int32_t p = lo + n; p < n_pos; ++p) row[p] = 0.0f;
  }
  MatView vm{DType::F32, reinterpret_cast<const uint8_t*>(vt.data()), sizeof(float) * n_pos, n_pos, a.hdv};
  kernel_for(DType::F32).gemm(vm, scores.data(), sizeof(float) * n_pos, n_q, o.data(), a.hdv, 0, a.hdv);
  for (int32_t t = t0; t < t1; ++t)
    std::memcpy(out + (static_cast<int64_t>(t) * c.n_head + kvh * a.group) * a.hdv,
                o.data() + static_cast<size_t>(t - t0) * a.group * a.hdv, sizeof(float) * a.group * a.hdv);
}
}  // namespace

void attention(Session& s, int32_t layer, const float* q, const float* k, const float* v, float* out) {
  const Config& c = s.cfg;
  const int32_t nk = c.n_embd_k(), nv = c.n_embd_v(), hd = c.head_dim, hdv = c.head_dim_v;
  if (k)
    for (int32_t t = 0; t < s.n_tokens; ++t)
      s.kv.store(layer, s.pos0 + t, k + static_cast<int64_t>(t) * nk, v + static_cast<int64_t>(t) * nv);
  const bool f16 = s.kv.type() == DType::F16;
  const VecOps& ops = vec_ops();
  AttnParams a;
  a.hd = hd;
  a.hdv = hdv;
  a.scale = c.attn_scale_on_q ? 1.0f : c.attn_scale != 0.0f ? c.attn_scale : 1.0f / std::sqrt(static_cast<float>(hd));
  a.group = c.n_head / c.n_head_kv;
  a.window = c.layers[layer].sliding_window;
  a.softcap = c.attn_softcap;
  a.inv_cap = a.softcap > 0.0f ? 1.0f / a.softcap : 0.0f;
  if (s.n_tokens >= kBatchAttentionTokens) {
    const int32_t chunks = (s.n_tokens + kAttentionChunk - 1) / kAttentionChunk;
    auto job = [&](int64_t j0, int64_t j1, int) {
      for (int64_t j = j0; j < j1; ++j) {
        const int32_t kvh = static_cast<int32_t>(j % c.n_head_kv), ch = static_cast<int32_t>(j / c.n_head_kv);
        attention_chunk(s, layer, q, out, kvh, ch * kAttentionChunk, std::min(s.n_tokens, (ch + 1) * kAttentionChunk), a);
      }
    };
    s.pool.parallel_for(static_cast<int64_t>(chunks) * c.n_head_kv, job);
    return;
  }
  const int64_t n_jobs = static_cast<int64_t>(s.n_tokens) * c.n_head;
  auto job = [&](int64_t j0, int64_t j1, int ti) {
    float* scores = s.scratch[ti].data();
    for (int64_t j = j0; j < j1; ++j) {
      const int32_t t = static_cast<int32_t>(j / c.n_head), h = static_cast<int32_t>(j % c.n_head);
      const int32_t kvh = h / a.group;
      const int32_t pos = s.pos0 + t;
      const int32_t first = a.window > 0 ? std::max(0, pos - a.window + 1) : 0;
      const float* qh = q + (static_cast<int64_t>(t) * c.n_head + h) * hd;
      for (int32_t p = first; p <= pos; ++p)
        scores[p - first] = f16 ? ops.dot_f16(qh, static_cast<const uint16_t*>(s.kv.k(layer, p)) + kvh * hd, hd)
                                : dot_f32(qh, static_cast<const float*>(s.kv.k(layer, p)) + kvh * hd, hd);
      const float inv = softmax_row(scores, pos - first + 1, a);
      float* o = out + (static_cast<int64_t>(t) * c.n_head + h) * hdv;
      std::fill(o, o + hdv, 0.0f);
      for (int32_t p = first; p <= pos; ++p) {
        const float w = scores[p - first] * inv;
        if (f16) {
          ops.axpy_f16(w, static_cast<const uint16_t*>(s.kv.v(layer, p)) + kvh * hdv, o, hdv);
        } else {
          const float* vp = static_cast<const float*>(s.kv.v(layer, p)) + kvh * hdv;
          for (int32_t i = 0; i < hdv; ++i) o[i] += w * vp[i];
        }
      }
    }
  };
  s.pool.parallel_for(n_jobs, job);
}

float gelu_tanh_table(float x) {
  static const std::vector<uint16_t> table = [] {
    std::vector<uint16_t> t(65536);
    for (uint32_t i = 0; i < 65536; ++i) {
      const float f = fp16_to_f32(static_cast<uint16_t>(i));
      const float g = 0.5f * f * (1.0f + std::tanh(0.79788456080286535587989211986876f * f * (1.0f + 0.044715f * f * f)));
      t[i] = f32_to_fp16(g);
    }
    return t;
  }();
  if (x <= -10.0f) return 0.0f;
  if (x >= 10.0f) return x;
  return fp16_to_f32(table[f32_to_fp16(x)]);
}

void geglu(Session& s, float* gate, const float* up, int64_t width) {
  auto job = [&](int64_t i0, int64_t i1, int) {
    for (int64_t i = i0; i < i1; ++i) gate[i] = gelu_tanh_table(gate[i]) * up[i];
  };
  s.pool.parallel_for(width * s.n_tokens, job, 64);
}

void glu(Session& s, float* gate, const float* up, int64_t width) {
  if (s.cfg.ffn_act == Activation::GeluTanh) geglu(s, gate, up, width);
  else swiglu(s, gate, up, width);
}

void softcap(float* x, int64_t n, float cap) {
  const float inv = 1.0f / cap;  // as ggml: scale by 1/cap, tanh, scale by cap
  for (int64_t i = 0; i < n; ++i) x[i] = std::tanh(x[i] * inv) * cap;
}

void scale(Session& s, float* x, int64_t width, float factor) {
  const int64_t n = width * s.n_tokens;
  for (int64_t i = 0; i < n; ++i) x[i] *= factor;
}

void split3(Session& s, const float* fused, int64_t a, int64_t b, int64_t c, float* out_a, float* out_b, float* out_c) {
  const int64_t w = a + b + c;
  for (int64_t t = 0; t < s.n_tokens; ++t) {
    const float* row = fused + t * w;
    std::copy(row, row + a, out_a + t * a);
    std::copy(row + a, row + a + b, out_b + t * b);
    if (out_c) std::copy(row + a + b, row + w, out_c + t * c);
  }
}

void swiglu(Session& s, float* gate, const float* up, int64_t width) {
  const VecOps& ops = vec_ops();
  auto job = [&](int64_t i0, int64_t i1, int) { ops.silu_mul(gate + i0, up + i0, i1 - i0); };
  s.pool.parallel_for(width * s.n_tokens, job, 64);
}

void add(Session& s, float* x, const float* y, int64_t width) {
  const int64_t n = width * s.n_tokens;
  for (int64_t i = 0; i < n; ++i) x[i] += y[i];
}

void output_logits(Session& s, float* x) {
  if (!s.logits_out) return;  // an inner ubatch whose logits nobody asked for
  const Weights& w = s.model.weights();
  const int64_t d = s.cfg.n_embd;
  const int32_t first = s.want_all_logits ? 0 : s.n_tokens - 1;
  // Norm and project only the rows whose logits are wanted.
  const int32_t saved_n = s.n_tokens;
  s.n_tokens = saved_n - first;
  float* rows = x + static_cast<int64_t>(first) * d;
  rmsnorm(s, rows, rows, d, w.output_norm);
  linear(s, w.output, rows, s.logits_out);
  if (s.cfg.final_softcap > 0.0f) softcap(s.logits_out, static_cast<int64_t>(s.n_tokens) * s.cfg.n_vocab, s.cfg.final_softcap);
  s.n_tokens = saved_n;
}

}  // namespace minnow::runtime
