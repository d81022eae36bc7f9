// `minnow ladder`: the quality-vs-size trade-off of every quantization type, measured on the user's own
// model and text in one command. For each type: quantize, then perplexity and KL divergence against the
// unquantized model, then prompt and generation speed. Writes ladder.md, ladder.csv and ladder.svg.
#pragma once
#include <string>
#include <vector>

namespace minnow::tools {

struct LadderOptions {
  std::string model;      // F32/F16/BF16 GGUF
  std::string text_file;  // evaluation text
  std::vector<std::string> types = {"Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q4_K_S", "Q3_K_M", "Q2_K", "Q4_0", "IQ4_NL"};
  std::string out_dir = "ladder";
  int32_t n_ctx = 512;     // perplexity chunk size (capped at the model's context)
  int32_t n_chunks = -1;   // <= 0: all
  size_t max_bytes = 0;    // 0: the whole text file
  int threads = 0;
  bool keep_models = false;  // keep the quantized GGUFs in out_dir
  int32_t bench_prompt = 128, bench_gen = 32, bench_reps = 3;
};

struct LadderRow {
  std::string type;
  double size_mib = 0, bpw = 0, ppl = 0, ppl_err = 0, dppl_pct = 0, kld = 0, kld_p99 = 0, same_top_pct = 0;
  double pp_ts = 0, tg_ts = 0;
  std::string note;  // e.g. which fallback types the row widths forced
};

std::vector<LadderRow> ladder(const LadderOptions& o);  // prints the table at the end; progress on stderr
std::string ladder_markdown(const std::vector<LadderRow>& rows, const std::string& title);
std::string ladder_svg(const std::vector<LadderRow>& rows, const std::string& title);

}  // namespace minnow::tools
