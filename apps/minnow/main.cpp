// minnow CLI: subcommands that dispatch into libminnow. Main output on stdout, diagnostics on stderr,
// exit code 1 on any error with a one-line message.
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "model/model.h"
#include "runtime/session.h"
#include "sample/sampler.h"
#include "tools/bench.h"
#include "tools/chat.h"
#include "tools/ladder.h"
#include "tools/quantize_tool.h"
#include "tools/imatrix.h"
#include "tools/perplexity.h"
#include "tools/template_tool.h"
#include "tools/info.h"
#include "tools/quant_mix.h"
#include "tools/synth.h"

using namespace minnow;

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}


// "1,2,3" -> numbers in [0, max]; a one-line error naming the flag otherwise.
std::vector<int64_t> parse_list(const std::string& s, const char* what, int64_t max) {
  std::vector<int64_t> v;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t used = 0;
    long long x = 0;
    try {
      x = std::stoll(item, &used);
    } catch (...) {
      used = 0;
    }
    if (used == 0 || used != item.size() || x < 0 || x > max) fail(what, ": '", item, "' is not a valid value");
    v.push_back(x);
  }
  if (v.empty()) fail(what, ": no values given");
  return v;
}

std::vector<int32_t> parse_token_list(const std::string& s) {
  const auto v = parse_list(s, "--tokens", INT32_MAX);
  return std::vector<int32_t>(v.begin(), v.end());
}
std::vector<int> parse_int_list(const std::string& s, const char* what) {
  const auto v = parse_list(s, what, 1000000);
  return std::vector<int>(v.begin(), v.end());
}

std::unique_ptr<Model> load_model(const std::string& path, bool verbose) {
  const double t0 = now_s();
  auto m = Model::load(path);
  if (verbose) {
    const Config& c = m->config();
    std::fprintf(stderr, "loaded %s: %d layers, n_embd %d, vocab %d, in %.0f ms\n", c.arch.c_str(), c.n_layer,
                 c.n_embd, c.n_vocab, (now_s() - t0) * 1000.0);
  }
  return m;
}

// Writes to PATH.tmp then renames, so an interrupted run never leaves a half-written file.
void write_file_atomic(const std::string& path, const void* data, size_t bytes) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) fail(path, ": cannot open for writing");
    f.write(static_cast<const char*>(data), static_cast<std::streamsize>(bytes));
    f.flush();
    if (!f) {
      std::remove(tmp.c_str());
      fail(path, ": write failed");
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    fail(path, ": cannot rename the temporary file into place");
  }
}

int cmd_run(const std::string& model_path, const std::string& prompt, int n_predict, const SamplerParams& sp,
            int threads, bool ignore_eos, bool verbose) {
  auto model = load_model(model_path, verbose);
  const Tokenizer& tok = model->tokenizer();
  std::vector<int32_t> ids = tok.encode(prompt, true, /*parse_special=*/true);  // as llama-cli does
  if (ids.empty()) fail("the prompt produced no tokens");
  const int32_t n_ctx_train = model->config().n_ctx_train;
  if (static_cast<int64_t>(ids.size()) > n_ctx_train)
    fail("prompt is ", ids.size(), " tokens but the model's context is ", n_ctx_train);
  const int32_t n_ctx = static_cast<int32_t>(std::min<int64_t>(n_ctx_train, static_cast<int64_t>(ids.size()) + n_predict));
  runtime::ThreadPool pool(threads);
  runtime::Session session(*model, pool, {n_ctx});
  Sampler sampler(sp);
  for (int32_t id : ids) sampler.accept(id);

  const double t0 = now_s();
  const float* logits = session.eval(ids.data(), static_cast<int32_t>(ids.size()));
  const double t1 = now_s();
  int n_gen = 0;
  for (; n_gen < n_predict; ++n_gen) {
    int32_t next = sampler.sample(logits, model->config().n_vocab);
    if (!ignore_eos && tok.is_eog(next)) break;
    sampler.accept(next);
    const std::string piece = tok.token_to_piece(next, false);
    std::fwrite(piece.data(), 1, piece.size(), stdout);
    std::fflush(stdout);
    if (session.n_past() >= session.n_ctx()) {
      ++n_gen;
      if (n_gen < n_predict) std::fprintf(stderr, "\n[context full after %d tokens]\n", session.n_past());
      break;
    }
    logits = session.eval(&next, 1);
  }
  const double t2 = now_s();
  if (isatty(STDOUT_FILENO)) std::fputc('\n', stdout);  // piped output is exactly the continuation
  if (verbose)
    std::fprintf(stderr, "prompt: %zu tokens, %.1f t/s | generation: %d tokens, %.1f t/s | %d threads\n", ids.size(),
                 ids.size() / std::max(t1 - t0, 1e-9), n_gen, n_gen / std::max(t2 - t1, 1e-9), pool.size());
  return 0;
}

