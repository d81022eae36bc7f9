// Hostile-GGUF corpus: a small, valid GGUF v3 file written by a test-only writer, and a corpus of damaged
// variants of it (every truncation, bad header fields, absurd counts and lengths, bad types, bad shapes,
// bad offsets, bad alignment, duplicates, depth bombs). gguf::File::open must accept the valid file with
// exactly the expected contents, and reject every damaged one with a minnow::Error whose message is one
// non-empty line naming the file. The CLI (`minnow info FILE`) must exit 1 with one line on stderr for each.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "common/error.h"
#include "gguf/gguf.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace minnow {
namespace {

using gguf::ValueType;

// ------------------------------------------------------------------------------------------------
// Test-only GGUF writer. Everything is written little-endian byte by byte, whatever the host.

struct Bytes {
  std::vector<uint8_t> b;
  Bytes& u8(uint8_t v) { b.push_back(v); return *this; }
  Bytes& u16(uint16_t v) { for (int i = 0; i < 2; ++i) b.push_back(uint8_t(v >> (8 * i))); return *this; }
  Bytes& u32(uint32_t v) { for (int i = 0; i < 4; ++i) b.push_back(uint8_t(v >> (8 * i))); return *this; }
  Bytes& u64(uint64_t v) { for (int i = 0; i < 8; ++i) b.push_back(uint8_t(v >> (8 * i))); return *this; }
  Bytes& f32(float v) { uint32_t u; std::memcpy(&u, &v, 4); return u32(u); }
  Bytes& f64(double v) { uint64_t u; std::memcpy(&u, &v, 8); return u64(u); }
  Bytes& str(const std::string& s) { u64(s.size()); b.insert(b.end(), s.begin(), s.end()); return *this; }
  Bytes& raw(const Bytes& o) { b.insert(b.end(), o.b.begin(), o.b.end()); return *this; }
};

constexpr uint32_t T(ValueType t) { return static_cast<uint32_t>(t); }

struct Kv {
  std::string key;
  uint32_t type;
  Bytes payload;  // the value exactly as it follows the type field
};

Kv kv_str(const std::string& k, const std::string& v) { return {k, T(ValueType::STRING), Bytes().str(v)}; }
Kv kv_u32(const std::string& k, uint32_t v) { return {k, T(ValueType::UINT32), Bytes().u32(v)}; }
Kv kv_arr_str(const std::string& k, const std::vector<std::string>& v) {
  Bytes p;
  p.u32(T(ValueType::STRING)).u64(v.size());
  for (const auto& s : v) p.str(s);
  return {k, T(ValueType::ARRAY), p};
}

struct TensorSpec {
  std::string name;
  std::vector<uint64_t> dims;
  uint32_t type = 0;
  uint64_t offset = 0;
  std::optional<uint32_t> n_dims_override;
};

struct GgufSpec {
  uint32_t magic = 0x46554747u;  // "GGUF"
  uint32_t version = 3;
  std::optional<uint64_t> n_tensors_override, n_kv_override;
  std::vector<Kv> kv;
  std::vector<TensorSpec> tensors;
  uint64_t align = 32;            // how the writer pads before the data section
  std::vector<uint8_t> data;      // the data section (laid out by make_valid)
  size_t tensor_info_start = 0;   // filled by serialize(): where the tensor infos start
  size_t header_end = 0;          // filled by serialize(): where the tensor infos end

