// `minnow synth --like MODEL --type Q4_K_M -o FILE`: a GGUF with exactly the shapes, metadata and
// per-tensor types of a real model, filled with random weights, for benchmarks and capacity planning
// without downloading the model. The vocabulary is a synthetic SentencePiece one of the right size.
#pragma once
#include <string>
#include <vector>

namespace minnow::tools {

std::vector<std::string> synth_models();  // the names --like accepts
// Writes the file atomically; `progress` prints to stderr. Throws minnow::Error on bad arguments.
void synth(const std::string& like, const std::string& type, const std::string& out_path, uint64_t seed = 1,
           bool progress = true);

}  // namespace minnow::tools
