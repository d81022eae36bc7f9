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
// Writes this batch's K/V into the cache, then out[t] = softmax(q.K^T * scale + causal/window mask) V.
void attention(Session& s, int32_t layer, const float* q, const float* k, const float* v, float* out);
// gate[i] = silu(gate[i]) * up[i]
void swiglu(Session& s, float* gate, const float* up, int64_t width);
// x[i] += y[i]
void add(Session& s, float* x, const float* y, int64_t width);
// Final norm and output projection; fills s.logits for the last token or every token.
void output_logits(Session& s, float* x);

}  // namespace minnow::runtime
