#include "tools/chat.h"

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "model/model.h"
#include "runtime/session.h"
#include "tokenizer/chat_template.h"

namespace minnow::tools {

namespace {

// Used when a model ships no template (e.g. base models): ChatML, which most runners fall back to.
const char* kFallbackTemplate =
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

std::string read_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) fail(path, ": cannot open");
  std::string s;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
  std::fclose(f);
  return s;
}

}  // namespace

int chat(const ChatOptions& o, std::istream& in, std::FILE* out) {
  auto model = Model::load(o.model);
  const Tokenizer& tok = model->tokenizer();
  std::string tmpl_src = o.template_path.empty() ? model->file().get_string("tokenizer.chat_template", "")
                                                 : read_file(o.template_path);
  const bool interactive = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
  if (tmpl_src.empty()) {
    std::fprintf(stderr, "note: the model has no chat template; using ChatML\n");
    tmpl_src = kFallbackTemplate;
  }
  const ChatTemplate tmpl(tmpl_src);
  const std::string bos = tok.bos_id() >= 0 ? tok.token_text(tok.bos_id()) : "";
  const std::string eos = tok.eos_id() >= 0 ? tok.token_text(tok.eos_id()) : "";

  runtime::ThreadPool pool(o.threads > 0 ? o.threads : runtime::ThreadPool::default_threads());
  runtime::Session session(*model, pool, {o.n_ctx});
  Sampler sampler(o.sampling);
  const int32_t n_ctx = session.n_ctx();

  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  std::string system = o.system;
  std::vector<int32_t> in_cache;  // the tokens whose K/V the session holds

  auto render = [&](bool generation_prompt) {
    nlohmann::ordered_json input;
    nlohmann::ordered_json msgs = nlohmann::ordered_json::array();
    if (!system.empty()) msgs.push_back({{"role", "system"}, {"content", system}});
    for (const auto& m : messages) msgs.push_back(m);
    input["messages"] = msgs;
    input["add_generation_prompt"] = generation_prompt;
    input["bos_token"] = bos;
    input["eos_token"] = eos;
    const std::string text = tmpl.render(input);
    // The template usually writes the BOS text itself; add BOS only when it does not.
    const bool has_bos = !bos.empty() && text.compare(0, bos.size(), bos) == 0;
    return tok.encode(text, tok.add_bos() && !has_bos, /*parse_special=*/true);
  };

  if (interactive)
    std::fprintf(out, "minnow chat: %s (%d tokens of context). /exit to quit, /reset to forget, /system TEXT.\n",
                 model->config().name.empty() ? model->config().arch.c_str() : model->config().name.c_str(), n_ctx);
  std::string line;
  for (;;) {
    if (interactive) std::fprintf(out, "\n> "), std::fflush(out);
    if (!std::getline(in, line)) break;
    if (line == "/exit" || line == "/quit") break;
    if (line == "/reset") {
      messages = nlohmann::ordered_json::array();
      in_cache.clear();
      session.reset();
      sampler.reset();
      std::fprintf(out, "[conversation reset]\n");
      continue;
    }
    if (line.rfind("/system", 0) == 0) {
      system = line.size() > 8 ? line.substr(8) : "";
      messages = nlohmann::ordered_json::array();
      in_cache.clear();
      session.reset();
      std::fprintf(out, "[system message set; conversation reset]\n");
      continue;
    }
    if (line.empty()) continue;
    messages.push_back({{"role", "user"}, {"content", line}});

    std::vector<int32_t> prompt = render(true);
    // Keep room for at least a short reply; drop the oldest turns if the user asked for that.
    const int32_t room = std::min<int32_t>(o.n_predict, 64);
    while (static_cast<int32_t>(prompt.size()) + room > n_ctx) {
      if (!o.drop_oldest || messages.size() <= 1) {
        std::fprintf(out, "[context full: %zu tokens of %d; /reset to start over, or run with --drop-oldest]\n",
                     prompt.size(), n_ctx);
        messages.erase(messages.end() - 1);
        prompt.clear();
        break;
      }
      messages.erase(messages.begin(), messages.begin() + std::min<size_t>(2, messages.size() - 1));
      prompt = render(true);
    }
    if (prompt.empty()) continue;

    // Reuse the cached prefix: evaluate only what differs from the last turn.
    size_t common = 0;
    while (common < in_cache.size() && common < prompt.size() && in_cache[common] == prompt[common]) ++common;
    if (common == prompt.size()) --common;  // evaluate at least one token to get logits
    if (!session.truncate(static_cast<int32_t>(common))) common = 0;  // diverged: keep only the shared prefix
    in_cache.resize(common);
    const float* logits = session.eval(prompt.data() + common, static_cast<int32_t>(prompt.size() - common));
    in_cache = prompt;

    std::string reply;
    for (int32_t i = 0; i < o.n_predict; ++i) {
      const int32_t next = sampler.sample(logits, model->config().n_vocab);
      if (tok.is_eog(next)) break;
      sampler.accept(next);
      const std::string piece = tok.token_to_piece(next, false);
      reply += piece;
      std::fwrite(piece.data(), 1, piece.size(), out);
      std::fflush(out);
      if (session.n_past() >= n_ctx) {
        std::fprintf(out, "\n[context full]");
        break;
      }
      logits = session.eval(&next, 1);
      in_cache.push_back(next);
    }
    std::fputc('\n', out);
    messages.push_back({{"role", "assistant"}, {"content", reply}});
  }
  return 0;
}

}  // namespace minnow::tools