  std::vector<uint8_t> serialize() {
    Bytes o;
    o.u32(magic).u32(version);
    o.u64(n_tensors_override ? *n_tensors_override : tensors.size());
    o.u64(n_kv_override ? *n_kv_override : kv.size());
    for (const Kv& k : kv) o.str(k.key).u32(k.type).raw(k.payload);
    tensor_info_start = o.b.size();
    for (const TensorSpec& t : tensors) {
      o.str(t.name).u32(t.n_dims_override ? *t.n_dims_override : static_cast<uint32_t>(t.dims.size()));
      for (uint64_t d : t.dims) o.u64(d);
      o.u32(t.type).u64(t.offset);
    }
    header_end = o.b.size();
    while (o.b.size() % align) o.u8(0);
    o.b.insert(o.b.end(), data.begin(), data.end());
    return o.b;
  }
};

// The valid file: metadata of every scalar type, arrays of strings / ints / floats / arrays, and three
// tensors (F32 [8,4], Q8_0 [64,2], F32 [8]). The last tensor ends exactly at the end of the file, so
// every truncation removes bytes that are needed.
GgufSpec make_valid(uint64_t align = 32) {
  GgufSpec g;
  g.align = align;
  g.kv.push_back(kv_str("general.architecture", "llama"));
  g.kv.push_back(kv_str("general.name", "hostile-test"));
  g.kv.push_back(kv_u32("general.alignment", static_cast<uint32_t>(align)));
  g.kv.push_back({"test.u8", T(ValueType::UINT8), Bytes().u8(200)});
  g.kv.push_back({"test.i8", T(ValueType::INT8), Bytes().u8(uint8_t(-5))});
  g.kv.push_back({"test.u16", T(ValueType::UINT16), Bytes().u16(65000)});
  g.kv.push_back({"test.i16", T(ValueType::INT16), Bytes().u16(uint16_t(-1234))});
  g.kv.push_back({"test.i32", T(ValueType::INT32), Bytes().u32(uint32_t(-123456))});
  g.kv.push_back({"test.f32", T(ValueType::FLOAT32), Bytes().f32(1.5f)});
  g.kv.push_back({"test.bool", T(ValueType::BOOL), Bytes().u8(1)});
  g.kv.push_back({"test.u64", T(ValueType::UINT64), Bytes().u64((1ull << 40) + 1)});
  g.kv.push_back({"test.i64", T(ValueType::INT64), Bytes().u64(uint64_t(-(int64_t(1) << 40)))});
  g.kv.push_back({"test.f64", T(ValueType::FLOAT64), Bytes().f64(2.25)});
  g.kv.push_back(kv_arr_str("tokenizer.ggml.tokens", {"<s>", "</s>", "hello", "world", ""}));
  g.kv.push_back({"test.arr_i32", T(ValueType::ARRAY),
                  Bytes().u32(T(ValueType::INT32)).u64(3).u32(1).u32(uint32_t(-2)).u32(3)});
  g.kv.push_back({"test.arr_f32", T(ValueType::ARRAY), Bytes().u32(T(ValueType::FLOAT32)).u64(2).f32(0.5f).f32(-4.0f)});
  g.kv.push_back({"test.nested", T(ValueType::ARRAY),
                  Bytes()
                      .u32(T(ValueType::ARRAY)).u64(2)
                      .u32(T(ValueType::UINT8)).u64(2).u8(1).u8(2)
                      .u32(T(ValueType::UINT8)).u64(1).u8(3)});
  g.kv.push_back(kv_str("test.last", "end"));

  auto pad = [&](uint64_t n) { return (n + align - 1) / align * align; };
  Bytes data;
  // tok_embd.weight: F32 [8, 4], values i * 0.25
  g.tensors.push_back({"tok_embd.weight", {8, 4}, 0, 0, {}});
  for (int i = 0; i < 32; ++i) data.f32(i * 0.25f);
  // blk.0.attn_q.weight: Q8_0 [64, 2] = 4 blocks of (f16 scale, 32 x int8)
  while (data.b.size() < pad(data.b.size())) data.u8(0);
  g.tensors.push_back({"blk.0.attn_q.weight", {64, 2}, 8, data.b.size(), {}});
  for (int blk = 0; blk < 4; ++blk) {
    data.u16(0x3C00);  // f16 1.0
    for (int j = 0; j < 32; ++j) data.u8(uint8_t(int8_t(j - 16 + blk)));
  }
  // output_norm.weight: F32 [8], values 1..8; ends the file (8 * 4 = 32 bytes, data ends aligned)
  while (data.b.size() < pad(data.b.size())) data.u8(0);
  g.tensors.push_back({"output_norm.weight", {8}, 0, data.b.size(), {}});
  for (int i = 0; i < 8; ++i) data.f32(float(i + 1));
  g.data = data.b;
  return g;
}

struct Case {
  std::string name;
  std::vector<uint8_t> bytes;
};

// The corpus of damaged files. `trunc_step` samples truncation lengths (1 = every length).
std::vector<Case> hostile_corpus(size_t trunc_step) {
  std::vector<Case> c;
  GgufSpec base = make_valid();
  const std::vector<uint8_t> valid = base.serialize();
  const size_t header_end = base.header_end;
  const size_t data_start = valid.size() - base.data.size();

  // --- every truncation (or a sample plus the structural boundaries) ---
  for (size_t n = 0; n < valid.size(); ++n) {
    const bool boundary = n == 23 || n == 24 || n == 25 || n + 1 == valid.size() || n + 1 == header_end ||
                          n == header_end || n + 1 == data_start || n == data_start;
    if (n % trunc_step != 0 && !boundary) continue;
    char name[32];
    std::snprintf(name, sizeof name, "trunc_%05zu", n);
    c.push_back({name, std::vector<uint8_t>(valid.begin(), valid.begin() + static_cast<std::ptrdiff_t>(n))});
  }

  auto add = [&](const std::string& name, GgufSpec g) { c.push_back({name, g.serialize()}); };
  auto with = [&](auto&& mutate) {
    GgufSpec g = make_valid();
    mutate(g);
    return g;
  };
  auto kv_index = [](const GgufSpec& g, const std::string& key) {
    for (size_t i = 0; i < g.kv.size(); ++i)
      if (g.kv[i].key == key) return i;
    ADD_FAILURE() << "no key " << key;
    return size_t(0);
  };

  // --- header ---
  add("magic_GGUG", with([](GgufSpec& g) { g.magic = 0x47554747u; }));
  add("magic_zero", with([](GgufSpec& g) { g.magic = 0; }));
  add("magic_byteswapped", with([](GgufSpec& g) { g.magic = 0x47475546u; }));
  for (uint32_t v : {0u, 1u, 4u, 0x03000000u, 0x02000000u, 0xFFFFFFFFu}) {
    add("version_" + std::to_string(v), with([v](GgufSpec& g) { g.version = v; }));
  }
  add("big_endian_counts", with([](GgufSpec& g) {  // a real big-endian file: version and counts swapped
    g.version = 0x03000000u;
    g.n_tensors_override = uint64_t(g.tensors.size()) << 56;
    g.n_kv_override = uint64_t(g.kv.size()) << 56;
  }));
  for (uint64_t n : {1ull << 63, ~0ull, 1ull << 32, 1000000ull}) {
    add("tensor_count_" + std::to_string(n), with([n](GgufSpec& g) { g.n_tensors_override = n; }));
    add("kv_count_" + std::to_string(n), with([n](GgufSpec& g) { g.n_kv_override = n; }));
  }
  add("kv_count_plus_one", with([](GgufSpec& g) { g.n_kv_override = g.kv.size() + 1; }));
  add("tensor_count_plus_one", with([](GgufSpec& g) { g.n_tensors_override = g.tensors.size() + 1; }));

  // --- strings ---
  for (uint64_t len : {1ull << 63, ~0ull, 1ull << 30, 1ull << 20, 4096ull}) {
    const std::string s = std::to_string(len);
    {  // the first key's length field sits right after the 24-byte header
      GgufSpec g = make_valid();
      std::vector<uint8_t> b = g.serialize();
      for (int i = 0; i < 8; ++i) b[24 + i] = uint8_t(len >> (8 * i));
      c.push_back({"key_length_" + s, b});
    }
    add("string_value_length_" + s, with([&, len](GgufSpec& g) {
      g.kv[kv_index(g, "general.name")].payload = Bytes().u64(len).u32(0x41414141);
    }));
    add("string_array_elem_length_" + s, with([&, len](GgufSpec& g) {
      g.kv[kv_index(g, "tokenizer.ggml.tokens")].payload =
          Bytes().u32(T(ValueType::STRING)).u64(2).str("<s>").u64(len).u32(0x41414141);
    }));
    {  // the first tensor name's length field
      GgufSpec g = make_valid();
      std::vector<uint8_t> b = g.serialize();
      for (int i = 0; i < 8; ++i) b[g.tensor_info_start + i] = uint8_t(len >> (8 * i));
      c.push_back({"tensor_name_length_" + s, b});
    }
  }
  add("empty_key", with([](GgufSpec& g) { g.kv[1].key = ""; }));
  add("empty_tensor_name", with([](GgufSpec& g) { g.tensors[1].name = ""; }));

  // --- arrays ---
  for (uint64_t n : {1ull << 62, (1ull << 61) + 1, ~0ull, 1ull << 33, 1000ull}) {
    const std::string s = std::to_string(n);
    add("array_u8_count_" + s, with([&, n](GgufSpec& g) {
      g.kv[kv_index(g, "test.arr_i32")].payload = Bytes().u32(T(ValueType::UINT8)).u64(n).u8(1);
    }));
    add("array_u64_count_" + s, with([&, n](GgufSpec& g) {
      g.kv[kv_index(g, "test.arr_i32")].payload = Bytes().u32(T(ValueType::UINT64)).u64(n).u64(1);
    }));
    add("array_string_count_" + s, with([&, n](GgufSpec& g) {
      g.kv[kv_index(g, "tokenizer.ggml.tokens")].payload = Bytes().u32(T(ValueType::STRING)).u64(n).str("a");
    }));
    add("array_nested_count_" + s, with([&, n](GgufSpec& g) {
      g.kv[kv_index(g, "test.nested")].payload =
          Bytes().u32(T(ValueType::ARRAY)).u64(n).u32(T(ValueType::UINT8)).u64(0);
    }));
  }
  add("array_string_count_plausible", with([&](GgufSpec& g) {  // passes a coarse count check, then runs out
    g.kv[kv_index(g, "tokenizer.ggml.tokens")].payload = Bytes().u32(T(ValueType::STRING)).u64(40).str("a");
  }));
  for (uint32_t t : {13u, 99u, 0xFFFFFFFFu}) {
    add("value_type_" + std::to_string(t), with([&, t](GgufSpec& g) { g.kv[kv_index(g, "test.u8")].type = t; }));
    add("array_elem_type_" + std::to_string(t), with([&, t](GgufSpec& g) {
      g.kv[kv_index(g, "test.arr_i32")].payload = Bytes().u32(t).u64(1).u32(0);
    }));
    add("nested_array_elem_type_" + std::to_string(t), with([&, t](GgufSpec& g) {
      g.kv[kv_index(g, "test.nested")].payload = Bytes().u32(T(ValueType::ARRAY)).u64(1).u32(t).u64(1).u32(0);
    }));
  }
  for (int depth : {5, 64, 100000}) {
    add("array_depth_bomb_" + std::to_string(depth), with([&, depth](GgufSpec& g) {
      Bytes p;
      for (int d = 0; d < depth; ++d) p.u32(T(ValueType::ARRAY)).u64(1);
      p.u32(T(ValueType::UINT8)).u64(0);
      g.kv[kv_index(g, "test.nested")].payload = p;
    }));
  }
  add("array_nested_wide_bomb", with([&](GgufSpec& g) {  // many tiny nested arrays, then truncated
    Bytes p;
    p.u32(T(ValueType::ARRAY)).u64(1000000);
    for (int i = 0; i < 30; ++i) p.u32(T(ValueType::UINT8)).u64(0);
    g.kv[kv_index(g, "test.nested")].payload = p;
  }));

  // --- scalar values ---
  for (uint8_t b : {uint8_t(2), uint8_t(255)}) {
    add("bool_value_" + std::to_string(b), with([&, b](GgufSpec& g) {
      g.kv[kv_index(g, "test.bool")].payload = Bytes().u8(b);
    }));
  }
  add("duplicate_key", with([](GgufSpec& g) { g.kv.push_back(kv_str("general.name", "again")); }));
  add("duplicate_key_other_type", with([](GgufSpec& g) { g.kv.push_back(kv_u32("general.architecture", 7)); }));
  add("duplicate_tensor_name", with([](GgufSpec& g) { g.tensors[2].name = g.tensors[0].name; }));

  // --- alignment ---
  for (uint32_t a : {0u, 3u, 48u, 1u << 17, 0x80000000u}) {
    add("alignment_" + std::to_string(a), with([&, a](GgufSpec& g) {
      g.kv[kv_index(g, "general.alignment")].payload = Bytes().u32(a);
    }));
  }
  add("alignment_u64_huge", with([&](GgufSpec& g) {
    g.kv[kv_index(g, "general.alignment")] = {"general.alignment", T(ValueType::UINT64), Bytes().u64(1ull << 63)};
  }));
  add("alignment_string", with([&](GgufSpec& g) { g.kv[kv_index(g, "general.alignment")] = kv_str("general.alignment", "32"); }));
  add("alignment_float", with([&](GgufSpec& g) {
    g.kv[kv_index(g, "general.alignment")] = {"general.alignment", T(ValueType::FLOAT32), Bytes().f32(32.0f)};
  }));
  add("alignment_negative", with([&](GgufSpec& g) {
    g.kv[kv_index(g, "general.alignment")] = {"general.alignment", T(ValueType::INT32), Bytes().u32(uint32_t(-32))};
  }));

  // --- tensor infos ---
  for (uint32_t t : {4u, 5u, 31u, 36u, 40u, 99u, 0xFFFFFFFFu}) {
    add("tensor_type_" + std::to_string(t), with([t](GgufSpec& g) { g.tensors[0].type = t; }));
  }
  add("tensor_dims_0", with([](GgufSpec& g) { g.tensors[0].dims.clear(); }));
  add("tensor_dims_5", with([](GgufSpec& g) { g.tensors[2].dims = {8, 1, 1, 1, 1}; }));
  add("tensor_dims_claim_5", with([](GgufSpec& g) { g.tensors[0].n_dims_override = 5; }));
  add("tensor_dims_claim_huge", with([](GgufSpec& g) { g.tensors[0].n_dims_override = 0xFFFFFFFFu; }));
  add("tensor_zero_dim", with([](GgufSpec& g) { g.tensors[0].dims = {8, 0}; }));
  add("tensor_zero_dim0", with([](GgufSpec& g) { g.tensors[0].dims = {0, 4}; }));
  add("tensor_dims_overflow_2x32", with([](GgufSpec& g) { g.tensors[0].dims = {1ull << 32, 1ull << 32}; }));
  add("tensor_dims_overflow_4x40", with([](GgufSpec& g) {
    g.tensors[0].dims = {1ull << 40, 1ull << 40, 1ull << 40, 1ull << 40};
  }));
  add("tensor_dims_overflow_4x16", with([](GgufSpec& g) {  // 2^64 elements exactly: wraps to 0 in 64 bits
    g.tensors[0].dims = {1ull << 16, 1ull << 16, 1ull << 16, 1ull << 16};
  }));
  add("tensor_dim_2pow63", with([](GgufSpec& g) { g.tensors[0].dims = {1ull << 63, 1}; }));
  add("tensor_dim_max", with([](GgufSpec& g) { g.tensors[2].dims = {~0ull}; }));
  add("tensor_dim_negative", with([](GgufSpec& g) { g.tensors[2].dims = {uint64_t(-8)}; }));
  add("tensor_bytes_past_end", with([](GgufSpec& g) { g.tensors[0].dims = {1ull << 20, 1ull << 20}; }));
  add("tensor_q8_row_not_block_multiple", with([](GgufSpec& g) { g.tensors[1].dims = {33, 2}; }));
  add("tensor_offset_misaligned_4", with([](GgufSpec& g) { g.tensors[0].offset = 4; }));
  add("tensor_offset_misaligned_1", with([](GgufSpec& g) { g.tensors[2].offset += 1; }));
  add("tensor_offset_at_end", with([](GgufSpec& g) { g.tensors[2].offset = g.data.size(); }));
  add("tensor_offset_beyond_end", with([](GgufSpec& g) { g.tensors[2].offset = 1ull << 20; }));
  add("tensor_offset_2pow63", with([](GgufSpec& g) { g.tensors[2].offset = 1ull << 63; }));
  add("tensor_offset_wraps", with([](GgufSpec& g) { g.tensors[2].offset = ~0ull - 31; }));  // aligned, ~2^64
  add("tensor_grows_past_end", with([](GgufSpec& g) { g.tensors[2].dims = {16}; }));
  add("tensor_overlaps_and_runs_past_end", with([](GgufSpec& g) {
    g.tensors[2].offset = g.tensors[1].offset + 96;  // inside the Q8_0 tensor ...
    g.tensors[2].dims = {64};                        // ... and 256 bytes long: past the end
  }));
  add("tensor_data_missing", with([](GgufSpec& g) { g.data.clear(); }));
  add("tensor_data_short_by_one", with([](GgufSpec& g) { g.data.pop_back(); }));
  return c;
}

// Damaged files whose keys / tensor names / string values contain newlines or CRs.
std::vector<Case> control_char_corpus() {
  std::vector<Case> corpus;
  auto add = [&](const std::string& name, auto&& mutate) {
    GgufSpec g = make_valid();
    mutate(g);
    corpus.push_back({name, g.serialize()});
  };
  add("newline_key_bad_type", [](GgufSpec& g) { g.kv[3].key = "evil\nkey"; g.kv[3].type = 99; });
  add("newline_key_bad_bool", [](GgufSpec& g) { g.kv[9].key = "evil\nbool"; g.kv[9].payload = Bytes().u8(7); });
  add("newline_key_duplicate", [](GgufSpec& g) { g.kv.push_back(g.kv[1]); g.kv[1].key = g.kv.back().key = "a\nb"; });
  add("newline_key_truncated_value", [](GgufSpec& g) {
    g.kv.push_back({"x\ny", T(ValueType::UINT64), Bytes().u32(0)});  // half a value, then EOF
    g.tensors.clear();
    g.data.clear();
    g.align = 1;  // no padding after the header
  });
  add("newline_tensor_name_bad_type", [](GgufSpec& g) { g.tensors[0].name = "evil\ntensor"; g.tensors[0].type = 99; });
  add("cr_tensor_name_misaligned", [](GgufSpec& g) { g.tensors[0].name = "evil\rtensor"; g.tensors[0].offset = 4; });
  add("newline_alignment_string", [](GgufSpec& g) { g.kv[2] = kv_str("general.alignment", "3\n2"); });
  return corpus;
}

// ------------------------------------------------------------------------------------------------

class HostileGguf : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("minnow_hostile_gguf_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  static std::string write(const std::string& name, const std::vector<uint8_t>& bytes) {
    const std::string path = (dir_ / (name + ".gguf")).string();
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    f.close();
    EXPECT_TRUE(f) << "cannot write " << path;
    return path;
  }
  static inline fs::path dir_;
};

