// Model: the read-only half of inference. Hyper-parameters (Config) read from GGUF metadata, typed
// weight views into the mapped file, the tokenizer, and the architecture recipe that runs a layer.
// One Model serves many runtime::Sessions.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "tensor/types.h"
#include "tokenizer/tokenizer.h"

namespace minnow {

// A weight matrix or vector as stored in the file: ne[0] elements per row, ne[1] rows.
struct Tensor {
  const gguf::TensorInfo* info = nullptr;
  DType type = DType::F32;
  int64_t ne[4] = {1, 1, 1, 1};
  size_t row_bytes = 0;
  const uint8_t* data = nullptr;
  bool packed = false;  // data is in the R16 layout of tensor/repack.h: read rows with tensor_row()

  explicit operator bool() const { return data != nullptr; }
  int64_t cols() const { return ne[0]; }
  int64_t rows() const { return ne[1] * ne[2] * ne[3]; }
  const uint8_t* row(int64_t r) const { return data + static_cast<size_t>(r) * row_bytes; }  // not packed
  const std::string& name() const { return info->name; }
};

// Row r of a weight matrix as floats, whatever its layout (GGUF or packed).
void tensor_row(const Tensor& t, int64_t r, float* out);

enum class RopeType { Norm, Neox };  // Norm: adjacent pairs (llama). Neox: halves (qwen2, gemma, phi3, ...).

struct LayerConfig {
  bool use_rope = true;       // false on NoPE layers
  float rope_freq_base = 10000.0f;
  float rope_freq_scale = 1.0f;
  int32_t sliding_window = 0; // 0: global attention; else a key at kv_pos is seen while pos - kv_pos < window
};

enum class Activation { SiLU, GeluTanh };

struct Config {
  std::string arch;
  std::string name;
  int32_t n_vocab = 0;
  int32_t n_ctx_train = 0;
  int32_t n_embd = 0;
  int32_t n_layer = 0;
  int32_t n_head = 0;
  int32_t n_head_kv = 0;
  int32_t head_dim = 0;    // key/query width per head
  int32_t head_dim_v = 0;  // value width per head
  int32_t n_ff = 0;
  int32_t n_rot = 0;       // rotary dimensions per head (<= head_dim)
  float rms_eps = 1e-5f;
  RopeType rope_type = RopeType::Norm;
  float attn_scale = 0.0f;  // multiplier on q.k; 0 means 1/sqrt(head_dim)
  bool attn_scale_on_q = false;  // the recipe scales Q itself (gemma); attention then uses 1
  float attn_softcap = 0.0f;   // scores = cap * tanh(scores / cap) when > 0 (gemma2)
  float final_softcap = 0.0f;  // logits = cap * tanh(logits / cap) when > 0 (gemma2, gemma3n)
  float embd_scale = 1.0f;     // token embeddings are multiplied by this (gemma: sqrt(n_embd))
  float rope_attn_factor = 1.0f;  // multiplies rope cos/sin (phi3 LongRoPE)
  int32_t n_ctx_orig = 0;      // rope.scaling.original_context_length (picks LongRoPE long/short factors)
  Activation ffn_act = Activation::SiLU;
  std::vector<LayerConfig> layers;

  // e.g. "sliding window 16 on layers 0,1,2,3,4 of 6"; "" when no layer has one.
  std::string sliding_window_summary() const;

  int32_t n_embd_q() const { return n_head * head_dim; }
  int32_t n_embd_k() const { return n_head_kv * head_dim; }
  int32_t n_embd_v() const { return n_head_kv * head_dim_v; }
};

struct LayerWeights {
  Tensor attn_norm, wq, wk, wv, wo, bq, bk, bv, bo;
  Tensor wqkv;            // fused q|k|v rows (phi3)
  Tensor q_norm, k_norm;  // per-head RMS norms (qwen3, gemma3)
  Tensor post_attn_norm;  // norm of the attention output before the residual add (gemma2/3)
  Tensor ffn_norm, ffn_gate, ffn_up, ffn_down;
  Tensor post_ffn_norm;   // norm of the FFN output before the residual add (gemma2/3)
  bool ffn_up_fused = false;  // ffn_up holds gate rows then up rows (phi3)
  // Architecture-specific tensors the common fields do not name (gemma3n: AltUp, LAuReL, per-layer
  // input), indexed by the recipe's own named constants.
  std::vector<Tensor> extra;
};

struct Weights {
  Tensor token_embd, output_norm, output;  // output may alias token_embd (tied)
  Tensor rope_freqs;                       // Llama-3 per-pair frequency divisors, optional
  Tensor rope_factors_long, rope_factors_short;  // LongRoPE (phi3): chosen by context length
  std::vector<LayerWeights> layers;
  // Architecture-specific model-level tensors (gemma3n), indexed by the recipe's own named constants.
  std::vector<Tensor> extra;
};

class Model;
namespace runtime { class Session; }

// An architecture recipe: how to read its hyper-parameters and weights, and how to run one forward pass
// over a batch (written with the shared blocks in runtime/blocks.h).
struct Recipe {
  const char* arch;
  void (*load)(Model& m);
  void (*forward)(runtime::Session& s, int32_t n_tokens);
};
const Recipe* find_recipe(const std::string& arch);
std::vector<std::string> supported_architectures();

class Model {
 public:
  // Opens and validates the file; throws minnow::Error with a one-line message on any problem.
  // vocab_only: read the tokenizer and metadata, not the weights. repack: rewrite the matrices into the CPU
  // kernels' faster layout (tensor/repack.h); off for tools that only inspect the file.
  static std::unique_ptr<Model> load(const std::string& path, bool vocab_only = false, bool repack = true);

  const gguf::File& file() const { return *file_; }
  const Config& config() const { return config_; }
  const Weights& weights() const { return weights_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  const Recipe& recipe() const { return *recipe_; }

  // Used by recipes while loading.
  Config& mutable_config() { return config_; }
  Weights& mutable_weights() { return weights_; }
  // Looks a tensor up and checks its shape (ne0, ne1; -1 = any). Missing + required -> Error.
  Tensor tensor(const std::string& name, std::initializer_list<int64_t> shape, bool required = true) const;
  // Common llama-style hyper-parameters: "<arch>.embedding_length" etc.
  void read_common_config();
  // Shared weight loading for recipes: token_embd (sets n_vocab), output_norm and output (tied to token_embd
  // when absent); a layer's attention (attn_norm, separate q/k/v, attn_output) and gated FFN
  // (ffn_norm, ffn_gate, ffn_up, ffn_down) with the usual names under prefix "blk.N.".
  void load_embeddings();
  void load_attention(LayerWeights& L, const std::string& prefix) const;
  void load_ffn(LayerWeights& L, const std::string& prefix) const;
  uint64_t arch_uint(const std::string& key, uint64_t fallback) const;
  uint64_t arch_require_uint(const std::string& key) const;
  double arch_float(const std::string& key, double fallback) const;

 private:
  // Rewrites the matrices the CPU kernels read into their faster layout (tensor/repack.h), once, at load.
  void repack_weights();

  struct PackedBuffer;  // anonymous memory from mmap
  struct PackedDeleter { void operator()(PackedBuffer* p) const; };
  std::unique_ptr<gguf::File> file_;
  std::vector<std::unique_ptr<PackedBuffer, PackedDeleter>> packed_;  // owns the repacked matrices
  Config config_;
  Weights weights_;
  std::unique_ptr<Tokenizer> tokenizer_;
  const Recipe* recipe_ = nullptr;
};

}  // namespace minnow
