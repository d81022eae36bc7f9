#include "gguf/gguf.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>

#include "common/error.h"

namespace minnow::gguf {

namespace {

constexpr int kMaxArrayDepth = 4;
constexpr uint64_t kMaxStringLen = 1ull << 30;  // far beyond any real key or token

size_t scalar_size_impl(ValueType t) {
  switch (t) {
    case ValueType::UINT8: case ValueType::INT8: case ValueType::BOOL: return 1;
    case ValueType::UINT16: case ValueType::INT16: return 2;
    case ValueType::UINT32: case ValueType::INT32: case ValueType::FLOAT32: return 4;
    case ValueType::UINT64: case ValueType::INT64: case ValueType::FLOAT64: return 8;
    default: return 0;
  }
}

// Bounds-checked little-endian reader over the mapping.
class Cursor {
 public:
  Cursor(const uint8_t* base, size_t size, const std::string& path) : base_(base), size_(size), path_(path) {}
  size_t pos() const { return pos_; }
  size_t remaining() const { return size_ - pos_; }

  void need(uint64_t n, const char* what) const {
    if (n > remaining())
      fail(path_, ": truncated file: ", what, " needs ", n, " bytes at offset ", pos_, " but only ", remaining(),
           " remain");
  }
  template <typename T>
  T read(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, base_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string_view read_string(const char* what) {
    const uint64_t len = read<uint64_t>(what);
    if (len > kMaxStringLen) fail(path_, ": ", what, " has absurd length ", len, " at offset ", pos_ - 8);
    need(len, what);
    std::string_view s(reinterpret_cast<const char*>(base_ + pos_), static_cast<size_t>(len));
    pos_ += static_cast<size_t>(len);
    return s;
  }
  const uint8_t* take(uint64_t n, const char* what) {
    need(n, what);
    const uint8_t* p = base_ + pos_;
    pos_ += static_cast<size_t>(n);
    return p;
  }

 private:
  const uint8_t* base_;
  size_t size_;
  size_t pos_ = 0;
  const std::string& path_;
};

void read_value(Cursor& c, Value& v, ValueType type, const std::string& key, const std::string& path, int depth) {
  v.type = type;
  switch (type) {
    case ValueType::UINT8: v.u = c.read<uint8_t>(key.c_str()); break;
    case ValueType::INT8: v.i = c.read<int8_t>(key.c_str()); break;
    case ValueType::UINT16: v.u = c.read<uint16_t>(key.c_str()); break;
    case ValueType::INT16: v.i = c.read<int16_t>(key.c_str()); break;
    case ValueType::UINT32: v.u = c.read<uint32_t>(key.c_str()); break;
    case ValueType::INT32: v.i = c.read<int32_t>(key.c_str()); break;
    case ValueType::UINT64: v.u = c.read<uint64_t>(key.c_str()); break;
    case ValueType::INT64: v.i = c.read<int64_t>(key.c_str()); break;
    case ValueType::FLOAT32: v.f = c.read<float>(key.c_str()); break;
    case ValueType::FLOAT64: v.f = c.read<double>(key.c_str()); break;
    case ValueType::BOOL: {
      const uint8_t b = c.read<uint8_t>(key.c_str());
      if (b > 1) fail(path, ": metadata '", key, "': bool value ", int(b), " is neither 0 nor 1");
      v.u = b;
      break;
    }
    case ValueType::STRING: v.str = c.read_string(key.c_str()); break;
    case ValueType::ARRAY: {
      if (depth >= kMaxArrayDepth) fail(path, ": metadata '", key, "': arrays nested too deeply");
      const uint32_t et = c.read<uint32_t>(key.c_str());
      if (et > static_cast<uint32_t>(ValueType::FLOAT64))
        fail(path, ": metadata '", key, "': unknown array element type ", et);
      v.elem_type = static_cast<ValueType>(et);
      v.count = c.read<uint64_t>(key.c_str());
      if (const size_t es = value_type_size(v.elem_type)) {
        if (v.count > c.remaining() / es)
          fail(path, ": metadata '", key, "': array of ", v.count, " elements runs past the end of the file");
        v.data = c.take(v.count * es, key.c_str());
        if (v.elem_type == ValueType::BOOL)
          for (uint64_t k = 0; k < v.count; ++k)
            if (v.data[k] > 1) fail(path, ": metadata '", key, "': bool array element ", k, " is neither 0 nor 1");
      } else if (v.elem_type == ValueType::STRING) {
        if (v.count > c.remaining() / 8)
          fail(path, ": metadata '", key, "': array of ", v.count, " strings runs past the end of the file");
        v.strings.reserve(static_cast<size_t>(v.count));
        for (uint64_t k = 0; k < v.count; ++k) v.strings.push_back(c.read_string(key.c_str()));
      } else {  // nested arrays: each needs at least 12 bytes of header
        if (v.count > c.remaining() / 12)
          fail(path, ": metadata '", key, "': array of ", v.count, " arrays runs past the end of the file");
        v.items.resize(static_cast<size_t>(v.count));
        for (auto& item : v.items) read_value(c, item, ValueType::ARRAY, key, path, depth + 1);
      }
      break;
    }
    default: fail(path, ": metadata '", key, "': unknown value type ", static_cast<uint32_t>(type));
  }
}

}  // namespace

size_t value_type_size(ValueType t) { return scalar_size_impl(t); }

const char* value_type_name(ValueType t) {
  static const char* names[] = {"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
                                "bool", "string", "array", "uint64", "int64", "float64"};
  const auto i = static_cast<uint32_t>(t);
  return i < 13 ? names[i] : "unknown";
}

bool Value::is_integer() const {
  switch (type) {
    case ValueType::UINT8: case ValueType::INT8: case ValueType::UINT16: case ValueType::INT16:
    case ValueType::UINT32: case ValueType::INT32: case ValueType::UINT64: case ValueType::INT64:
      return true;
    default: return false;
  }
}

std::string TensorInfo::shape_str() const {
  std::string s = "[";
  for (int d = 0; d < n_dims; ++d) s += (d ? ", " : "") + std::to_string(ne[d]);
  return s + "]";
}

std::unique_ptr<File> File::open(const std::string& path) {
  std::unique_ptr<File> f(new File());
  f->path_ = path;
  f->fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (f->fd_ < 0) fail(path, ": cannot open: ", std::strerror(errno));
  struct stat st {};
  if (fstat(f->fd_, &st) != 0) fail(path, ": cannot stat: ", std::strerror(errno));
  if (!S_ISREG(st.st_mode)) fail(path, ": not a regular file");
  f->size_ = static_cast<size_t>(st.st_size);
  if (f->size_ < 24) fail(path, ": truncated file: ", f->size_, " bytes is smaller than a GGUF header");
  void* p = mmap(nullptr, f->size_, PROT_READ, MAP_PRIVATE, f->fd_, 0);
  if (p == MAP_FAILED) fail(path, ": mmap failed: ", std::strerror(errno));
  f->base_ = static_cast<const uint8_t*>(p);
  f->parse();
  return f;
}

bool File::read_at(const void* mapped, size_t n, void* out) const {
  const auto* p = static_cast<const uint8_t*>(mapped);
  if (p < base_ || n > size_ || static_cast<size_t>(p - base_) > size_ - n) return false;
  size_t done = 0;
  while (done < n) {
    const ssize_t r = ::pread(fd_, static_cast<uint8_t*>(out) + done, n - done, static_cast<off_t>(p - base_) + done);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    done += static_cast<size_t>(r);
  }
  return true;
}

File::~File() {
  if (base_) munmap(const_cast<uint8_t*>(base_), size_);
  if (fd_ >= 0) ::close(fd_);
}

void File::parse() {
  Cursor c(base_, size_, path_);
  const uint32_t magic = c.read<uint32_t>("magic");
  if (magic != 0x46554747u) {  // "GGUF" little-endian
    fail(path_, ": not a GGUF file (magic bytes are 0x", std::hex, magic, ", expected \"GGUF\")");
  }
  version_ = c.read<uint32_t>("version");
  if (version_ == 1) fail(path_, ": GGUF version 1 is obsolete and not supported (re-convert the model)");
  if (version_ == 0x02000000u || version_ == 0x03000000u) fail(path_, ": big-endian GGUF files are not supported");
  if (version_ != 2 && version_ != 3) fail(path_, ": unsupported GGUF version ", version_, " (supported: 2, 3)");
  const uint64_t n_tensors = c.read<uint64_t>("tensor count");
  const uint64_t n_kv = c.read<uint64_t>("metadata count");
  // Each key/value needs >= 8+1+4+1 bytes, each tensor info >= 8+4+8+4+8: reject counts the file cannot hold.
  if (n_kv > c.remaining() / 13) fail(path_, ": absurd metadata count ", n_kv, " for a file of ", size_, " bytes");
  if (n_tensors > c.remaining() / 32) fail(path_, ": absurd tensor count ", n_tensors, " for a file of ", size_, " bytes");

  kv_.reserve(static_cast<size_t>(n_kv));
  for (uint64_t k = 0; k < n_kv; ++k) {
    std::string key(c.read_string("metadata key"));
    if (key.empty()) fail(path_, ": metadata entry ", k, " has an empty key");
    const uint32_t t = c.read<uint32_t>("metadata type");
    if (t > static_cast<uint32_t>(ValueType::FLOAT64))
      fail(path_, ": metadata '", key, "' has unknown value type ", t);
    Value v;
    read_value(c, v, static_cast<ValueType>(t), key, path_, 0);
    if (kv_index_.count(key)) fail(path_, ": duplicate metadata key '", key, "'");
    kv_index_.emplace(key, kv_.size());
    kv_.emplace_back(std::move(key), std::move(v));
  }

  if (const Value* a = find("general.alignment")) {
    const bool is_unsigned = a->type == ValueType::UINT8 || a->type == ValueType::UINT16 ||
                             a->type == ValueType::UINT32 || a->type == ValueType::UINT64;
    if (!is_unsigned)
      fail(path_, ": general.alignment must be an unsigned integer, got a ", value_type_name(a->type));
    if (a->u == 0 || a->u > 65536 || (a->u & (a->u - 1)) != 0)
      fail(path_, ": general.alignment must be a power of two up to 65536, got ", value_to_string(*a));
    alignment_ = a->u;
  }

  tensors_.resize(static_cast<size_t>(n_tensors));
  for (uint64_t k = 0; k < n_tensors; ++k) {
    TensorInfo& t = tensors_[static_cast<size_t>(k)];
    t.name = std::string(c.read_string("tensor name"));
    if (t.name.empty()) fail(path_, ": tensor ", k, " has an empty name");
    const uint32_t nd = c.read<uint32_t>("tensor dims");
    if (nd == 0 || nd > 4) fail(path_, ": tensor '", t.name, "' has ", nd, " dimensions (1 to 4 allowed)");
    t.n_dims = static_cast<int>(nd);
    for (uint32_t d = 0; d < nd; ++d) {
      const uint64_t n = c.read<uint64_t>("tensor shape");
      if (n == 0 || n > (1ull << 40)) fail(path_, ": tensor '", t.name, "' has invalid dimension ", d, " = ", n);
      t.ne[d] = static_cast<int64_t>(n);
    }
    const uint32_t type = c.read<uint32_t>("tensor type");
    const TypeInfo* ti = type_info(type);
    if (!ti) fail(path_, ": tensor '", t.name, "' has unknown type id ", type);
    t.type = static_cast<DType>(type);
    t.offset = c.read<uint64_t>("tensor offset");
    // element count and byte size, overflow-checked (each ne <= 2^40, so pairwise products are checked)
    __int128 elems = 1;
    for (int d = 0; d < 4; ++d) {
      elems *= t.ne[d];
      if (elems > (static_cast<__int128>(1) << 50)) fail(path_, ": tensor '", t.name, "' has too many elements");
    }
    if (t.ne[0] % ti->block_size != 0)
      fail(path_, ": tensor '", t.name, "' row length ", t.ne[0], " is not a multiple of the ", ti->name,
           " block size ", ti->block_size);
    t.n_bytes = static_cast<size_t>(elems / ti->block_size * ti->type_size);
    if (tensor_index_.count(t.name)) fail(path_, ": duplicate tensor name '", t.name, "'");
    tensor_index_.emplace(t.name, static_cast<size_t>(k));
  }

  // The data section starts at the next multiple of the alignment.
  const uint64_t data_start = (c.pos() + alignment_ - 1) / alignment_ * alignment_;
  if (n_tensors > 0 && data_start > size_) fail(path_, ": truncated file: tensor data section is missing");
  const uint64_t data_size = size_ > data_start ? size_ - data_start : 0;
  for (TensorInfo& t : tensors_) {
    if (t.offset % alignment_ != 0)
      fail(path_, ": tensor '", t.name, "' offset ", t.offset, " is not aligned to ", alignment_);
    if (t.offset > data_size || t.n_bytes > data_size - t.offset)
      fail(path_, ": truncated file: tensor '", t.name, "' (", t.n_bytes, " bytes at data offset ", t.offset,
           ") runs past the end of the file");
    t.data = base_ + data_start + t.offset;
  }
}

const Value* File::find(std::string_view key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

const TensorInfo* File::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

std::string File::get_string(std::string_view key, std::string_view fallback) const {
  const Value* v = find(key);
  if (!v) return std::string(fallback);
  if (v->type != ValueType::STRING)
    fail(path_, ": metadata '", key, "' should be a string but is ", value_type_name(v->type));
  return std::string(v->str);
}

uint64_t File::get_uint(std::string_view key, uint64_t fallback) const {
  const Value* v = find(key);
  if (!v) return fallback;
  if (!v->is_integer()) fail(path_, ": metadata '", key, "' should be an integer but is ", value_type_name(v->type));
  const bool is_signed = v->type == ValueType::INT8 || v->type == ValueType::INT16 || v->type == ValueType::INT32 ||
                         v->type == ValueType::INT64;
  if (is_signed) {
    if (v->i < 0) fail(path_, ": metadata '", key, "' must not be negative (", v->i, ")");
    return static_cast<uint64_t>(v->i);
  }
  return v->u;
}

uint64_t File::require_uint(std::string_view key) const {
  if (!find(key)) fail(path_, ": required metadata '", key, "' is missing");
  return get_uint(key, 0);
}

double File::get_float(std::string_view key, double fallback) const {
  const Value* v = find(key);
  if (!v) return fallback;
  if (v->is_float()) return v->f;
  if (v->is_integer()) return static_cast<double>(get_uint(key, 0));
  fail(path_, ": metadata '", key, "' should be a number but is ", value_type_name(v->type));
}

bool File::get_bool(std::string_view key, bool fallback) const {
  const Value* v = find(key);
  if (!v) return fallback;
  if (v->type != ValueType::BOOL) fail(path_, ": metadata '", key, "' should be a bool but is ", value_type_name(v->type));
  return v->u != 0;
}

const Value* File::get_array(std::string_view key) const {
  const Value* v = find(key);
  if (v && v->type != ValueType::ARRAY)
    fail(path_, ": metadata '", key, "' should be an array but is ", value_type_name(v->type));
  return v;
}

double array_float(const Value& v, uint64_t i) {
  const uint8_t* p = v.data + i * value_type_size(v.elem_type);
  switch (v.elem_type) {
    case ValueType::FLOAT32: { float x; std::memcpy(&x, p, 4); return x; }
    case ValueType::FLOAT64: { double x; std::memcpy(&x, p, 8); return x; }
    default: return static_cast<double>(array_int(v, i));
  }
}

// float -> int64 without UB for NaN or out-of-range values
static int64_t saturate_to_int64(double x) {
  if (!(x == x)) return 0;
  if (x >= 9.2e18) return INT64_MAX;
  if (x <= -9.2e18) return INT64_MIN;
  return static_cast<int64_t>(x);
}

int64_t array_int(const Value& v, uint64_t i) {
  const uint8_t* p = v.data + i * value_type_size(v.elem_type);
  switch (v.elem_type) {
    case ValueType::UINT8: case ValueType::BOOL: return *p;
    case ValueType::INT8: return static_cast<int8_t>(*p);
    case ValueType::UINT16: { uint16_t x; std::memcpy(&x, p, 2); return x; }
    case ValueType::INT16: { int16_t x; std::memcpy(&x, p, 2); return x; }
    case ValueType::UINT32: { uint32_t x; std::memcpy(&x, p, 4); return x; }
    case ValueType::INT32: { int32_t x; std::memcpy(&x, p, 4); return x; }
    case ValueType::UINT64: { uint64_t x; std::memcpy(&x, p, 8); return static_cast<int64_t>(x); }
    case ValueType::INT64: { int64_t x; std::memcpy(&x, p, 8); return x; }
    case ValueType::FLOAT32: { float x; std::memcpy(&x, p, 4); return saturate_to_int64(x); }
    case ValueType::FLOAT64: { double x; std::memcpy(&x, p, 8); return saturate_to_int64(x); }
    default: return 0;
  }
}

std::string value_to_string(const Value& v, size_t max_items) {
  switch (v.type) {
    case ValueType::STRING: {
      std::string s(v.str.substr(0, 60));
      return "\"" + s + (v.str.size() > 60 ? "...\"" : "\"");
    }
    case ValueType::BOOL: return v.u ? "true" : "false";
    case ValueType::FLOAT32: case ValueType::FLOAT64: return cat(v.f);
    case ValueType::ARRAY: {
      std::string s = cat(value_type_name(v.elem_type), "[", v.count, "]");
      return s;
    }
    case ValueType::INT8: case ValueType::INT16: case ValueType::INT32: case ValueType::INT64: return cat(v.i);
    default: return cat(v.u);
  }
}

}  // namespace minnow::gguf