// Opens `path` expecting a minnow::Error with a one-line, non-empty message naming the file.
void expect_rejected(const std::string& path, const std::string& what) {
  try {
    auto f = gguf::File::open(path);
    ADD_FAILURE() << what << ": accepted a damaged file (" << f->metadata().size() << " kv, "
                  << f->tensors().size() << " tensors)";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_FALSE(msg.empty()) << what;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << what << ": multi-line message: " << msg;
    EXPECT_EQ(msg.find('\r'), std::string::npos) << what << ": message has a CR: " << msg;
    EXPECT_NE(msg.find(path), std::string::npos) << what << ": message does not name the file: " << msg;
  } catch (const std::exception& e) {
    ADD_FAILURE() << what << ": threw a non-minnow exception: " << e.what();
  } catch (...) {
    ADD_FAILURE() << what << ": threw something that is not a std::exception";
  }
}

const gguf::Value& must_find(const gguf::File& f, const std::string& key) {
  const gguf::Value* v = f.find(key);
  if (!v) throw std::runtime_error("missing key " + key);
  return *v;
}

void check_valid_contents(const gguf::File& f, uint64_t align, size_t data_size) {
  EXPECT_EQ(f.alignment(), align);
  EXPECT_EQ(f.metadata().size(), 18u);
  EXPECT_EQ(f.get_string("general.architecture"), "llama");
  EXPECT_EQ(f.get_string("general.name"), "hostile-test");
  EXPECT_EQ(f.get_uint("general.alignment", 0), align);
  EXPECT_EQ(must_find(f, "test.u8").type, ValueType::UINT8);
  EXPECT_EQ(must_find(f, "test.u8").u, 200u);
  EXPECT_EQ(must_find(f, "test.i8").i, -5);
  EXPECT_EQ(must_find(f, "test.u16").u, 65000u);
  EXPECT_EQ(must_find(f, "test.i16").i, -1234);
  EXPECT_EQ(must_find(f, "test.i32").i, -123456);
  EXPECT_EQ(must_find(f, "test.i32").type, ValueType::INT32);
  EXPECT_EQ(f.get_float("test.f32", 0), 1.5);
  EXPECT_EQ(f.get_bool("test.bool", false), true);
  EXPECT_EQ(f.get_uint("test.u64", 0), (1ull << 40) + 1);
  EXPECT_EQ(must_find(f, "test.i64").i, -(int64_t(1) << 40));
  EXPECT_EQ(f.get_float("test.f64", 0), 2.25);
  EXPECT_EQ(f.get_string("test.last"), "end");
  EXPECT_EQ(f.get_string("no.such.key", "fallback"), "fallback");

  const gguf::Value* tok = f.get_array("tokenizer.ggml.tokens");
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->elem_type, ValueType::STRING);
  ASSERT_EQ(tok->count, 5u);
  ASSERT_EQ(tok->strings.size(), 5u);
  EXPECT_EQ(tok->strings[0], "<s>");
  EXPECT_EQ(tok->strings[2], "hello");
  EXPECT_EQ(tok->strings[4], "");

  const gguf::Value* ai = f.get_array("test.arr_i32");
  ASSERT_NE(ai, nullptr);
  ASSERT_EQ(ai->count, 3u);
  EXPECT_EQ(gguf::array_int(*ai, 0), 1);
  EXPECT_EQ(gguf::array_int(*ai, 1), -2);
  EXPECT_EQ(gguf::array_int(*ai, 2), 3);
  const gguf::Value* af = f.get_array("test.arr_f32");
  ASSERT_NE(af, nullptr);
  ASSERT_EQ(af->count, 2u);
  EXPECT_EQ(gguf::array_float(*af, 0), 0.5);
  EXPECT_EQ(gguf::array_float(*af, 1), -4.0);
  const gguf::Value* nested = f.get_array("test.nested");
  ASSERT_NE(nested, nullptr);
  EXPECT_EQ(nested->elem_type, ValueType::ARRAY);
  ASSERT_EQ(nested->items.size(), 2u);
  ASSERT_EQ(nested->items[0].count, 2u);
  EXPECT_EQ(gguf::array_int(nested->items[0], 1), 2);
  ASSERT_EQ(nested->items[1].count, 1u);
  EXPECT_EQ(gguf::array_int(nested->items[1], 0), 3);

  ASSERT_EQ(f.tensors().size(), 3u);
  const gguf::TensorInfo* emb = f.find_tensor("tok_embd.weight");
  ASSERT_NE(emb, nullptr);
  EXPECT_EQ(emb->type, DType::F32);
  EXPECT_EQ(emb->n_dims, 2);
  EXPECT_EQ(emb->ne[0], 8);
  EXPECT_EQ(emb->ne[1], 4);
  EXPECT_EQ(emb->n_elements(), 32);
  EXPECT_EQ(emb->n_bytes, 128u);
  for (int i = 0; i < 32; ++i) {
    float x;
    std::memcpy(&x, emb->data + 4 * i, 4);
    EXPECT_EQ(x, i * 0.25f);
  }
  const gguf::TensorInfo* q = f.find_tensor("blk.0.attn_q.weight");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->type, DType::Q8_0);
  EXPECT_EQ(q->n_rows(), 2);
  EXPECT_EQ(q->n_bytes, 4u * 34u);
  EXPECT_EQ(q->offset % align, 0u);
  EXPECT_EQ(q->data[0], 0x00);  // f16 1.0 = 0x3C00, little-endian
  EXPECT_EQ(q->data[1], 0x3C);
  EXPECT_EQ(static_cast<int8_t>(q->data[2]), -16);
  const gguf::TensorInfo* norm = f.find_tensor("output_norm.weight");
  ASSERT_NE(norm, nullptr);
  EXPECT_EQ(norm->n_dims, 1);
  EXPECT_EQ(norm->shape_str(), "[8]");
  EXPECT_EQ(norm->offset + norm->n_bytes, data_size) << "the last tensor should end the file";
  EXPECT_EQ(norm->data + norm->n_bytes, emb->data - emb->offset + data_size);
  float last;
  std::memcpy(&last, norm->data + 28, 4);
  EXPECT_EQ(last, 8.0f);
  EXPECT_EQ(f.find_tensor("no.such.tensor"), nullptr);
}

