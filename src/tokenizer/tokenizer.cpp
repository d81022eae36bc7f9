// Tokenizer::from_gguf: reads tokenizer.ggml.model and builds the matching algorithm.
#include "tokenizer/tokenizer.h"

#include "common/error.h"
#include "gguf/gguf.h"
#include "tokenizer/bpe.h"
#include "tokenizer/spm.h"
#include "tokenizer/wpm.h"

namespace minnow {

std::unique_ptr<Tokenizer> Tokenizer::from_gguf(const gguf::File& file) {
  const gguf::Value* v = file.find("tokenizer.ggml.model");
  if (!v) fail(file.path(), ": missing tokenizer.ggml.model (the file has no tokenizer)");
  if (v->type != gguf::ValueType::STRING)
    fail(file.path(), ": tokenizer.ggml.model should be a string but is ", gguf::value_type_name(v->type));
  const std::string model(v->str);

  if (model == "llama") return std::make_unique<tok::SpmTokenizer>(file);
  if (model == "gpt2") return std::make_unique<tok::BpeTokenizer>(file);
  if (model == "bert") return std::make_unique<tok::WpmTokenizer>(file);
  if (model == "t5" || model == "rwkv" || model == "plamo2")
    fail(file.path(), ": unsupported tokenizer kind \"", model, "\" (supported: \"llama\" SentencePiece, \"gpt2\" "
         "byte-level BPE, \"bert\" WordPiece)");
  if (model == "no_vocab" || model == "none")
    fail(file.path(), ": the model has no vocabulary (tokenizer.ggml.model = \"", model, "\")");
  fail(file.path(), ": unknown tokenizer kind \"", model, "\" in tokenizer.ggml.model");
}

}  // namespace minnow
