#include "tools/perplexity.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <utility>
#include <vector>

#include "common/error.h"
#include "model/model.h"
#include "runtime/session.h"
#include "runtime/threadpool.h"
#include "tensor/fp16.h"

namespace minnow::tools {

namespace {

constexpr char kMagic[8] = {'M', 'N', 'W', 'L', 'O', 'G', 'P', '1'};
constexpr uint32_t kVersion = 1;
constexpr uint32_t kDtypeF32 = 0, kDtypeF16 = 1;
constexpr int32_t kDefaultCtx = 512;  // llama-perplexity's default -c
constexpr size_t kHeaderBytes = 8 + 4 + 4 + 4 * 4;

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

std::string read_text(const std::string& path, size_t max_bytes) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) fail("cannot read text file '", path, "': no such file");
  std::ifstream f(path, std::ios::binary);
  if (!f) fail("cannot open text file '", path, "'");
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (f.bad()) fail("error reading text file '", path, "'");
  if (max_bytes > 0 && s.size() > max_bytes) s.resize(max_bytes);
  if (!s.empty() && s.back() == '\n') s.pop_back();  // as llama.cpp's -f
  return s;
}

// mean and its standard error, as llama.cpp's kl-divergence mode computes them.
std::pair<double, double> mean_and_unc(double sum, double sum2, size_t count) {
  if (count < 1) return {0.0, 0.0};
  const double n = static_cast<double>(count);
  const double f = sum / n;
  const double var = sum2 / n - f * f;
  return {f, var > 0 && count > 10 ? std::sqrt(var / (n - 1)) : 0.0};
}

// Linear interpolation over sorted values (llama.cpp's percentile).
double percentile(const std::vector<double>& sorted, double fraction) {
  if (sorted.empty()) return 0.0;
  if (fraction <= 0) return sorted.front();
  if (fraction >= 1) return sorted.back();
  double p = fraction * static_cast<double>(sorted.size() - 1);
  const size_t ip = static_cast<size_t>(p);
  p -= static_cast<double>(ip);
  return (1 - p) * sorted[ip] + p * sorted[std::min(ip + 1, sorted.size() - 1)];
}

// A file written by --save-logits, read chunk by chunk.
class BaseFile {
 public:
  BaseFile(const std::string& path, const Config& cfg) : path_(path) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) fail("cannot read base logits file '", path, "': no such file");
    const uint64_t size = std::filesystem::file_size(path, ec);
    if (ec) fail("cannot read base logits file '", path, "'");
    f_.open(path, std::ios::binary);
    if (!f_) fail("cannot open base logits file '", path, "'");
    char magic[8];
    uint32_t version = 0;
    int32_t hdr[4];
    if (size < kHeaderBytes || !f_.read(magic, 8) || std::memcmp(magic, kMagic, 8) != 0)
      fail("'", path, "' is not a minnow saved-logits file (written by perplexity --save-logits)");
    f_.read(reinterpret_cast<char*>(&version), 4);
    f_.read(reinterpret_cast<char*>(&dtype_), 4);
    f_.read(reinterpret_cast<char*>(hdr), sizeof hdr);
    if (!f_) fail("base logits file '", path, "' is truncated");
    if (version != kVersion) fail("base logits file '", path, "' has version ", version, ", expected ", kVersion);
    if (dtype_ != kDtypeF32 && dtype_ != kDtypeF16) fail("base logits file '", path, "' has unknown dtype ", dtype_);
    n_ctx = hdr[0];
    n_vocab = hdr[1];
    n_chunk = hdr[2];
    const int32_t first = hdr[3];
    if (n_vocab != cfg.n_vocab)
      fail("base logits file '", path, "' was made with a vocabulary of ", n_vocab, " tokens; the model has ",
           cfg.n_vocab);
    if (n_ctx < 3 || first != n_ctx / 2) fail("base logits file '", path, "' has a bad context (", n_ctx, ")");
    if (n_ctx > cfg.n_ctx_train)
      fail("base logits file '", path, "' was made with a context of ", n_ctx,
           " tokens, above the model's training context of ", cfg.n_ctx_train);
    if (n_chunk <= 0) fail("base logits file '", path, "' holds no chunks");
    const uint64_t rest = size - kHeaderBytes;
    if (static_cast<uint64_t>(n_chunk) > rest / (4 * static_cast<uint64_t>(n_ctx)))
      fail("base logits file '", path, "' is truncated");
    const uint64_t n_tok = static_cast<uint64_t>(n_chunk) * static_cast<uint64_t>(n_ctx);
    record_bytes = 8 + static_cast<size_t>(n_vocab) * (dtype_ == kDtypeF16 ? 2 : 4);
    n_score = n_ctx - 1 - first;
    const uint64_t body = rest - 4 * n_tok;
    if (body % record_bytes != 0 || body / record_bytes != static_cast<uint64_t>(n_chunk) * n_score)
      fail("base logits file '", path, "' has the wrong size for ", n_chunk, " chunks of ", n_ctx,
           " tokens (truncated or corrupt)");
    tokens.resize(n_tok);
    if (!f_.read(reinterpret_cast<char*>(tokens.data()), static_cast<std::streamsize>(n_tok * 4)))
      fail("base logits file '", path, "' is truncated");
  }

  // The records of the next chunk's scored positions.
  void read_chunk(std::vector<uint8_t>& buf) {
    buf.resize(static_cast<size_t>(n_score) * record_bytes);
    if (!f_.read(reinterpret_cast<char*>(buf.data()), static_cast<std::streamsize>(buf.size())))
      fail("base logits file '", path_, "' is truncated");
  }
  bool f16() const { return dtype_ == kDtypeF16; }

  int32_t n_ctx = 0, n_vocab = 0, n_chunk = 0, n_score = 0;
  size_t record_bytes = 0;
  std::vector<int32_t> tokens;

 private:
  std::string path_;
  std::ifstream f_;
  uint32_t dtype_ = 0;
};