int cmd_logits(const std::string& model_path, const std::string& tokens, const std::string& out, int threads) {
  std::vector<int32_t> ids = parse_token_list(tokens);
  auto model = load_model(model_path, false);
  if (static_cast<int64_t>(ids.size()) > model->config().n_ctx_train)
    fail(ids.size(), " tokens exceed the model's context of ", model->config().n_ctx_train);
  runtime::ThreadPool pool(threads);
  runtime::Session session(*model, pool, {static_cast<int32_t>(ids.size()), 512, DType::F32});  // exact, as the goldens
  const float* logits = session.eval(ids.data(), static_cast<int32_t>(ids.size()), true);
  write_file_atomic(out, logits, ids.size() * model->config().n_vocab * sizeof(float));
  std::fprintf(stderr, "wrote %zu x %d logits to %s\n", ids.size(), model->config().n_vocab, out.c_str());
  return 0;
}

int cmd_tokenize(const std::string& model_path, const std::string& text, const std::string& file, bool no_bos,
                 bool special, bool show) {
  std::string input = text;
  if (!file.empty()) {
    std::ifstream f(file, std::ios::binary);
    if (!f) fail(file, ": cannot open");
    input.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  }
  auto model = Model::load(model_path, /*vocab_only=*/true);
  const Tokenizer& tok = model->tokenizer();
  std::vector<int32_t> ids = tok.encode(input, !no_bos, special);
  if (show) {
    // one token per line: id, then the piece as a JSON string (bytes that are not UTF-8 are escaped)
    for (int32_t id : ids) {
      const std::string piece = tok.token_to_piece(id, true);
      std::printf("%6d %s\n", id, nlohmann::json(piece).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    }
    return 0;
  }
  std::string s = "[";
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? ", " : "") + std::to_string(ids[i]);
  std::printf("%s]\n", s.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"minnow: run small language models from GGUF files on a CPU"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all");
  const int default_threads = runtime::ThreadPool::default_threads();

  std::string model_path, prompt, tokens, out_path, text, file;
  int n_predict = 128, threads = default_threads;
  bool no_bos = false, ignore_eos = false, quiet = false;
  SamplerParams sp;
  int64_t seed = -1;

  auto* info = app.add_subcommand("info", "Print a GGUF file's architecture, hyper-parameters and tensors");
  info->add_option("file", model_path, "GGUF file")->required();

  auto* run = app.add_subcommand("run", "Generate a continuation of a prompt (printed to stdout as it is made)");
  run->add_option("-m,--model", model_path, "GGUF file")->required();
  run->add_option("-p,--prompt", prompt, "prompt text")->required();
  run->add_option("-n,--n-predict", n_predict, "tokens to generate")->check(CLI::Range(0, 1 << 20));
  run->add_option("--temp", sp.temp, "temperature (0: greedy)");
  run->add_option("--top-k", sp.top_k, "top-k (0: off)");
  run->add_option("--top-p", sp.top_p, "top-p (1: off)");
  run->add_option("--min-p", sp.min_p, "min-p (0: off)");
  run->add_option("--repeat-penalty", sp.repeat_penalty, "repetition penalty (1: off)");
  run->add_option("--repeat-last-n", sp.repeat_last_n, "tokens the repetition penalty looks back over");
  run->add_option("--seed", seed, "random seed (-1: random)");
  run->add_option("-t,--threads", threads, "threads (default: physical cores)")->check(CLI::Range(1, 1024));
  run->add_flag("--ignore-eos", ignore_eos, "keep generating past end-of-sequence tokens");
  run->add_flag("-q,--quiet", quiet, "no load/speed report on stderr");

  auto* logits = app.add_subcommand("logits", "Evaluate token ids in one batch; write float32 logits [n][n_vocab]");
  logits->add_option("-m,--model", model_path, "GGUF file")->required();
  logits->add_option("--tokens", tokens, "comma-separated token ids")->required();
  logits->add_option("-o,--output", out_path, "output file (raw little-endian float32)")->required();
  logits->add_option("-t,--threads", threads, "threads")->check(CLI::Range(1, 1024));

  auto* tokenize = app.add_subcommand("tokenize", "Print the token ids of a text as a JSON array");
  tokenize->add_option("-m,--model", model_path, "GGUF file (vocab-only files work)")->required();
  tokenize->add_flag("--no-bos", no_bos, "add no BOS/EOS");
  bool special = false, show = false;
  tokenize->add_flag("--special", special, "match special-token text (e.g. <|im_start|>) as those tokens");
  tokenize->add_flag("--show", show, "print each token's piece, one token per line");
  tokenize->add_option("--file", file, "read the text from a file");
  tokenize->add_option("text", text, "text to tokenize");

  std::string like, qtype, bench_p = "512", bench_n = "128", bench_t;
  int reps = 5;
  bool json = false, membw = false;
  uint64_t synth_seed = 1;
  auto* synth = app.add_subcommand("synth", "Write a GGUF shaped exactly like a real model, with random weights");
  synth->add_option("--like", like, "model to imitate")->required();
  synth->add_option("--type", qtype, "weight type mix, e.g. Q4_K_M, Q8_0, F16")->required();
  synth->add_option("-o,--output", out_path, "output GGUF")->required();
  synth->add_option("--seed", synth_seed, "random seed");

  auto* bench = app.add_subcommand("bench", "Measure prompt processing and generation speed (like llama-bench)");
  bench->add_option("-m,--model", model_path, "GGUF file")->required();
  bench->add_option("-p,--n-prompt", bench_p, "prompt lengths, comma-separated (0: skip)");
  bench->add_option("-n,--n-gen", bench_n, "generation lengths, comma-separated (0: skip)");
  bench->add_option("-t,--threads", bench_t, "thread counts, comma-separated (default: physical cores)");
  bench->add_option("-r,--repetitions", reps, "repetitions per test")->check(CLI::Range(1, 1000));
  bench->add_flag("--json", json, "print a JSON array with llama-bench's field names");
  bench->add_flag("--membw", membw, "measure read bandwidth and report decode against the bandwidth bound");

  tools::ChatOptions chat_o;
  std::string context_full = "stop";
  auto* chat = app.add_subcommand("chat", "Chat in the terminal with the model's own chat template (stdin may be a pipe)");
  chat->add_option("-m,--model", chat_o.model, "GGUF file")->required();
  chat->add_option("--system", chat_o.system, "system message");
  chat->add_option("--chat-template", chat_o.template_path, "a Jinja template file to use instead of the model's");
  chat->add_option("-c,--ctx", chat_o.n_ctx, "context size in tokens (default: the model's, at most 4096)");
  chat->add_option("-n,--n-predict", chat_o.n_predict, "most tokens per reply");
  chat->add_option("--context-full", context_full, "when the context is full: stop (say so) or drop (the oldest turns)")
      ->check(CLI::IsMember({"stop", "drop"}));
  chat->add_option("--temp", chat_o.sampling.temp, "temperature (0: greedy)");
  chat->add_option("--top-k", chat_o.sampling.top_k, "top-k (0: off)");
  chat->add_option("--top-p", chat_o.sampling.top_p, "top-p (1: off)");
  chat->add_option("--min-p", chat_o.sampling.min_p, "min-p (0: off)");
  chat->add_option("--repeat-penalty", chat_o.sampling.repeat_penalty, "repetition penalty (1: off)");
  int64_t chat_seed = -1;
  chat->add_option("--seed", chat_seed, "random seed (-1: random)");
  chat->add_option("-t,--threads", chat_o.threads, "threads")->check(CLI::Range(1, 1024));

  std::string template_file, input_json;
  auto* templ = app.add_subcommand("template", "Render a chat template over an input JSON, exactly as Hugging Face would");
  templ->add_option("--template", template_file, "template file (.jinja)");
  templ->add_option("-m,--model", model_path, "use this GGUF file's tokenizer.chat_template");
  templ->add_option("--input", input_json, "JSON with messages, add_generation_prompt, bos_token, eos_token, date")->required();

  tools::PerplexityOptions ppl;
  auto* perplexity = app.add_subcommand("perplexity", "Perplexity over a text file, and KL divergence against a base model's logits");
  perplexity->add_option("-m,--model", ppl.model, "GGUF file")->required();
  perplexity->add_option("-f,--file", ppl.text_file, "text file");
  perplexity->add_option("-c,--ctx", ppl.n_ctx, "tokens per chunk (default 512, at most the model's context)");
  perplexity->add_option("--chunks", ppl.n_chunks, "evaluate only the first N chunks");
  perplexity->add_option("--save-logits", ppl.save_logits, "save this model's log-probabilities for later --kl-base");
  perplexity->add_option("--kl-base", ppl.kl_base, "compare with a base model's saved log-probabilities (KLD, top-token agreement)");
  perplexity->add_option("-t,--threads", ppl.threads, "threads")->check(CLI::Range(1, 1024));

  tools::ImatrixOptions imo;
  auto* imat = app.add_subcommand("imatrix", "Collect an importance matrix over a text (llama.cpp's GGUF imatrix format)");
  imat->add_option("-m,--model", imo.model, "GGUF file")->required();
  imat->add_option("-f,--file", imo.text_file, "text file")->required();
  imat->add_option("-o,--output", imo.output, "output imatrix GGUF")->required();
  imat->add_option("-c,--ctx", imo.n_ctx, "tokens per chunk");
  imat->add_option("--chunks", imo.n_chunks, "use only the first N chunks");
  imat->add_option("-t,--threads", imo.threads, "threads")->check(CLI::Range(1, 1024));

  auto* quant = app.add_subcommand(
      "quantize", "Quantize a model: IN.gguf OUT.gguf TYPE [--imatrix F] [--tensor-type RE=TYPE] [--keep-output] "
                  "[--allow-requantize] [-t N]");
  quant->allow_extras()->set_help_flag();  // its own parser reads the arguments (and -h)

  tools::LadderOptions lo;
  std::string ladder_types;
  auto* lad = app.add_subcommand("ladder", "Quantize to each type and measure quality (PPL, KLD) and speed; table + plot");
  lad->add_option("-m,--model", lo.model, "F32/F16/BF16 GGUF")->required();
  lad->add_option("-f,--file", lo.text_file, "evaluation text")->required();
  lad->add_option("--types", ladder_types, "comma-separated types (default: Q8_0,Q6_K,Q5_K_M,Q4_K_M,Q4_K_S,Q3_K_M,Q2_K,Q4_0,IQ4_NL)");
  lad->add_option("-o,--output", lo.out_dir, "output folder (ladder.md, ladder.csv, ladder.svg)");
  lad->add_option("-c,--ctx", lo.n_ctx, "perplexity chunk size");
  lad->add_option("--chunks", lo.n_chunks, "evaluate only the first N chunks");
  lad->add_option("--max-bytes", lo.max_bytes, "use only the first N bytes of the text");
  lad->add_flag("--keep-models", lo.keep_models, "keep the quantized GGUFs in the output folder");
  lad->add_option("-t,--threads", lo.threads, "threads")->check(CLI::Range(1, 1024));

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string msg = e.what();
    for (char& ch : msg)
      if (ch == '\n') ch = ' ';
    std::fprintf(stderr, "minnow: error: %s (see minnow --help)\n", msg.c_str());
    return 1;
  }

  try {
    if (*info) {
      std::fputs(tools::describe_gguf(model_path).c_str(), stdout);
      return 0;
    }
    if (*run) {
      sp.seed_random = seed < 0;
      sp.seed = static_cast<uint64_t>(seed);
      return cmd_run(model_path, prompt, n_predict, sp, threads, ignore_eos, !quiet);
    }
    if (*logits) return cmd_logits(model_path, tokens, out_path, threads);
    if (*synth) {
      tools::synth(like, qtype, out_path, synth_seed);
      return 0;
    }
    if (*bench) {
      tools::BenchOptions o;
      o.model = model_path;
      o.n_prompt = parse_int_list(bench_p, "-p");
      o.n_gen = parse_int_list(bench_n, "-n");
      if (!bench_t.empty()) o.threads = parse_int_list(bench_t, "-t");
      for (int t : o.threads)
        if (t < 1 || t > 1024) fail("-t: thread counts must be 1 to 1024");
      o.reps = reps;
      o.json = json;
      o.membw = membw;
      tools::bench(o);
      return 0;
    }
    if (*tokenize) {
      if (file.empty() && text.empty() && tokenize->count("text") == 0) fail("tokenize: give TEXT or --file PATH");
      return cmd_tokenize(model_path, text, file, no_bos, special, show);
    }
    if (*quant) return tools::run_quantize(quant->remaining());
    if (*lad) {
      if (!ladder_types.empty()) {
        lo.types.clear();
        std::stringstream ss(ladder_types);
        std::string t;
        while (std::getline(ss, t, ',')) {
          tools::parse_file_type(t);  // validate early, with the list of names
          lo.types.push_back(t);
        }
      }
      tools::ladder(lo);
      return 0;
    }
    if (*imat) {
      tools::imatrix(imo);
      return 0;
    }
    if (*perplexity) {
      const auto r = tools::perplexity(ppl);
      std::fputs(tools::format_result(r).c_str(), stdout);
      return 0;
    }
    if (*chat) {
      chat_o.drop_oldest = context_full == "drop";
      chat_o.sampling.seed_random = chat_seed < 0;
      chat_o.sampling.seed = static_cast<uint64_t>(chat_seed);
      return tools::chat(chat_o, std::cin, stdout);
    }
    if (*templ) {
      if (template_file.empty() && model_path.empty()) fail("template: give --template FILE or -m MODEL");
      const std::string out = tools::render_template_file(template_file, model_path, input_json);
      std::fwrite(out.data(), 1, out.size(), stdout);
      return 0;
    }
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "minnow: error: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::string msg = e.what();
    for (char& ch : msg)
      if (ch == '\n' || ch == '\r') ch = ' ';
    std::fprintf(stderr, "minnow: error: %s\n", msg.c_str());
    return 1;
  }
  return 0;
}