TEST_F(HostileGguf, ValidFileOpensWithExpectedContents) {
  GgufSpec g = make_valid();
  const auto bytes = g.serialize();
  const std::string path = write("valid", bytes);
  std::unique_ptr<gguf::File> f;
  ASSERT_NO_THROW(f = gguf::File::open(path));
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->path(), path);
  EXPECT_EQ(f->file_size(), bytes.size());
  check_valid_contents(*f, 32, g.data.size());
}

TEST_F(HostileGguf, ValidVariantsOpen) {
  {  // version 2 has the same layout
    GgufSpec g = make_valid();
    g.version = 2;
    const std::string path = write("valid_v2", g.serialize());
    std::unique_ptr<gguf::File> f;
    ASSERT_NO_THROW(f = gguf::File::open(path));
    EXPECT_EQ(f->version(), 2u);
    check_valid_contents(*f, 32, g.data.size());
  }
  {  // a larger alignment moves the data section and the offsets
    GgufSpec g = make_valid(64);
    const std::string path = write("valid_align64", g.serialize());
    std::unique_ptr<gguf::File> f;
    ASSERT_NO_THROW(f = gguf::File::open(path));
    check_valid_contents(*f, 64, g.data.size());
  }
  {  // no tensors, no metadata: just a header
    GgufSpec g;
    const std::string path = write("valid_empty", g.serialize());
    std::unique_ptr<gguf::File> f;
    ASSERT_NO_THROW(f = gguf::File::open(path));
    EXPECT_TRUE(f->metadata().empty());
    EXPECT_TRUE(f->tensors().empty());
    EXPECT_EQ(f->alignment(), 32u);  // the default
  }
}

