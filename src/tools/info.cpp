#include "tools/info.h"

#include <cstdio>
#include <map>
#include <vector>

#include "common/error.h"
#include "model/model.h"

namespace minnow::tools {

namespace {
std::string human_count(double n) {
  char buf[64];
  if (n >= 1e9) std::snprintf(buf, sizeof buf, "%.2fB", n / 1e9);
  else if (n >= 1e6) std::snprintf(buf, sizeof buf, "%.2fM", n / 1e6);
  else if (n >= 1e3) std::snprintf(buf, sizeof buf, "%.1fK", n / 1e3);
  else std::snprintf(buf, sizeof buf, "%.0f", n);
  return buf;
}
std::string mib(double bytes) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f MiB", bytes / (1024.0 * 1024.0));
  return buf;
}
}  // namespace

std::string describe_gguf(const std::string& path) {
  // Probe the file first: a vocab-only GGUF (no tensors) is described without weights.
  bool vocab_only = false;
  {
    auto f = gguf::File::open(path);
    vocab_only = f->tensors().empty();
  }
  auto model = Model::load(path, vocab_only, /*repack=*/false);  // described, not run
  const gguf::File& f = model->file();
  const Config& c = model->config();
  const Tokenizer& tok = model->tokenizer();

  std::string s;
  s += cat("file:           ", path, " (GGUF v", f.version(), ", ", mib(static_cast<double>(f.file_size())), ")\n");
  if (!c.name.empty()) s += cat("name:           ", c.name, "\n");
  s += cat("architecture:   ", c.arch, vocab_only ? " (vocab only)" : "", "\n");
  if (!vocab_only) {
    s += cat("hyper-params:   n_embd ", c.n_embd, ", n_layer ", c.n_layer, ", n_head ", c.n_head, ", n_head_kv ",
             c.n_head_kv, ", head_dim ", c.head_dim, ", n_ff ", c.n_ff, ", n_vocab ", c.n_vocab, ", n_ctx_train ",
             c.n_ctx_train, "\n");
    s += cat("attention:      ", c.n_head == c.n_head_kv ? "MHA" : cat("GQA ", c.n_head / c.n_head_kv, ":1"),
             ", rms_eps ", c.rms_eps, "\n");
    // rope: describe the global layers' settings, then per-layer exceptions
    const LayerConfig* global = &c.layers[0];
    for (const auto& l : c.layers)
      if (l.sliding_window == 0) { global = &l; break; }
    s += cat("rope:           ", c.rope_type == RopeType::Norm ? "normal (adjacent pairs)" : "neox (halves)", ", ",
             c.n_rot, " of ", c.head_dim, " dims", c.n_rot < c.head_dim ? " (partial rotary)" : "", ", base ",
             global->rope_freq_base);
    if (global->rope_freq_scale != 1.0f) s += cat(", linear scaling x", 1.0f / global->rope_freq_scale);
    s += "\n";
    const Weights& w = model->weights();
    std::vector<std::string> f;
    if (w.rope_freqs) f.push_back("Llama-3 rope scaling (rope_freqs)");
    if (w.rope_factors_long || w.rope_factors_short)
      f.push_back(cat("LongRoPE (long/short factors, original context ", c.n_ctx_orig, ", attn factor ",
                      c.rope_attn_factor, ")"));
    std::string nope;
    for (size_t il = 0; il < c.layers.size(); ++il)
      if (!c.layers[il].use_rope) nope += (nope.empty() ? "" : ",") + std::to_string(il);
    if (!nope.empty()) f.push_back(cat("no rope (NoPE) on layers ", nope, " of ", c.n_layer));
    const std::string swa = c.sliding_window_summary();
    if (!swa.empty()) {
      std::string line = swa;
      for (const auto& l : c.layers)
        if (l.sliding_window > 0 && (l.rope_freq_base != global->rope_freq_base || l.rope_freq_scale != global->rope_freq_scale)) {
          line += cat(" (local rope base ", l.rope_freq_base, l.rope_freq_scale != 1.0f ? ", scaled" : "", ")");
          break;
        }
      f.push_back(line);
    }
    if (c.arch == "phi3" && f.size() && model->file().find("phi3.attention.sliding_window"))
      f.push_back("attention.sliding_window in metadata is not applied (as llama.cpp does for phi3)");
    if (w.output.data == w.token_embd.data) f.push_back("tied output embedding");
    if (!w.layers.empty()) {
      const LayerWeights& L = w.layers[0];
      if (L.bq) f.push_back("q/k/v biases");
      if (L.wqkv) f.push_back("fused qkv projection");
      if (L.ffn_up_fused) f.push_back("fused gate+up projection");
      if (L.q_norm) f.push_back("per-head q/k RMS norms");
      if (L.post_attn_norm) f.push_back("post-attention and post-FFN norms");
    }
    if (c.embd_scale != 1.0f) f.push_back(cat("embeddings scaled by ", c.embd_scale));
    if (c.ffn_act == Activation::GeluTanh) f.push_back("GELU (tanh) gated FFN");
    else f.push_back("SwiGLU FFN");
    if (c.attn_softcap > 0) f.push_back(cat("attention logit soft-cap ", c.attn_softcap));
    if (c.final_softcap > 0) f.push_back(cat("final logit soft-cap ", c.final_softcap));
    for (size_t i = 0; i < f.size(); ++i) s += cat(i == 0 ? "features:       " : "                ", f[i], "\n");
  }
  s += cat("tokenizer:      ", tok.kind(), ", ", tok.n_vocab(), " tokens, bos ", tok.bos_id(), ", eos ", tok.eos_id(),
           ", add_bos ", tok.add_bos() ? "yes" : "no", "\n");

  std::map<std::string, int> by_type;
  double params = 0, bytes = 0;
  for (const auto& t : f.tensors()) {
    by_type[type_name(t.type)]++;
    params += static_cast<double>(t.n_elements());
    bytes += static_cast<double>(t.n_bytes);
  }
  std::string types;
  for (const auto& [name, n] : by_type) types += cat(types.empty() ? "" : ", ", name, ": ", n);
  s += cat("tensors:        ", f.tensors().size(), by_type.empty() ? "" : " (" + types + ")", "\n");
  if (params > 0) {
    char bpw[32];
    std::snprintf(bpw, sizeof bpw, "%.2f", bytes * 8.0 / params);
    s += cat("parameters:     ", human_count(params), " (", static_cast<uint64_t>(params), ")\n");
    s += cat("weights size:   ", mib(bytes), ", ", bpw, " bits per weight\n");
  }
  return s;
}

}  // namespace minnow::tools
