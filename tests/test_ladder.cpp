// `minnow ladder` on the shipped model: the three outputs, the fallback note for 64-wide rows, and
// a sane ordering of quality (8-bit closer to the base than 4-bit).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "cli_util.h"
#include "test_util.h"
#include "tools/ladder.h"

using namespace minnow;
namespace fs = std::filesystem;

TEST(Ladder, WritesTableCsvAndPlot) {
  const fs::path dir = fs::path(::testing::TempDir()) / ("minnow_ladder_" + std::to_string(getpid()));
  const std::string text = (dir / "text.txt").string();
  fs::create_directories(dir);
  {
    std::ofstream f(text);
    for (int i = 0; i < 60; ++i) f << "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. ";
  }
  tools::LadderOptions o;
  o.model = test::source_dir() + "/models/stories260K.gguf";
  o.text_file = text;
  o.types = {"Q8_0", "Q4_K_M", "Q4_0"};
  o.out_dir = (dir / "out").string();
  o.n_ctx = 64;
  o.threads = 1;
  o.bench_prompt = 16, o.bench_gen = 4, o.bench_reps = 1;
  const auto rows = tools::ladder(o);
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0].type, "base");
  EXPECT_LT(rows[1].kld, rows[3].kld) << "Q8_0 should be closer to the base than Q4_0";
  EXPECT_LT(rows[1].size_mib, rows[0].size_mib);
  EXPECT_NE(rows[2].note.find("fallback"), std::string::npos) << "64-wide rows cannot hold Q4_K: the ladder must say so";
  const std::string md = test::slurp(o.out_dir + "/ladder.md");
  const std::string csv = test::slurp(o.out_dir + "/ladder.csv");
  const std::string svg = test::slurp(o.out_dir + "/ladder.svg");
  EXPECT_NE(md.find("| Q4_K_M |"), std::string::npos) << md;
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 5) << csv;  // header + 4 rows
  EXPECT_NE(svg.find("<svg"), std::string::npos);
  EXPECT_NE(svg.find(">Q4_0</text>"), std::string::npos);
  EXPECT_FALSE(fs::exists(o.out_dir + "/model-Q8_0.gguf")) << "quantized files are removed unless --keep-models";
  fs::remove_all(dir);
}

TEST(Ladder, RefusesAQuantizedBase) {
  MINNOW_REQUIRE_SHARED();
  const auto r = test::run_cli({"ladder", "-m", test::golden("models/llama/llama-Q4_0.gguf"), "-f", "/etc/hostname"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("already quantized"), std::string::npos) << r.err;
}
