#include "tools/bench.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <random>

#include "common/error.h"
#include "model/model.h"
#include "runtime/session.h"
#include "tensor/kernels.h"
#include "tools/quant_mix.h"

namespace minnow::tools {

namespace {

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

struct Stats {
  double mean = 0, sd = 0;
  std::vector<double> samples;
};
Stats stats(const std::vector<double>& v) {
  Stats s;
  s.samples = v;
  for (double x : v) s.mean += x;
  s.mean /= static_cast<double>(v.size());
  for (double x : v) s.sd += (x - s.mean) * (x - s.mean);
  s.sd = v.size() > 1 ? std::sqrt(s.sd / static_cast<double>(v.size() - 1)) : 0.0;
  return s;
}

double peak_rss_mib() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;
}

// Bytes of weights one decoded token reads: every matrix once (the embedding only one row, unless it is
// also the output matrix).
double weight_bytes_per_token(const Model& m) {
  double b = 0;
  const Weights& w = m.weights();
  for (const auto& t : m.file().tensors()) {
    if (t.name == "token_embd.weight" && w.output.data != w.token_embd.data) {
      b += static_cast<double>(t.n_bytes) / static_cast<double>(t.ne[1]);
      continue;
    }
    if (t.name.find("per_layer_token_embd") != std::string::npos) {
      b += static_cast<double>(t.n_bytes) / static_cast<double>(t.ne[1]);
      continue;
    }
    b += static_cast<double>(t.n_bytes);
  }
  return b;
}

std::string human_params(double n) {
  char buf[32];
  if (n >= 1e9) std::snprintf(buf, sizeof buf, "%.2f B", n / 1e9);
  else std::snprintf(buf, sizeof buf, "%.2f M", n / 1e6);
  return buf;
}

}  // namespace

double measure_read_bandwidth(int n_threads) {
  const size_t n = (size_t{1} << 30) / sizeof(uint64_t);  // 1 GiB
  std::vector<uint64_t> buf(n);
  runtime::ThreadPool pool(n_threads);
  auto init = [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) buf[static_cast<size_t>(i)] = static_cast<uint64_t>(i);
  };
  pool.parallel_for(static_cast<int64_t>(n), init, 4096);  // first touch by the threads that will read
  double best = 0;
  std::vector<uint64_t> sink(static_cast<size_t>(n_threads) * 8);
  for (int pass = 0; pass < 4; ++pass) {
    const double t0 = now_s();
    auto read = [&](int64_t b, int64_t e, int ti) {
      uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
      const uint64_t* p = buf.data();
      int64_t i = b;
      for (; i + 4 <= e; i += 4) a0 ^= p[i], a1 ^= p[i + 1], a2 ^= p[i + 2], a3 ^= p[i + 3];
      sink[static_cast<size_t>(ti) * 8] = a0 ^ a1 ^ a2 ^ a3;
    };
    pool.parallel_for(static_cast<int64_t>(n), read, 4096);
    const double dt = now_s() - t0;
    best = std::max(best, static_cast<double>(n * sizeof(uint64_t)) / dt / 1e9);
  }
  return best;
}

