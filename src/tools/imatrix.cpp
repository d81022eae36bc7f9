#include "tools/imatrix.h"

#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include "common/error.h"
#include "gguf/writer.h"
#include "model/model.h"
#include "runtime/session.h"

namespace minnow::tools {

void imatrix(const ImatrixOptions& o) {
  std::ifstream f(o.text_file, std::ios::binary);
  if (!f) fail(o.text_file, ": cannot open");
  std::stringstream ss;
  ss << f.rdbuf();
  auto model = Model::load(o.model);
  const Tokenizer& tok = model->tokenizer();
  if (o.n_ctx < 2 || o.n_ctx > model->config().n_ctx_train)
    fail("imatrix: --ctx must be between 2 and the model's context (", model->config().n_ctx_train, ")");
  const std::vector<int32_t> tokens = tok.encode(ss.str(), true);
  int64_t n_chunks = static_cast<int64_t>(tokens.size()) / o.n_ctx;
  if (o.n_chunks > 0) n_chunks = std::min<int64_t>(n_chunks, o.n_chunks);
  if (n_chunks < 1) fail("imatrix: the text has ", tokens.size(), " tokens, fewer than one chunk of ", o.n_ctx);

  struct Stat {
    std::vector<double> sum2;
    int64_t count = 0;
  };
  std::map<std::string, Stat> stats;
  runtime::ThreadPool pool(o.threads > 0 ? o.threads : runtime::ThreadPool::default_threads());
  runtime::Session session(*model, pool, {o.n_ctx});
  session.observer = [&](const Tensor& w, const float* x, int64_t n_tok) {
    Stat& st = stats[w.name()];
    const int64_t cols = w.cols();
    if (st.sum2.empty()) st.sum2.assign(static_cast<size_t>(cols), 0.0);
    for (int64_t t = 0; t < n_tok; ++t)
      for (int64_t c = 0; c < cols; ++c) st.sum2[static_cast<size_t>(c)] += static_cast<double>(x[t * cols + c]) * x[t * cols + c];
    st.count += n_tok;
  };
  std::vector<int32_t> chunk(static_cast<size_t>(o.n_ctx));
  for (int64_t c = 0; c < n_chunks; ++c) {
    std::copy(tokens.begin() + c * o.n_ctx, tokens.begin() + (c + 1) * o.n_ctx, chunk.begin());
    if (tok.add_bos() && tok.bos_id() >= 0) chunk[0] = tok.bos_id();
    session.reset();
    session.eval(chunk.data(), o.n_ctx);
    std::fprintf(stderr, "\rimatrix: chunk %lld/%lld", static_cast<long long>(c + 1), static_cast<long long>(n_chunks));
  }
  std::fprintf(stderr, "\n");

  gguf::Writer w;
  w.set_str("general.type", "imatrix");
  w.set_arr_str("imatrix.datasets", {o.text_file});
  w.set_u32("imatrix.chunk_count", static_cast<uint32_t>(n_chunks));
  w.set_u32("imatrix.chunk_size", static_cast<uint32_t>(o.n_ctx));
  for (const auto& [name, st] : stats) {
    std::vector<float> sum2(st.sum2.begin(), st.sum2.end());
    const float count = static_cast<float>(st.count);
    w.add_tensor(name + ".in_sum2", DType::F32, {static_cast<int64_t>(sum2.size()), 1}, sum2.data(), sum2.size() * 4);
    w.add_tensor(name + ".counts", DType::F32, {1, 1}, &count, 4);
  }
  w.write(o.output);
  std::fprintf(stderr, "imatrix: %zu tensors over %lld chunks of %d tokens -> %s\n", stats.size(),
               static_cast<long long>(n_chunks), o.n_ctx, o.output.c_str());
}

}  // namespace minnow::tools