// Per scored position.
struct RowOut {
  double nll = 0, nll_base = 0, kld = 0, p_diff = 0;
  bool same_top = false;
};

}  // namespace

PerplexityResult perplexity(const PerplexityOptions& o) {
  if (!o.save_logits.empty() && !o.kl_base.empty())
    fail("--save-logits and --kl-base cannot be used together (save from the base model, compare with the other)");
  if (o.text_file.empty() && o.kl_base.empty()) fail("perplexity needs a text file (-f)");
  if (o.n_ctx != 0 && o.n_ctx < 3) fail("context of ", o.n_ctx, " tokens is too small for perplexity (minimum 3)");

  auto model = Model::load(o.model);
  const Config& cfg = model->config();
  const Tokenizer& tok = model->tokenizer();
  if (tok.add_eos())
    fail("the model's vocabulary appends EOS to every text; perplexity does not support that (as llama.cpp)");
  const bool add_bos = tok.add_bos() && tok.bos_id() >= 0;
  const int32_t n_vocab = cfg.n_vocab;

  std::unique_ptr<BaseFile> base;
  std::vector<int32_t> tokens;
  int32_t n_ctx = 0, n_chunk = 0;
  if (!o.kl_base.empty()) {
    base = std::make_unique<BaseFile>(o.kl_base, cfg);
    n_ctx = base->n_ctx;
    if (o.n_ctx != 0 && o.n_ctx != n_ctx)
      fail("base logits file '", o.kl_base, "' was made with a context of ", n_ctx, " tokens, not ", o.n_ctx);
    n_chunk = base->n_chunk;
    tokens = base->tokens;
    if (!o.text_file.empty()) {
      const auto text_tokens = tok.encode(read_text(o.text_file, o.max_bytes), true);
      if (text_tokens.size() < tokens.size() || !std::equal(tokens.begin(), tokens.end(), text_tokens.begin()))
        fail("the text does not tokenize to the tokens recorded in '", o.kl_base,
             "' (another text, byte limit or tokenizer)");
    }
  } else {
    n_ctx = o.n_ctx > 0 ? o.n_ctx : std::min(kDefaultCtx, cfg.n_ctx_train);
    if (n_ctx > cfg.n_ctx_train)
      fail("context of ", n_ctx, " tokens exceeds the model's training context of ", cfg.n_ctx_train);
    tokens = tok.encode(read_text(o.text_file, o.max_bytes), true);
    if (tokens.size() < 2 * static_cast<size_t>(n_ctx))
      fail("the text tokenizes to only ", tokens.size(), " tokens; perplexity with a context of ", n_ctx,
           " needs at least ", 2 * static_cast<int64_t>(n_ctx));
    n_chunk = static_cast<int32_t>(std::min<size_t>(tokens.size() / static_cast<size_t>(n_ctx),
                                                    std::numeric_limits<int32_t>::max()));
  }
  if (o.n_chunks > 0) n_chunk = std::min(n_chunk, o.n_chunks);

  const int32_t first = n_ctx / 2;
  const int32_t n_score = n_ctx - 1 - first;
  const bool save = !o.save_logits.empty();
  const size_t out_record = 8 + static_cast<size_t>(n_vocab) * 2;  // we write float16 rows

  std::ofstream out;
  if (save) {
    out.open(o.save_logits, std::ios::binary | std::ios::trunc);
    if (!out) fail("cannot open '", o.save_logits, "' for writing");
    const uint32_t version = kVersion, dtype = kDtypeF16;
    const int32_t hdr[4] = {n_ctx, n_vocab, n_chunk, first};
    out.write(kMagic, 8);
    out.write(reinterpret_cast<const char*>(&version), 4);
    out.write(reinterpret_cast<const char*>(&dtype), 4);
    out.write(reinterpret_cast<const char*>(hdr), sizeof hdr);
    out.write(reinterpret_cast<const char*>(tokens.data()),
              static_cast<std::streamsize>(static_cast<size_t>(n_chunk) * n_ctx * sizeof(int32_t)));
    if (!out) fail("error writing '", o.save_logits, "'");
  }

  runtime::ThreadPool pool(o.threads > 0 ? o.threads : runtime::ThreadPool::default_threads());
  runtime::SessionOptions so;
  so.n_ctx = n_ctx;
  so.n_ubatch = std::min(n_ctx, 512);
  runtime::Session session(*model, pool, so);

  PerplexityResult r;
  r.n_ctx = n_ctx;
  r.n_chunks = n_chunk;
  r.n_tokens = static_cast<int64_t>(tokens.size());
  r.has_kl = base != nullptr;

  if (o.progress) {
    std::fprintf(stderr, "perplexity: %zu tokens, %d chunks of %d (scoring the last %d of each), %d threads%s\n",
                 tokens.size(), n_chunk, n_ctx, n_score, pool.size(), base ? ", KL divergence vs base" : "");
    if (base)
      std::fprintf(stderr, "chunk             PPL               ln(PPL(Q)/PPL(base))          KL Divergence"
                           "              Δp RMS            Same top p\n");
  }

  std::vector<int32_t> chunk(static_cast<size_t>(n_ctx));
  std::vector<RowOut> rows(static_cast<size_t>(n_score));
  std::vector<uint8_t> out_buf(save ? static_cast<size_t>(n_score) * out_record : 0);
  std::vector<uint8_t> base_buf;
  std::vector<double> kld_values, dp_values;
  if (base) {
    kld_values.reserve(static_cast<size_t>(n_chunk) * n_score);
    dp_values.reserve(static_cast<size_t>(n_chunk) * n_score);
  }

  double sum_nll = 0, sum_nll2 = 0, sum_nll_base = 0, sum_nll_base2 = 0, sum_nll_nll_base = 0;
  double sum_kld = 0, sum_kld2 = 0, sum_dp = 0, sum_dp2 = 0, sum_dp4 = 0;
  size_t n_same = 0, count = 0;

  auto ln_stats = [&] {
    struct S { std::pair<double, double> q, b; double cov; } s;
    s.q = mean_and_unc(sum_nll, sum_nll2, count);
    s.b = mean_and_unc(sum_nll_base, sum_nll_base2, count);
    const double n = static_cast<double>(count);
    s.cov = count < 10 ? 0.0 : (sum_nll_nll_base / n - (sum_nll / n) * (sum_nll_base / n)) / (n - 1);
    return s;
  };

  const double t0 = now_s();
  for (int32_t c = 0; c < n_chunk; ++c) {
    const int32_t* src = tokens.data() + static_cast<size_t>(c) * n_ctx;
    std::copy(src, src + n_ctx, chunk.begin());
    if (add_bos) chunk[0] = tok.bos_id();
    session.reset();
    const float* logits = session.eval(chunk.data(), n_ctx, true);
    if (base) base->read_chunk(base_buf);
    const bool base_f16 = base && base->f16();
    const size_t base_record = base ? base->record_bytes : 0;

    auto score = [&](int64_t b, int64_t e, int) {
      for (int64_t i = b; i < e; ++i) {
        const int32_t j = first + static_cast<int32_t>(i);
        const float* row = logits + static_cast<size_t>(j) * n_vocab;
        const int32_t target = src[j + 1];
        float mx = row[0];
        int32_t imax = 0;
        for (int32_t v = 1; v < n_vocab; ++v)
          if (row[v] > mx) { mx = row[v]; imax = v; }
        double sum_exp = 0;
        for (int32_t v = 0; v < n_vocab; ++v) sum_exp += std::exp(row[v] - mx);  // float exp, double sum
        const double log_sum = std::log(sum_exp);
        RowOut& ro = rows[static_cast<size_t>(i)];
        ro.nll = log_sum - static_cast<double>(row[target] - mx);
        if (save) {
          uint8_t* rec = out_buf.data() + static_cast<size_t>(i) * out_record;
          const float lp_target = static_cast<float>(-ro.nll);
          std::memcpy(rec, &imax, 4);
          std::memcpy(rec + 4, &lp_target, 4);
          uint16_t* lp = reinterpret_cast<uint16_t*>(rec + 8);
          for (int32_t v = 0; v < n_vocab; ++v)
            lp[v] = f32_to_fp16(static_cast<float>(static_cast<double>(row[v] - mx) - log_sum));
        }
        if (base) {
          const uint8_t* rec = base_buf.data() + static_cast<size_t>(i) * base_record;
          int32_t top_b;
          float lp_target_b;
          std::memcpy(&top_b, rec, 4);
          std::memcpy(&lp_target_b, rec + 4, 4);
          // KLD of the renormalized base row q against the model's p: sum q (log q - log p)
          //   = T/S - log S with S = sum e^lb, T = sum e^lb (lb - log p).
          double S = 0, T = 0;
          for (int32_t v = 0; v < n_vocab; ++v) {
            float lb;
            if (base_f16) {
              uint16_t h;
              std::memcpy(&h, rec + 8 + 2 * static_cast<size_t>(v), 2);
              lb = fp16_to_f32(h);
            } else {
              std::memcpy(&lb, rec + 8 + 4 * static_cast<size_t>(v), 4);
            }
            if (std::isinf(lb) && lb < 0) continue;
            const double q = std::exp(static_cast<double>(lb));
            S += q;
            T += q * (static_cast<double>(lb) - (static_cast<double>(row[v] - mx) - log_sum));
          }
          ro.kld = S > 0 ? T / S - std::log(S) : 0.0;
          ro.nll_base = -static_cast<double>(lp_target_b);
          ro.p_diff = std::exp(-ro.nll) - std::exp(-ro.nll_base);
          ro.same_top = imax == top_b;
        }
      }
    };
    pool.parallel_for(n_score, score);

    if (save) {
      out.write(reinterpret_cast<const char*>(out_buf.data()), static_cast<std::streamsize>(out_buf.size()));
      if (!out) fail("error writing '", o.save_logits, "'");
    }
    for (const RowOut& ro : rows) {  // in order, so the sums do not depend on the thread count
      sum_nll += ro.nll;
      sum_nll2 += ro.nll * ro.nll;
      if (base) {
        sum_nll_base += ro.nll_base;
        sum_nll_base2 += ro.nll_base * ro.nll_base;
        sum_nll_nll_base += ro.nll * ro.nll_base;
        sum_kld += ro.kld;
        sum_kld2 += ro.kld * ro.kld;
        const double d2 = ro.p_diff * ro.p_diff;
        sum_dp += ro.p_diff;
        sum_dp2 += d2;
        sum_dp4 += d2 * d2;
        n_same += ro.same_top;
        kld_values.push_back(ro.kld);
        dp_values.push_back(ro.p_diff);
      }
      ++count;
    }

    if (o.progress) {
      if (c == 0) {
        const double t = now_s() - t0;
        std::fprintf(stderr, "perplexity: %.2f seconds per pass - ETA %.2f minutes\n", t, t * n_chunk / 60.0);
      }
      if (!base) {
        std::fprintf(stderr, "[%d]%.4f,", c + 1, std::exp(sum_nll / static_cast<double>(count)));
      } else {
        const auto s = ln_stats();
        const double ppl = std::exp(s.q.first);
        const double ratio_unc = std::sqrt(std::max(0.0, s.q.second * s.q.second + s.b.second * s.b.second - 2 * s.cov));
        const auto kl = mean_and_unc(sum_kld, sum_kld2, count);
        const auto mse = mean_and_unc(sum_dp2, sum_dp4, count);
        const double rms = std::sqrt(mse.first);
        const double top = static_cast<double>(n_same) / static_cast<double>(count);
        const double top_unc = count > 1 ? std::sqrt(top * (1 - top) / static_cast<double>(count - 1)) : 0.0;
        std::fprintf(stderr,
                     "%4d    %9.4f ± %9.4f    %10.5f ± %10.5f    %10.5f ± %10.5f    %6.3f ± %6.3f %%    %6.3f ± %6.3f %%\n",
                     c + 1, ppl, ppl * s.q.second, s.q.first - s.b.first, ratio_unc, kl.first, kl.second,
                     100 * rms, rms > 0 ? 100 * 0.5 / rms * mse.second : 0.0, 100 * top, 100 * top_unc);
      }
      std::fflush(stderr);
    }
  }
  if (o.progress && !base) std::fprintf(stderr, "\n");
  r.seconds = now_s() - t0;
  r.n_scored = static_cast<int64_t>(count);
  if (save) {
    out.close();
    if (!out) fail("error writing '", o.save_logits, "'");
  }

  // PPL and its error exactly as llama-perplexity's final estimate.
  const double n = static_cast<double>(count);
  const double mean_nll = sum_nll / n;
  r.ppl = std::exp(mean_nll);
  const double var = sum_nll2 / n - mean_nll * mean_nll;
  r.ppl_err = var > 0 && count > 1 ? std::sqrt(var / (n - 1)) * r.ppl : 0.0;

  if (base) {
    const auto s = ln_stats();
    r.ppl_base = std::exp(s.b.first);
    r.ppl_base_err = r.ppl_base * s.b.second;
    r.ln_ratio = s.q.first - s.b.first;
    r.ln_ratio_err = std::sqrt(std::max(0.0, s.q.second * s.q.second + s.b.second * s.b.second - 2 * s.cov));
    r.ln_ppl_cor = s.q.second > 0 && s.b.second > 0 ? s.cov / (s.q.second * s.b.second) : 0.0;
    const auto kl = mean_and_unc(sum_kld, sum_kld2, count);
    r.kld_mean = kl.first;
    r.kld_err = kl.second;
    std::sort(kld_values.begin(), kld_values.end());
    std::sort(dp_values.begin(), dp_values.end());
    r.kld_max = kld_values.back();
    r.kld_p999 = percentile(kld_values, 0.999);
    r.kld_p99 = percentile(kld_values, 0.99);
    r.kld_p90 = percentile(kld_values, 0.90);
    r.kld_median = percentile(kld_values, 0.5);
    r.kld_min = kld_values.front();
    const auto dp = mean_and_unc(sum_dp, sum_dp2, count);
    r.dp_mean = dp.first;
    r.dp_err = dp.second;
    r.dp_max = dp_values.back();
    r.dp_p99 = percentile(dp_values, 0.99);
    r.dp_median = percentile(dp_values, 0.5);
    r.dp_p1 = percentile(dp_values, 0.01);
    r.dp_min = dp_values.front();
    const auto mse = mean_and_unc(sum_dp2, sum_dp4, count);
    r.dp_rms = std::sqrt(mse.first);
    r.dp_rms_err = r.dp_rms > 0 ? 0.5 / r.dp_rms * mse.second : 0.0;
    r.same_top = static_cast<double>(n_same) / n;
    r.same_top_err = count > 1 ? std::sqrt(r.same_top * (1 - r.same_top) / (n - 1)) : 0.0;
  }
  return r;
}

