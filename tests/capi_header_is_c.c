/* Compiled as C by the build: proves include/minnow.h is plain C. */
#include "minnow.h"
int minnow_capi_header_is_c(void) {
  minnow_model* m = 0;
  return minnow_model_n_vocab(m) == -1;
}