TEST_F(HostileGguf, CorpusIsRejectedWithOneLineErrors) {
  const auto corpus = hostile_corpus(/*trunc_step=*/1);  // every truncation length
  ASSERT_GT(corpus.size(), 500u);
  for (const Case& c : corpus) {
    SCOPED_TRACE(c.name);
    expect_rejected(write(c.name, c.bytes), c.name);
  }
}

TEST_F(HostileGguf, UnopenablePathsAreRejected) {
  expect_rejected((dir_ / "does_not_exist.gguf").string(), "missing file");
  const fs::path sub = dir_ / "a_directory.gguf";
  fs::create_directories(sub);
  expect_rejected(sub.string(), "directory");
}

// Names and string values from the file end up in error messages; control characters in them must not
// break the one-line rule (minnow::fail escapes them).
TEST_F(HostileGguf, ControlCharactersInNamesKeepErrorsOnOneLine) {
  for (const Case& c : control_char_corpus()) {
    SCOPED_TRACE(c.name);
    expect_rejected(write(c.name, c.bytes), c.name);
  }
}

// A real model (models/stories260K.gguf, tracked in the repository): the byte offset where its data section
// starts, and the length its last tensor needs. Every truncation shorter than that must be rejected.
struct RealModel {
  std::string path;
  std::vector<uint8_t> bytes;
  size_t data_start = 0;
  size_t needed = 0;
};

