// "Agrees with llama.cpp", as ../shared/golden/TOLERANCE.md defines it: per position, the max |diff|
// relative to the golden row's std, the mean KL(gold || ours), and argmax equality wherever the golden's
// top-two margin exceeds the allowed error.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

namespace minnow::test {

struct Bounds {
  double max_abs_rel_std;
  double mean_kld;
};

// Per weight type (the file's type name, e.g. "Q4_K_M"); arch widens the Gemma family's F32/F16 bounds.
inline Bounds tolerance_for(const std::string& type, const std::string& arch) {
  if (arch == "gemma3n") {
    if (type == "F32") return {0.026, 3e-5};
    if (type == "F16") return {0.03, 1e-4};
  } else if (arch == "gemma2" || arch == "gemma3") {
    if (type == "F32") return {4.5e-3, 1e-5};
    if (type == "F16") return {8e-3, 3e-5};
  }
  struct Row { const char* t; double a, k; };
  static const Row rows[] = {
      {"F32", 1.0e-3, 1e-6},   {"F16", 5.0e-3, 5.1e-7}, {"BF16", 0.041, 3.1e-5}, {"Q8_0", 0.125, 4.0e-4},
      {"Q6_K", 0.185, 8.0e-4}, {"Q5_K_M", 0.206, 7.1e-4}, {"Q4_K_M", 0.189, 7.3e-4}, {"Q4_K_S", 0.198, 6.8e-4},
      {"Q3_K_M", 0.178, 7.6e-4}, {"Q2_K", 0.197, 8.2e-4}, {"Q4_0", 0.137, 4.0e-4}, {"Q4_1", 0.131, 3.6e-4},
      {"Q5_0", 0.158, 3.8e-4}, {"Q5_1", 0.140, 3.9e-4}, {"IQ4_NL", 0.143, 3.5e-4}, {"IQ4_XS", 0.170, 6.8e-4},
  };
  for (const Row& r : rows)
    if (type == r.t) return {r.a, r.k};
  return {0.206, 8.2e-4};
}

struct Agreement {
  double max_abs_rel_std = 0;
  double mean_kld = 0;
  int argmax_checked = 0;
  int argmax_mismatch = 0;
  std::string first_mismatch;
  bool ok(const Bounds& b) const {
    return max_abs_rel_std <= b.max_abs_rel_std && mean_kld <= b.mean_kld && argmax_mismatch == 0;
  }
  std::string str() const {
    std::ostringstream os;
    os << "max_abs_rel_std=" << max_abs_rel_std << " mean_kld=" << mean_kld << " argmax " << argmax_mismatch
       << "/" << argmax_checked << " mismatched" << (first_mismatch.empty() ? "" : " (" + first_mismatch + ")");
    return os.str();
  }
};

inline Agreement compare_logits(const float* gold, const float* ours, int64_t n_pos, int64_t n_vocab, const Bounds& b) {
  Agreement a;
  double kld_sum = 0;
  for (int64_t i = 0; i < n_pos; ++i) {
    const float* g = gold + i * n_vocab;
    const float* o = ours + i * n_vocab;
    double mean = 0;
    for (int64_t v = 0; v < n_vocab; ++v) mean += g[v];
    mean /= n_vocab;
    double var = 0;
    for (int64_t v = 0; v < n_vocab; ++v) var += (g[v] - mean) * (g[v] - mean);
    const double sd = std::sqrt(var / n_vocab);
    double mx = 0;
    for (int64_t v = 0; v < n_vocab; ++v) mx = std::max(mx, std::fabs(static_cast<double>(o[v]) - g[v]));
    if (!std::isfinite(mx)) mx = INFINITY;
    a.max_abs_rel_std = std::max(a.max_abs_rel_std, sd > 0 ? mx / sd : mx);
    // KL(softmax(g) || softmax(o)) in double
    double gmax = -INFINITY, omax = -INFINITY;
    for (int64_t v = 0; v < n_vocab; ++v) gmax = std::max<double>(gmax, g[v]), omax = std::max<double>(omax, o[v]);
    double gz = 0, oz = 0;
    for (int64_t v = 0; v < n_vocab; ++v) gz += std::exp(g[v] - gmax), oz += std::exp(o[v] - omax);
    double kld = 0;
    for (int64_t v = 0; v < n_vocab; ++v) {
      const double lp = g[v] - gmax - std::log(gz);
      const double lq = o[v] - omax - std::log(oz);
      kld += std::exp(lp) * (lp - lq);
    }
    kld_sum += std::isfinite(kld) ? kld : INFINITY;
    // argmax where the golden top-two margin is larger than the allowed error
    int64_t g1 = 0, o1 = 0;
    for (int64_t v = 1; v < n_vocab; ++v) {
      if (g[v] > g[g1]) g1 = v;
      if (o[v] > o[o1]) o1 = v;
    }
    double second = -INFINITY;
    for (int64_t v = 0; v < n_vocab; ++v)
      if (v != g1) second = std::max<double>(second, g[v]);
    const double margin = (g[g1] - second) / (sd > 0 ? sd : 1.0);
    if (margin > b.max_abs_rel_std) {
      ++a.argmax_checked;
      if (g1 != o1) {
        ++a.argmax_mismatch;
        if (a.first_mismatch.empty()) {
          std::ostringstream os;
          os << "pos " << i << ": gold " << g1 << " ours " << o1;
          a.first_mismatch = os.str();
        }
      }
    }
  }
  a.mean_kld = n_pos ? kld_sum / n_pos : 0;
  return a;
}

}  // namespace minnow::test
