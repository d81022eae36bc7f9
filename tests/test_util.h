// Shared helpers for tests: where the golden fixtures live, and the skip-or-fail rule for them.
#pragma once
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace minnow::test {

// ../shared by default; MINNOW_SHARED overrides (one setting, as the README says).
inline std::string shared_dir() {
  if (const char* s = std::getenv("MINNOW_SHARED")) return s;
  return MINNOW_SHARED_DIR_DEFAULT;
}
inline std::string golden(const std::string& rel) { return shared_dir() + "/golden/" + rel; }
inline bool in_ci() {
  const char* ci = std::getenv("CI");
  return ci && std::string(ci) == "true";
}
inline std::string cli_path() { return MINNOW_CLI_PATH; }
inline std::string source_dir() { return MINNOW_SOURCE_DIR; }

inline std::vector<float> read_f32_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::vector<float> v;
  if (!f) return v;
  f.seekg(0, std::ios::end);
  const auto n = static_cast<size_t>(f.tellg()) / 4;
  f.seekg(0);
  v.resize(n);
  f.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(n * 4));
  return v;
}

}  // namespace minnow::test

// Skip (by name) when ../shared is absent, as on a user's clone; in CI a missing ../shared is a failure.
#define MINNOW_REQUIRE_SHARED()                                                                  \
  do {                                                                                           \
    if (!std::filesystem::exists(::minnow::test::shared_dir() + "/golden")) {                    \
      if (::minnow::test::in_ci()) FAIL() << "CI=true but golden fixtures are missing at "       \
                                          << ::minnow::test::shared_dir();                       \
      GTEST_SKIP() << "golden fixtures not found at " << ::minnow::test::shared_dir()            \
                   << " (set MINNOW_SHARED)";                                                    \
    }                                                                                            \
  } while (0)
