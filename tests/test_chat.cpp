// `minnow chat` driven through a pipe: turns, commands, the model's own template, and a full context.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>

#include "cli_util.h"
#include "gguf/writer.h"
#include "test_util.h"

using namespace minnow;

namespace {

std::string shipped_model() { return test::source_dir() + "/models/stories260K.gguf"; }

// stories260K with a chat template of our own (it ships none), so the template path is exercised.
std::string model_with_template() {
  // per-process names: CTest runs these tests in parallel
  const std::string path = ::testing::TempDir() + "minnow_chat_model_" + std::to_string(getpid()) + ".gguf";
  auto base = gguf::File::open(shipped_model());
  gguf::Writer w;
  gguf::copy_all(*base, w);
  w.set_str("tokenizer.chat_template",
            "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'system' %}{{ m['content'] }}\n"
            "{% elif m['role'] == 'user' %}Once upon a time, {{ m['content'] }}{% else %}{{ m['content'] }}{{ eos_token }}"
            "{% endif %}{% endfor %}");
  w.write(path);
  return path;
}

std::string run_chat(const std::string& model, const std::string& input, const std::vector<std::string>& extra = {}) {
  const std::string in = ::testing::TempDir() + "minnow_chat_in_" + std::to_string(getpid()) + ".txt";
  std::FILE* f = std::fopen(in.c_str(), "wb");
  std::fwrite(input.data(), 1, input.size(), f);
  std::fclose(f);
  std::string cmd = test::shell_quote(test::cli_path()) + " chat -m " + test::shell_quote(model) + " --temp 0 -t 1";
  if (std::find(extra.begin(), extra.end(), "-n") == extra.end()) cmd += " -n 24";
  for (const auto& e : extra) cmd += " " + test::shell_quote(e);
  cmd += " < " + in + " 2>/dev/null";
  std::string out;
  if (std::FILE* p = popen(cmd.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    EXPECT_EQ(pclose(p), 0);
  }
  return out;
}

TEST(Chat, TwoTurnsThroughAPipe) {
  const std::string out = run_chat(model_with_template(), "the little dog\nthe cat\n/exit\n");
  // two replies, one per line; greedy, so a second run is identical
  EXPECT_GE(std::count(out.begin(), out.end(), '\n'), 2) << out;
  EXPECT_GT(out.size(), 20u);
  EXPECT_EQ(out, run_chat(model_with_template(), "the little dog\nthe cat\n/exit\n"));
}

TEST(Chat, ResetForgetsTheConversation) {
  // after /reset, the same question gets the same reply as in a fresh conversation
  const std::string fresh = run_chat(model_with_template(), "the cat\n");
  const std::string after = run_chat(model_with_template(), "the little dog\n/reset\nthe cat\n");
  ASSERT_NE(after.find("[conversation reset]\n"), std::string::npos) << after;
  EXPECT_EQ(after.substr(after.find("[conversation reset]\n") + 21), fresh);
}

TEST(Chat, FullContextIsReported) {
  const std::string out = run_chat(model_with_template(), "the little dog\nthe cat\nthe bird\n", {"-c", "64", "-n", "30"});
  EXPECT_NE(out.find("context full"), std::string::npos) << out;
}

TEST(Chat, DropOldestKeepsGoing) {
  const std::string out =
      run_chat(model_with_template(), "the little dog\nthe cat\nthe bird\nthe fish\n", {"-c", "96", "-n", "20", "--context-full", "drop"});
  EXPECT_EQ(out.find("context full"), std::string::npos) << out;
  EXPECT_GE(std::count(out.begin(), out.end(), '\n'), 4) << out;
}

TEST(Chat, ModelWithoutTemplateFallsBackToChatML) {
  const auto r = test::run_cli({"chat", "-m", shipped_model(), "--temp", "0", "-n", "8"});
  EXPECT_EQ(r.exit_code, 0) << r.err;  // stdin is /dev/null: no turns, clean exit
  EXPECT_NE(r.err.find("ChatML"), std::string::npos) << r.err;
}

}  // namespace
