// Sampler tests: greedy, determinism per seed, the softmax draw, each filter, repetition penalty,
// and that sample() does not allocate once it has seen a vocabulary size.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <new>
#include <random>
#include <set>
#include <vector>

#include "common/error.h"
#include "sample/sampler.h"

// ---- allocation counter: every global operator new form goes through here (malloc/posix_memalign). ----
namespace {
std::atomic<long> g_allocs{0};
void* counted_alloc(std::size_t n) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n ? n : 1);
}
void* counted_aligned_alloc(std::size_t n, std::align_val_t al) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  std::size_t a = static_cast<std::size_t>(al);
  if (a < sizeof(void*)) a = sizeof(void*);
  void* p = nullptr;
  if (posix_memalign(&p, a, n ? n : 1) != 0) return nullptr;
  return p;
}
// Out of line so GCC does not pair an inlined free() with `new` and warn (-Wmismatched-new-delete).
[[gnu::noinline]] void counted_free(void* p) noexcept { std::free(p); }
}  // namespace

void* operator new(std::size_t n) {
  if (void* p = counted_alloc(n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  if (void* p = counted_alloc(n)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return counted_alloc(n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return counted_alloc(n); }
void* operator new(std::size_t n, std::align_val_t a) {
  if (void* p = counted_aligned_alloc(n, a)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n, std::align_val_t a) {
  if (void* p = counted_aligned_alloc(n, a)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return counted_aligned_alloc(n, a);
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return counted_aligned_alloc(n, a);
}
void operator delete(void* p) noexcept { counted_free(p); }
void operator delete[](void* p) noexcept { counted_free(p); }
void operator delete(void* p, std::size_t) noexcept { counted_free(p); }
void operator delete[](void* p, std::size_t) noexcept { counted_free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { counted_free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { counted_free(p); }
void operator delete(void* p, std::align_val_t) noexcept { counted_free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { counted_free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { counted_free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { counted_free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { counted_free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { counted_free(p); }

namespace minnow {
namespace {

SamplerParams plain(float temp, uint64_t seed = 1234) {
  SamplerParams p;
  p.temp = temp;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.repeat_penalty = 1.0f;
  p.seed = seed;
  p.seed_random = false;
  return p;
}

std::vector<float> random_logits(int n, uint32_t seed, float scale = 3.0f) {
  std::mt19937 g(seed);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = scale * (static_cast<float>(g() % 20001) / 10000.0f - 1.0f);
  return v;
}

std::vector<int32_t> draw_seq(Sampler& s, const std::vector<float>& l, int n) {
  std::vector<int32_t> out;
  for (int i = 0; i < n; ++i) out.push_back(s.sample(l.data(), static_cast<int32_t>(l.size())));
  return out;
}

// ---------- greedy ----------

TEST(Sampler, GreedyPicksArgmax) {
  const std::vector<float> l = {0.1f, -3.0f, 7.5f, 2.0f, 7.4f};
  Sampler s(plain(0.0f));
  EXPECT_EQ(s.sample(l.data(), 5), 2);
  EXPECT_EQ(Sampler::argmax(l.data(), 5), 2);
  Sampler neg(plain(-1.0f));  // any temp <= 0 is greedy
  EXPECT_EQ(neg.sample(l.data(), 5), 2);
}

TEST(Sampler, GreedyLowestIdWinsTies) {
  const std::vector<float> l = {1.0f, 5.0f, 3.0f, 5.0f, 5.0f};
  Sampler s(plain(0.0f));
  for (int i = 0; i < 10; ++i) EXPECT_EQ(s.sample(l.data(), 5), 1);
  EXPECT_EQ(Sampler::argmax(l.data(), 5), 1);
  const std::vector<float> all_equal(7, -2.0f);
  EXPECT_EQ(s.sample(all_equal.data(), 7), 0);
  EXPECT_EQ(Sampler::argmax(all_equal.data(), 7), 0);
}

TEST(Sampler, GreedyIgnoresFilters) {
  SamplerParams p = plain(0.0f);
  p.top_k = 2;
  p.top_p = 0.1f;
  p.min_p = 0.9f;
  Sampler s(p);
  const auto l = random_logits(1000, 7);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(s.sample(l.data(), 1000), Sampler::argmax(l.data(), 1000));
}

TEST(Sampler, TopK1EqualsGreedyAtAnyTemp) {
  for (float temp : {0.01f, 0.5f, 1.0f, 2.0f, 100.0f}) {
    SamplerParams p = plain(temp, 99);
    p.top_k = 1;
    p.top_p = 0.9f;  // other filters on too: must not matter
    p.min_p = 0.05f;
    Sampler s(p);
    for (uint32_t trial = 0; trial < 20; ++trial) {
      auto l = random_logits(257, trial);
      if (trial % 5 == 0) l[3] = l[200] = 10.0f;  // ties at the top: lowest id
      EXPECT_EQ(s.sample(l.data(), 257), Sampler::argmax(l.data(), 257)) << "temp " << temp << " trial " << trial;
    }
  }
}

// ---------- determinism ----------

TEST(Sampler, SameSeedSameSequence) {
  const auto l = random_logits(500, 3, 1.0f);
  SamplerParams p = plain(1.0f, 42);
  p.top_k = 50;
  p.top_p = 0.95f;
  p.min_p = 0.01f;
  Sampler a(p), b(p);
  const auto sa = draw_seq(a, l, 200);
  const auto sb = draw_seq(b, l, 200);
  EXPECT_EQ(sa, sb);
  EXPECT_GT(std::set<int32_t>(sa.begin(), sa.end()).size(), 5u);  // it really is sampling
  a.reset();  // reset() restarts the fixed-seed stream
  EXPECT_EQ(draw_seq(a, l, 200), sa);
}

TEST(Sampler, DifferentSeedDifferentSequence) {
  const auto l = random_logits(500, 3, 1.0f);
  Sampler a(plain(1.0f, 1)), b(plain(1.0f, 2));
  EXPECT_NE(draw_seq(a, l, 100), draw_seq(b, l, 100));
  SamplerParams rp = plain(1.0f);
  rp.seed_random = true;
  Sampler r1(rp), r2(rp);
  EXPECT_NE(draw_seq(r1, l, 100), draw_seq(r2, l, 100));  // 500^-100-ish odds of a false failure
}

// ---------- the draw follows the softmax ----------

// Pearson chi-square statistic of observed counts against expected probabilities.
double chi_square(const std::vector<int>& counts, const std::vector<double>& probs, int n) {
  double chi = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    const double e = probs[i] * n;
    chi += (counts[i] - e) * (counts[i] - e) / e;
  }
  return chi;
}

std::vector<double> softmax(const std::vector<float>& l, double temp) {
  std::vector<double> p(l.size());
  double mx = -1e300, sum = 0;
  for (float x : l) mx = std::max(mx, static_cast<double>(x));
  for (size_t i = 0; i < l.size(); ++i) sum += p[i] = std::exp((l[i] - mx) / temp);
  for (auto& x : p) x /= sum;
  return p;
}

TEST(Sampler, DrawsFollowSoftmax) {
  const std::vector<float> l = {0.0f, 0.5f, 1.0f, 2.0f};
  for (float temp : {1.0f, 0.5f, 2.5f}) {
    Sampler s(plain(temp, 2024));
    const int n = 20000;
    std::vector<int> counts(4, 0);
    for (int i = 0; i < n; ++i) {
      const int32_t t = s.sample(l.data(), 4);
      ASSERT_GE(t, 0);
      ASSERT_LT(t, 4);
      counts[static_cast<size_t>(t)]++;
    }
    // 3 degrees of freedom: P(chi2 > 16.27) = 0.001. The seed is fixed, so this is deterministic.
    const double chi = chi_square(counts, softmax(l, temp), n);
    EXPECT_LT(chi, 16.27) << "temp " << temp << " counts " << counts[0] << " " << counts[1] << " " << counts[2]
                          << " " << counts[3];
  }
}

// ---------- filters never return an excluded token ----------

// logits = log(probs), so softmax(logits) == probs exactly enough for the cut-offs below.
std::vector<float> log_probs(const std::vector<double>& probs) {
  std::vector<float> l;
  for (double p : probs) l.push_back(static_cast<float>(std::log(p)));
  return l;
}

TEST(Sampler, TopKExcludesTheRest) {
  std::vector<float> l = random_logits(100, 5, 0.5f);  // all within [-0.5, 0.5]
  l[17] = 1.0f;
  l[3] = 0.9f;
  l[88] = 0.8f;
  SamplerParams p = plain(50.0f, 7);  // hot: without the filter almost everything would show up
  p.top_k = 3;
  Sampler s(p);
  std::set<int32_t> seen;
  for (int i = 0; i < 3000; ++i) seen.insert(s.sample(l.data(), 100));
  EXPECT_EQ(seen, (std::set<int32_t>{3, 17, 88}));
}

TEST(Sampler, TopPExcludesTheTail) {
  // sorted probs 0.5, 0.3, 0.1, 0.06, 0.04 (shuffled ids). top_p = 0.75: keep {0.5, 0.3}.
  const std::vector<float> l = log_probs({0.06, 0.3, 0.04, 0.5, 0.1});
  SamplerParams p = plain(5.0f, 8);
  p.top_p = 0.75f;
  Sampler s(p);
  std::set<int32_t> seen;
  for (int i = 0; i < 2000; ++i) seen.insert(s.sample(l.data(), 5));
  EXPECT_EQ(seen, (std::set<int32_t>{1, 3}));

  // top_p = 0.85 reaches into the third token (0.5 + 0.3 < 0.85 <= 0.9).
  p.top_p = 0.85f;
  Sampler s2(p);
  seen.clear();
  for (int i = 0; i < 2000; ++i) seen.insert(s2.sample(l.data(), 5));
  EXPECT_EQ(seen, (std::set<int32_t>{1, 3, 4}));

  // a tiny top_p keeps at least one token: the most likely
  p.top_p = 1e-6f;
  Sampler s3(p);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(s3.sample(l.data(), 5), 3);
}

TEST(Sampler, MinPExcludesUnlikely) {
  // p_max = 0.4; min_p = 0.3 -> threshold 0.12: keep 0.4, 0.3, 0.2; drop 0.06, 0.04.
  const std::vector<float> l = log_probs({0.2, 0.04, 0.4, 0.06, 0.3});
  SamplerParams p = plain(8.0f, 9);
  p.min_p = 0.3f;
  Sampler s(p);
  std::set<int32_t> seen;
  for (int i = 0; i < 2000; ++i) seen.insert(s.sample(l.data(), 5));
  EXPECT_EQ(seen, (std::set<int32_t>{0, 2, 4}));
}

TEST(Sampler, FiltersCombined) {
  // 1000 tokens, top-k 20 then top-p then min-p: the result is always within the top 20.
  const auto l = random_logits(1000, 11, 4.0f);
  std::vector<int32_t> order(1000);
  for (int i = 0; i < 1000; ++i) order[static_cast<size_t>(i)] = i;
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return l[a] > l[b]; });
  const std::set<int32_t> top20(order.begin(), order.begin() + 20);
  SamplerParams p = plain(3.0f, 12);
  p.top_k = 20;
  p.top_p = 0.9f;
  p.min_p = 0.05f;
  Sampler s(p);
  for (int i = 0; i < 2000; ++i) EXPECT_TRUE(top20.count(s.sample(l.data(), 1000)));
}

// ---------- repetition penalty ----------

TEST(Sampler, RepetitionPenaltySwitchesGreedyPositive) {
  const std::vector<float> l = {2.0f, 1.9f, -1.0f};
  SamplerParams p = plain(0.0f);
  p.repeat_penalty = 1.2f;  // 2.0 / 1.2 = 1.67 < 1.9
  Sampler s(p);
  EXPECT_EQ(s.sample(l.data(), 3), 0);
  s.accept(0);
  EXPECT_EQ(s.sample(l.data(), 3), 1);
  EXPECT_EQ(l[0], 2.0f);  // logits are not modified
}

TEST(Sampler, RepetitionPenaltySwitchesGreedyNegative) {
  const std::vector<float> l = {-1.0f, -1.1f, -5.0f};
  SamplerParams p = plain(0.0f);
  p.repeat_penalty = 1.2f;  // -1.0 * 1.2 = -1.2 < -1.1
  Sampler s(p);
  EXPECT_EQ(s.sample(l.data(), 3), 0);
  s.accept(0);
  EXPECT_EQ(s.sample(l.data(), 3), 1);
}

TEST(Sampler, RepetitionPenaltyOncePerDistinctToken) {
  // once: 2.0 / 1.2 = 1.67 > 1.5. Three times (if applied per occurrence): 2.0 / 1.728 = 1.16 < 1.5.
  const std::vector<float> l = {2.0f, 1.5f};
  SamplerParams p = plain(0.0f);
  p.repeat_penalty = 1.2f;
  Sampler s(p);
  s.accept(0);
  s.accept(0);
  s.accept(0);
  EXPECT_EQ(s.sample(l.data(), 2), 0);
}

TEST(Sampler, RepetitionPenaltyWindow) {
  const std::vector<float> l = {2.0f, 1.9f, 0.0f, 0.0f, 0.0f, 0.0f};
  SamplerParams p = plain(0.0f);
  p.repeat_penalty = 1.2f;
  p.repeat_last_n = 3;
  Sampler s(p);
  s.accept(0);
  EXPECT_EQ(s.sample(l.data(), 6), 1);
  s.accept(2);
  s.accept(3);
  s.accept(4);  // 0 has left the window of the last 3
  EXPECT_EQ(s.sample(l.data(), 6), 0);
  s.accept(0);
  EXPECT_EQ(s.sample(l.data(), 6), 1);
  s.reset();  // history cleared
  EXPECT_EQ(s.sample(l.data(), 6), 0);
  s.accept(1000);  // out-of-vocabulary ids in the history are ignored
  s.accept(-5);
  EXPECT_EQ(s.sample(l.data(), 6), 0);

  p.repeat_last_n = 0;  // 0: the penalty looks at nothing
  Sampler off(p);
  off.accept(0);
  EXPECT_EQ(off.sample(l.data(), 6), 0);
}

TEST(Sampler, RepetitionPenaltyLowersSampledFrequency) {
  const std::vector<float> l = {1.0f, 1.0f, 1.0f, 1.0f};
  auto count0 = [&](float penalty) {
    SamplerParams p = plain(1.0f, 77);
    p.repeat_penalty = penalty;
    Sampler s(p);
    s.accept(0);
    int c = 0;
    for (int i = 0; i < 4000; ++i) c += s.sample(l.data(), 4) == 0;
    return c;
  };
  const int base = count0(1.0f), pen = count0(2.0f);  // p(0): 0.25 -> e^0.5/(e^0.5+3e) = 0.168
  EXPECT_GT(base, 900);
  EXPECT_LT(pen, 780);
}

// ---------- robustness ----------

TEST(Sampler, NonFiniteLogits) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> l = {nan, 1.0f, nan, 0.5f};
  Sampler s(plain(1.0f, 3));
  for (int i = 0; i < 500; ++i) {
    const int32_t t = s.sample(l.data(), 4);
    EXPECT_TRUE(t == 1 || t == 3) << t;
  }
  Sampler g(plain(0.0f));
  EXPECT_EQ(g.sample(l.data(), 4), 1);
  const std::vector<float> masked = {-inf, -inf, -inf};
  const int32_t t = s.sample(masked.data(), 3);
  EXPECT_TRUE(t >= 0 && t < 3);
  const std::vector<float> plus_inf = {0.0f, inf, 1.0f};
  EXPECT_EQ(s.sample(plus_inf.data(), 3), 1);
  EXPECT_EQ(g.sample(plus_inf.data(), 3), 1);
  EXPECT_THROW(s.sample(l.data(), 0), Error);
  EXPECT_THROW(s.sample(nullptr, 4), Error);
}

TEST(Sampler, NoAllocationAfterFirstCall) {
  const int n = 32000;
  const auto l = random_logits(n, 21);
  std::vector<SamplerParams> configs;
  configs.push_back(plain(0.0f));
  configs.push_back(plain(1.0f));
  SamplerParams full = plain(0.8f);
  full.top_k = 40;
  full.top_p = 0.95f;
  full.min_p = 0.05f;
  full.repeat_penalty = 1.1f;
  configs.push_back(full);
  full.top_k = 0;  // top-p must sort the whole vocabulary in place
  configs.push_back(full);
  for (const auto& p : configs) {
    Sampler s(p);
    for (int i = 0; i < 64; ++i) s.accept(i * 7);
    const long first = g_allocs.load();
    int32_t sink = s.sample(l.data(), n);  // the first call sizes the candidate buffer
    const long before = g_allocs.load();
    EXPECT_GT(before, first) << "the allocation counter is not counting";
    for (int i = 0; i < 20; ++i) sink += s.sample(l.data(), n);
    sink += s.sample(l.data(), n / 2);  // a smaller vocabulary reuses the buffer
    sink += s.sample(l.data(), n);
    const long after = g_allocs.load();
    EXPECT_EQ(after, before) << "temp " << p.temp << " top_k " << p.top_k << " (sink " << sink << ")";
  }
}

}  // namespace
}  // namespace minnow
