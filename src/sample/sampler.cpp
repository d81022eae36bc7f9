#include "sample/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/error.h"

namespace minnow {

namespace {

// Ordering used by every sort: higher logit first, then lower id. It is a strict total order (NaN never
// reaches it), so std::sort / std::partial_sort give the same result on every standard library.
struct ByLogitDesc {
  template <typename C>
  bool operator()(const C& a, const C& b) const {
    if (a.logit != b.logit) return a.logit > b.logit;
    return a.id < b.id;
  }
};

uint32_t fold_seed(uint64_t s) { return static_cast<uint32_t>(s ^ (s >> 32)); }

}  // namespace

Sampler::Sampler(const SamplerParams& p) : p_(p) { reset(); }

void Sampler::reset() {
  history_.clear();
  if (p_.seed_random) {
    std::random_device rd;
    rng_.seed(rd());
  } else {
    rng_.seed(fold_seed(p_.seed));
  }
}

void Sampler::accept(int32_t token) {
  if (p_.repeat_last_n == 0) return;  // the penalty looks at nothing: keep no history
  history_.push_back(token);
  if (p_.repeat_last_n > 0)
    while (history_.size() > static_cast<size_t>(p_.repeat_last_n)) history_.pop_front();
}

int32_t Sampler::argmax(const float* logits, int32_t n_vocab) {
  if (!logits || n_vocab <= 0) fail("Sampler::argmax: empty logits (n_vocab = ", n_vocab, ")");
  int32_t best = -1;
  float best_v = 0;
  for (int32_t i = 0; i < n_vocab; ++i) {
    const float v = logits[i];
    if (std::isnan(v)) continue;
    if (best < 0 || v > best_v) {  // strict: the lowest id wins ties
      best = i;
      best_v = v;
    }
  }
  return best < 0 ? 0 : best;
}

int32_t Sampler::sample(const float* logits, int32_t n_vocab) {
  if (!logits || n_vocab <= 0) fail("Sampler::sample: empty logits (n_vocab = ", n_vocab, ")");
  const size_t nv = static_cast<size_t>(n_vocab);
  if (cand_.size() != nv) cand_.resize(nv);  // allocates only when n_vocab grows past what was seen

  // Copy, sanitising non-finite values so every later comparison is a total order:
  // NaN -> -inf (never chosen unless everything is), +inf -> the largest float.
  for (size_t i = 0; i < nv; ++i) {
    float v = logits[i];
    if (std::isnan(v)) v = -std::numeric_limits<float>::infinity();
    else if (v == std::numeric_limits<float>::infinity()) v = std::numeric_limits<float>::max();
    cand_[i] = Candidate{static_cast<int32_t>(i), v, 0.0f};
  }

  // Repetition penalty over the recent history, each distinct token once (p marks "already penalised").
  if (p_.repeat_penalty != 1.0f && p_.repeat_last_n != 0 && !history_.empty()) {
    const float pen = p_.repeat_penalty;
    for (const int32_t t : history_) {
      if (t < 0 || t >= n_vocab) continue;
      Candidate& c = cand_[static_cast<size_t>(t)];
      if (c.p != 0.0f) continue;
      c.p = 1.0f;
      c.logit = c.logit > 0.0f ? c.logit / pen : c.logit * pen;
    }
  }

  // Greedy: argmax of the (penalised) logits; the lowest id wins ties.
  if (p_.temp <= 0.0f) {
    size_t best = 0;
    for (size_t i = 1; i < nv; ++i)
      if (cand_[i].logit > cand_[best].logit) best = i;
    return cand_[best].id;
  }

  size_t n = nv;
  bool sorted = false;

  // top-k
  if (p_.top_k > 0 && static_cast<size_t>(p_.top_k) < n) {
    const size_t k = static_cast<size_t>(p_.top_k);
    std::partial_sort(cand_.begin(), cand_.begin() + static_cast<std::ptrdiff_t>(k),
                      cand_.begin() + static_cast<std::ptrdiff_t>(n), ByLogitDesc{});
    n = k;
    sorted = true;
  }

  // top-p: softmax of what remains, keep the smallest prefix (by probability) whose mass reaches top_p.
  if (p_.top_p < 1.0f && n > 1) {
    if (!sorted) {
      std::sort(cand_.begin(), cand_.begin() + static_cast<std::ptrdiff_t>(n), ByLogitDesc{});
      sorted = true;
    }
    const double mx = cand_[0].logit;
    double sum = 0;
    for (size_t i = 0; i < n; ++i) sum += std::exp(static_cast<double>(cand_[i].logit) - mx);
    if (mx != -std::numeric_limits<double>::infinity() && sum > 0) {
      double cum = 0;
      size_t keep = n;
      for (size_t i = 0; i < n; ++i) {
        cum += std::exp(static_cast<double>(cand_[i].logit) - mx) / sum;
        if (cum >= static_cast<double>(p_.top_p)) {
          keep = i + 1;
          break;
        }
      }
      n = std::max<size_t>(keep, 1);
    }
  }

  // min-p: keep tokens with p >= min_p * p_max, i.e. logit >= max_logit + log(min_p). Stable compaction.
  if (p_.min_p > 0.0f && n > 1) {
    float mx = cand_[0].logit;
    for (size_t i = 1; i < n; ++i) mx = std::max(mx, cand_[i].logit);
    if (mx != -std::numeric_limits<float>::infinity()) {
      if (p_.min_p >= 1.0f) {
        size_t j = 0;
        for (size_t i = 0; i < n; ++i)
          if (cand_[i].logit >= mx) cand_[j++] = cand_[i];
        n = j;
      } else {
        const double thr = static_cast<double>(mx) + std::log(static_cast<double>(p_.min_p));
        size_t j = 0;
        for (size_t i = 0; i < n; ++i)
          if (static_cast<double>(cand_[i].logit) >= thr) cand_[j++] = cand_[i];
        n = j;  // the max itself always passes, so n >= 1
      }
    }
  }

  // temperature + draw from the softmax, with a uniform derived from rng_() directly (portable).
  double mx = -std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < n; ++i) mx = std::max(mx, static_cast<double>(cand_[i].logit));
  if (mx == -std::numeric_limits<double>::infinity()) {
    // everything is masked: fall back to the lowest id among the survivors
    int32_t id = cand_[0].id;
    for (size_t i = 1; i < n; ++i) id = std::min(id, cand_[i].id);
    return id;
  }
  const double inv_t = 1.0 / static_cast<double>(p_.temp);
  double sum = 0;
  for (size_t i = 0; i < n; ++i) {
    cand_[i].p = static_cast<float>(std::exp((static_cast<double>(cand_[i].logit) - mx) * inv_t));
    sum += static_cast<double>(cand_[i].p);  // the same rounded weights the walk below adds up
  }
  // 32 random bits -> u in [0, 1), exact in a double.
  const double u = static_cast<double>(static_cast<uint32_t>(rng_())) * (1.0 / 4294967296.0);
  const double target = u * sum;
  double cum = 0;
  size_t last_pos = 0;
  for (size_t i = 0; i < n; ++i) {
    if (cand_[i].p <= 0.0f) continue;
    last_pos = i;
    cum += static_cast<double>(cand_[i].p);
    if (target < cum) return cand_[i].id;
  }
  return cand_[last_pos].id;  // rounding left target at the very end of the mass
}

}  // namespace minnow
