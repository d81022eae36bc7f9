// `minnow info`: a human-readable summary of a GGUF model file.
#pragma once
#include <string>

namespace minnow::tools {

// Loads and validates the file (as `run` would) and describes it. Throws minnow::Error on bad input.
std::string describe_gguf(const std::string& path);

}  // namespace minnow::tools
