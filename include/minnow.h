/* minnow C API: the small, stable surface that apps and other languages bind to.
 * Every function that can fail returns NULL or a negative value and leaves a one-line message that
 * minnow_last_error() returns (per thread). */
#ifndef MINNOW_H
#define MINNOW_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct minnow_model minnow_model;
typedef struct minnow_session minnow_session;

/* The message of the last failure on this thread ("" if none). */
const char* minnow_last_error(void);

minnow_model* minnow_model_load(const char* path);
void minnow_model_free(minnow_model* model);
int32_t minnow_model_n_vocab(const minnow_model* model);
int32_t minnow_model_n_ctx_train(const minnow_model* model);

/* Tokenize UTF-8 text. Writes up to max_ids ids; returns how many the text needs (may exceed max_ids), or -1. */
int32_t minnow_tokenize(const minnow_model* model, const char* text, int add_special, int32_t* ids, int32_t max_ids);
/* The bytes of one token; returns the piece length (may exceed buf_size; not NUL-terminated), or -1. */
int32_t minnow_token_to_piece(const minnow_model* model, int32_t id, char* buf, int32_t buf_size);
int32_t minnow_token_eos(const minnow_model* model);
int minnow_token_is_eog(const minnow_model* model, int32_t id);

/* A conversation: KV cache of n_ctx tokens (0: the model's, capped at 4096) and its own threads. */
minnow_session* minnow_session_new(const minnow_model* model, int32_t n_ctx, int32_t n_threads);
void minnow_session_free(minnow_session* session);
/* Evaluate n tokens after those already seen. Returns the last token's logits (n_vocab floats, valid until the
 * next call), or NULL on error (context full, bad id). */
const float* minnow_session_eval(minnow_session* session, const int32_t* ids, int32_t n);
int32_t minnow_session_n_past(const minnow_session* session);
void minnow_session_reset(minnow_session* session);

#ifdef __cplusplus
}
#endif
#endif
