// The C API (include/minnow.h) over the C++ library: exceptions become NULL/-1 plus minnow_last_error().
#include "minnow.h"

#include <cstring>
#include <memory>
#include <string>

#include "common/error.h"
#include "model/model.h"
#include "runtime/session.h"

struct minnow_model {
  std::unique_ptr<minnow::Model> model;
};
struct minnow_session {
  std::unique_ptr<minnow::runtime::ThreadPool> pool;
  std::unique_ptr<minnow::runtime::Session> session;
};

namespace {
thread_local std::string g_last_error;

template <typename F, typename R>
R guarded(R on_error, F&& f) {
  try {
    g_last_error.clear();
    return f();
  } catch (const std::exception& e) {
    g_last_error = e.what();
  } catch (...) {
    g_last_error = "unknown error";
  }
  return on_error;
}
}  // namespace

extern "C" {

const char* minnow_last_error(void) { return g_last_error.c_str(); }

minnow_model* minnow_model_load(const char* path) {
  return guarded<>(static_cast<minnow_model*>(nullptr), [&] {
    auto m = std::make_unique<minnow_model>();
    m->model = minnow::Model::load(path ? path : "");
    return m.release();
  });
}

void minnow_model_free(minnow_model* model) { delete model; }
int32_t minnow_model_n_vocab(const minnow_model* m) { return m ? m->model->config().n_vocab : -1; }
int32_t minnow_model_n_ctx_train(const minnow_model* m) { return m ? m->model->config().n_ctx_train : -1; }

int32_t minnow_tokenize(const minnow_model* m, const char* text, int add_special, int32_t* ids, int32_t max_ids) {
  return guarded<>(int32_t{-1}, [&] {
    if (!m || !text) throw minnow::Error("minnow_tokenize: null argument");
    const auto v = m->model->tokenizer().encode(text, add_special != 0);
    for (int32_t i = 0; i < static_cast<int32_t>(v.size()) && i < max_ids; ++i) ids[i] = v[static_cast<size_t>(i)];
    return static_cast<int32_t>(v.size());
  });
}

int32_t minnow_token_to_piece(const minnow_model* m, int32_t id, char* buf, int32_t buf_size) {
  return guarded<>(int32_t{-1}, [&] {
    if (!m || id < 0 || id >= m->model->tokenizer().n_vocab()) throw minnow::Error("minnow_token_to_piece: bad token id");
    const std::string p = m->model->tokenizer().token_to_piece(id, false);
    if (buf && buf_size > 0) std::memcpy(buf, p.data(), std::min<size_t>(p.size(), static_cast<size_t>(buf_size)));
    return static_cast<int32_t>(p.size());
  });
}

int32_t minnow_token_eos(const minnow_model* m) { return m ? m->model->tokenizer().eos_id() : -1; }
int minnow_token_is_eog(const minnow_model* m, int32_t id) { return m && m->model->tokenizer().is_eog(id) ? 1 : 0; }

minnow_session* minnow_session_new(const minnow_model* m, int32_t n_ctx, int32_t n_threads) {
  return guarded<>(static_cast<minnow_session*>(nullptr), [&] {
    if (!m) throw minnow::Error("minnow_session_new: null model");
    auto s = std::make_unique<minnow_session>();
    s->pool = std::make_unique<minnow::runtime::ThreadPool>(
        n_threads > 0 ? n_threads : minnow::runtime::ThreadPool::default_threads());
    s->session = std::make_unique<minnow::runtime::Session>(*m->model, *s->pool, minnow::runtime::SessionOptions{n_ctx});
    return s.release();
  });
}

void minnow_session_free(minnow_session* s) { delete s; }

const float* minnow_session_eval(minnow_session* s, const int32_t* ids, int32_t n) {
  return guarded<>(static_cast<const float*>(nullptr), [&] {
    if (!s || !ids) throw minnow::Error("minnow_session_eval: null argument");
    return s->session->eval(ids, n);
  });
}

int32_t minnow_session_n_past(const minnow_session* s) { return s ? s->session->n_past() : -1; }
void minnow_session_reset(minnow_session* s) {
  if (s) s->session->reset();
}

}  // extern "C"
