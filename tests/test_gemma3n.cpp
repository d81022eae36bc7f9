// gemma3n checks the golden fixture cannot make: KV sharing (only layers >= 20 share, and the fixture has
// 5 layers), and shape checks of the gemma3n-only tensors. The deep models are built from the 5-layer
// fixture by repeating its layers (layer il copies layer il % 5, so the local/global pattern is kept).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "gguf/writer.h"
#include "model/model.h"
#include "runtime/session.h"
#include "test_util.h"

using namespace minnow;

namespace {

constexpr int64_t kPerLayer = 256;  // n_embd_altup

std::string fixture() { return test::golden("models/gemma3n/gemma3n-F32.gguf"); }

std::vector<uint8_t> bytes_of(const gguf::TensorInfo& t) { return {t.data, t.data + t.n_bytes}; }

void put_f32(gguf::Writer& w, const std::string& name, std::vector<int64_t> ne, const std::vector<float>& v) {
  w.remove_tensor(name);
  w.add_tensor(name, DType::F32, std::move(ne), v.data(), v.size() * sizeof(float));
}

// The fixture deepened to n_layer layers, then edited by `edit`; returns the file's path.
std::string deep_model(const std::string& tag, int n_layer,
                       const std::function<void(gguf::Writer&, const gguf::File&)>& edit = {}) {
  auto base = gguf::File::open(fixture());
  const int base_layers = 5;
  gguf::Writer w;
  gguf::copy_all(*base, w);
  w.set_u32("gemma3n.block_count", static_cast<uint32_t>(n_layer));
  for (const auto& t : base->tensors()) {
    if (t.name.rfind("blk.", 0) != 0) continue;
    const size_t dot = t.name.find('.', 4);
    const int il = std::stoi(t.name.substr(4, dot - 4));
    for (int dst = il + base_layers; dst < n_layer; dst += base_layers) {
      const std::vector<uint8_t> b = bytes_of(t);
      w.add_tensor("blk." + std::to_string(dst) + t.name.substr(dot), t.type,
                   std::vector<int64_t>(t.ne, t.ne + t.n_dims), b.data(), b.size());
    }
  }
  // The per-layer tensors hold 256 values per layer: repeat the 5 layers' blocks.
  const gguf::TensorInfo* pe = base->find_tensor("per_layer_token_embd.weight");
  const gguf::TensorInfo* pp = base->find_tensor("per_layer_model_proj.weight");
  const auto* pef = reinterpret_cast<const float*>(pe->data);
  const auto* ppf = reinterpret_cast<const float*>(pp->data);
  const int64_t n_vocab = pe->ne[1], n_embd = pp->ne[0];
  std::vector<float> e(static_cast<size_t>(n_vocab * kPerLayer * n_layer));
  for (int64_t v = 0; v < n_vocab; ++v)
    for (int l = 0; l < n_layer; ++l)
      std::memcpy(&e[(v * n_layer + l) * kPerLayer], pef + (v * base_layers + l % base_layers) * kPerLayer,
                  kPerLayer * sizeof(float));
  put_f32(w, "per_layer_token_embd.weight", {kPerLayer * n_layer, n_vocab}, e);
  std::vector<float> p(static_cast<size_t>(kPerLayer * n_layer * n_embd));
  for (int l = 0; l < n_layer; ++l)
    std::memcpy(&p[l * kPerLayer * n_embd], ppf + (l % base_layers) * kPerLayer * n_embd,
                kPerLayer * n_embd * sizeof(float));
  put_f32(w, "per_layer_model_proj.weight", {n_embd, kPerLayer * n_layer}, p);
  if (edit) edit(w, *base);
  const std::string path = ::testing::TempDir() + "minnow_gemma3n_" + tag + ".gguf";
  w.write(path);
  return path;
}

// A copy of tensor `name` with every value replaced by f(value, index).
void perturb(gguf::Writer& w, const gguf::File& f, const std::string& name, const std::string& from,
             const std::function<float(float, size_t)>& fn) {
  const gguf::TensorInfo* t = f.find_tensor(from);
  ASSERT_NE(t, nullptr) << from;
  const auto* src = reinterpret_cast<const float*>(t->data);
  std::vector<float> v(static_cast<size_t>(t->n_elements()));
  for (size_t i = 0; i < v.size(); ++i) v[i] = fn(src[i], i);
  put_f32(w, name, std::vector<int64_t>(t->ne, t->ne + t->n_dims), v);
}

std::vector<int32_t> seq0() {
  std::ifstream jf(test::golden("models/gemma3n/goldens.json"));
  return nlohmann::json::parse(jf)["sequences"]["seq0"].get<std::vector<int32_t>>();
}

std::vector<float> run(const std::string& path, const std::vector<int32_t>& ids, int32_t ubatch = 512) {
  auto model = Model::load(path);
  runtime::ThreadPool pool(1);  // tiny matrices: one thread avoids pool hand-offs
  runtime::Session s(*model, pool, {static_cast<int32_t>(ids.size()), ubatch, DType::F32});
  const float* l = s.eval(ids.data(), static_cast<int32_t>(ids.size()), true);
  return {l, l + ids.size() * model->config().n_vocab};
}

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  float m = 0.0f;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

// 25 layers: 20 (local), 21, 22, 23 (local) and 24 (global) share the K/V of layers 18 (local) and 19
// (global), as llama.cpp does. Their own K/V weights must then have no effect at all, while the same
// change on a layer below 20 does; and the ubatch split (which wraps the local layers' ring cache) must
// not change the result.
TEST(Gemma3n, KvSharedLayersUseTheEarlierLayersCache) {
  MINNOW_REQUIRE_SHARED();
  const std::vector<int32_t> ids = seq0();  // 40 tokens: longer than the window (16)
  const std::string plain = deep_model("kv_plain", 25);
  auto scramble = [](float x, size_t i) { return -3.0f * x + 0.01f * static_cast<float>(i % 7); };
  const std::string shared_edited = deep_model("kv_shared_edited", 25, [&](gguf::Writer& w, const gguf::File& f) {
    for (int il = 20; il < 25; ++il) {
      const std::string p = "blk." + std::to_string(il) + ".", src = "blk." + std::to_string(il % 5) + ".";
      for (const char* t : {"attn_k.weight", "attn_v.weight", "attn_k_norm.weight"}) perturb(w, f, p + t, src + t, scramble);
    }
  });
  const std::string own_edited = deep_model("kv_own_edited", 25, [&](gguf::Writer& w, const gguf::File& f) {
    perturb(w, f, "blk.19.attn_k.weight", "blk.4.attn_k.weight", scramble);
  });

  const std::vector<float> a = run(plain, ids);
  for (float v : a) ASSERT_TRUE(std::isfinite(v));
  EXPECT_EQ(run(shared_edited, ids), a) << "layers >= 20 must not compute K/V of their own";
  EXPECT_GT(max_abs_diff(run(own_edited, ids), a), 1e-3f) << "layer 19 has its own K/V";
  for (int32_t ub : {1, 7}) EXPECT_LT(max_abs_diff(run(plain, ids, ub), a), 2e-2f) << "ubatch " << ub;
  // Below the sharing point nothing is shared: 20 layers, and layer 19's K/V is its own.
  const std::string shallow = deep_model("kv_20", 20, [&](gguf::Writer& w, const gguf::File& f) {
    perturb(w, f, "blk.19.attn_k.weight", "blk.4.attn_k.weight", scramble);
  });
  const std::vector<int32_t> few(ids.begin(), ids.begin() + 8);
  EXPECT_NE(run(shallow, few), run(deep_model("kv_20_plain", 20), few)) << "a 20-layer model shares nothing";
  for (const std::string& p : {plain, shared_edited, own_edited, shallow}) std::remove(p.c_str());
}

void expect_refused(const std::string& tag, const std::function<void(gguf::Writer&, const gguf::File&)>& edit,
                    const std::string& fragment) {
  const std::string path = deep_model(tag, 5, edit);
  try {
    Model::load(path);
    ADD_FAILURE() << tag << ": loaded without error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << tag << ": " << e.what();
  }
  std::remove(path.c_str());
}

TEST(Gemma3n, InconsistentShapesAreRefused) {
  MINNOW_REQUIRE_SHARED();
  // Per-layer embeddings sized for 4 layers in a 5-layer model.
  expect_refused("ple_layers", [](gguf::Writer& w, const gguf::File&) {
    put_f32(w, "per_layer_token_embd.weight", {kPerLayer * 4, 512}, std::vector<float>(kPerLayer * 4 * 512));
  }, "per_layer_token_embd.weight");
  expect_refused("model_proj", [](gguf::Writer& w, const gguf::File&) {
    put_f32(w, "per_layer_model_proj.weight", {128, kPerLayer * 6}, std::vector<float>(128 * kPerLayer * 6));
  }, "per_layer_model_proj.weight");
  // AltUp projections for 3 streams instead of 4.
  expect_refused("altup_slices", [](gguf::Writer& w, const gguf::File&) {
    put_f32(w, "altup_proj.weight", {128, 128, 2}, std::vector<float>(128 * 128 * 2));
  }, "altup_proj.weight");
  // A layer whose LAuReL rank differs from layer 0's.
  expect_refused("laurel_rank", [](gguf::Writer& w, const gguf::File&) {
    put_f32(w, "blk.3.laurel_l.weight", {128, 32}, std::vector<float>(128 * 32));
  }, "blk.3.laurel_l.weight");
  expect_refused("predict_coef", [](gguf::Writer& w, const gguf::File&) {
    put_f32(w, "blk.2.altup_predict_coef.weight", {4, 4}, std::vector<float>(16));
  }, "blk.2.altup_predict_coef.weight");
}

}  // namespace
