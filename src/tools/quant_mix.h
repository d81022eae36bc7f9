// Which ggml type each tensor gets for a given file type (Q4_K_M, Q3_K_S, ...), following the rules
// llama.cpp's quantizer applies (llama-quant.cpp, llama_tensor_get_type) for the types minnow supports,
// so that files minnow writes have the layout people expect from a "Q4_K_M". Shared by `synth` and
// (later) `quantize`.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tensor/types.h"

namespace minnow::tools {

// llama_ftype numbering, as stored in general.file_type.
enum class FileType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q8_0 = 7, Q5_0 = 8, Q5_1 = 9, Q2_K = 10, Q3_K_S = 11, Q3_K_M = 12,
  Q3_K_L = 13, Q4_K_S = 14, Q4_K_M = 15, Q5_K_S = 16, Q5_K_M = 17, Q6_K = 18, IQ4_NL = 25, IQ4_XS = 30, BF16 = 32,
};

// "Q4_K_M" -> FileType; throws minnow::Error listing the supported names.
FileType parse_file_type(const std::string& name);
std::string file_type_name(FileType t);
DType base_type(FileType t);  // the type most tensors get (Q4_K for Q4_K_M, ...)

struct TensorDesc {
  std::string name;
  std::vector<int64_t> ne;  // ne[0] = row length
};

// Assigns a type to every tensor of a model (in file order). n_gqa = n_head / n_head_kv.
// 1-D tensors and norms stay F32, as in llama.cpp.
std::vector<DType> choose_types(FileType ft, const std::vector<TensorDesc>& tensors, int n_gqa);

}  // namespace minnow::tools