std::optional<RealModel> load_real_model() {
  RealModel m;
  m.path = test::source_dir() + "/models/stories260K.gguf";
  if (!fs::exists(m.path)) return std::nullopt;
  auto f = gguf::File::open(m.path);
  uint64_t end = 0;
  for (const auto& t : f->tensors()) end = std::max<uint64_t>(end, t.offset + t.n_bytes);
  // the writer pads the end by less than one alignment unit, so this is the aligned data-section start
  m.data_start = static_cast<size_t>((f->file_size() - end) / f->alignment() * f->alignment());
  m.needed = m.data_start + static_cast<size_t>(end);
  std::ifstream in(m.path, std::ios::binary);
  m.bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  // sanity: the computed layout really points at the tensors' bytes
  for (const auto& t : f->tensors()) {
    if (m.data_start + t.offset + t.n_bytes > m.bytes.size() ||
        std::memcmp(m.bytes.data() + m.data_start + t.offset, t.data, t.n_bytes) != 0) {
      ADD_FAILURE() << "could not locate the data section of " << m.path;
      return std::nullopt;
    }
  }
  return m;
}

// Truncation lengths: every `header_step`-th byte of the header, `data_samples` points in the data, the last byte.
std::vector<size_t> real_truncations(const RealModel& m, size_t header_step, size_t data_samples) {
  std::vector<size_t> v;
  for (size_t n = 0; n < m.data_start; n += header_step) v.push_back(n);
  for (size_t k = 0; k < data_samples; ++k) v.push_back(m.data_start + (m.needed - m.data_start) * k / data_samples);
  v.push_back(m.needed - 1);
  return v;
}

