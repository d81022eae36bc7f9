#include "tools/synth.h"

#include <cmath>
#include <cstdio>
#include <cstring>

#include "common/error.h"
#include "gguf/writer.h"
#include "tensor/fp16.h"
#include "tools/quant_mix.h"

namespace minnow::tools {

namespace {

// Hyper-parameters of the real models (from their config.json / published GGUF conversions).
struct Shape {
  const char* like;
  const char* arch;
  int n_embd, n_layer, n_head, n_head_kv, n_ff, n_vocab, head_dim, n_ctx;
  float rope_base, rms_eps;
  bool tied, qkv_bias;
  int n_rot;  // 0: head_dim
  int sliding_window;
};

const Shape kShapes[] = {
    {"llama-3.2-1b", "llama", 2048, 16, 32, 8, 8192, 128256, 64, 131072, 500000.0f, 1e-5f, true, false, 0, 0},
    {"llama-3.2-3b", "llama", 3072, 28, 24, 8, 8192, 128256, 128, 131072, 500000.0f, 1e-5f, true, false, 0, 0},
    {"qwen2.5-0.5b", "qwen2", 896, 24, 14, 2, 4864, 151936, 64, 32768, 1000000.0f, 1e-6f, true, true, 0, 0},
    {"qwen2.5-1.5b", "qwen2", 1536, 28, 12, 2, 8960, 151936, 128, 32768, 1000000.0f, 1e-6f, true, true, 0, 0},
    {"qwen2.5-3b", "qwen2", 2048, 36, 16, 2, 11008, 151936, 128, 32768, 1000000.0f, 1e-6f, true, true, 0, 0},
    {"deepseek-r1-distill-qwen-1.5b", "qwen2", 1536, 28, 12, 2, 8960, 151936, 128, 131072, 10000.0f, 1e-6f, false, true, 0, 0},
    {"smollm3-3b", "smollm3", 2048, 36, 16, 4, 11008, 128256, 128, 65536, 5000000.0f, 1e-6f, true, false, 0, 0},
    {"phi-4-mini", "phi3", 3072, 32, 24, 8, 8192, 200064, 128, 131072, 10000.0f, 1e-5f, true, false, 96, 262144},
    {"gemma-3-1b", "gemma3", 1152, 26, 4, 1, 6912, 262144, 256, 32768, 1000000.0f, 1e-6f, true, false, 0, 512},
};

// xorshift64*: fast, reproducible bytes.
struct Rng {
  uint64_t s;
  uint64_t next() {
    s ^= s >> 12, s ^= s << 25, s ^= s >> 27;
    return s * 2685821657736338717ull;
  }
};


std::vector<uint8_t> random_tensor(DType t, int64_t n_elements, Rng& rng, float value_if_vector = NAN) {
  const TypeInfo& ti = type_info(t);
  std::vector<uint8_t> d(static_cast<size_t>(n_elements / ti.block_size * ti.type_size));
  if (t == DType::F32) {
    auto* f = reinterpret_cast<float*>(d.data());
    for (int64_t i = 0; i < n_elements; ++i)
      f[i] = std::isnan(value_if_vector) ? (static_cast<float>(rng.next() >> 40) / 16777216.0f - 0.5f) * 0.04f
                                         : value_if_vector;
    return d;
  }
  for (size_t i = 0; i + 8 <= d.size(); i += 8) {
    const uint64_t r = rng.next();
    std::memcpy(&d[i], &r, 8);
  }
  if (t == DType::F16 || t == DType::BF16) {
    auto* h = reinterpret_cast<uint16_t*>(d.data());
    for (int64_t i = 0; i < n_elements; ++i) {
      const float v = (static_cast<float>(h[i]) / 65536.0f - 0.5f) * 0.04f;
      h[i] = t == DType::F16 ? f32_to_fp16(v) : f32_to_bf16(v);
    }
    return d;
  }
  const auto fields = fp16_scale_offsets(t);
  for (size_t b = 0; b < d.size() / ti.type_size; ++b)
    for (int off : fields) {
      const uint16_t h = f32_to_fp16(0.0005f + static_cast<float>(rng.next() >> 44) / 1048576.0f * 0.002f);
      std::memcpy(&d[b * ti.type_size + off], &h, 2);
    }
  return d;
}

}  // namespace

std::vector<std::string> synth_models() {
  std::vector<std::string> v;
  for (const Shape& s : kShapes) v.emplace_back(s.like);
  return v;
}

void synth(const std::string& like, const std::string& type, const std::string& out_path, uint64_t seed, bool progress) {
  const Shape* sh = nullptr;
  for (const Shape& s : kShapes)
    if (like == s.like) sh = &s;
  if (!sh) {
    std::string list;
    for (const auto& n : synth_models()) list += (list.empty() ? "" : ", ") + n;
    fail("synth: unknown model '", like, "' (known: ", list, ")");
  }
  const FileType ft = parse_file_type(type);
  const std::string a = sh->arch;
  const int hd = sh->head_dim, n_rot = sh->n_rot ? sh->n_rot : hd;
  const int64_t d = sh->n_embd, dq = int64_t{sh->n_head} * hd, dkv = int64_t{sh->n_head_kv} * hd;

  gguf::Writer w;
  w.set_str("general.architecture", a);
  w.set_str("general.name", "minnow synth " + like + " (random weights)");
  w.set_u32("general.file_type", static_cast<uint32_t>(ft));
  w.set_u32(a + ".context_length", sh->n_ctx);
  w.set_u32(a + ".embedding_length", sh->n_embd);
  w.set_u32(a + ".block_count", sh->n_layer);
  w.set_u32(a + ".feed_forward_length", sh->n_ff);
  w.set_u32(a + ".attention.head_count", sh->n_head);
  w.set_u32(a + ".attention.head_count_kv", sh->n_head_kv);
  w.set_u32(a + ".attention.key_length", hd);
  w.set_u32(a + ".attention.value_length", hd);
  w.set_u32(a + ".rope.dimension_count", n_rot);
  w.set_f32(a + ".rope.freq_base", sh->rope_base);
  w.set_f32(a + ".attention.layer_norm_rms_epsilon", sh->rms_eps);
  if (sh->sliding_window) w.set_u32(a + ".attention.sliding_window", sh->sliding_window);
  if (a == "phi3") {
    w.set_u32(a + ".rope.scaling.original_context_length", 4096);
    w.set_f32(a + ".rope.scaling.attn_factor", std::sqrt(1.0f + std::log(32.0f) / std::log(4096.0f)));
  }

  // Synthetic SentencePiece vocabulary of the real size: <unk> <s> </s>, 256 byte tokens, then words.
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> types;
  tokens.reserve(sh->n_vocab);
  for (const char* s : {"<unk>", "<s>", "</s>"}) tokens.emplace_back(s), scores.push_back(0), types.push_back(tokens.size() == 1 ? 2 : 3);
  char buf[32];
  for (int b = 0; b < 256; ++b) {
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    tokens.emplace_back(buf), scores.push_back(0), types.push_back(6);
  }
  for (int i = static_cast<int>(tokens.size()); i < sh->n_vocab; ++i) {
    tokens.push_back("\xE2\x96\x81t" + std::to_string(i));
    scores.push_back(-static_cast<float>(i));
    types.push_back(1);
  }
  w.set_str("tokenizer.ggml.model", "llama");
  w.set_arr_str("tokenizer.ggml.tokens", tokens);
  w.set_arr_f32("tokenizer.ggml.scores", scores);
  w.set_arr_i32("tokenizer.ggml.token_type", types);
  w.set_u32("tokenizer.ggml.unknown_token_id", 0);
  w.set_u32("tokenizer.ggml.bos_token_id", 1);
  w.set_u32("tokenizer.ggml.eos_token_id", 2);

  // Tensors in conversion order.
  std::vector<TensorDesc> descs;
  auto add = [&](const std::string& n, std::vector<int64_t> ne) { descs.push_back({n, std::move(ne)}); };
  add("token_embd.weight", {d, sh->n_vocab});
  add("output_norm.weight", {d});
  if (!sh->tied) add("output.weight", {d, sh->n_vocab});
  if (a == "llama") add("rope_freqs.weight", {n_rot / 2});
  if (a == "phi3") add("rope_factors_long.weight", {n_rot / 2}), add("rope_factors_short.weight", {n_rot / 2});
  for (int il = 0; il < sh->n_layer; ++il) {
    const std::string p = "blk." + std::to_string(il) + ".";
    add(p + "attn_norm.weight", {d});
    if (a == "phi3") {
      add(p + "attn_qkv.weight", {d, dq + 2 * dkv});
    } else {
      add(p + "attn_q.weight", {d, dq});
      add(p + "attn_k.weight", {d, dkv});
      add(p + "attn_v.weight", {d, dkv});
    }
    if (sh->qkv_bias) add(p + "attn_q.bias", {dq}), add(p + "attn_k.bias", {dkv}), add(p + "attn_v.bias", {dkv});
    if (a == "gemma3") add(p + "attn_q_norm.weight", {hd}), add(p + "attn_k_norm.weight", {hd});
    add(p + "attn_output.weight", {dq, d});
    if (a == "gemma3") add(p + "post_attention_norm.weight", {d});
    add(p + "ffn_norm.weight", {d});
    if (a == "phi3") {
      add(p + "ffn_up.weight", {d, 2 * int64_t{sh->n_ff}});
    } else {
      add(p + "ffn_gate.weight", {d, sh->n_ff});
      add(p + "ffn_up.weight", {d, sh->n_ff});
    }
    add(p + "ffn_down.weight", {sh->n_ff, d});
    if (a == "gemma3") add(p + "post_ffw_norm.weight", {d});
  }
  const std::vector<DType> dtypes = choose_types(ft, descs, sh->n_head / sh->n_head_kv);

  Rng rng{seed * 0x9E3779B97F4A7C15ull + 1};
  size_t total = 0;
  for (size_t i = 0; i < descs.size(); ++i) {
    const TensorDesc& t = descs[i];
    int64_t n = 1;
    for (int64_t e : t.ne) n *= e;
    float fixed = NAN;
    if (t.ne.size() == 1) fixed = t.name.find("bias") != std::string::npos ? 0.0f : 1.0f;
    std::vector<uint8_t> data = random_tensor(dtypes[i], n, rng, fixed);
    if (t.name == "rope_freqs.weight") {  // Llama-3.x scaling: factor 32, low 1, high 4, original 8192
      auto* f = reinterpret_cast<float*>(data.data());
      for (int k = 0; k < n; ++k) {
        const double freq = 1.0 / std::pow(sh->rope_base, 2.0 * k / n_rot);
        const double wavelen = 2 * M_PI / freq, low_wl = 8192.0 / 1.0, high_wl = 8192.0 / 4.0;
        if (wavelen < high_wl) f[k] = 1.0f;
        else if (wavelen > low_wl) f[k] = 32.0f;
        else {
          const double smooth = (8192.0 / wavelen - 1.0) / (4.0 - 1.0);
          f[k] = static_cast<float>(1.0 / ((1 - smooth) / 32.0 + smooth));
        }
      }
    }
    total += data.size();
    w.add_tensor(t.name, dtypes[i], t.ne, std::move(data));
    if (progress && (i % 16 == 0 || i + 1 == descs.size()))
      std::fprintf(stderr, "\rsynth %s %s: %zu/%zu tensors, %.0f MiB", like.c_str(), type.c_str(), i + 1, descs.size(),
                   total / 1048576.0);
  }
  if (progress) std::fprintf(stderr, "\nwriting %s ...\n", out_path.c_str());
  w.write(out_path);
}

}  // namespace minnow::tools
