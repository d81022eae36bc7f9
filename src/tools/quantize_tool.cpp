#include "tools/quantize_tool.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <unordered_map>

#include "common/error.h"
#include "gguf/gguf.h"
#include "gguf/writer.h"
#include "runtime/threadpool.h"
#include "tensor/quantize.h"
#include "tensor/types.h"
#include "tools/quant_mix.h"

namespace minnow::tools {
namespace {

constexpr uint32_t kQuantizationVersion = 2;  // GGML_QNT_VERSION

// ------------------------------------------------------------------ interrupt handling

// OUT.tmp is the Writer's temporary file; a signal during the run removes it and exits.
char g_tmp_path[4096];
volatile sig_atomic_t g_have_tmp = 0;

extern "C" void on_quantize_signal(int sig) {
  if (g_have_tmp) unlink(g_tmp_path);  // async-signal-safe
  _exit(128 + sig);
}

class SignalGuard {
 public:
  explicit SignalGuard(const std::string& out_path) {
    const std::string tmp = out_path + ".tmp";
    if (tmp.size() < sizeof(g_tmp_path)) {
      std::memcpy(g_tmp_path, tmp.c_str(), tmp.size() + 1);
      g_have_tmp = 1;
    }
    struct sigaction sa {};
    sa.sa_handler = on_quantize_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  ~SignalGuard() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
    g_have_tmp = 0;
  }
  SignalGuard(const SignalGuard&) = delete;
  SignalGuard& operator=(const SignalGuard&) = delete;

