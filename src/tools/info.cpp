#include "tools/info.h"

#include <cstdio>
#include <map>

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
  auto model = Model::load(path, vocab_only);
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
    const LayerConfig& l0 = c.layers[0];
    s += cat("rope:           ", c.rope_type == RopeType::Norm ? "normal (adjacent pairs)" : "neox (halves)", ", ",
             c.n_rot, " of ", c.head_dim, " dims, base ", l0.rope_freq_base);
    if (l0.rope_freq_scale != 1.0f) s += cat(", linear scaling x", 1.0f / l0.rope_freq_scale);
    if (model->weights().rope_freqs) s += ", per-dim frequency factors (rope_freqs, Llama-3 scaling)";
    s += "\n";
    const Weights& w = model->weights();
    std::string features;
    if (w.output.data == w.token_embd.data) features += "tied output embedding; ";
    if (!w.layers.empty() && w.layers[0].bq) features += "q/k/v biases; ";
    if (!features.empty()) s += cat("features:       ", features.substr(0, features.size() - 2), "\n");
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
