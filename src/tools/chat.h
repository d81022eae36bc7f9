// `minnow chat`: an interactive conversation in the terminal, using the model's own chat template.
// Reads lines from stdin (a terminal or a pipe); /exit, /reset and /system TEXT are commands.
#pragma once
#include <cstdio>
#include <istream>
#include <string>

#include "sample/sampler.h"

namespace minnow::tools {

struct ChatOptions {
  std::string model;
  std::string system;          // initial system message ("" = none)
  std::string template_path;   // overrides the model's tokenizer.chat_template
  int32_t n_ctx = 0;           // 0: model's, capped at 4096
  int32_t n_predict = 512;     // per reply
  int threads = 0;             // 0: physical cores
  bool drop_oldest = false;    // when the context is full: drop the oldest turns (else say so and stop)
  SamplerParams sampling;
};

// Runs until /exit or end of input. Replies go to `out` as they are generated.
int chat(const ChatOptions& o, std::istream& in, std::FILE* out);

}  // namespace minnow::tools
