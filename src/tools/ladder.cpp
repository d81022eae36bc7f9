#include "tools/ladder.h"

#include <sys/stat.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <random>

#include "common/error.h"
#include "model/model.h"
#include "runtime/session.h"
#include "tools/perplexity.h"
#include "tools/quant_mix.h"
#include "tools/quantize_tool.h"

namespace minnow::tools {

namespace {

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

struct Speed {
  double pp = 0, tg = 0;
};

// Prompt processing and generation speed, best of a few runs (timing only, for the table).
Speed measure_speed(const std::string& path, int threads, int n_prompt, int n_gen, int reps) {
  auto model = Model::load(path);
  const int32_t n_ctx = std::min(model->config().n_ctx_train, n_prompt + n_gen + 1);
  n_prompt = std::min(n_prompt, n_ctx - 1);
  n_gen = std::min(n_gen, n_ctx - 1);
  runtime::ThreadPool pool(threads > 0 ? threads : runtime::ThreadPool::default_threads());
  runtime::Session s(*model, pool, {n_ctx});
  std::mt19937 rng(7);
  std::vector<int32_t> ids(static_cast<size_t>(n_prompt));
  for (auto& id : ids) id = static_cast<int32_t>(rng() % static_cast<uint32_t>(model->config().n_vocab));
  Speed best;
  for (int r = 0; r < reps; ++r) {
    s.reset();
    double t0 = now_s();
    s.eval(ids.data(), n_prompt);
    best.pp = std::max(best.pp, n_prompt / (now_s() - t0));
    s.reset();
    int32_t id = ids[0];
    t0 = now_s();
    for (int i = 0; i < n_gen; ++i) s.eval(&id, 1), id = ids[static_cast<size_t>(i) % ids.size()];
    best.tg = std::max(best.tg, n_gen / (now_s() - t0));
  }
  return best;
}

struct FileStats {
  double bytes = 0, params = 0;
  std::map<std::string, int> types;
};
FileStats file_stats(const std::string& path) {
  auto f = gguf::File::open(path);
  FileStats st;
  for (const auto& t : f->tensors()) {
    st.bytes += static_cast<double>(t.n_bytes);
    st.params += static_cast<double>(t.n_elements());
    if (t.n_dims >= 2) st.types[type_name(t.type)]++;
  }
  return st;
}

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

}  // namespace

std::string ladder_markdown(const std::vector<LadderRow>& rows, const std::string& title) {
  std::string s = "# Quality vs size: " + title + "\n\n";
  s += "| type | size (MiB) | bits/weight | PPL | ΔPPL % | mean KLD | KLD p99 | same top % | prefill t/s | decode t/s |\n";
  s += "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n";
  for (const auto& r : rows)
    s += "| " + r.type + " | " + fmt("%.2f", r.size_mib) + " | " + fmt("%.2f", r.bpw) + " | " + fmt("%.4f", r.ppl) +
         " ± " + fmt("%.4f", r.ppl_err) + " | " + fmt("%+.2f", r.dppl_pct) + " | " + fmt("%.6f", r.kld) + " | " +
         fmt("%.5f", r.kld_p99) + " | " + fmt("%.2f", r.same_top_pct) + " | " + fmt("%.1f", r.pp_ts) + " | " +
         fmt("%.1f", r.tg_ts) + " |\n";
  bool notes = false;
  for (const auto& r : rows)
    if (!r.note.empty()) {
      if (!notes) s += "\nNotes:\n";
      notes = true;
      s += "- " + r.type + ": " + r.note + "\n";
    }
  return s;
}

std::string ladder_svg(const std::vector<LadderRow>& rows, const std::string& title) {
  // Mean KLD (log scale) against size: lower left is better.
  const double W = 720, H = 440, L = 80, R = 30, T = 50, B = 60;
  double xmin = 1e300, xmax = 0, ymin = 1e300, ymax = 0;
  for (const auto& r : rows) {
    if (r.type == "base") continue;
    xmin = std::min(xmin, r.size_mib), xmax = std::max(xmax, r.size_mib);
    const double k = std::max(r.kld, 1e-7);
    ymin = std::min(ymin, k), ymax = std::max(ymax, k);
  }
  if (xmax <= xmin) xmax = xmin + 1;
  const double ly0 = std::floor(std::log10(ymin)), ly1 = std::max(std::ceil(std::log10(ymax)), ly0 + 1);
  const double pad = (xmax - xmin) * 0.08;
  xmin -= pad, xmax += pad;
  auto X = [&](double v) { return L + (v - xmin) / (xmax - xmin) * (W - L - R); };
  auto Y = [&](double k) { return T + (ly1 - std::log10(std::max(k, 1e-7))) / (ly1 - ly0) * (H - T - B); };
  std::string s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + fmt("%.0f", W) + "\" height=\"" + fmt("%.0f", H) +
                  "\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  s += "<text x=\"" + fmt("%.0f", W / 2) + "\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">" + title +
       ": quality loss vs size</text>\n";
  s += "<line x1=\"" + fmt("%.0f", L) + "\" y1=\"" + fmt("%.0f", H - B) + "\" x2=\"" + fmt("%.0f", W - R) + "\" y2=\"" +
       fmt("%.0f", H - B) + "\" stroke=\"black\"/>\n";
  s += "<line x1=\"" + fmt("%.0f", L) + "\" y1=\"" + fmt("%.0f", T) + "\" x2=\"" + fmt("%.0f", L) + "\" y2=\"" +
       fmt("%.0f", H - B) + "\" stroke=\"black\"/>\n";
  for (double e = ly0; e <= ly1 + 1e-9; e += 1) {
    const double y = Y(std::pow(10.0, e));
    s += "<line x1=\"" + fmt("%.0f", L - 4) + "\" y1=\"" + fmt("%.1f", y) + "\" x2=\"" + fmt("%.0f", W - R) + "\" y2=\"" +
         fmt("%.1f", y) + "\" stroke=\"#ddd\"/>\n<text x=\"" + fmt("%.0f", L - 8) + "\" y=\"" + fmt("%.1f", y + 4) +
         "\" text-anchor=\"end\">1e" + fmt("%.0f", e) + "</text>\n";
  }
  for (int i = 0; i <= 4; ++i) {
    const double v = xmin + (xmax - xmin) * i / 4;
    s += "<text x=\"" + fmt("%.1f", X(v)) + "\" y=\"" + fmt("%.0f", H - B + 18) + "\" text-anchor=\"middle\">" +
         fmt(v < 10 ? "%.2f" : "%.0f", v) + "</text>\n";
  }
  s += "<text x=\"" + fmt("%.0f", (L + W - R) / 2) + "\" y=\"" + fmt("%.0f", H - 18) +
       "\" text-anchor=\"middle\">size (MiB)</text>\n";
  s += "<text transform=\"translate(18," + fmt("%.0f", (T + H - B) / 2) +
       ") rotate(-90)\" text-anchor=\"middle\">mean KL divergence vs unquantized (log)</text>\n";
  // Labels: next to their point, moved down in steps while they would overlap one already placed.
  struct Box { double x0, y0, x1, y1; };
  std::vector<Box> placed;
  for (const auto& r : rows) {
    if (r.type == "base") continue;
    const double x = X(r.size_mib), y = Y(r.kld);
    s += "<circle cx=\"" + fmt("%.1f", x) + "\" cy=\"" + fmt("%.1f", y) + "\" r=\"4\" fill=\"#1f77b4\"/>\n";
    const double w = 7.0 * static_cast<double>(r.type.size());
    double ly = y - 6;
    for (int tries = 0; tries < 12; ++tries) {
      const Box b{x + 6, ly - 11, x + 6 + w, ly + 2};
      bool clash = false;
      for (const Box& p : placed) clash |= b.x0 < p.x1 && p.x0 < b.x1 && b.y0 < p.y1 && p.y0 < b.y1;
      if (!clash) break;
      ly += 13;
    }
    placed.push_back({x + 6, ly - 11, x + 6 + w, ly + 2});
    s += "<text x=\"" + fmt("%.1f", x + 6) + "\" y=\"" + fmt("%.1f", ly) + "\">" + r.type + "</text>\n";
  }
  return s + "</svg>\n";
}

std::vector<LadderRow> ladder(const LadderOptions& o) {
  ::mkdir(o.out_dir.c_str(), 0755);
  {
    auto f = gguf::File::open(o.model);
    for (const auto& t : f->tensors())
      if (t.n_dims >= 2 && !(t.type == DType::F32 || t.type == DType::F16 || t.type == DType::BF16))
        fail("ladder: ", o.model, " is already quantized (", t.name, " is ", type_name(t.type),
             "); give the F32, F16 or BF16 model");
  }
  const std::string base_logits = o.out_dir + "/base.logits";
  std::vector<LadderRow> rows;
  const size_t n_steps = o.types.size() + 1;

  // 1. the unquantized model: perplexity, saved log-probabilities, speed
  std::fprintf(stderr, "[ladder 1/%zu] base model: perplexity and reference log-probabilities\n", n_steps);
  PerplexityOptions po;
  po.model = o.model;
  po.text_file = o.text_file;
  po.n_ctx = o.n_ctx;
  po.n_chunks = o.n_chunks;
  po.max_bytes = o.max_bytes;
  po.threads = o.threads;
  po.progress = false;
  po.save_logits = base_logits;
  const PerplexityResult base = perplexity(po);
  FileStats bst = file_stats(o.model);
  LadderRow b;
  b.type = "base";
  b.size_mib = bst.bytes / 1048576.0;
  b.bpw = bst.bytes * 8 / bst.params;
  b.ppl = base.ppl, b.ppl_err = base.ppl_err, b.same_top_pct = 100.0;
  const Speed bs = measure_speed(o.model, o.threads, o.bench_prompt, o.bench_gen, o.bench_reps);
  b.pp_ts = bs.pp, b.tg_ts = bs.tg;
  rows.push_back(b);

  // 2. each type
  for (size_t i = 0; i < o.types.size(); ++i) {
    const std::string& type = o.types[i];
    std::fprintf(stderr, "[ladder %zu/%zu] %s: quantize, evaluate, time\n", i + 2, n_steps, type.c_str());
    const std::string qpath = o.out_dir + "/model-" + type + ".gguf";
    QuantizeOptions qo;
    qo.input = o.model;
    qo.output = qpath;
    qo.type = type;
    qo.threads = o.threads;
    qo.progress = false;
    quantize_model(qo);
    PerplexityOptions pq = po;
    pq.model = qpath;
    pq.save_logits.clear();
    pq.kl_base = base_logits;
    pq.text_file.clear();  // the tokens come from the base file
    const PerplexityResult r = perplexity(pq);
    const FileStats st = file_stats(qpath);
    LadderRow row;
    row.type = type;
    row.size_mib = st.bytes / 1048576.0;
    row.bpw = st.bytes * 8 / st.params;
    row.ppl = r.ppl, row.ppl_err = r.ppl_err;
    row.dppl_pct = (r.ppl / base.ppl - 1.0) * 100.0;
    row.kld = r.kld_mean, row.kld_p99 = r.kld_p99;
    row.same_top_pct = r.same_top * 100.0;
    const Speed sp = measure_speed(qpath, o.threads, o.bench_prompt, o.bench_gen, o.bench_reps);
    row.pp_ts = sp.pp, row.tg_ts = sp.tg;
    // Say when the model's row widths forced other types than the mix asks for (e.g. 64-wide rows
    // cannot hold 256-element K-quant blocks).
    const std::string want = type_name(base_type(parse_file_type(type)));
    std::string got;
    for (const auto& [tn, n] : st.types) got += (got.empty() ? "" : ", ") + std::to_string(n) + " " + tn;
    if (!st.types.count(want))
      row.note = "no tensor could take " + want + " (row widths); llama.cpp's fallback types were used: " + got;
    rows.push_back(row);
    if (!o.keep_models) std::remove(qpath.c_str());
    std::fprintf(stderr, "    %s: %.2f MiB, PPL %.4f (%+.2f%%), KLD %.6f, same top %.1f%%%s\n", type.c_str(), row.size_mib,
                 row.ppl, row.dppl_pct, row.kld, row.same_top_pct, row.note.empty() ? "" : "  [fallback types]");
  }
  std::remove(base_logits.c_str());

  const std::string title = gguf::File::open(o.model)->get_string("general.name", o.model);
  const std::string md = ladder_markdown(rows, title);
  std::ofstream(o.out_dir + "/ladder.md") << md;
  std::ofstream csv(o.out_dir + "/ladder.csv");
  csv << "type,size_mib,bits_per_weight,ppl,ppl_err,dppl_pct,mean_kld,kld_p99,same_top_pct,prefill_ts,decode_ts,note\n";
  for (const auto& r : rows)
    csv << r.type << "," << r.size_mib << "," << r.bpw << "," << r.ppl << "," << r.ppl_err << "," << r.dppl_pct << ","
        << r.kld << "," << r.kld_p99 << "," << r.same_top_pct << "," << r.pp_ts << "," << r.tg_ts << ",\"" << r.note
        << "\"\n";
  std::ofstream(o.out_dir + "/ladder.svg") << ladder_svg(rows, title);
  std::fputs(md.c_str(), stdout);
  std::fprintf(stderr, "wrote %s/ladder.md, ladder.csv, ladder.svg\n", o.out_dir.c_str());
  return rows;
}

}  // namespace minnow::tools
