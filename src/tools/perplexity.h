// `minnow perplexity`: perplexity of a model over a text, as llama.cpp's llama-perplexity computes it, and
// the KL divergence of a model against a base model's saved log-probabilities (llama-perplexity's
// --kl-divergence-base / --kl-divergence).
//
// Method (same as llama-perplexity's default mode): the whole text is tokenized once (with BOS when the
// vocab adds one; one trailing '\n' of the file is dropped, as llama.cpp's -f does), cut into
// n_tokens / n_ctx non-overlapping chunks of n_ctx tokens, the first token of every chunk replaced by BOS
// when the vocab adds BOS. Each chunk is evaluated from an empty KV cache; only its second half is scored:
// for j in [n_ctx/2, n_ctx-2] the NLL of token j+1 under the log-softmax (max-subtracted, summed in double)
// of position j's logits. PPL = exp(mean NLL); its ± is PPL * sqrt(var(NLL) / (count-1)). The text must
// tokenize to at least 2 * n_ctx tokens (as llama.cpp requires).
//
// Saved log-probabilities (--save-logits OUT; our own format, not llama.cpp's), little-endian:
//   char[8]  "MNWLOGP1"
//   u32      version = 1
//   u32      dtype: 1 = float16 log-probs (written by default), 0 = float32 log-probs
//   i32      n_ctx, n_vocab, n_chunk, first (= n_ctx/2)
//   i32      tokens[n_chunk * n_ctx]      the text's tokens (before the BOS substitution)
//   then for each chunk, for each scored position j = first .. n_ctx-2 (n_ctx-1-first records):
//     i32    top: the argmax of the logits row (first index on ties)
//     f32    log-prob of the correct next token (exact, for PPL(base) and Δp)
//     n_vocab × (f16|f32) log-probs of the row
// Only scored positions are stored: n_chunk * (n_ctx-1-first) * (8 + 2*n_vocab) bytes with float16.
//
// With --kl-base BASE the tokens come from BASE (a text, when given, must tokenize to the same tokens), the
// context is BASE's, and for every scored position: KLD(base || model) = sum_i q_i (log q_i - log p_i) with q
// the base row renormalized (which cancels the float16 rounding of its scale, so an identical model gives
// KLD ~ 0, never negative), Δp = p_model(correct) - p_base(correct), and whether the two argmax tokens
// agree. Means and ± as llama.cpp's kl-divergence mode: mean ± sqrt(var / (count-1)) (0 when count <= 10);
// RMS Δp = sqrt(mean Δp²) ± 0.5/RMS * unc(Δp²); same-top ± sqrt(f(1-f)/(count-1)); percentiles linearly
// interpolated over the sorted values.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace minnow::tools {

struct PerplexityOptions {
  std::string model;        // GGUF file
  std::string text_file;    // text to score; optional with kl_base (its tokens are in the base file)
  int32_t n_ctx = 0;        // tokens per chunk; 0: 512 (llama.cpp's default) capped at the training context,
                            // or the base file's with kl_base. Must be >= 3 and <= the training context.
  int32_t threads = 0;      // 0: physical cores
  int32_t n_chunks = -1;    // <= 0: all chunks; else at most this many (llama.cpp's --chunks)
  size_t max_bytes = 0;     // 0: the whole text file; else only its first max_bytes bytes (as `head -c`)
  std::string save_logits;  // write the scored positions' log-probabilities here (format above)
  std::string kl_base;      // compare against this saved file instead (not with save_logits)
  bool progress = true;     // per-chunk progress on stderr: "[1]52.1234,[2]..."
};

struct PerplexityResult {
  int32_t n_ctx = 0;
  int32_t n_chunks = 0;      // chunks evaluated
  int64_t n_tokens = 0;      // tokens of the whole text (or of the base file)
  int64_t n_scored = 0;      // scored tokens: n_chunks * (n_ctx - 1 - n_ctx/2)
  double ppl = 0, ppl_err = 0;
  double seconds = 0;        // wall time of the evaluation (excluding model load and tokenization)

  // Filled when kl_base was given.
  bool has_kl = false;
  double ppl_base = 0, ppl_base_err = 0;
  double ln_ratio = 0, ln_ratio_err = 0;  // mean ln(PPL(Q)/PPL(base))
  double ln_ppl_cor = 0;                  // correlation of ln PPL(Q) and ln PPL(base)
  double kld_mean = 0, kld_err = 0;
  double kld_max = 0, kld_p999 = 0, kld_p99 = 0, kld_p90 = 0, kld_median = 0, kld_min = 0;
  double dp_mean = 0, dp_err = 0;         // Δp as fractions (format_result prints percent)
  double dp_max = 0, dp_p99 = 0, dp_median = 0, dp_p1 = 0, dp_min = 0;
  double dp_rms = 0, dp_rms_err = 0;
  double same_top = 0, same_top_err = 0;  // fraction of positions whose argmax agrees
};

// Runs the evaluation. Progress goes to stderr; throws minnow::Error (one line) on bad input: a missing or
// unreadable model/text/base file, n_ctx < 3 or above the model's training context, a text of fewer than
// 2 * n_ctx tokens, a base file that is malformed, truncated, or made with another vocabulary or context.
PerplexityResult perplexity(const PerplexityOptions& opts);

// The final lines for stdout: "Final estimate: PPL = 52.0229 +/- 0.91092" (llama.cpp's format) plus the
// chunk count; with KL, llama.cpp's "Perplexity / KL divergence / Token probability statistics" blocks.
std::string format_result(const PerplexityResult& r);

}  // namespace minnow::tools
