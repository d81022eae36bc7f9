#include "gguf/writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "common/error.h"

namespace minnow::gguf {

namespace {
template <typename T>
void put_raw(std::vector<uint8_t>& b, const T& v) {
  const auto* p = reinterpret_cast<const uint8_t*>(&v);
  b.insert(b.end(), p, p + sizeof(T));
}
void put_string(std::vector<uint8_t>& b, std::string_view s) {
  put_raw<uint64_t>(b, s.size());
  b.insert(b.end(), s.begin(), s.end());
}
// Serialise the payload of a value (without its leading type tag).
void put_payload(std::vector<uint8_t>& b, const Value& v) {
  switch (v.type) {
    case ValueType::UINT8: put_raw<uint8_t>(b, static_cast<uint8_t>(v.u)); break;
    case ValueType::INT8: put_raw<int8_t>(b, static_cast<int8_t>(v.i)); break;
    case ValueType::UINT16: put_raw<uint16_t>(b, static_cast<uint16_t>(v.u)); break;
    case ValueType::INT16: put_raw<int16_t>(b, static_cast<int16_t>(v.i)); break;
    case ValueType::UINT32: put_raw<uint32_t>(b, static_cast<uint32_t>(v.u)); break;
    case ValueType::INT32: put_raw<int32_t>(b, static_cast<int32_t>(v.i)); break;
    case ValueType::UINT64: put_raw<uint64_t>(b, v.u); break;
    case ValueType::INT64: put_raw<int64_t>(b, v.i); break;
    case ValueType::FLOAT32: put_raw<float>(b, static_cast<float>(v.f)); break;
    case ValueType::FLOAT64: put_raw<double>(b, v.f); break;
    case ValueType::BOOL: put_raw<uint8_t>(b, v.u ? 1 : 0); break;
    case ValueType::STRING: put_string(b, v.str); break;
    case ValueType::ARRAY:
      put_raw<uint32_t>(b, static_cast<uint32_t>(v.elem_type));
      put_raw<uint64_t>(b, v.count);
      if (v.elem_type == ValueType::STRING) {
        for (auto s : v.strings) put_string(b, s);
      } else if (v.elem_type == ValueType::ARRAY) {
        for (const auto& item : v.items) put_payload(b, item);
      } else {
        b.insert(b.end(), v.data, v.data + v.count * value_type_size(v.elem_type));
      }
      break;
  }
}
}  // namespace

void Writer::put(const std::string& key, std::vector<uint8_t> bytes) {
  for (auto& e : kv_)
    if (e.key == key) {
      e.bytes = std::move(bytes);
      return;
    }
  kv_.push_back({key, std::move(bytes)});
}

#define MINNOW_SCALAR_SETTER(fn, T, tag)            \
  void Writer::fn(const std::string& key, T v) {    \
    std::vector<uint8_t> b;                         \
    put_raw<uint32_t>(b, static_cast<uint32_t>(tag)); \
    put_raw<T>(b, v);                               \
    put(key, std::move(b));                         \
  }
MINNOW_SCALAR_SETTER(set_u32, uint32_t, ValueType::UINT32)
MINNOW_SCALAR_SETTER(set_i32, int32_t, ValueType::INT32)
MINNOW_SCALAR_SETTER(set_u64, uint64_t, ValueType::UINT64)
MINNOW_SCALAR_SETTER(set_f32, float, ValueType::FLOAT32)
#undef MINNOW_SCALAR_SETTER

void Writer::set_bool(const std::string& key, bool v) {
  std::vector<uint8_t> b;
  put_raw<uint32_t>(b, static_cast<uint32_t>(ValueType::BOOL));
  put_raw<uint8_t>(b, v ? 1 : 0);
  put(key, std::move(b));
}

void Writer::set_str(const std::string& key, std::string_view v) {
  std::vector<uint8_t> b;
  put_raw<uint32_t>(b, static_cast<uint32_t>(ValueType::STRING));
  put_string(b, v);
  put(key, std::move(b));
}

void Writer::set_arr_str(const std::string& key, const std::vector<std::string>& v) {
  std::vector<uint8_t> b;
  put_raw<uint32_t>(b, static_cast<uint32_t>(ValueType::ARRAY));
  put_raw<uint32_t>(b, static_cast<uint32_t>(ValueType::STRING));
  put_raw<uint64_t>(b, v.size());
  for (const auto& s : v) put_string(b, s);
  put(key, std::move(b));
}

void Writer::set_arr_f32(const std::string& key, const std::vector<float>& v) {
  std::vector<uint8_t> b;
  put_raw<uint32_t>(b, static_cast<uint32_t>(ValueType::ARRAY));
  put_raw<uint32_t>(b, static_cast<uint32_t>(ValueType::FLOAT32));
  put_raw<uint64_t>(b, v.size());
  for (float x : v) put_raw<float>(b, x);
  put(key, std::move(b));
}

void Writer::set_arr_i32(const std::string& key, const std::vector<int32_t>& v) {
  std::vector<uint8_t> b;
  put_raw<uint32_t>(b, static_cast<uint32_t>(ValueType::ARRAY));
  put_raw<uint32_t>(b, static_cast<uint32_t>(ValueType::INT32));
  put_raw<uint64_t>(b, v.size());
  for (int32_t x : v) put_raw<int32_t>(b, x);
  put(key, std::move(b));
}

void Writer::set_value(const std::string& key, const Value& v) {
  std::vector<uint8_t> b;
  put_raw<uint32_t>(b, static_cast<uint32_t>(v.type));
  put_payload(b, v);
  put(key, std::move(b));
}

void Writer::remove(const std::string& key) {
  for (size_t i = 0; i < kv_.size(); ++i)
    if (kv_[i].key == key) {
      kv_.erase(kv_.begin() + static_cast<std::ptrdiff_t>(i));
      return;
    }
}

void Writer::add_tensor(const std::string& name, DType type, std::vector<int64_t> ne, const void* data, size_t bytes) {
  const TypeInfo* ti = type_info(static_cast<uint32_t>(type));
  if (!ti) fail("gguf writer: tensor '", name, "' has an unknown type");
  if (ne.empty() || ne.size() > 4) fail("gguf writer: tensor '", name, "' must have 1 to 4 dimensions");
  int64_t n = 1;
  for (int64_t d : ne) n *= d;
  if (ne[0] % ti->block_size != 0)
    fail("gguf writer: tensor '", name, "' row length ", ne[0], " is not a multiple of ", ti->block_size);
  if (static_cast<size_t>(n / ti->block_size * ti->type_size) != bytes)
    fail("gguf writer: tensor '", name, "' data is ", bytes, " bytes, its shape needs ", n / ti->block_size * ti->type_size);
  remove_tensor(name);
  const auto* p = static_cast<const uint8_t*>(data);
  tensors_.push_back({name, type, std::move(ne), std::vector<uint8_t>(p, p + bytes)});
}

void Writer::add_tensor(const std::string& name, DType type, std::vector<int64_t> ne, std::vector<uint8_t>&& data) {
  const TypeInfo* ti = type_info(static_cast<uint32_t>(type));
  if (!ti) fail("gguf writer: tensor '", name, "' has an unknown type");
  int64_t n = 1;
  for (int64_t d : ne) n *= d;
  if (ne.empty() || ne.size() > 4 || ne[0] % ti->block_size != 0 ||
      static_cast<size_t>(n / ti->block_size * ti->type_size) != data.size())
    fail("gguf writer: tensor '", name, "' has data that does not fit its shape and type");
  remove_tensor(name);
  tensors_.push_back({name, type, std::move(ne), std::move(data)});
}

void Writer::remove_tensor(const std::string& name) {
  for (size_t i = 0; i < tensors_.size(); ++i)
    if (tensors_[i].name == name) {
      tensors_.erase(tensors_.begin() + static_cast<std::ptrdiff_t>(i));
      return;
    }
}

std::vector<uint8_t> Writer::serialize() const {
  std::vector<uint8_t> b = header();
  for (const auto& t : tensors_) {
    b.insert(b.end(), t.data.begin(), t.data.end());
    b.resize((b.size() + alignment_ - 1) / alignment_ * alignment_, 0);
  }
  return b;
}

std::vector<uint8_t> Writer::header() const {
  std::vector<uint8_t> b;
  put_raw<uint32_t>(b, 0x46554747u);
  put_raw<uint32_t>(b, 3);
  put_raw<uint64_t>(b, tensors_.size());
  // general.alignment is written whenever it is not the default
  const bool write_alignment = alignment_ != 32;
  put_raw<uint64_t>(b, kv_.size() + (write_alignment ? 1 : 0));
  for (const auto& e : kv_) {
    put_string(b, e.key);
    b.insert(b.end(), e.bytes.begin(), e.bytes.end());
  }
  if (write_alignment) {
    put_string(b, "general.alignment");
    put_raw<uint32_t>(b, static_cast<uint32_t>(ValueType::UINT32));
    put_raw<uint32_t>(b, static_cast<uint32_t>(alignment_));
  }
  uint64_t offset = 0;
  for (const auto& t : tensors_) {
    put_string(b, t.name);
    put_raw<uint32_t>(b, static_cast<uint32_t>(t.ne.size()));
    for (int64_t d : t.ne) put_raw<uint64_t>(b, static_cast<uint64_t>(d));
    put_raw<uint32_t>(b, static_cast<uint32_t>(t.type));
    put_raw<uint64_t>(b, offset);
    offset += (t.data.size() + alignment_ - 1) / alignment_ * alignment_;
  }
  b.resize((b.size() + alignment_ - 1) / alignment_ * alignment_, 0);
  return b;
}

// Writes go to an unnamed file (O_TMPFILE) that is given its name only when complete, so even a
// SIGKILL leaves nothing behind; where the file system lacks O_TMPFILE, PATH.tmp then a rename.
void Writer::write(const std::string& path) const {
  const std::vector<uint8_t> head = header();
  static const uint8_t zeros[65536] = {};
  auto write_all = [&](auto&& put) {
    bool ok = put(head.data(), head.size());
    for (const auto& t : tensors_) {
      if (!ok) break;
      ok = put(t.data.data(), t.data.size());
      const size_t pad = (alignment_ - t.data.size() % alignment_) % alignment_;
      if (ok && pad) ok = put(zeros, pad);
    }
    return ok;
  };
  const size_t slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  const int fd = ::open(dir.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
  if (fd >= 0) {
    const bool ok = write_all([&](const void* p, size_t n) {
      const auto* c = static_cast<const uint8_t*>(p);
      while (n > 0) {
        const ssize_t w = ::write(fd, c, n);
        if (w <= 0) return false;
        c += w, n -= static_cast<size_t>(w);
      }
      return true;
    });
    if (!ok) {
      ::close(fd);
      fail(path, ": write failed (disk full?)");
    }
    char proc[64];
    std::snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    const std::string tmp = path + ".tmp";
    ::unlink(tmp.c_str());
    const bool linked = ::linkat(AT_FDCWD, proc, AT_FDCWD, tmp.c_str(), AT_SYMLINK_FOLLOW) == 0;
    ::close(fd);
    if (linked && std::rename(tmp.c_str(), path.c_str()) == 0) return;
    if (linked) ::unlink(tmp.c_str());
    fail(path, ": cannot move the finished file into place: ", std::strerror(errno));
  }
  const std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) fail(path, ": cannot open for writing: ", std::strerror(errno));
  const bool ok = write_all([&](const void* p, size_t n) { return std::fwrite(p, 1, n, f) == n; });
  const bool closed = std::fclose(f) == 0;
  if (!ok || !closed) {
    std::remove(tmp.c_str());
    fail(path, ": write failed (disk full?)");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    fail(path, ": cannot rename the temporary file into place: ", std::strerror(errno));
  }
}

void copy_all(const File& src, Writer& w) {
  for (const auto& [key, v] : src.metadata())
    if (key != "general.alignment") w.set_value(key, v);
  for (const auto& t : src.tensors()) {
    std::vector<int64_t> ne(t.ne, t.ne + t.n_dims);
    w.add_tensor(t.name, t.type, ne, t.data, t.n_bytes);
  }
}

}  // namespace minnow::gguf
