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

template <typename... Args>
[[noreturn]] void fail(Args&&... args) {
  throw Error(cat(std::forward<Args>(args)...));
}

}  // namespace minnow