 private:
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

// ------------------------------------------------------------------ helpers

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

const DType kQuantTypes[] = {DType::F32,  DType::F16,  DType::BF16, DType::Q8_0, DType::Q4_0,
                             DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q2_K, DType::Q3_K,
                             DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::IQ4_NL, DType::IQ4_XS};

DType parse_tensor_type(const std::string& name) {
  const std::string u = upper(name);
  for (DType t : kQuantTypes)
    if (u == type_name(t)) return t;
  std::string list;
  for (DType t : kQuantTypes) list += (list.empty() ? "" : ", ") + std::string(type_name(t));
  fail("--tensor-type: unknown tensor type '", name, "' (supported: ", list, ")");
}

struct Override {
  std::string pattern;
  std::regex re;
  DType type;
};

std::vector<Override> parse_overrides(const std::vector<std::string>& specs) {
  std::vector<Override> out;
  for (const std::string& s : specs) {
    const size_t eq = s.rfind('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == s.size())
      fail("--tensor-type: expected REGEX=TYPE, got '", s, "'");
    const std::string pat = s.substr(0, eq);
    Override o{pat, {}, parse_tensor_type(s.substr(eq + 1))};
    try {
      o.re = std::regex(pat, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      fail("--tensor-type: bad regular expression '", pat, "': ", e.what());
    }
    out.push_back(std::move(o));
  }
  return out;
}

bool is_float_type(DType t) { return t == DType::F32 || t == DType::F16 || t == DType::BF16; }

// ggml_n_dims: trailing dimensions of 1 do not count.
int effective_dims(const gguf::TensorInfo& t) {
  int n = 1;
  for (int i = 1; i < 4; ++i)
    if (t.ne[i] > 1) n = i + 1;
  return n;
}

bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

// llama-quant.cpp's list of tensors it never quantizes (whatever the type asked for).
bool llama_quantizable(const std::string& name, int n_dims) {
  if (name.size() < 6 || name.compare(name.size() - 6, 6, "weight") != 0) return false;
  if (n_dims < 2) return false;
  static const char* const kNever[] = {
      "_norm.weight", "ffn_gate_inp.weight", "altup", "laurel", "per_layer_model_proj", "ssm_conv1d.weight",
      "shortconv.conv.weight", "time_mix_first.weight", "time_mix_w0.weight", "time_mix_w1.weight",
      "time_mix_w2.weight", "time_mix_v0.weight", "time_mix_v1.weight", "time_mix_v2.weight", "time_mix_a0.weight",
      "time_mix_a1.weight", "time_mix_a2.weight", "time_mix_g1.weight", "time_mix_g2.weight",
      "time_mix_decay_w1.weight", "time_mix_decay_w2.weight", "time_mix_lerp_fused.weight", "attn_rel_b.weight"};
  for (const char* p : kNever)
    if (contains(name, p)) return false;
  if (name == "position_embd.weight" || name == "token_types.weight") return false;
  return true;
}

// llama.cpp's model loader orders tensors by layer number (non-layer tensors first), then by name;
// llama-quantize writes them, and counts layers for the mix rules, in that order.
bool llama_order_less(const std::string& a, const std::string& b) {
  int la = -1, lb = -1;
  std::sscanf(a.c_str(), "blk.%d.", &la);
  std::sscanf(b.c_str(), "blk.%d.", &lb);
  if (la != lb) return la < lb;
  return a < b;
}

int64_t first_int(const gguf::Value* v, int64_t fallback) {
  if (v == nullptr) return fallback;
  if (v->is_integer()) return v->type == gguf::ValueType::INT8 || v->type == gguf::ValueType::INT16 ||
                                      v->type == gguf::ValueType::INT32 || v->type == gguf::ValueType::INT64
                                  ? v->i
                                  : static_cast<int64_t>(v->u);
  if (v->type == gguf::ValueType::ARRAY && v->count > 0 && v->elem_type != gguf::ValueType::STRING &&
      v->elem_type != gguf::ValueType::ARRAY)
    return gguf::array_int(*v, 0);
  return fallback;
}

int gqa_of(const gguf::File& f) {
  const std::string arch = f.get_string("general.architecture", "");
  const int64_t n_head = first_int(f.find(arch + ".attention.head_count"), 0);
  const int64_t n_head_kv = first_int(f.find(arch + ".attention.head_count_kv"), n_head);
  if (n_head <= 0 || n_head_kv <= 0) return 1;
  return static_cast<int>(n_head / n_head_kv);
}

double mib(uint64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

// ------------------------------------------------------------------ importance matrix

struct Imatrix {
  std::unordered_map<std::string, std::vector<float>> data;  // tensor name -> ne0 * n_mat values
  std::vector<std::string> datasets;
  uint32_t chunks = 0;
};

void read_legacy_imatrix(const std::string& path, Imatrix& im) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open the imatrix file");
  auto rd_i32 = [&](const char* what) {
    int32_t v;
    if (!in.read(reinterpret_cast<char*>(&v), 4)) fail(path, ": truncated imatrix file (", what, ")");
    return v;
  };
  const int32_t n_entries = rd_i32("entry count");
  if (n_entries < 1 || n_entries > 1000000) fail(path, ": not an imatrix file (", n_entries, " entries)");
  for (int32_t i = 0; i < n_entries; ++i) {
    const int32_t len = rd_i32("name length");
    if (len < 1 || len > 4096) fail(path, ": bad name length ", len, " in imatrix entry ", i + 1);
    std::string name(static_cast<size_t>(len), '\0');
    if (!in.read(name.data(), len)) fail(path, ": truncated imatrix file (name of entry ", i + 1, ")");
    const int32_t ncall = rd_i32("call count");
    const int32_t nval = rd_i32("value count");
    if (nval < 1 || nval > (1 << 28)) fail(path, ": bad value count ", nval, " for imatrix entry ", name);
    std::vector<float> e(static_cast<size_t>(nval));
    if (!in.read(reinterpret_cast<char*>(e.data()), static_cast<std::streamsize>(e.size() * 4)))
      fail(path, ": truncated imatrix file (values of ", name, ")");
    if (ncall > 0)
      for (float& v : e) v /= static_cast<float>(ncall);
    im.data[name] = std::move(e);
  }
  int32_t last_call = 0, dlen = 0;
  if (in.read(reinterpret_cast<char*>(&last_call), 4) && in.read(reinterpret_cast<char*>(&dlen), 4) && dlen > 0 &&
      dlen < (1 << 20)) {
    std::string ds(static_cast<size_t>(dlen), '\0');
    if (in.read(ds.data(), dlen)) im.datasets.push_back(ds);
    im.chunks = last_call > 0 ? static_cast<uint32_t>(last_call) : 0;
  }
}

// The GGUF format llama-imatrix writes: for each weight W, "W.in_sum2" [ne0, n_mat] (sums of squared
// activations) and "W.counts" [1, n_mat]; the importance is in_sum2 / count (1 where count is 0).
void read_gguf_imatrix(const std::string& path, Imatrix& im) {
  auto f = gguf::File::open(path);
  std::map<std::string, std::pair<const gguf::TensorInfo*, const gguf::TensorInfo*>> pairs;
  auto strip = [](const std::string& s, const std::string& suffix, std::string& base) {
    if (s.size() <= suffix.size() || s.compare(s.size() - suffix.size(), suffix.size(), suffix) != 0) return false;
    base = s.substr(0, s.size() - suffix.size());
    return true;
  };
  for (const auto& t : f->tensors()) {
    std::string base;
    if (strip(t.name, ".in_sum2", base)) pairs[base].first = &t;
    else if (strip(t.name, ".counts", base)) pairs[base].second = &t;
  }
  if (pairs.empty()) fail(path, ": no imatrix data (no <tensor>.in_sum2 / <tensor>.counts tensors)");
  for (const auto& [name, sc] : pairs) {
    const gguf::TensorInfo* sums = sc.first;
    const gguf::TensorInfo* counts = sc.second;
    if (!sums || !counts) fail(path, ": mismatched in_sum2 and counts for ", name);
    if (sums->type != DType::F32 || counts->type != DType::F32)
      fail(path, ": imatrix tensors of ", name, " must be F32");
    const int64_t ne0 = sums->ne[0];
    const int64_t n_mat = sums->n_elements() / std::max<int64_t>(ne0, 1);
    if (counts->n_elements() != n_mat)
      fail(path, ": ", name, ".counts has ", counts->n_elements(), " values for ", n_mat, " matrices");
    std::vector<float> s(static_cast<size_t>(sums->n_elements())), c(static_cast<size_t>(n_mat));
    std::memcpy(s.data(), sums->data, s.size() * 4);
    std::memcpy(c.data(), counts->data, c.size() * 4);
    std::vector<float>& e = im.data[name];
    e.resize(s.size());
    for (int64_t j = 0; j < n_mat; ++j)
      for (int64_t i = 0; i < ne0; ++i) {
        const size_t k = static_cast<size_t>(j * ne0 + i);
        e[k] = c[static_cast<size_t>(j)] > 0.0f ? s[k] / c[static_cast<size_t>(j)] : 1.0f;
      }
  }
  if (const gguf::Value* ds = f->get_array("imatrix.datasets"))
    for (auto sv : ds->strings) im.datasets.emplace_back(sv);
  im.chunks = static_cast<uint32_t>(f->get_uint("imatrix.chunk_count", 0));
}

Imatrix load_imatrix(const std::string& path) {
  Imatrix im;
  char magic[4] = {};
  {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail(path, ": cannot open the imatrix file");
    in.read(magic, 4);
  }
  if (std::memcmp(magic, "GGUF", 4) == 0) read_gguf_imatrix(path, im);
  else read_legacy_imatrix(path, im);
  for (const auto& [name, v] : im.data)
    for (float x : v)
      if (!std::isfinite(x)) fail(path, ": imatrix contains a non-finite value for ", name);
  return im;
}

// ------------------------------------------------------------------ plan

struct Item {
  const gguf::TensorInfo* t;
  DType target;
  bool convert;  // target != source
};

}  // namespace

QuantizeSummary quantize_model(const QuantizeOptions& opt) {
  const FileType ft = parse_file_type(opt.type);
  const std::vector<Override> overrides = parse_overrides(opt.tensor_types);
  if (opt.input.empty() || opt.output.empty()) fail("quantize: input and output paths are required");

  auto in = gguf::File::open(opt.input);
  Imatrix im;
  if (!opt.imatrix.empty()) im = load_imatrix(opt.imatrix);

  // Tensors in llama.cpp's order; the mix rules count attn_v / ffn_down layers in this order.
  std::vector<const gguf::TensorInfo*> order;
  for (const auto& t : in->tensors()) order.push_back(&t);
  std::stable_sort(order.begin(), order.end(), [](const gguf::TensorInfo* a, const gguf::TensorInfo* b) {
    return llama_order_less(a->name, b->name);
  });
  std::vector<TensorDesc> descs;
  for (const gguf::TensorInfo* t : order) descs.push_back({t->name, std::vector<int64_t>(t->ne, t->ne + effective_dims(*t))});
  const std::vector<DType> mix = choose_types(ft, descs, gqa_of(*in));

  std::vector<Item> plan;
  for (size_t i = 0; i < order.size(); ++i) {
    const gguf::TensorInfo& t = *order[i];
    DType target = t.type;
    bool quantize = llama_quantizable(t.name, effective_dims(t)) && !(opt.keep_output && t.name == "output.weight");
    if (quantize) {
      target = mix[i];
      for (const Override& o : overrides) {
        if (!std::regex_search(t.name, o.re)) continue;
        if (t.ne[0] % type_info(o.type).block_size != 0) {
          if (opt.progress)
            std::fprintf(stderr, "quantize: warning: --tensor-type %s=%s ignored for %s (rows of %lld)\n",
                         o.pattern.c_str(), type_name(o.type), t.name.c_str(), static_cast<long long>(t.ne[0]));
          continue;
        }
        target = o.type;  // the last matching override wins
      }
      if (t.ne[0] % type_info(target).block_size != 0) {
        if (opt.progress)
          std::fprintf(stderr, "quantize: warning: %s has rows of %lld, not a multiple of %s blocks; using F16\n",
                       t.name.c_str(), static_cast<long long>(t.ne[0]), type_name(target));
        target = DType::F16;
      }
    }
    const bool convert = target != t.type;
    if (convert) {
      if (!is_float_type(t.type) && !opt.allow_requantize)
        fail(opt.input, ": tensor ", t.name, " is already quantized (", type_name(t.type),
             "); requantizing loses accuracy, pass --allow-requantize to do it anyway");
      if (!type_info(t.type).can_dequantize)
        fail(opt.input, ": tensor ", t.name, " has type ", type_name(t.type), ", which minnow cannot convert");
      if (!can_quantize(target)) fail("quantize: no quantizer for type ", type_name(target));
    }
    plan.push_back({&t, target, convert});
  }

  SignalGuard guard(opt.output);
  const int n_threads = opt.threads > 0 ? opt.threads : runtime::ThreadPool::default_threads();
  runtime::ThreadPool pool(std::max(1, n_threads));

  gguf::Writer w(in->alignment());
  for (const auto& [key, v] : in->metadata())
    if (key != "general.alignment") w.set_value(key, v);
  // llama.cpp sets these last (gguf_set_* removes an existing key first) and drops split keys.
  for (const char* k : {"general.quantization_version", "general.file_type", "split.no", "split.count",
                        "split.tensors.count"})
    w.remove(k);
  if (!im.data.empty()) {
    w.remove("quantize.imatrix.file");
    w.set_str("quantize.imatrix.file", opt.imatrix);
    if (!im.datasets.empty()) {
      w.remove("quantize.imatrix.dataset");
      w.set_str("quantize.imatrix.dataset", im.datasets[0]);
    }
    w.remove("quantize.imatrix.entries_count");
    w.set_u32("quantize.imatrix.entries_count", static_cast<uint32_t>(im.data.size()));
    if (im.chunks > 0) {
      w.remove("quantize.imatrix.chunks_count");
      w.set_u32("quantize.imatrix.chunks_count", im.chunks);
    }
  }
  w.set_u32("general.quantization_version", kQuantizationVersion);
  w.set_u32("general.file_type", static_cast<uint32_t>(ft));

  QuantizeSummary sum;
  size_t name_w = 0;
  for (const Item& it : plan) name_w = std::max(name_w, it.t->name.size());
  const int n = static_cast<int>(plan.size());
  const int idx_w = static_cast<int>(std::to_string(n).size());
  std::vector<float> f32;
  for (int k = 0; k < n; ++k) {
    const Item& it = plan[static_cast<size_t>(k)];
    const gguf::TensorInfo& t = *it.t;
    if (opt.on_tensor) opt.on_tensor(k, t.name);
    const std::vector<int64_t> ne(t.ne, t.ne + t.n_dims);
    const int64_t ne0 = t.ne[0], n_rows = t.n_rows();
    uint64_t out_bytes = t.n_bytes;
    bool used_imatrix = false;
    if (!it.convert) {
      w.add_tensor(t.name, t.type, ne, t.data, t.n_bytes);
    } else {
      // Source rows as floats (F32 is used in place).
      const float* x = nullptr;
      if (t.type == DType::F32 && reinterpret_cast<uintptr_t>(t.data) % alignof(float) == 0) {
        x = reinterpret_cast<const float*>(t.data);
      } else {
        f32.resize(static_cast<size_t>(t.n_elements()));
        const size_t src_row = row_bytes(t.type, ne0);
        auto deq = [&](int64_t b, int64_t e, int) {
          for (int64_t r = b; r < e; ++r) dequantize_row(t.type, t.data + r * src_row, f32.data() + r * ne0, ne0);
        };
        pool.parallel_for(n_rows, deq);
        x = f32.data();
      }
      // llama.cpp validates tensor data on load; NaN or inf would also make the level searches meaningless.
      {
        std::vector<int64_t> bad_row(static_cast<size_t>(pool.size()), -1);
        auto check = [&](int64_t b, int64_t e, int ti) {
          for (int64_t r = b; r < e && bad_row[static_cast<size_t>(ti)] < 0; ++r)
            for (int64_t i = 0; i < ne0; ++i)
              if (!std::isfinite(x[r * ne0 + i])) {
                bad_row[static_cast<size_t>(ti)] = r;
                break;
              }
        };
        pool.parallel_for(n_rows, check);
        for (int64_t r : bad_row)
          if (r >= 0) fail(opt.input, ": tensor ", t.name, " has a non-finite value (NaN or inf) in row ", r);
      }
      // Importance: one vector per ne[2] slice (experts), as llama.cpp.
      const float* imp = nullptr;
      const int64_t n_slices = t.ne[2];
      if (!im.data.empty()) {
        auto f = im.data.find(t.name);
        if (f == im.data.end()) {
          if (opt.progress) std::fprintf(stderr, "quantize: no importance data for %s\n", t.name.c_str());
        } else if (static_cast<int64_t>(f->second.size()) == ne0 * n_slices) {
          imp = f->second.data();
        } else if (t.name != "token_embd.weight") {
          fail(opt.imatrix, ": importance data for ", t.name, " has ", f->second.size(), " values, the tensor needs ",
               ne0 * n_slices);
        }
      }
      used_imatrix = imp != nullptr;
      const size_t dst_row = row_bytes(it.target, ne0);
      std::vector<uint8_t> out(dst_row * static_cast<size_t>(n_rows));
      const int64_t rows_per_slice = t.ne[1];
      auto quant = [&](int64_t b, int64_t e, int) {
        // [b, e) may span slices; each slice has its own importance vector.
        for (int64_t r = b; r < e;) {
          const int64_t slice = r / rows_per_slice;
          const int64_t end = std::min(e, (slice + 1) * rows_per_slice);
          const float* si = imp ? imp + (slice % n_slices) * ne0 : nullptr;
          quantize_rows(it.target, x + r * ne0, out.data() + static_cast<size_t>(r) * dst_row, end - r, ne0, si);
          r = end;
        }
      };
      pool.parallel_for(n_rows, quant);
      out_bytes = out.size();
      w.add_tensor(t.name, it.target, ne, std::move(out));
      ++sum.n_converted;
    }
    sum.n_imatrix_used += used_imatrix;
    ++sum.n_tensors;
    sum.n_elements += t.n_elements();
    sum.bytes_in += t.n_bytes;
    sum.bytes_out += out_bytes;
    if (opt.progress) {
      std::fprintf(stderr, "[%*d/%d] %-*s %6s -> %-6s %9.3f MiB -> %9.3f MiB%s\n", idx_w, k + 1, n,
                   static_cast<int>(name_w), t.name.c_str(), type_name(t.type), type_name(it.target), mib(t.n_bytes),
                   mib(out_bytes), used_imatrix ? "  (imatrix)" : "");
    }
  }

  w.write(opt.output);
  if (opt.progress) {
    const double ne = static_cast<double>(std::max<int64_t>(sum.n_elements, 1));
    std::fprintf(stderr,
                 "quantize: %s -> %s (%s): %.2f MiB (%.2f bpw) -> %.2f MiB (%.2f bpw), %d of %d tensors converted%s\n",
                 opt.input.c_str(), opt.output.c_str(), file_type_name(ft).c_str(), mib(sum.bytes_in),
                 static_cast<double>(sum.bytes_in) * 8 / ne, mib(sum.bytes_out), static_cast<double>(sum.bytes_out) * 8 / ne,
                 sum.n_converted, sum.n_tensors,
                 im.data.empty() ? "" : cat(", ", sum.n_imatrix_used, " with importance data").c_str());
  }
  return sum;
}

std::string quantize_usage() {
  return "usage: minnow quantize IN.gguf OUT.gguf TYPE [--imatrix FILE] [--tensor-type REGEX=TYPE ...]\n"
         "                       [--keep-output] [--allow-requantize] [-t THREADS]\n"
         "  TYPE: F32 F16 BF16 Q8_0 Q6_K Q5_K_M Q5_K_S Q4_K_M Q4_K_S Q3_K_L Q3_K_M Q3_K_S Q2_K\n"
         "        Q4_0 Q4_1 Q5_0 Q5_1 IQ4_NL IQ4_XS\n"
         "  --imatrix FILE            importance matrix from llama-imatrix (GGUF or legacy .dat)\n"
         "  --tensor-type REGEX=TYPE  give tensors whose name matches REGEX the ggml type TYPE (repeatable)\n"
         "  --keep-output             leave output.weight in its source type\n"
         "  --allow-requantize        allow converting tensors that are already quantized\n"
         "  -t, --threads N           worker threads (default: physical cores)\n";
}

int run_quantize(const std::vector<std::string>& args) {
  QuantizeOptions opt;
  std::vector<std::string> pos;
  try {
    for (size_t i = 0; i < args.size(); ++i) {
      const std::string& a = args[i];
      auto value = [&]() -> const std::string& {
        if (i + 1 >= args.size()) fail(a, " needs a value");
        return args[++i];
      };
      if (a == "-h" || a == "--help") {
        std::fputs(quantize_usage().c_str(), stdout);
        return 0;
      } else if (a == "--imatrix") {
        opt.imatrix = value();
      } else if (a == "--tensor-type") {
        opt.tensor_types.push_back(value());
      } else if (a.rfind("--tensor-type=", 0) == 0) {
        opt.tensor_types.push_back(a.substr(14));
      } else if (a == "--keep-output" || a == "--leave-output-tensor") {
        opt.keep_output = true;
      } else if (a == "--allow-requantize") {
        opt.allow_requantize = true;
      } else if (a == "-t" || a == "--threads") {
        const std::string& v = value();
        char* end = nullptr;
        const long n = std::strtol(v.c_str(), &end, 10);
        if (end == v.c_str() || *end != '\0' || n < 1 || n > 4096) fail(a, ": expected a thread count, got '", v, "'");
        opt.threads = static_cast<int>(n);
      } else if (a.size() > 1 && a[0] == '-') {
        fail("unknown option '", a, "'");
      } else {
        pos.push_back(a);
      }
    }
    if (pos.size() != 3) fail("expected IN.gguf OUT.gguf TYPE, got ", pos.size(), " positional argument(s)");
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n%s", e.what(), quantize_usage().c_str());
    return 2;
  }
  opt.input = pos[0];
  opt.output = pos[1];
  opt.type = pos[2];
  try {
    quantize_model(opt);
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", one_line(e.what()).c_str());
    return 1;
  }
  return 0;
}

}  // namespace minnow::tools
