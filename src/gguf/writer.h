// GGUF writer: builds a GGUF v3 file from metadata and tensors and writes it atomically
// (PATH.tmp, then rename), so an interrupted write never leaves a partial file under PATH.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/gguf.h"

namespace minnow::gguf {

class Writer {
 public:
  explicit Writer(uint64_t alignment = 32) : alignment_(alignment) {}

  void set_u32(const std::string& key, uint32_t v);
  void set_i32(const std::string& key, int32_t v);
  void set_u64(const std::string& key, uint64_t v);
  void set_f32(const std::string& key, float v);
  void set_bool(const std::string& key, bool v);
  void set_str(const std::string& key, std::string_view v);
  void set_arr_str(const std::string& key, const std::vector<std::string>& v);
  void set_arr_f32(const std::string& key, const std::vector<float>& v);
  void set_arr_i32(const std::string& key, const std::vector<int32_t>& v);
  // Copy any value read by gguf::File (all types, nested arrays included).
  void set_value(const std::string& key, const Value& v);
  void remove(const std::string& key);

  // ne: up to 4 dims, ne[0] = row length. `data` must hold the type's byte size for that shape.
  void add_tensor(const std::string& name, DType type, std::vector<int64_t> ne, const void* data, size_t bytes);
  void add_tensor(const std::string& name, DType type, std::vector<int64_t> ne, std::vector<uint8_t>&& data);
  void remove_tensor(const std::string& name);

  // Serialises everything; throws minnow::Error on I/O failure (the target is then untouched).
  void write(const std::string& path) const;
  std::vector<uint8_t> serialize() const;
  std::vector<uint8_t> header() const;  // everything before the tensor data, padded

 private:
  struct Entry { std::string key; std::vector<uint8_t> bytes; };  // bytes = type + value
  struct TensorEntry { std::string name; DType type; std::vector<int64_t> ne; std::vector<uint8_t> data; };
  void put(const std::string& key, std::vector<uint8_t> bytes);
  uint64_t alignment_;
  std::vector<Entry> kv_;
  std::vector<TensorEntry> tensors_;
};

// Copy every metadata entry and tensor of `src` into `w` (to be edited before writing).
void copy_all(const File& src, Writer& w);

}  // namespace minnow::gguf
