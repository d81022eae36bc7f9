// Tokenizer throughput: encodes a text corpus with each given vocab, on one thread, and prints MB/s.
//
//   tokenize_bench CORPUS VOCAB.gguf [VOCAB.gguf ...] [--repeat N]
//
// Three ways of calling encode(add_special=false): the whole corpus in one call, one call per 4 KiB chunk
// (cut at line ends), and one call per line. Each way starts from a freshly loaded tokenizer, so the first
// pass ("cold") runs with an empty word cache; "warm" is the best of the N-1 passes after it (default N = 3).
// Rates are bytes of corpus per second of this thread's CPU time.
// Example: tokenize_bench ../shared/corpus/brown_plain.txt ../shared/golden/vocab/ggml-vocab-llama-bpe-fixture.gguf
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// CPU time of this thread: what "MB/s on one core" means, and robust when other processes share the cores.
double cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

std::vector<std::string_view> cut(std::string_view text, size_t target) {
  std::vector<std::string_view> parts;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = std::min(text.size(), pos + target);
    if (target > 1 && end < text.size()) {
      const size_t nl = text.find('\n', end);
      end = nl == std::string_view::npos ? text.size() : nl + 1;
    }
    if (target == 1) {  // one line per part
      const size_t nl = text.find('\n', pos);
      end = nl == std::string_view::npos ? text.size() : nl + 1;
    }
    parts.push_back(text.substr(pos, end - pos));
    pos = end;
  }
  return parts;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  int repeat = 3;
  std::vector<std::string> positional;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--repeat" && i + 1 < args.size())
      repeat = std::max(1, std::atoi(args[++i].c_str()));
    else
      positional.push_back(args[i]);
  }
  if (positional.size() < 2) {
    std::fprintf(stderr, "usage: tokenize_bench CORPUS VOCAB.gguf [VOCAB.gguf ...] [--repeat N]\n");
    return 2;
  }
  std::ifstream f(positional[0], std::ios::binary);
  if (!f) {
    std::fprintf(stderr, "cannot read %s\n", positional[0].c_str());
    return 1;
  }
  std::ostringstream ss;
  ss << f.rdbuf();
  const std::string corpus = ss.str();
  const double mb = static_cast<double>(corpus.size()) / 1e6;
  std::printf("corpus %s: %.2f MB\n", positional[0].c_str(), mb);

  try {
    for (size_t v = 1; v < positional.size(); ++v) {
      const double t_load = now_s();
      auto file = minnow::gguf::File::open(positional[v]);
      auto tok = minnow::Tokenizer::from_gguf(*file);
      std::printf("%s (%s, %d tokens, pre %s): loaded in %.0f ms\n", positional[v].c_str(), tok->kind().c_str(),
                  tok->n_vocab(), file->get_string("tokenizer.ggml.pre", "-").c_str(), (now_s() - t_load) * 1e3);
      struct Mode {
        const char* name;
        size_t target;
      };
      for (const Mode m : {Mode{"whole text", 0}, Mode{"4 KiB chunks", 4096}, Mode{"per line", 1}}) {
        tok = minnow::Tokenizer::from_gguf(*file);  // fresh instance: empty caches
        const std::vector<std::string_view> parts = m.target == 0 ? std::vector<std::string_view>{corpus} : cut(corpus, m.target);
        double cold = 0, warm = 1e30;
        size_t n_tokens = 0;
        for (int r = 0; r < repeat; ++r) {
          n_tokens = 0;
          const double t0 = cpu_s();
          for (std::string_view p : parts) n_tokens += tok->encode(p, false, false).size();
          const double dt = cpu_s() - t0;
          if (r == 0)
            cold = dt;
          else
            warm = std::min(warm, dt);
        }
        std::printf("  %-13s cold %7.2f MB/s", m.name, mb / cold);
        if (repeat > 1) std::printf("  warm %7.2f MB/s", mb / warm);
        std::printf("  (%zu calls, %zu tokens, %.2f bytes/token)\n", parts.size(), n_tokens,
                    static_cast<double>(corpus.size()) / static_cast<double>(n_tokens));
      }
    }
  } catch (const minnow::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