#define MINNOW_REQUIRE_REAL_MODEL(m)                                                            \
  auto m##_opt = load_real_model();                                                             \
  if (!m##_opt) {                                                                               \
    if (test::in_ci()) FAIL() << "models/stories260K.gguf is missing";                          \
    GTEST_SKIP() << "models/stories260K.gguf not found under " << test::source_dir();           \
  }                                                                                             \
  const RealModel& m = *m##_opt

TEST_F(HostileGguf, RealModelTruncationsAreRejected) {
  MINNOW_REQUIRE_REAL_MODEL(m);
  ASSERT_GT(m.data_start, 1000u);
  const auto lengths = real_truncations(m, /*header_step=*/7, /*data_samples=*/16);
  for (size_t n : lengths) {
    char name[40];
    std::snprintf(name, sizeof name, "real_trunc_%07zu", n);
    SCOPED_TRACE(name);
    const std::string path =
        write(name, std::vector<uint8_t>(m.bytes.begin(), m.bytes.begin() + static_cast<std::ptrdiff_t>(n)));
    expect_rejected(path, name);
    fs::remove(path);
  }
}

// ------------------------------------------------------------------------------------------------
// The CLI: `minnow info FILE` exits 1 with exactly one line on stderr for each damaged file, 0 for the valid one.

struct RunResult {
  int status = -1;  // exit status, or -1 when it did not exit normally
  std::string err;
};

