#include "model/model.h"

#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <map>
#include <thread>

#include "common/error.h"
#include "tensor/repack.h"

namespace minnow {

// Every architecture recipe is defined in its own file (model/<family>.cpp) and listed here.
extern const Recipe kLlamaRecipe;
extern const Recipe kQwen2Recipe;
extern const Recipe kQwen3Recipe;
extern const Recipe kSmolLM3Recipe;
extern const Recipe kPhi3Recipe;
extern const Recipe kGemma2Recipe;
extern const Recipe kGemma3Recipe;
extern const Recipe kGemma3nRecipe;

static const Recipe* const kRecipes[] = {&kLlamaRecipe, &kQwen2Recipe, &kQwen3Recipe, &kSmolLM3Recipe,
                                         &kPhi3Recipe,  &kGemma2Recipe, &kGemma3Recipe,
                                         &kGemma3nRecipe};

const Recipe* find_recipe(const std::string& arch) {
  for (const Recipe* r : kRecipes)
    if (arch == r->arch) return r;
  return nullptr;
}

std::vector<std::string> supported_architectures() {
  std::vector<std::string> v;
  for (const Recipe* r : kRecipes) v.emplace_back(r->arch);
  return v;
}

std::unique_ptr<Model> Model::load(const std::string& path, bool vocab_only, bool repack) {
  std::unique_ptr<Model> m(new Model());
  m->file_ = gguf::File::open(path);
  const gguf::File& f = *m->file_;
  m->config_.arch = f.get_string("general.architecture");
  if (m->config_.arch.empty()) fail(path, ": metadata 'general.architecture' is missing");
  m->config_.name = f.get_string("general.name", "");
  m->tokenizer_ = Tokenizer::from_gguf(f);
  if (vocab_only) return m;

  m->recipe_ = find_recipe(m->config_.arch);
  if (!m->recipe_) {
    std::string list;
    for (const auto& a : supported_architectures()) list += (list.empty() ? "" : ", ") + a;
    fail(path, ": unknown architecture '", m->config_.arch, "' (supported: ", list, ")");
  }
  m->recipe_->load(*m);
  if (m->config_.n_vocab != m->tokenizer_->n_vocab())
    fail(path, ": token_embd has ", m->config_.n_vocab, " rows but the tokenizer has ", m->tokenizer_->n_vocab(),
         " tokens");
  if (repack) m->repack_weights();
  return m;
}

struct Model::PackedBuffer {
  void* p;
  size_t n;
};
void Model::PackedDeleter::operator()(PackedBuffer* b) const {
  munmap(b->p, b->n);
  delete b;
}

void tensor_row(const Tensor& t, int64_t r, float* out) {
  if (t.packed) dequantize_packed_row(t.type, t.data, t.cols(), r, out);
  else dequantize_row(t.type, t.row(r), out, t.cols());
}

// Reads the file with pread into a small buffer rather than through the mapping: touching 1 GB of mapped
// pages costs a page fault per 4 KiB (most of the load time, measured), and the mapped copy then never enters
// this process's memory. (Asking for huge pages for the destination measured no faster, load or decode.)
void Model::repack_weights() {
  std::vector<Tensor*> mats = {&weights_.token_embd, &weights_.output};
  for (LayerWeights& L : weights_.layers)
    for (Tensor* t : {&L.wq, &L.wk, &L.wv, &L.wo, &L.wqkv, &L.ffn_gate, &L.ffn_up, &L.ffn_down}) mats.push_back(t);
  std::map<const uint8_t*, const uint8_t*> done;  // original -> packed (a tied output shares its embedding's)
  const unsigned n_threads = std::max(1u, std::min(8u, std::thread::hardware_concurrency()));
  for (Tensor* t : mats) {
    if (!*t || t->packed || !repack_supported(t->type, t->rows(), t->cols())) continue;
    const uint8_t* original = t->data;
    auto it = done.find(original);
    if (it == done.end()) {
      const size_t bytes = packed_bytes(t->type, t->rows(), t->cols());
      void* mem = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (mem == MAP_FAILED) fail(file_->path(), ": out of memory repacking '", t->name(), "' (", bytes, " bytes)");
      packed_.emplace_back(new PackedBuffer{mem, bytes});
      auto* dst = static_cast<uint8_t*>(mem);
      const int64_t groups = t->rows() / kPackRows;
      const size_t group_in = t->row_bytes * kPackRows, group_out = bytes / static_cast<size_t>(groups);
      constexpr int64_t kChunk = 16;  // row groups per read (256 rows)
      std::vector<std::thread> pool;
      std::atomic<bool> failed{false};
      for (unsigned k = 0; k < n_threads; ++k) {
        const int64_t g0 = groups * k / n_threads, g1 = groups * (k + 1) / n_threads;
        pool.emplace_back([&, g0, g1] {
          std::vector<uint8_t> buf(group_in * kChunk);
          for (int64_t g = g0; g < g1 && !failed; g += kChunk) {
            const int64_t n = std::min(kChunk, g1 - g);
            if (!file_->read_at(original + g * group_in, group_in * n, buf.data())) failed = true;
            else repack_rows(t->type, buf.data(), t->row_bytes, t->cols(), 0, n, dst + g * group_out);
          }
        });
      }
      for (auto& th : pool) th.join();
      if (failed) fail(file_->path(), ": read error while repacking '", t->name(), "'");
      it = done.emplace(original, dst).first;
    }
    t->data = it->second;
    t->packed = true;
  }
}

uint64_t Model::arch_uint(const std::string& key, uint64_t fallback) const {
  return file_->get_uint(config_.arch + "." + key, fallback);
}
uint64_t Model::arch_require_uint(const std::string& key) const {
  return file_->require_uint(config_.arch + "." + key);
}
double Model::arch_float(const std::string& key, double fallback) const {
  return file_->get_float(config_.arch + "." + key, fallback);
}

void Model::read_common_config() {
  Config& c = config_;
  const std::string& p = file_->path();
  // Bounds keep every later size computation far from overflow and every allocation sane.
  auto bounded = [&](const char* key, uint64_t v, uint64_t lo, uint64_t hi) {
    if (v < lo || v > hi) fail(p, ": ", c.arch, ".", key, " = ", v, " is out of range [", lo, ", ", hi, "]");
    return static_cast<int32_t>(v);
  };
  c.n_embd = bounded("embedding_length", arch_require_uint("embedding_length"), 1, 1 << 16);
  c.n_layer = bounded("block_count", arch_require_uint("block_count"), 1, 1024);
  c.n_head = bounded("attention.head_count", arch_require_uint("attention.head_count"), 1, 1024);
  c.n_head_kv = bounded("attention.head_count_kv", arch_uint("attention.head_count_kv", c.n_head), 1, 1024);
  c.n_ff = bounded("feed_forward_length", arch_require_uint("feed_forward_length"), 1, 1 << 20);
  c.n_ctx_train = bounded("context_length", arch_uint("context_length", 2048), 1, 1 << 24);
  if (c.n_head % c.n_head_kv != 0)
    fail(p, ": head_count ", c.n_head, " is not a multiple of head_count_kv ", c.n_head_kv);
  if (c.n_embd % c.n_head != 0 && !file_->find(c.arch + ".attention.key_length"))
    fail(p, ": embedding_length ", c.n_embd, " is not a multiple of head_count ", c.n_head,
         " and attention.key_length is not set");
  const uint64_t default_hd = c.n_embd / c.n_head;
  c.head_dim = bounded("attention.key_length", arch_uint("attention.key_length", default_hd), 1, 4096);
  c.head_dim_v = bounded("attention.value_length", arch_uint("attention.value_length", c.head_dim), 1, 4096);
  c.n_rot = bounded("rope.dimension_count", arch_uint("rope.dimension_count", c.head_dim), 0, c.head_dim);
  if (c.n_rot % 2 != 0) fail(p, ": rope.dimension_count ", c.n_rot, " must be even");
  c.rms_eps = static_cast<float>(arch_float("attention.layer_norm_rms_epsilon", 1e-5));
  if (!(c.rms_eps > 0.0f) || !std::isfinite(c.rms_eps)) fail(p, ": attention.layer_norm_rms_epsilon must be positive");

  const float base = static_cast<float>(arch_float("rope.freq_base", 10000.0));
  if (!(base > 0.0f) || !std::isfinite(base)) fail(p, ": rope.freq_base must be positive");
  float scale = 1.0f;
  const std::string scaling = file_->get_string(c.arch + ".rope.scaling.type", "none");
  if (scaling == "linear") {
    const double factor = arch_float("rope.scaling.factor", 1.0);
    if (!(factor > 0.0)) fail(p, ": rope.scaling.factor must be positive");
    scale = static_cast<float>(1.0 / factor);
  } else if (scaling != "none" && !scaling.empty()) {
    fail(p, ": rope scaling type '", scaling, "' is not supported yet");
  }
  c.layers.assign(c.n_layer, LayerConfig{true, base, scale, 0});
}

std::string Config::sliding_window_summary() const {
  std::string out;
  std::map<int32_t, std::string> by_window;
  for (size_t il = 0; il < layers.size(); ++il)
    if (layers[il].sliding_window > 0) {
      std::string& l = by_window[layers[il].sliding_window];
      l += (l.empty() ? "" : ",") + std::to_string(il);
    }
  for (const auto& [w, l] : by_window)
    out += cat(out.empty() ? "" : "; ", "sliding window ", w, " on layers ", l, " of ", layers.size());
  return out;
}

void Model::load_embeddings() {
  Config& c = config_;
  Weights& w = weights_;
  w.token_embd = tensor("token_embd.weight", {c.n_embd, -1});
  c.n_vocab = static_cast<int32_t>(w.token_embd.ne[1]);
  w.output_norm = tensor("output_norm.weight", {c.n_embd});
  w.output = tensor("output.weight", {c.n_embd, c.n_vocab}, false);
  if (!w.output) w.output = w.token_embd;  // tied embeddings
}

void Model::load_attention(LayerWeights& L, const std::string& p) const {
  const Config& c = config_;
  const int64_t d = c.n_embd;
  L.attn_norm = tensor(p + "attn_norm.weight", {d});
  L.wq = tensor(p + "attn_q.weight", {d, c.n_embd_q()});
  L.wk = tensor(p + "attn_k.weight", {d, c.n_embd_k()});
  L.wv = tensor(p + "attn_v.weight", {d, c.n_embd_v()});
  L.wo = tensor(p + "attn_output.weight", {static_cast<int64_t>(c.n_head) * c.head_dim_v, d});
}

void Model::load_ffn(LayerWeights& L, const std::string& p) const {
  const Config& c = config_;
  L.ffn_norm = tensor(p + "ffn_norm.weight", {c.n_embd});
  L.ffn_gate = tensor(p + "ffn_gate.weight", {c.n_embd, c.n_ff});
  L.ffn_up = tensor(p + "ffn_up.weight", {c.n_embd, c.n_ff});
  L.ffn_down = tensor(p + "ffn_down.weight", {c.n_ff, c.n_embd});
}

Tensor Model::tensor(const std::string& name, std::initializer_list<int64_t> shape, bool required) const {
  Tensor t;
  const gguf::TensorInfo* ti = file_->find_tensor(name);
  if (!ti) {
    if (required) fail(file_->path(), ": required tensor '", name, "' is missing");
    return t;
  }
  int d = 0;
  bool ok = true;
  for (int64_t want : shape) {
    if (want >= 0 && ti->ne[d] != want) ok = false;
    ++d;
  }
  for (int k = d; k < 4; ++k)
    if (ti->ne[k] != 1) ok = false;
  if (!ok) {
    std::string want = "[";
    int k = 0;
    for (int64_t w : shape) want += (k++ ? ", " : "") + (w >= 0 ? std::to_string(w) : std::string("*"));
    fail(file_->path(), ": tensor '", name, "' has shape ", ti->shape_str(), " but the hyper-parameters imply ", want,
         "]");
  }
  if (!type_info(ti->type).can_dequantize)
    fail(file_->path(), ": tensor '", name, "' has type ", type_name(ti->type), ", which minnow cannot compute with yet");
  t.info = ti;
  t.type = ti->type;
  for (int k = 0; k < 4; ++k) t.ne[k] = ti->ne[k];
  t.row_bytes = row_bytes(ti->type, ti->ne[0]);
  t.data = ti->data;
  return t;
}

}  // namespace minnow
