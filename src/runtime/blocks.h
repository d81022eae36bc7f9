// The shared building blocks that architecture recipes are written with. Each works on a whole batch
// ([n_tokens][width] row-major activations) and uses the session's thread pool.
#pragma once
#include <cstdint>

#include "model/model.h"
#include "runtime/session.h"

namespace minnow::runtime {

// x[t] = token_embd[tokens[t]] * scale
void embed(Session& s, float* x, float scale = 1.0f);
// out[t] = x[t] / rms(x[t]) * w   (w may be empty: no weight)
void rmsnorm(Session& s, const float* x, float* out, int64_t width, const Tensor& w);
// Per-head RMS norm in place: x is [n_tokens][n_heads * head_dim], w is [head_dim].
void rmsnorm_heads(Session& s, float* x, int32_t n_heads, int32_t head_dim, const Tensor& w);
// out[t] = W x[t] (+ bias). out is [n_tokens][W.rows()].
void linear(Session& s, const Tensor& w, const float* x, float* out, const Tensor& bias = Tensor());
// Rotary embedding in place on [n_tokens][n_heads * head_dim] at positions pos0 + t.
void rope(Session& s, float* x, int32_t n_heads, int32_t layer);
// Writes this batch's K/V into the cache (unless k is null: a layer reusing another layer's cache), then
// out[t] = softmax(q.K^T * scale + causal/window mask) V over the cache of `layer`.
void attention(Session& s, int32_t layer, const float* q, const float* k, const float* v, float* out);
// gate[i] = silu(gate[i]) * up[i]
void swiglu(Session& s, float* gate, const float* up, int64_t width);
// gate[i] = gelu_tanh(gate[i]) * up[i], through ggml's fp16 GELU table (see gelu_tanh_table)
void geglu(Session& s, float* gate, const float* up, int64_t width);
// The configured gated activation (cfg.ffn_act).
void glu(Session& s, float* gate, const float* up, int64_t width);
// ggml's CPU GELU: for |x| < 10, fp16(gelu_tanh(fp16(x))); 0 below -10; x above 10.
float gelu_tanh_table(float x);
// x = cap * tanh(x / cap)
void softcap(float* x, int64_t n, float cap);
// x[t] *= scale for the whole batch of rows of `width`
void scale(Session& s, float* x, int64_t width, float factor);
// Split fused rows [n_tokens][a + b + c] into three [n_tokens][a], [b], [c] buffers.
void split3(Session& s, const float* fused, int64_t a, int64_t b, int64_t c, float* out_a, float* out_b, float* out_c);
// x[i] += y[i]
void add(Session& s, float* x, const float* y, int64_t width);
// Final norm and output projection; fills s.logits for the last token or every token.
void output_logits(Session& s, float* x);

}  // namespace minnow::runtime