std::string format_result(const PerplexityResult& r) {
  std::string s;
  char buf[256];
  auto line = [&](const char* fmt, auto... args) {
    std::snprintf(buf, sizeof buf, fmt, args...);
    s += buf;
    s += '\n';
  };
  if (!r.has_kl) {
    line("Final estimate: PPL = %.4f +/- %.5f", r.ppl, r.ppl_err);
    line("(%d chunks of %d tokens, %lld tokens scored)", r.n_chunks, r.n_ctx, static_cast<long long>(r.n_scored));
    return s;
  }
  const double ratio = std::exp(r.ln_ratio);
  const double diff_unc = std::sqrt(std::max(0.0, r.ppl_err * r.ppl_err + r.ppl_base_err * r.ppl_base_err -
                                                      2 * r.ln_ppl_cor * r.ppl_err * r.ppl_base_err));
  line("====== Perplexity statistics ======");
  line("Mean PPL(Q)                   : %10.6f ± %10.6f", r.ppl, r.ppl_err);
  line("Mean PPL(base)                : %10.6f ± %10.6f", r.ppl_base, r.ppl_base_err);
  line("Cor(ln(PPL(Q)), ln(PPL(base))): %6.2f%%", 100 * r.ln_ppl_cor);
  line("Mean ln(PPL(Q)/PPL(base))     : %10.6f ± %10.6f", r.ln_ratio, r.ln_ratio_err);
  line("Mean PPL(Q)/PPL(base)         : %10.6f ± %10.6f", ratio, ratio * r.ln_ratio_err);
  line("Mean PPL(Q)-PPL(base)         : %10.6f ± %10.6f", r.ppl - r.ppl_base, diff_unc);
  s += '\n';
  line("====== KL divergence statistics ======");
  line("Mean    KLD: %10.6f ± %10.6f", r.kld_mean, r.kld_err);
  line("Maximum KLD: %10.6f", r.kld_max);
  line("99.9%%   KLD: %10.6f", r.kld_p999);
  line("99.0%%   KLD: %10.6f", r.kld_p99);
  line("90.0%%   KLD: %10.6f", r.kld_p90);
  line("Median  KLD: %10.6f", r.kld_median);
  line("Minimum KLD: %10.6f", r.kld_min);
  s += '\n';
  line("====== Token probability statistics ======");
  line("Mean    Δp: %6.3f ± %5.3f %%", 100 * r.dp_mean, 100 * r.dp_err);
  line("Maximum Δp: %6.3f%%", 100 * r.dp_max);
  line("99.0%%   Δp: %6.3f%%", 100 * r.dp_p99);
  line("Median  Δp: %6.3f%%", 100 * r.dp_median);
  line(" 1.0%%   Δp: %6.3f%%", 100 * r.dp_p1);
  line("Minimum Δp: %6.3f%%", 100 * r.dp_min);
  line("RMS Δp    : %6.3f ± %5.3f %%", 100 * r.dp_rms, 100 * r.dp_rms_err);
  line("Same top p: %6.3f ± %5.3f %%", 100 * r.same_top, 100 * r.same_top_err);
  s += '\n';
  line("(%d chunks of %d tokens, %lld tokens scored)", r.n_chunks, r.n_ctx, static_cast<long long>(r.n_scored));
  return s;
}

}  // namespace minnow::tools
