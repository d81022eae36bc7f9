#include "tools/template_tool.h"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "gguf/gguf.h"
#include "tokenizer/chat_template.h"

namespace minnow::tools {
namespace {

std::string read_file(const std::string& path, const char* what) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail("cannot read ", what, " '", path, "'");
  std::ostringstream ss;
  ss << f.rdbuf();
  if (f.bad()) fail("error reading ", what, " '", path, "'");
  return ss.str();
}

// Text of token `key` (e.g. tokenizer.ggml.bos_token_id) in the model's vocabulary, if any.
bool token_text(const gguf::File& f, const char* key, std::string& out) {
  const uint64_t id = f.get_uint(key, UINT64_MAX);
  const gguf::Value* tokens = f.get_array("tokenizer.ggml.tokens");
  if (id == UINT64_MAX || !tokens || id >= tokens->strings.size()) return false;
  out = std::string(tokens->strings[id]);
  return true;
}

}  // namespace

std::string render_template_file(const std::string& template_path, const std::string& model_path,
                                 const std::string& input_path) {
  if (template_path.empty() && model_path.empty())
    fail("template: give a template file (--template FILE.jinja) or a model (-m MODEL.gguf)");
  if (input_path.empty()) fail("template: give an input file (--input INPUT.json)");

  nlohmann::ordered_json input;
  {
    const std::string text = read_file(input_path, "input file");
    try {
      input = nlohmann::ordered_json::parse(text);
    } catch (const nlohmann::json::exception& e) {
      fail("input file '", input_path, "' is not valid JSON: ", e.what());
    }
  }
  if (!input.is_object()) fail("input file '", input_path, "' must hold a JSON object (messages, add_generation_prompt, ...)");

  std::string source;
  if (!template_path.empty()) source = read_file(template_path, "template file");
  if (!model_path.empty()) {
    auto f = gguf::File::open(model_path);
    if (template_path.empty()) {
      if (!f->find("tokenizer.chat_template"))
        fail("model '", model_path, "' has no tokenizer.chat_template; give one with --template FILE.jinja");
      source = f->get_string("tokenizer.chat_template");
    }
    std::string tok;
    if (!input.contains("bos_token") && token_text(*f, "tokenizer.ggml.bos_token_id", tok)) input["bos_token"] = tok;
    if (!input.contains("eos_token") && token_text(*f, "tokenizer.ggml.eos_token_id", tok)) input["eos_token"] = tok;
  }
  return render_chat(source, input);
}

}  // namespace minnow::tools
