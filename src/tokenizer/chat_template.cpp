#include "tokenizer/chat_template.h"

#include <cstdio>
#include <ctime>
#include <map>

#include "common/error.h"
#include "tokenizer/jinja.h"

namespace minnow {
namespace {

// The moment strftime_now() formats: the input's `date` ("YYYY-MM-DD[THH:MM[:SS]]"), else now.
std::tm moment(const jinja::Value& date) {
  std::tm tm{};
  if (date.is_undefined() || date.is_none()) {
    const std::time_t now = std::time(nullptr);
    localtime_r(&now, &tm);
    return tm;
  }
  if (!date.is_string()) fail("chat template input: `date` must be a string like \"2024-07-26\"");
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  const std::string& str = date.as_string();
  const int n = std::sscanf(str.c_str(), "%d-%d-%d%*[T ]%d:%d:%d", &y, &mo, &d, &h, &mi, &s);
  if (n < 3 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 60)
    fail("chat template input: `date` must look like \"2024-07-26\", got \"", str, "\"");
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  // Fill in tm_wday / tm_yday.
  std::tm probe = tm;
  const std::time_t t = timegm(&probe);
  gmtime_r(&t, &tm);
  return tm;
}

jinja::Value strftime_now_fn(const jinja::Value& date) {
  const std::tm tm = moment(date);
  return jinja::Value::function("strftime_now", [tm](jinja::Args& a) -> jinja::Value {
    if (a.positional.size() != 1 || !a.keyword.empty() || !a.positional[0].is_string())
      fail("strftime_now() takes one format string");
    const std::string& fmt = a.positional[0].as_string();
    if (fmt.empty()) return jinja::Value("");
    if (fmt.size() > 256) fail("strftime_now(): format too long");
    char buf[4096];
    const size_t n = std::strftime(buf, sizeof buf, fmt.c_str(), &tm);
    return jinja::Value(std::string(buf, n));
  });
}

template <class Json>
std::map<std::string, jinja::Value> template_vars(const Json& input) {
  if (!input.is_object()) fail("chat template input must be a JSON object (messages, add_generation_prompt, ...)");
  std::map<std::string, jinja::Value> vars;
  jinja::Value date;
  for (auto it = input.begin(); it != input.end(); ++it) {
    if (it.key() == "date") date = jinja::Value::from_json(it.value());
    else vars[it.key()] = jinja::Value::from_json(it.value());
  }
  if (!vars.count("add_generation_prompt")) vars["add_generation_prompt"] = jinja::Value(false);
  vars["raise_exception"] = jinja::Value::function("raise_exception", [](jinja::Args& a) -> jinja::Value {
    std::string msg = a.positional.empty() ? std::string() : a.positional[0].str();
    fail(msg);
  });
  vars["strftime_now"] = strftime_now_fn(date);
  return vars;
}

}  // namespace

ChatTemplate::ChatTemplate(const std::string& template_src)
    : tmpl_(std::make_unique<jinja::Template>(template_src)) {}
ChatTemplate::~ChatTemplate() = default;
ChatTemplate::ChatTemplate(ChatTemplate&&) noexcept = default;
ChatTemplate& ChatTemplate::operator=(ChatTemplate&&) noexcept = default;

std::string ChatTemplate::render(const nlohmann::ordered_json& input) const { return tmpl_->render(template_vars(input)); }
std::string ChatTemplate::render(const nlohmann::json& input) const { return tmpl_->render(template_vars(input)); }

std::string render_chat(const std::string& template_src, const nlohmann::json& input) {
  return ChatTemplate(template_src).render(input);
}
std::string render_chat(const std::string& template_src, const nlohmann::ordered_json& input) {
  return ChatTemplate(template_src).render(input);
}

}  // namespace minnow
