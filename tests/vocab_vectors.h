// llama.cpp's tokenizer test vectors (golden/vocab/*.inp and *.out): reading them and matching a tokenizer
// against them, shared by the SentencePiece and BPE tokenizer tests.
#pragma once
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace minnow::test {

inline std::string read_text_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// " 1 2 3": the .out format (each id preceded by one space)
inline std::string ids_str(const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t id : ids) s += " " + std::to_string(id);
  return s;
}

struct VocabVectors {
  std::vector<std::string> cases;  // the .inp strings
  std::vector<std::string> lines;  // the .out lines, one per case
};

inline VocabVectors read_vocab_vectors(const std::string& inp_path, const std::string& out_path) {
  const std::string inp = read_text_file(inp_path), out = read_text_file(out_path);
  const std::string sep = "\n__ggml_vocab_test__\n";
  VocabVectors v;
  for (size_t pos = 0;;) {
    const size_t e = inp.find(sep, pos);
    if (e == std::string::npos) break;
    v.cases.push_back(inp.substr(pos, e - pos));
    pos = e + sep.size();
  }
  std::istringstream ss(out);
  for (std::string l; std::getline(ss, l);) v.lines.push_back(l);
  return v;
}

struct VectorMatch {
  size_t ok = 0;
  std::string report;  // the first mismatches
};

// Tokenizes every case with add_special=false, parse_special=false, as llama.cpp's test-tokenizer-0.
// `show` renders a case for the report (e.g. escaping control characters).
template <typename Show>
VectorMatch match_vocab_vectors(const Tokenizer& tok, const VocabVectors& v, Show show) {
  VectorMatch m;
  int shown = 0;
  for (size_t i = 0; i < v.cases.size() && i < v.lines.size(); ++i) {
    const std::string got = ids_str(tok.encode(v.cases[i], false, false));
    if (got == v.lines[i]) {
      ++m.ok;
    } else if (shown++ < 5) {
      m.report += "\n  case " + std::to_string(i) + " '" + show(v.cases[i].substr(0, 60)) + "'\n    want:" + v.lines[i] +
                  "\n    got: " + got;
    }
  }
  return m;
}

}  // namespace minnow::test
