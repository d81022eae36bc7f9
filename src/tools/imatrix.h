// `minnow imatrix`: importance matrix (mean squared activation per input column of every weight
// matrix) collected over a text, written in llama.cpp's GGUF imatrix format (`<tensor>.in_sum2`,
// `<tensor>.counts`, general.type = "imatrix"), so llama-quantize and `minnow quantize` both read it.
#pragma once
#include <string>

namespace minnow::tools {

struct ImatrixOptions {
  std::string model, text_file, output;
  int32_t n_ctx = 512;
  int32_t n_chunks = -1;  // <= 0: all
  int threads = 0;
};
void imatrix(const ImatrixOptions& o);

}  // namespace minnow::tools