void bench(const BenchOptions& o) {
  std::vector<int> threads = o.threads;
  if (threads.empty()) threads.push_back(runtime::ThreadPool::default_threads());
  if (o.reps < 1) fail("bench: -r must be at least 1");
  for (int p : o.n_prompt)
    if (p < 0) fail("bench: -p must not be negative");
  for (int n : o.n_gen)
    if (n < 0) fail("bench: -n must not be negative");

  const double t_load0 = now_s();
  auto model = Model::load(o.model);
  const double load_s = now_s() - t_load0;
  const Config& c = model->config();
  double params = 0, size = 0;
  for (const auto& t : model->file().tensors()) params += static_cast<double>(t.n_elements()), size += static_cast<double>(t.n_bytes);
  const std::string type_label =
      file_type_name(static_cast<FileType>(model->file().get_uint("general.file_type", 0)));
  const double bytes_per_token = weight_bytes_per_token(*model);
  std::mt19937 rng(42);
  std::uniform_int_distribution<int32_t> tok(0, c.n_vocab - 1);

  struct Row {
    int threads, n_prompt, n_gen;
    Stats ts, ns;
    double ttft_ms = 0;
    double membw = 0;
  };
  std::vector<Row> rows;
  int max_ctx = 1;
  for (int p : o.n_prompt) max_ctx = std::max(max_ctx, p + 1);
  for (int n : o.n_gen) max_ctx = std::max(max_ctx, n + 1);
  if (max_ctx > c.n_ctx_train) fail("bench: a test needs ", max_ctx, " tokens of context, the model has ", c.n_ctx_train);

  for (int nt : threads) {
    runtime::ThreadPool pool(nt);
    runtime::Session s(*model, pool, {max_ctx});
    double bw = o.membw ? measure_read_bandwidth(nt) : 0.0;
    {  // warm-up: page in the weights, size the buffers
      std::vector<int32_t> w(std::min(16, max_ctx - 1), 1);
      s.eval(w.data(), static_cast<int32_t>(w.size()));
      s.reset();
    }
    for (int p : o.n_prompt) {
      if (p == 0) continue;
      std::vector<double> ts, ns, ttft;
      for (int r = 0; r < o.reps; ++r) {
        std::vector<int32_t> ids(p);
        for (auto& id : ids) id = tok(rng);
        s.reset();
        std::fprintf(stderr, "\rbench: pp%d t=%d rep %d/%d   ", p, nt, r + 1, o.reps);
        const double t0 = now_s();
        const float* logits = s.eval(ids.data(), p);
        const double t1 = now_s();
        int32_t best = 0;  // the first token is ready once it is sampled
        for (int32_t v = 1; v < c.n_vocab; ++v)
          if (logits[v] > logits[best]) best = v;
        const double t2 = now_s();
        ts.push_back(p / (t1 - t0));
        ns.push_back((t1 - t0) * 1e9);
        ttft.push_back((t2 - t0) * 1e3);
      }
      Row row{nt, p, 0, stats(ts), stats(ns)};
      row.ttft_ms = stats(ttft).mean;
      rows.push_back(row);
    }
    for (int n : o.n_gen) {
      if (n == 0) continue;
      std::vector<double> ts, ns;
      for (int r = 0; r < o.reps; ++r) {
        s.reset();
        std::fprintf(stderr, "\rbench: tg%d t=%d rep %d/%d   ", n, nt, r + 1, o.reps);
        int32_t id = tok(rng);
        const double t0 = now_s();
        for (int i = 0; i < n; ++i) {
          const float* logits = s.eval(&id, 1);
          id = static_cast<int32_t>((logits[0] > 0 ? 7 : 13) + i) % c.n_vocab;  // any next token; timing only
        }
        const double dt = now_s() - t0;
        ts.push_back(n / dt);
        ns.push_back(dt * 1e9);
      }
      Row row{nt, 0, n, stats(ts), stats(ns)};
      row.membw = bw;
      rows.push_back(row);
    }
  }
  std::fprintf(stderr, "\r%60s\r", "");

  const std::string model_name = model->file().get_string("general.name", o.model);
  if (o.json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const Row& r : rows) {
      nlohmann::json j;
      j["build_commit"] = "minnow";
      j["cpu_info"] = isa_name(best_isa());
      j["backends"] = "CPU";
      j["model_filename"] = o.model;
      j["model_type"] = c.arch + " " + model_name;
      j["model_size"] = static_cast<uint64_t>(size);
      j["model_n_params"] = static_cast<uint64_t>(params);
      j["n_batch"] = 512;
      j["n_ubatch"] = 512;
      j["n_threads"] = r.threads;
      j["type_k"] = "f32";
      j["type_v"] = "f32";
      j["use_mmap"] = true;
      j["n_prompt"] = r.n_prompt;
      j["n_gen"] = r.n_gen;
      j["n_depth"] = 0;
      j["avg_ns"] = static_cast<uint64_t>(r.ns.mean);
      j["stddev_ns"] = static_cast<uint64_t>(r.ns.sd);
      j["avg_ts"] = r.ts.mean;
      j["stddev_ts"] = r.ts.sd;
      j["samples_ns"] = r.ns.samples;
      j["samples_ts"] = r.ts.samples;
      j["load_ms"] = load_s * 1e3;
      j["peak_rss_mib"] = peak_rss_mib();
      if (r.n_prompt) j["ttft_ms"] = r.ttft_ms;
      if (r.membw > 0) {
        j["membw_gbs"] = r.membw;
        j["bound_ts"] = r.membw * 1e9 / bytes_per_token;
        j["ratio_to_bound"] = r.ts.mean / (r.membw * 1e9 / bytes_per_token);
      }
      arr.push_back(j);
    }
    std::printf("%s\n", arr.dump(2).c_str());
    return;
  }
  std::printf("| model | size | params | isa | threads | test | t/s |%s\n", o.membw ? " bound t/s | of bound |" : "");
  std::printf("| --- | ---: | ---: | --- | ---: | ---: | ---: |%s\n", o.membw ? " ---: | ---: |" : "");
  for (const Row& r : rows) {
    char size_s[32];
    std::snprintf(size_s, sizeof size_s, "%.2f GiB", size / 1073741824.0);
    const std::string test = r.n_prompt ? "pp" + std::to_string(r.n_prompt) : "tg" + std::to_string(r.n_gen);
    std::printf("| %s %s | %s | %s | %s | %d | %s | %.2f ± %.2f |", c.arch.c_str(), type_label.c_str(), size_s,
                human_params(params).c_str(), isa_name(best_isa()), r.threads, test.c_str(), r.ts.mean, r.ts.sd);
    if (o.membw) {
      if (r.membw > 0) {
        const double bound = r.membw * 1e9 / bytes_per_token;
        std::printf(" %.2f | %.0f%% |", bound, 100.0 * r.ts.mean / bound);
      } else {
        std::printf(" | |");
      }
    }
    std::printf("\n");
  }
  std::printf("\nload %.0f ms", load_s * 1e3);
  for (const Row& r : rows)
    if (r.n_prompt) std::printf(" | time to first token (pp%d, t=%d) %.1f ms", r.n_prompt, r.threads, r.ttft_ms);
  std::printf(" | peak RSS %.0f MiB | weights read per token %.1f MiB", peak_rss_mib(), bytes_per_token / 1048576.0);
  for (const Row& r : rows)
    if (r.membw > 0) std::printf(" | read bandwidth (t=%d) %.1f GB/s", r.threads, r.membw);
  std::printf("\n");
}

}  // namespace minnow::tools
