// `minnow quantize IN.gguf OUT.gguf TYPE [options]`: llama-quantize's job. Reads IN, picks each
// tensor's type for the mix TYPE exactly as llama.cpp does (tools/quant_mix.h), quantizes with
// ggml's reference algorithms (tensor/quantize.h), and writes OUT atomically with the metadata
// copied and general.file_type / general.quantization_version set. Without an imatrix (and with
// the same tensor order and metadata), the file is byte-identical to llama-quantize's.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace minnow::tools {

struct QuantizeOptions {
  std::string input;            // IN.gguf
  std::string output;           // OUT.gguf (replaced atomically; OUT.tmp while writing)
  std::string type;             // file type: Q4_K_M, Q8_0, IQ4_XS, F16, ... (tools::parse_file_type)
  std::string imatrix;          // optional: llama-imatrix output (GGUF in_sum2/counts, or the legacy .dat)
  std::vector<std::string> tensor_types;  // "REGEX=TYPE": ECMAScript regex searched in tensor names; last match wins
  bool keep_output = false;     // leave output.weight in its source type (llama-quantize --leave-output-tensor)
  bool allow_requantize = false;  // allow an already-quantized source tensor to be converted
  int threads = 0;              // 0: runtime::ThreadPool::default_threads()
  bool progress = true;         // per-tensor lines and a summary on stderr
  // Called before each tensor is processed (index in output order, name). For tests and front ends.
  std::function<void(int, const std::string&)> on_tensor;
};

struct QuantizeSummary {
  int n_tensors = 0;
  int n_converted = 0;      // tensors whose type changed
  int64_t n_elements = 0;   // all tensors
  uint64_t bytes_in = 0;    // tensor data, before
  uint64_t bytes_out = 0;   // tensor data, after
  int n_imatrix_used = 0;   // tensors quantized with importance weights
};

// Does the work. Throws minnow::Error with a one-line message (bad type name, bad regex, a source
// tensor already quantized without allow_requantize, unreadable imatrix, I/O failure ...).
// While it runs, SIGINT/SIGTERM remove OUT.tmp and exit the process with 128 + signal (130 for ^C);
// the previous handlers are restored on return. OUT itself only ever appears complete.
QuantizeSummary quantize_model(const QuantizeOptions& opt);

// The CLI entry: args are everything after "quantize" (IN OUT TYPE and the options
// --imatrix FILE, --tensor-type REGEX=TYPE (repeatable), --keep-output (alias
// --leave-output-tensor), --allow-requantize, -t/--threads N, -h/--help). Prints errors as one
// line on stderr. Returns the process exit code: 0 ok, 1 error, 2 bad usage.
int run_quantize(const std::vector<std::string>& args);

std::string quantize_usage();

}  // namespace minnow::tools
