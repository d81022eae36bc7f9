#include "tensor/types.h"

namespace minnow {

const TypeInfo* type_info(uint32_t id) {
  // Layouts from the GGUF spec / ggml-common.h block structs.
  static const TypeInfo table[40] = {
      /* 0 */ {"F32", 1, 4, true},
      /* 1 */ {"F16", 1, 2, true},
      /* 2 */ {"Q4_0", 32, 18, true},
      /* 3 */ {"Q4_1", 32, 20, true},
      /* 4 */ {nullptr, 0, 0, false},
      /* 5 */ {nullptr, 0, 0, false},
      /* 6 */ {"Q5_0", 32, 22, true},
      /* 7 */ {"Q5_1", 32, 24, true},
      /* 8 */ {"Q8_0", 32, 34, true},
      /* 9 */ {"Q8_1", 32, 36, false},
      /* 10 */ {"Q2_K", 256, 84, true},
      /* 11 */ {"Q3_K", 256, 110, true},
      /* 12 */ {"Q4_K", 256, 144, true},
      /* 13 */ {"Q5_K", 256, 176, true},
      /* 14 */ {"Q6_K", 256, 210, true},
      /* 15 */ {"Q8_K", 256, 292, false},
      /* 16 */ {"IQ2_XXS", 256, 66, false},
      /* 17 */ {"IQ2_XS", 256, 74, false},
      /* 18 */ {"IQ3_XXS", 256, 98, false},
      /* 19 */ {"IQ1_S", 256, 50, false},
      /* 20 */ {"IQ4_NL", 32, 18, true},
      /* 21 */ {"IQ3_S", 256, 110, false},
      /* 22 */ {"IQ2_S", 256, 82, false},
      /* 23 */ {"IQ4_XS", 256, 136, true},
      /* 24 */ {"I8", 1, 1, false},
      /* 25 */ {"I16", 1, 2, false},
      /* 26 */ {"I32", 1, 4, false},
      /* 27 */ {"I64", 1, 8, false},
      /* 28 */ {"F64", 1, 8, false},
      /* 29 */ {"IQ1_M", 256, 56, false},
      /* 30 */ {"BF16", 1, 2, true},
      /* 31 */ {nullptr, 0, 0, false},
      /* 32 */ {nullptr, 0, 0, false},
      /* 33 */ {nullptr, 0, 0, false},
      /* 34 */ {"TQ1_0", 256, 54, false},
      /* 35 */ {"TQ2_0", 256, 66, false},
      /* 36 */ {nullptr, 0, 0, false},
      /* 37 */ {nullptr, 0, 0, false},
      /* 38 */ {nullptr, 0, 0, false},
      /* 39 */ {"MXFP4", 32, 17, false},
  };
  if (id >= 40 || table[id].name == nullptr) return nullptr;
  return &table[id];
}

std::vector<int> fp16_scale_offsets(DType t) {
  switch (t) {
    case DType::Q4_0: case DType::Q5_0: case DType::Q8_0: case DType::IQ4_NL: case DType::IQ4_XS: return {0};
    case DType::Q4_1: case DType::Q5_1: case DType::Q4_K: case DType::Q5_K: return {0, 2};
    case DType::Q2_K: return {80, 82};
    case DType::Q3_K: return {108};
    case DType::Q6_K: return {208};
    default: return {};
  }
}

}  // namespace minnow
