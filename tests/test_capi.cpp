// The C API end to end on the shipped model, and its error reporting.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "minnow.h"
#include "test_util.h"

extern "C" int minnow_capi_header_is_c(void);

TEST(CApi, GenerateGreedilyFromTheShippedModel) {
  EXPECT_EQ(minnow_capi_header_is_c(), 1);
  const std::string path = minnow::test::source_dir() + "/models/stories260K.gguf";
  minnow_model* m = minnow_model_load(path.c_str());
  ASSERT_NE(m, nullptr) << minnow_last_error();
  EXPECT_EQ(minnow_model_n_vocab(m), 512);
  int32_t ids[16];
  const int32_t n = minnow_tokenize(m, "Once upon a time", 1, ids, 16);
  ASSERT_EQ(n, 5);
  EXPECT_EQ(ids[0], 1);
  minnow_session* s = minnow_session_new(m, 64, 1);
  ASSERT_NE(s, nullptr) << minnow_last_error();
  const float* logits = minnow_session_eval(s, ids, n);
  ASSERT_NE(logits, nullptr) << minnow_last_error();
  int32_t best = 0;
  for (int32_t v = 1; v < 512; ++v)
    if (logits[v] > logits[best]) best = v;
  char buf[32];
  const int32_t len = minnow_token_to_piece(m, best, buf, sizeof buf);
  EXPECT_EQ(std::string(buf, len), ",");  // llama.cpp's greedy continuation starts with ","
  EXPECT_EQ(minnow_session_n_past(s), 5);
  minnow_session_free(s);
  minnow_model_free(m);
}

TEST(CApi, ErrorsAreReportedNotThrown) {
  EXPECT_EQ(minnow_model_load("/nonexistent/model.gguf"), nullptr);
  EXPECT_NE(std::string(minnow_last_error()).find("/nonexistent/model.gguf"), std::string::npos);
  const std::string path = minnow::test::source_dir() + "/models/stories260K.gguf";
  minnow_model* m = minnow_model_load(path.c_str());
  ASSERT_NE(m, nullptr);
  minnow_session* s = minnow_session_new(m, 2, 1);
  const int32_t ids[] = {1, 2, 3};
  EXPECT_EQ(minnow_session_eval(s, ids, 3), nullptr);
  EXPECT_NE(std::string(minnow_last_error()).find("context"), std::string::npos);
  const int32_t bad[] = {4096};
  EXPECT_EQ(minnow_session_eval(s, bad, 1), nullptr);
  minnow_session_free(s);
  minnow_model_free(m);
}