RunResult run_cli_info(const std::string& file, const fs::path& err_path) {
  const std::string cmd = "'" + test::cli_path() + "' info '" + file + "' >/dev/null 2>'" + err_path.string() + "'";
  const int rc = std::system(cmd.c_str());
  RunResult r;
  if (rc != -1 && WIFEXITED(rc)) r.status = WEXITSTATUS(rc);
  std::ifstream in(err_path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  r.err = ss.str();
  return r;
}

bool is_one_line(const std::string& s) {
  if (s.empty()) return false;
  const size_t nl = s.find('\n');
  return nl == std::string::npos || nl == s.size() - 1;
}

TEST_F(HostileGguf, CliInfoExitsOneWithOneLineOnEveryCorpusFile) {
  if (!fs::exists(test::cli_path())) {
    if (test::in_ci()) FAIL() << "CLI binary missing at " << test::cli_path();
    GTEST_SKIP() << "CLI binary not built at " << test::cli_path();
  }
  const fs::path err = dir_ / "stderr.txt";
  auto expect_one_line_failure = [&](const std::string& name, const std::vector<uint8_t>& bytes) {
    SCOPED_TRACE(name);
    const std::string path = write("cli_" + name, bytes);
    const RunResult r = run_cli_info(path, err);
    EXPECT_EQ(r.status, 1) << name << ": stderr: " << r.err;
    EXPECT_TRUE(is_one_line(r.err)) << name << ": stderr is not exactly one line: [" << r.err << "]";
    fs::remove(path);
  };

  // A well-formed GGUF that is not a model (no tokenizer, no hyper-parameters): still one clean line.
  expect_one_line_failure("valid_gguf_not_a_model", make_valid().serialize());
  // Truncations are sampled here (one process per file): every 41st length plus the structural boundaries.
  // Of the structured cases every other one: the reader test covers each; this checks the CLI's plumbing.
  size_t k = 0;
  for (const Case& c : hostile_corpus(/*trunc_step=*/41))
    if (c.name.rfind("trunc_", 0) == 0 || k++ % 2 == 0) expect_one_line_failure(c.name, c.bytes);
  // The CLI flattens messages to one line even where the library does not (yet).
  for (const Case& c : control_char_corpus()) expect_one_line_failure(c.name, c.bytes);

  auto real = load_real_model();
  if (!real) {
    if (test::in_ci()) FAIL() << "models/stories260K.gguf is missing";
    GTEST_SKIP() << "models/stories260K.gguf not found under " << test::source_dir();
  }
  {  // the real model is described, exit 0
    const RunResult r = run_cli_info(real->path, err);
    EXPECT_EQ(r.status, 0) << real->path << ": stderr: " << r.err;
  }
  for (size_t n : real_truncations(*real, /*header_step=*/real->data_start / 16 + 1, /*data_samples=*/6)) {
    char name[40];
    std::snprintf(name, sizeof name, "real_trunc_%07zu", n);
    expect_one_line_failure(name, std::vector<uint8_t>(real->bytes.begin(),
                                                       real->bytes.begin() + static_cast<std::ptrdiff_t>(n)));
  }
}

// Well-formed GGUF files whose model is inconsistent: the real model with one hyper-parameter or one tensor
// shape changed in place. The GGUF reader accepts them; loading the model must not (or must not crash).
std::vector<uint8_t> find_and_patch(std::vector<uint8_t> b, const std::string& name, size_t skip,
                                    const std::vector<uint8_t>& expect_after, size_t patch_at,
                                    const std::vector<uint8_t>& value) {
  Bytes needle;
  needle.str(name).b.insert(needle.b.end(), expect_after.begin(), expect_after.end());
  auto it = std::search(b.begin(), b.end(), needle.b.begin(), needle.b.end());
  if (it == b.end()) {
    ADD_FAILURE() << "cannot find " << name << " in the model";
    return b;
  }
  const size_t at = static_cast<size_t>(it - b.begin()) + 8 + name.size() + skip + patch_at;
  std::copy(value.begin(), value.end(), b.begin() + static_cast<std::ptrdiff_t>(at));
  return b;
}
std::vector<uint8_t> with_u32_kv(const std::vector<uint8_t>& b, const std::string& key, uint32_t v) {
  return find_and_patch(b, key, 0, Bytes().u32(T(ValueType::UINT32)).b, 4, Bytes().u32(v).b);
}
std::vector<uint8_t> with_tensor_dim(const std::vector<uint8_t>& b, const std::string& name, int n_dims, int dim,
                                     uint64_t v) {
  return find_and_patch(b, name, 0, Bytes().u32(static_cast<uint32_t>(n_dims)).b, 4 + 8 * static_cast<size_t>(dim),
                        Bytes().u64(v).b);
}

TEST_F(HostileGguf, CliInfoRejectsInconsistentModels) {
  if (!fs::exists(test::cli_path())) {
    if (test::in_ci()) FAIL() << "CLI binary missing at " << test::cli_path();
    GTEST_SKIP() << "CLI binary not built at " << test::cli_path();
  }
  MINNOW_REQUIRE_REAL_MODEL(m);
  std::vector<Case> cases;
  // n_embd 64, n_head 8, n_head_kv 4, head_dim 8, n_ff 172, n_layer 5, n_rot 8, n_vocab 512
  for (uint32_t v : {0u, 3u, 1u << 31}) cases.push_back({"head_count_" + std::to_string(v), with_u32_kv(m.bytes, "llama.attention.head_count", v)});
  for (uint32_t v : {0u, 3u, 16u}) cases.push_back({"head_count_kv_" + std::to_string(v), with_u32_kv(m.bytes, "llama.attention.head_count_kv", v)});
  for (uint32_t v : {0u, 65u, 128u, 1u << 31}) cases.push_back({"embedding_length_" + std::to_string(v), with_u32_kv(m.bytes, "llama.embedding_length", v)});
  for (uint32_t v : {0u, 173u, 1u << 31}) cases.push_back({"feed_forward_length_" + std::to_string(v), with_u32_kv(m.bytes, "llama.feed_forward_length", v)});
  for (uint32_t v : {6u, 1u << 31}) cases.push_back({"block_count_" + std::to_string(v), with_u32_kv(m.bytes, "llama.block_count", v)});
  for (uint32_t v : {9u, 16u, 1u << 31}) cases.push_back({"rope_dimension_count_" + std::to_string(v), with_u32_kv(m.bytes, "llama.rope.dimension_count", v)});
  cases.push_back({"token_embd_rows_256", with_tensor_dim(m.bytes, "token_embd.weight", 2, 1, 256)});
  cases.push_back({"token_embd_cols_32", with_tensor_dim(m.bytes, "token_embd.weight", 2, 0, 32)});
  cases.push_back({"output_rows_256", with_tensor_dim(m.bytes, "output.weight", 2, 1, 256)});
  cases.push_back({"attn_k_cols_16", with_tensor_dim(m.bytes, "blk.0.attn_k.weight", 2, 1, 16)});
  cases.push_back({"ffn_down_rows_32", with_tensor_dim(m.bytes, "blk.4.ffn_down.weight", 2, 1, 32)});
  cases.push_back({"output_norm_32", with_tensor_dim(m.bytes, "output_norm.weight", 1, 0, 32)});
  cases.push_back({"attn_norm_32", with_tensor_dim(m.bytes, "blk.1.attn_norm.weight", 1, 0, 32)});

  const fs::path err = dir_ / "stderr.txt";
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ASSERT_NE(c.bytes, m.bytes) << "patch did not apply";
    const std::string path = write("model_" + c.name, c.bytes);
    const RunResult r = run_cli_info(path, err);
    EXPECT_EQ(r.status, 1) << c.name << ": stderr: " << r.err;
    EXPECT_TRUE(is_one_line(r.err)) << c.name << ": stderr is not exactly one line: [" << r.err << "]";
    fs::remove(path);
  }
}

}  // namespace
}  // namespace minnow
