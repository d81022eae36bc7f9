// Errors: one exception type whose message is a single line a user can act on.
// Library code throws minnow::Error; the CLI prints it and exits 1, the server maps it to 4xx.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace minnow {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

template <typename... Args>
std::string cat(Args&&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

// Control characters (from hostile file names, keys or tensor names) are escaped so the message
// stays on one line.
inline std::string one_line(std::string s) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) {
      static const char hex[] = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

template <typename... Args>
[[noreturn]] void fail(Args&&... args) {
  throw Error(one_line(cat(std::forward<Args>(args)...)));
}

}  // namespace minnow
