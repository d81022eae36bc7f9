#include "tools/quant_mix.h"

#include "common/error.h"

namespace minnow::tools {

namespace {
struct Named { const char* name; FileType type; };
const Named kNames[] = {
    {"F32", FileType::F32},       {"F16", FileType::F16},       {"BF16", FileType::BF16},
    {"Q8_0", FileType::Q8_0},     {"Q6_K", FileType::Q6_K},     {"Q5_K_M", FileType::Q5_K_M},
    {"Q5_K_S", FileType::Q5_K_S}, {"Q4_K_M", FileType::Q4_K_M}, {"Q4_K_S", FileType::Q4_K_S},
    {"Q3_K_L", FileType::Q3_K_L}, {"Q3_K_M", FileType::Q3_K_M}, {"Q3_K_S", FileType::Q3_K_S},
    {"Q2_K", FileType::Q2_K},     {"Q4_0", FileType::Q4_0},     {"Q4_1", FileType::Q4_1},
    {"Q5_0", FileType::Q5_0},     {"Q5_1", FileType::Q5_1},     {"IQ4_NL", FileType::IQ4_NL},
    {"IQ4_XS", FileType::IQ4_XS},
};

bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

// Layers near the ends, and every third in between, get more bits.
bool use_more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

// Row lengths that are not a multiple of 256 cannot take a K-quant: llama.cpp's fallbacks.
DType fallback_for_row(DType t, int64_t ne0) {
  if (ne0 % 256 == 0) return t;
  switch (t) {
    case DType::Q2_K: case DType::Q3_K: case DType::IQ4_XS: return DType::IQ4_NL;
    case DType::Q4_K: return DType::Q5_0;
    case DType::Q5_K: return DType::Q5_1;
    case DType::Q6_K: return DType::Q8_0;
    default: return t;
  }
}
}  // namespace

FileType parse_file_type(const std::string& name) {
  for (const Named& n : kNames)
    if (name == n.name) return n.type;
  std::string list;
  for (const Named& n : kNames) list += (list.empty() ? "" : ", ") + std::string(n.name);
  fail("unknown quantization type '", name, "' (supported: ", list, ")");
}

std::string file_type_name(FileType t) {
  for (const Named& n : kNames)
    if (t == n.type) return n.name;
  return "unknown";
}

DType base_type(FileType t) {
  switch (t) {
    case FileType::F32: return DType::F32;
    case FileType::F16: return DType::F16;
    case FileType::BF16: return DType::BF16;
    case FileType::Q8_0: return DType::Q8_0;
    case FileType::Q4_0: return DType::Q4_0;
    case FileType::Q4_1: return DType::Q4_1;
    case FileType::Q5_0: return DType::Q5_0;
    case FileType::Q5_1: return DType::Q5_1;
    case FileType::Q2_K: return DType::Q2_K;
    case FileType::Q3_K_S: case FileType::Q3_K_M: case FileType::Q3_K_L: return DType::Q3_K;
    case FileType::Q4_K_S: case FileType::Q4_K_M: return DType::Q4_K;
    case FileType::Q5_K_S: case FileType::Q5_K_M: return DType::Q5_K;
    case FileType::Q6_K: return DType::Q6_K;
    case FileType::IQ4_NL: return DType::IQ4_NL;
    case FileType::IQ4_XS: return DType::IQ4_XS;
  }
  return DType::F32;
}

std::vector<DType> choose_types(FileType ft, const std::vector<TensorDesc>& tensors, int n_gqa) {
  const DType base = base_type(ft);
  const bool quantized = !(base == DType::F32 || base == DType::F16 || base == DType::BF16);
  bool has_output = false;
  int n_attn_v = 0, n_ffn_down = 0;
  for (const auto& t : tensors) {
    if (t.name == "output.weight") has_output = true;
    if (contains(t.name, "attn_v.weight") || contains(t.name, "attn_qkv.weight")) ++n_attn_v;
    if (contains(t.name, "ffn_down")) ++n_ffn_down;
  }
  int i_attn_v = 0, i_ffn_down = 0;
  std::vector<DType> out;
  for (const auto& t : tensors) {
    // Only matrices are quantized (not 1-D tensors, norms, rope factors); llama.cpp's own exclusions.
    const bool matrix = t.ne.size() >= 2 && !contains(t.name, "_norm.weight") && !contains(t.name, "rope_freqs") &&
                        !contains(t.name, "rope_factors");
    if (!matrix) {
      out.push_back(DType::F32);
      continue;
    }
    DType nt = base;
    if (!quantized) {
      out.push_back(nt);
      continue;
    }
    const std::string& n = t.name;
    if (n == "output.weight" || (!has_output && n == "token_embd.weight")) {
      if (t.ne[0] % 256 != 0) nt = DType::Q8_0;
      else if (nt != DType::Q8_0) nt = DType::Q6_K;
    } else if (n == "token_embd.weight") {
      // keeps the base type
    } else if (contains(n, "attn_v.weight")) {
      if (ft == FileType::Q2_K) nt = n_gqa >= 4 ? DType::Q4_K : DType::Q3_K;
      else if (ft == FileType::Q3_K_M) nt = i_attn_v < 2 ? DType::Q5_K : DType::Q4_K;
      else if (ft == FileType::Q3_K_L) nt = DType::Q5_K;
      else if ((ft == FileType::IQ4_NL || ft == FileType::IQ4_XS) && n_gqa >= 4) nt = DType::Q5_K;
      else if ((ft == FileType::Q4_K_M || ft == FileType::Q5_K_M) && use_more_bits(i_attn_v, n_attn_v)) nt = DType::Q6_K;
      else if (ft == FileType::Q4_K_S && i_attn_v < 4) nt = DType::Q5_K;
      ++i_attn_v;
    } else if (contains(n, "attn_qkv.weight")) {
      if (ft == FileType::Q3_K_M || ft == FileType::Q3_K_L) nt = DType::Q4_K;
      else if (ft == FileType::Q4_K_M) nt = DType::Q5_K;
      else if (ft == FileType::Q5_K_M) nt = DType::Q6_K;
      ++i_attn_v;
    } else if (contains(n, "ffn_down")) {
      const int i = i_ffn_down, nl = n_ffn_down;
      if (ft == FileType::Q2_K) nt = DType::Q3_K;
      else if (ft == FileType::Q3_K_M) nt = i < nl / 16 ? DType::Q5_K : DType::Q4_K;
      else if (ft == FileType::Q3_K_L) nt = DType::Q5_K;
      else if (ft == FileType::Q4_K_M) { if (use_more_bits(i, nl)) nt = DType::Q6_K; }
      else if (i < nl / 8 && (ft == FileType::IQ4_NL || ft == FileType::IQ4_XS)) nt = DType::Q5_K;
      else if (ft == FileType::Q5_K_M && use_more_bits(i, nl)) nt = DType::Q6_K;
      else if (ft == FileType::Q4_K_S && i < nl / 8) nt = DType::Q5_K;
      ++i_ffn_down;
    } else if (contains(n, "attn_output.weight")) {
      if (ft == FileType::Q2_K) nt = DType::Q3_K;
      else if (ft == FileType::Q3_K_M) nt = DType::Q4_K;
      else if (ft == FileType::Q3_K_L) nt = DType::Q5_K;
    }
    out.push_back(fallback_for_row(nt, t.ne[0]));
  }
  return out;
}

}  // namespace minnow::tools
