// Kernel dispatch: the best instruction set this CPU and build support, chosen once.
// MINNOW_ISA=scalar|avx2|avx512 caps it (for tests and benchmarks).
#include "tensor/kernels.h"

#include <cstdlib>
#include <string>

namespace minnow {

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return "avx512";
    case Isa::Avx2: return "avx2";
    default: return "scalar";
  }
}

static Isa detect_isa() {
  Isa isa = Isa::Scalar;
#if defined(__x86_64__)
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
  if (avx2 && kernels::avx2_gemm(DType::Q8_0)) isa = Isa::Avx2;
  if (avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni") && kernels::avx512_gemm(DType::Q8_0))
    isa = Isa::Avx512;
#endif
  if (const char* env = std::getenv("MINNOW_ISA")) {
    const std::string e = env;
    Isa cap = e == "scalar" ? Isa::Scalar : e == "avx2" ? Isa::Avx2 : Isa::Avx512;
    if (cap < isa) isa = cap;
  }
  return isa;
}

Isa best_isa() {
  static const Isa isa = detect_isa();
  return isa;
}

Kernel kernel_for(DType t, Isa isa) {
  Kernel k;
  k.int_act = !(t == DType::F32 || t == DType::F16 || t == DType::BF16);
  const bool superblock = t == DType::Q2_K || t == DType::Q3_K || t == DType::Q4_K || t == DType::Q5_K ||
                          t == DType::Q6_K || t == DType::IQ4_XS;
  k.act_kind = superblock ? ActKind::Q8_K : ActKind::Q8_0;
  if (isa > best_isa()) isa = best_isa();
  if (isa == Isa::Avx512 && (k.gemm = kernels::avx512_gemm(t))) {
    k.isa = Isa::Avx512;
    return k;
  }
  if (isa >= Isa::Avx2 && (k.gemm = kernels::avx2_gemm(t))) {
    k.isa = Isa::Avx2;
    return k;
  }
  k.gemm = kernels::scalar_gemm(t);
  k.isa = Isa::Scalar;
  return k;
}

Kernel packed_kernel_for(DType t) {
  Kernel k = kernel_for(t);
  k.gemm = best_isa() == Isa::Avx512 ? kernels::avx512_packed_gemm(t) : nullptr;
  return k;
}

const VecOps& vec_ops() {
  static const VecOps* ops = [] {
    if (best_isa() >= Isa::Avx2)
      if (const VecOps* v = kernels::avx2_vec_ops()) return v;
    return &kernels::scalar_vec_ops;
  }();
  return *ops;
}

QuantizeActFn quantize_act_for(Isa isa) {
  if (isa > best_isa()) isa = best_isa();
  if (isa == Isa::Avx512)
    if (auto f = kernels::avx512_quantize_act()) return f;
  if (isa >= Isa::Avx2)
    if (auto f = kernels::avx2_quantize_act()) return f;
  return quantize_act_ref;
}

}  // namespace minnow
