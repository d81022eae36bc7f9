// Matrix x vector throughput of each kernel, in GB/s of weights read: once with a matrix that stays in
// L2 (what the arithmetic alone allows) and once with one far larger than the caches (what memory allows);
// gemm64 is a 64-token batch (prefill), read as GOP/s.
// Timing only: nothing here is a test. Run: build/bench/kernel_bench [--benchmark_filter=Q4_K]
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "tensor/fp16.h"
#include "tensor/kernels.h"
#include "tensor/repack.h"

using namespace minnow;

namespace {

std::vector<uint8_t> weights(DType t, int64_t rows, int64_t cols) {
  std::vector<uint8_t> w(row_bytes(t, cols) * rows);
  std::mt19937 rng(1);
  for (auto& b : w) b = static_cast<uint8_t>(rng());
  const TypeInfo& ti = type_info(t);
  // keep fp16 fields finite: set every 2-byte-aligned half that is NaN/inf to a small value
  if (ti.block_size > 1)
    for (size_t i = 0; i + 1 < w.size(); i += 2)
      if (((w[i + 1] >> 2) & 0x1f) == 0x1f) w[i + 1] &= 0x83;
  return w;
}

void BM_matvec(benchmark::State& state, DType t, int64_t rows, int64_t cols, int n_tok, bool packed) {
  auto w = weights(t, rows, cols);
  MatView m;
  m.type = t;
  m.data = w.data();
  m.row_bytes = row_bytes(t, cols);
  m.cols = cols;
  m.rows = rows;
  Kernel k = kernel_for(t);
  if (packed) {  // the R16 layout weights are repacked into at load (tensor/repack.h)
    std::vector<uint8_t> p(packed_bytes(t, rows, cols));
    repack_rows(t, w.data(), m.row_bytes, cols, 0, rows / kPackRows, p.data());
    w.swap(p);
    m.data = w.data();
    m.packed = true;
    k = packed_kernel_for(t);
  }
  std::vector<float> x(cols * n_tok, 0.5f), y(rows * n_tok);
  std::vector<uint8_t> act(act_row_bytes(cols) * n_tok);
  const size_t stride = k.int_act ? act_row_bytes(cols) : cols * sizeof(float);
  for (int i = 0; i < n_tok; ++i)
    if (k.int_act) quantize_act_for(k.isa)(x.data() + i * cols, cols, act.data() + i * stride, k.act_kind);
  const void* a = k.int_act ? static_cast<const void*>(act.data()) : x.data();
  for (auto _ : state) {
    k.gemm(m, a, stride, n_tok, y.data(), rows, 0, rows);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(w.size()));
  state.counters["GOP/s"] = benchmark::Counter(2.0 * rows * cols * n_tok * state.iterations(), benchmark::Counter::kIsRate);
  state.SetLabel(std::string(isa_name(k.isa)) + (packed ? " R16" : ""));
}

const DType kTypes[] = {DType::F16, DType::BF16, DType::Q8_0, DType::Q6_K, DType::Q5_K, DType::Q4_K, DType::Q4_0,
                        DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q3_K, DType::Q2_K, DType::IQ4_NL, DType::IQ4_XS};

int reg = [] {
  for (DType t : kTypes) {
    const std::string n = type_name(t);
    for (bool packed : {false, true}) {
      if (packed && !repack_supported(t, 65536, 2048)) continue;
      const std::string s = n + (packed ? "_R16" : "");
      benchmark::RegisterBenchmark(("matvec_L2/" + s).c_str(), BM_matvec, t, 256, 2048, 1, packed);
      benchmark::RegisterBenchmark(("matvec_DRAM/" + s).c_str(), BM_matvec, t, 65536, 2048, 1, packed);
      benchmark::RegisterBenchmark(("matmul4_L2/" + s).c_str(), BM_matvec, t, 256, 2048, 4, packed);
      // a prefill-sized batch (the AVX-512 panel GEMM): compare GOP/s with the VNNI / FMA peak
      benchmark::RegisterBenchmark(("gemm64/" + s).c_str(), BM_matvec, t, 512, 2048, 64, packed);
    }
  }
  return 0;
}();

}  // namespace

BENCHMARK_MAIN();
