// GGUF reader: maps a .gguf file (v2 or v3) read-only and validates every byte it will hand out.
// After open() succeeds, every metadata value, tensor shape and tensor data range is known to lie
// inside the file and to have sizes that did not overflow. Nothing here allocates more than a
// small multiple of the file size, whatever the header claims.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tensor/types.h"

namespace minnow::gguf {

enum class ValueType : uint32_t {
  UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6,
  BOOL = 7, STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
};
const char* value_type_name(ValueType t);
size_t value_type_size(ValueType t);  // bytes of one scalar of that type; 0 for STRING and ARRAY

// One metadata value. Strings and array payloads point into the mapping (valid while the File lives).
struct Value {
  ValueType type = ValueType::UINT8;
  // scalars
  uint64_t u = 0;   // unsigned ints and bool
  int64_t i = 0;    // signed ints
  double f = 0;     // floats
  std::string_view str;
  // arrays
  ValueType elem_type = ValueType::UINT8;
  uint64_t count = 0;
  const uint8_t* data = nullptr;          // packed little-endian payload of numeric arrays
  std::vector<std::string_view> strings;  // payload of string arrays
  std::vector<Value> items;               // payload of nested arrays (rare)

  bool is_integer() const;
  bool is_float() const { return type == ValueType::FLOAT32 || type == ValueType::FLOAT64; }
};

struct TensorInfo {
  std::string name;
  DType type = DType::F32;
  int n_dims = 0;
  int64_t ne[4] = {1, 1, 1, 1};  // ne[0] is the row length (fastest dimension)
  uint64_t offset = 0;           // relative to the data section
  size_t n_bytes = 0;
  const uint8_t* data = nullptr;

  int64_t n_elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
  int64_t n_rows() const { return ne[1] * ne[2] * ne[3]; }
  std::string shape_str() const;
};

class File {
 public:
  // Throws minnow::Error naming the file and the problem.
  static std::unique_ptr<File> open(const std::string& path);
  ~File();
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  size_t file_size() const { return size_; }
  // Copies n bytes of the file, at the offset that `mapped` (a pointer into this file's data) has, into out
  // with pread, without touching the mapping. False on a read error.
  bool read_at(const void* mapped, size_t n, void* out) const;
  uint64_t alignment() const { return alignment_; }

  const std::vector<std::pair<std::string, Value>>& metadata() const { return kv_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }

  const Value* find(std::string_view key) const;
  const TensorInfo* find_tensor(std::string_view name) const;

  // Typed getters. The "require" forms fail when the key is missing; all fail on a wrong type.
  std::string get_string(std::string_view key, std::string_view fallback = "") const;
  uint64_t get_uint(std::string_view key, uint64_t fallback) const;
  uint64_t require_uint(std::string_view key) const;
  double get_float(std::string_view key, double fallback) const;
  bool get_bool(std::string_view key, bool fallback) const;
  const Value* get_array(std::string_view key) const;  // nullptr when missing

 private:
  File() = default;
  void parse();

  std::string path_;
  int fd_ = -1;
  const uint8_t* base_ = nullptr;
  size_t size_ = 0;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  std::vector<std::pair<std::string, Value>> kv_;
  std::map<std::string, size_t, std::less<>> kv_index_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
};

// Read a numeric array element as double / int64 (bounds are the caller's; i < v.count).
double array_float(const Value& v, uint64_t i);
int64_t array_int(const Value& v, uint64_t i);
std::string value_to_string(const Value& v, size_t max_items = 8);

}  // namespace minnow::gguf
