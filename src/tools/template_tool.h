// `minnow template`: render a chat template over an input JSON file, as Hugging Face would.
#pragma once
#include <string>

namespace minnow::tools {

// Renders the template (from `template_path`, else the model's `tokenizer.chat_template`) over the
// input JSON (messages, add_generation_prompt, bos_token, eos_token, date, tools, ...; key order
// kept). With a model, bos_token / eos_token missing from the input are taken from its vocabulary.
// Throws minnow::Error: no template given, unreadable files, bad JSON, a model without a chat
// template, or the template's own error ("template line N: ...").
std::string render_template_file(const std::string& template_path_or_empty, const std::string& model_path_or_empty,
                                 const std::string& input_json_path);

}  // namespace minnow::tools
