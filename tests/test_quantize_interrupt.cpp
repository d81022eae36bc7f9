// Interrupting `minnow quantize` (SIGINT or SIGKILL) at any moment leaves no output file behind:
// neither OUT nor a half-written temporary.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <algorithm>
#include <filesystem>
#include <random>

#include "gguf/writer.h"
#include "test_util.h"

using namespace minnow;
namespace fs = std::filesystem;

namespace {

// stories260K plus one large F32 matrix, so quantizing takes long enough to be interrupted.
std::string big_input(const fs::path& dir) {
  const fs::path p = dir / "big-F32.gguf";
  if (fs::exists(p)) return p.string();
  auto base = gguf::File::open(test::source_dir() + "/models/stories260K.gguf");
  gguf::Writer w;
  gguf::copy_all(*base, w);
  std::vector<float> big(static_cast<size_t>(4096) * 4096);
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.0f, 0.02f);
  for (auto& v : big) v = nd(rng);
  w.add_tensor("blk.9.ffn_up.weight", DType::F32, {4096, 4096}, big.data(), big.size() * sizeof(float));
  w.write(p.string());
  return p.string();
}

std::vector<std::string> listing(const fs::path& dir) {
  std::vector<std::string> v;
  for (const auto& e : fs::directory_iterator(dir)) v.push_back(e.path().filename().string());
  std::sort(v.begin(), v.end());
  return v;
}

void interrupt_after(int sig, int delay_ms, int* status) {
  const fs::path dir = fs::path(::testing::TempDir()) / ("minnow_interrupt_" + std::to_string(getpid()));
  fs::create_directories(dir);
  const std::string in = big_input(dir);
  const std::string out = (dir / "out-Q4_K_M.gguf").string();
  const auto before = listing(dir);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const int devnull = ::open("/dev/null", O_WRONLY);
    dup2(devnull, 2);
    execl(test::cli_path().c_str(), "minnow", "quantize", in.c_str(), out.c_str(), "Q4_K_M", "-t", "1", nullptr);
    _exit(127);
  }
  usleep(static_cast<useconds_t>(delay_ms) * 1000);
  kill(pid, sig);
  waitpid(pid, status, 0);
  EXPECT_EQ(listing(dir), before) << "files left behind after signal " << sig << " at " << delay_ms << " ms";
  EXPECT_FALSE(fs::exists(out));
}

TEST(QuantizeInterrupt, SigKillLeavesNothing) {
  for (int delay : {50, 300, 800}) {
    int status = 0;
    interrupt_after(SIGKILL, delay, &status);
    if (WIFEXITED(status)) GTEST_LOG_(INFO) << "finished before the signal at " << delay << " ms";
    else EXPECT_EQ(WTERMSIG(status), SIGKILL);
  }
}

TEST(QuantizeInterrupt, SigIntLeavesNothing) {
  for (int delay : {50, 300, 800}) {
    int status = 0;
    interrupt_after(SIGINT, delay, &status);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) GTEST_LOG_(INFO) << "finished before the signal";
    else EXPECT_TRUE((WIFEXITED(status) && WEXITSTATUS(status) == 130) || (WIFSIGNALED(status) && WTERMSIG(status) == SIGINT));
  }
}

TEST(QuantizeInterrupt, CompletedRunLeavesOnlyTheOutput) {
  const fs::path dir = fs::path(::testing::TempDir()) / ("minnow_interrupt_done_" + std::to_string(getpid()));
  fs::create_directories(dir);
  const std::string in = big_input(dir);
  const std::string cmd = test::cli_path() + " quantize " + in + " " + (dir / "out.gguf").string() + " Q8_0 -t 2 2>/dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  EXPECT_EQ(listing(dir), (std::vector<std::string>{"big-F32.gguf", "out.gguf"}));
  fs::remove_all(dir);
}

// The writer itself, killed in the middle of writing a large file: no file, not even a temporary.
TEST(QuantizeInterrupt, SigKillDuringWriteLeavesNothing) {
  const fs::path dir = fs::path(::testing::TempDir()) / ("minnow_writekill_" + std::to_string(getpid()));
  fs::create_directories(dir);
  const std::string out = (dir / "big.gguf").string();
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    gguf::Writer w;
    std::vector<uint8_t> data(size_t{768} << 20, 1);
    w.add_tensor("t", DType::F32, {static_cast<int64_t>(data.size() / 4)}, std::move(data));
    (void)!::write(pipefd[1], "g", 1);  // about to write
    w.write(out);
    _exit(0);
  }
  char c;
  ASSERT_EQ(::read(pipefd[0], &c, 1), 1);
  usleep(60 * 1000);
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status)) GTEST_LOG_(INFO) << "the write finished before the signal";
  EXPECT_TRUE(listing(dir).empty() || WIFEXITED(status)) << "left: " << (listing(dir).empty() ? "" : listing(dir)[0]);
  fs::remove_all(dir);
}

}  // namespace
