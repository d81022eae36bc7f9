// Chat templates rendered the Hugging Face way (what transformers' apply_chat_template does with a
// model's `tokenizer.chat_template`): our Jinja interpreter (jinja.h) plus the globals HF adds,
// raise_exception(msg) and strftime_now(fmt), and HF's tojson (json.dumps, ensure_ascii=False).
#pragma once
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

namespace minnow {

namespace jinja { class Template; }

// `input` is an object: `messages`, `add_generation_prompt` (false when absent), `bos_token`,
// `eos_token`, optional `tools`, and any other variable the template reads (`enable_thinking`, ...),
// all passed to the template as they are; `date` ("YYYY-MM-DD", optionally "THH:MM:SS") is not a
// template variable but the moment strftime_now() formats (now when absent).
// Throws minnow::Error "template line N: ..." when the template is invalid or refuses the input
// (raise_exception's message is in the error).
// Prefer the ordered_json overload: nlohmann::json sorts object keys, ordered_json keeps the order
// Python would keep (it shows in `tools | tojson`).
std::string render_chat(const std::string& template_src, const nlohmann::json& input);
std::string render_chat(const std::string& template_src, const nlohmann::ordered_json& input);

// A parsed chat template, for rendering many inputs without parsing again.
class ChatTemplate {
 public:
  explicit ChatTemplate(const std::string& template_src);  // throws minnow::Error on a syntax error
  ~ChatTemplate();
  ChatTemplate(ChatTemplate&&) noexcept;
  ChatTemplate& operator=(ChatTemplate&&) noexcept;

  std::string render(const nlohmann::ordered_json& input) const;
  std::string render(const nlohmann::json& input) const;

 private:
  std::unique_ptr<jinja::Template> tmpl_;
};

}  // namespace minnow
