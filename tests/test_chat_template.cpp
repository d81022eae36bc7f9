// Chat templates: our Jinja interpreter against what Python's jinja2 renders the Hugging Face way.
// The golden cases (../shared/golden/chat_templates, README section 5) must render byte for byte,
// and the cases jinja2 refused must be refused. The unit tests below need no goldens; their
// expected strings were checked against jinja2 3.1.2 (ImmutableSandboxedEnvironment,
// trim_blocks, lstrip_blocks, loopcontrols).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "test_util.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/jinja.h"
#include "tools/template_tool.h"

namespace fs = std::filesystem;
using nlohmann::ordered_json;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string templates_dir() { return minnow::test::golden("chat_templates"); }

// Template folders, listed when the goldens are present (else one placeholder that skips).
std::vector<std::string> template_names() {
  std::vector<std::string> names;
  std::error_code ec;
  if (fs::is_directory(templates_dir(), ec)) {
    for (const auto& e : fs::directory_iterator(templates_dir(), ec))
      if (e.is_directory() && fs::exists(e.path() / "template.jinja")) names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  if (names.empty()) names.push_back("none");
  return names;
}

struct CaseResult {
  std::string name;
  bool ok = false;
  std::string detail;
};

// Renders every <case>.input.json of one template folder and checks it against index.json.
std::vector<CaseResult> run_template(const std::string& tname) {
  std::vector<CaseResult> results;
  const fs::path dir = fs::path(templates_dir()) / tname;
  const ordered_json index = ordered_json::parse(slurp(fs::path(templates_dir()) / "index.json"));
  const std::string src = slurp(dir / "template.jinja");
  std::vector<fs::path> inputs;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string fn = e.path().filename().string();
    if (fn.size() > 11 && fn.compare(fn.size() - 11, 11, ".input.json") == 0) inputs.push_back(e.path());
  }
  std::sort(inputs.begin(), inputs.end());
  for (const auto& in : inputs) {
    CaseResult r;
    const std::string fn = in.filename().string();
    const std::string cname = fn.substr(0, fn.size() - 11);
    r.name = tname + "/" + cname;
    const ordered_json& meta = index["templates"][tname]["cases"][cname];
    const ordered_json input = ordered_json::parse(slurp(in));
    std::string out, err;
    bool threw = false;
    try {
      out = minnow::render_chat(src, input);
    } catch (const minnow::Error& e) {
      threw = true;
      err = e.what();
    }
    if (meta.value("status", "") == "ok") {
      const std::string expected = slurp(dir / meta.value("expected", cname + ".expected.txt"));
      r.ok = !threw && out == expected;
      if (threw) {
        r.detail = "threw: " + err;
      } else if (!r.ok) {
        size_t i = 0;
        while (i < out.size() && i < expected.size() && out[i] == expected[i]) ++i;
        r.detail = "differs at byte " + std::to_string(i) + ": got \"" + out.substr(i, 60) + "\", want \"" +
                   expected.substr(i, 60) + "\"";
      }
    } else {
      // jinja2 refused: we must refuse too, with jinja2's message ("UndefinedError: 'x' is undefined").
      std::string want = meta.value("error", "");
      if (const size_t colon = want.find(": "); colon != std::string::npos) want = want.substr(colon + 2);
      r.ok = threw && err.find(want) != std::string::npos;
      r.detail = threw ? "error \"" + err + "\", want it to contain \"" + want + "\"" : "rendered, but jinja2 refused: " + want;
    }
    results.push_back(std::move(r));
  }
  return results;
}

std::string render(const std::string& src, const ordered_json& input = ordered_json::object()) {
  return minnow::render_chat(src, input);
}

std::string render_error(const std::string& src, const ordered_json& input = ordered_json::object()) {
  try {
    render(src, input);
  } catch (const minnow::Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

// ---- golden cases -------------------------------------------------------------------------------

class ChatTemplateGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(ChatTemplateGolden, RendersExactly) {
  MINNOW_REQUIRE_SHARED();
  const auto results = run_template(GetParam());
  ASSERT_FALSE(results.empty()) << "no cases for " << GetParam();
  for (const auto& r : results) EXPECT_TRUE(r.ok) << r.name << ": " << r.detail;
}

INSTANTIATE_TEST_SUITE_P(Goldens, ChatTemplateGolden, ::testing::ValuesIn(template_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string n = info.param;
                           for (char& c : n)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });

TEST(ChatTemplate, AllGoldenCasesSummary) {
  MINNOW_REQUIRE_SHARED();
  size_t total = 0, exact = 0;
  for (const auto& t : template_names()) {
    for (const auto& r : run_template(t)) {
      ++total;
      if (r.ok) ++exact;
      else ADD_FAILURE() << r.name << ": " << r.detail;
    }
  }
  std::printf("%zu/%zu templates render exactly\n", exact, total);
  EXPECT_GT(total, 0u);
  EXPECT_EQ(exact, total);
}

// The template inside a GGUF (tokenizer.chat_template) through the `minnow template -m` path: the
// Qwen3 vocab fixture carries Qwen3-0.6B's template.
TEST(ChatTemplate, TemplateFromModelMatchesGolden) {
  MINNOW_REQUIRE_SHARED();
  const std::string dir = templates_dir() + "/Qwen-Qwen3-0.6B/";
  const std::string out = minnow::tools::render_template_file(
      "", minnow::test::golden("vocab/ggml-vocab-qwen3-fixture.gguf"), dir + "multiturn_genprompt.input.json");
  EXPECT_EQ(out, slurp(dir + "multiturn_genprompt.expected.txt"));
  // Same through --template.
  EXPECT_EQ(minnow::tools::render_template_file(dir + "template.jinja", "", dir + "multiturn_genprompt.input.json"),
            slurp(dir + "multiturn_genprompt.expected.txt"));
}

TEST(ChatTemplate, ModelFillsMissingSpecialTokens) {
  MINNOW_REQUIRE_SHARED();
  const fs::path input = fs::temp_directory_path() / "minnow_chat_input_nobos.json";
  {
    std::ofstream f(input);
    f << R"({"messages": [{"role": "user", "content": "Hi"}], "add_generation_prompt": true})";
  }
  const std::string out =
      minnow::tools::render_template_file("", minnow::test::golden("vocab/ggml-vocab-llama-bpe-fixture.gguf"), input.string());
  fs::remove(input);
  EXPECT_EQ(out.rfind("<|begin_of_text|>", 0), 0u) << out;
  EXPECT_NE(out.find("Hi<|eot_id|>"), std::string::npos) << out;
}

TEST(ChatTemplate, ModelWithoutTemplateFails) {
  MINNOW_REQUIRE_SHARED();
  const fs::path input = fs::temp_directory_path() / "minnow_chat_input_empty.json";
  {
    std::ofstream f(input);
    f << R"({"messages": []})";
  }
  try {
    minnow::tools::render_template_file("", minnow::test::golden("stories260K/stories260K.gguf"), input.string());
    ADD_FAILURE() << "expected an error";
  } catch (const minnow::Error& e) {
    EXPECT_NE(std::string(e.what()).find("no tokenizer.chat_template"), std::string::npos) << e.what();
  }
  fs::remove(input);
}

// ---- the tool without goldens -----------------------------------------------------------------------

TEST(ChatTemplate, ToolRendersFiles) {
  const fs::path dir = fs::temp_directory_path();
  const fs::path tpl = dir / "minnow_tool_test.jinja", input = dir / "minnow_tool_test.json";
  {
    std::ofstream t(tpl);
    t << "{{ bos_token }}{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}{{ tools|tojson }}\n";
    std::ofstream i(input);
    // Key order of the input is kept (json.dumps order), not sorted.
    i << R"({"messages": [{"role": "user", "content": "héllo"}], "bos_token": "<s>", "tools": [{"zeta": 1, "alpha": 2}]})";
  }
  EXPECT_EQ(minnow::tools::render_template_file(tpl.string(), "", input.string()),
            "<s>[user] héllo\n[{\"zeta\": 1, \"alpha\": 2}]");
  EXPECT_THROW(minnow::tools::render_template_file("", "", input.string()), minnow::Error);
  EXPECT_THROW(minnow::tools::render_template_file((dir / "minnow_no_such.jinja").string(), "", input.string()), minnow::Error);
  {
    std::ofstream i(input);
    i << "{not json";
  }
  EXPECT_THROW(minnow::tools::render_template_file(tpl.string(), "", input.string()), minnow::Error);
  fs::remove(tpl);
  fs::remove(input);
}

// ---- whitespace ------------------------------------------------------------------------------------

TEST(Jinja, WhitespaceControl) {
  EXPECT_EQ(render("a  {%- if true -%}  b  {%- endif -%}  c"), "abc");
  EXPECT_EQ(render("a  {{- 'x' -}}  c"), "axc");
  EXPECT_EQ(render("a\n  {{- 'x' }}\n"), "ax");          // one trailing newline of the template is dropped
  EXPECT_EQ(render("a {#- c -#} b"), "ab");
  EXPECT_EQ(render("{% raw %}{{ x }}{% endraw %}"), "{{ x }}");
  EXPECT_EQ(render("x\r\ny\rz"), "x\ny\nz");              // newlines normalized
}

TEST(Jinja, TrimAndLstripBlocks) {
  // trim_blocks: the newline after %} goes; lstrip_blocks: indentation before {% goes.
  EXPECT_EQ(render("<\n  {% if true %}\n    x\n  {% endif %}\n>"), "<\n    x\n>");
  // Not for {{ }}, and not with {%+ / +%}.
  EXPECT_EQ(render("  {{ 'v' }}\n"), "  v");
  EXPECT_EQ(render("  {%+ if true %}x{% endif +%}\ny"), "  x\ny");
  // Comments behave like blocks.
  EXPECT_EQ(render("a\n  {# note #}\nb"), "a\nb");
  // Only whitespace before the tag on its line is stripped.
  EXPECT_EQ(render("a {% if true %}b{% endif %}"), "a b");
  EXPECT_EQ(render("{% for i in [1, 2] %}\n  {{ i }}\n{% endfor %}\n"), "  1\n  2\n");
  EXPECT_EQ(render("{%- for i in [1, 2] %}\n  - {{ i }}\n{%- endfor %}"), "  - 1  - 2");
  EXPECT_EQ(render("{%- for i in [1, 2] %}\n  - {{ i }}\n{% endfor %}"), "  - 1\n  - 2\n");
}

// ---- values -----------------------------------------------------------------------------------------

TEST(Jinja, PythonStrOfValues) {
  EXPECT_EQ(render("{{ true }} {{ false }} {{ none }} {{ True }}"), "True False None True");
  EXPECT_EQ(render("{{ 1.0 }} {{ 0.1 + 0.2 }} {{ 1e16 }} {{ 1e15 }} {{ 2.5e-05 }} {{ 10 / 4 }} {{ 7 // 2 }} {{ -7 % 3 }}"),
            "1.0 0.30000000000000004 1e+16 1000000000000000.0 2.5e-05 2.5 3 2");
  EXPECT_EQ(render(R"({{ [1, 'a', none, true] }} {{ {'k': "it's"} }} {{ (1,) }})"), R"([1, 'a', None, True] {'k': "it's"} (1,))");
  EXPECT_EQ(render("{{ 'a' ~ 1 ~ none }}|{{ 'ab' * 2 }}|{{ [1] + [2] }}"), "a1None|abab|[1, 2]");
  EXPECT_EQ(render("{{ 'esc\\t\\x41\\u00e9' }}"), "esc\tAé");
  EXPECT_EQ(render("{{ 'a' 'b' }}"), "ab");
}

TEST(Jinja, UndefinedBehavesLikeJinja2) {
  EXPECT_EQ(render("[{{ nope }}]"), "[]");
  EXPECT_EQ(render("{{ nope is defined }} {{ nope|default('d') }} {% if not nope %}falsy{% endif %}"), "False d falsy");
  EXPECT_EQ(render("{% for x in nope %}x{% else %}empty{% endfor %}"), "empty");
  EXPECT_EQ(render("{{ none.attr }}|{{ {'a': 1}.b }}|{{ [1][5] }}"), "||");  // missing attribute of a value: Undefined
  EXPECT_EQ(render_error("{{ nope.attr }}"), "template line 1: 'nope' is undefined");
  EXPECT_EQ(render_error("\n{{ {'a': 1}.b.c }}"), "template line 2: 'dict object' has no attribute 'b'");
  EXPECT_EQ(render_error("{{ nope + 1 }}"), "template line 1: 'nope' is undefined");
}

// ---- statements ---------------------------------------------------------------------------------------

TEST(Jinja, Loops) {
  EXPECT_EQ(render("{% for x in ['a', 'b', 'c'] %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}"
                   "{{ loop.length }}{{ loop.revindex }}{{ x }};{% endfor %}"),
            "10TrueFalse33a;21FalseFalse32b;32FalseTrue31c;");
  EXPECT_EQ(render("{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }} {% endfor %}"), "a=1 b=2 ");
  EXPECT_EQ(render("{% for k in {'b': 1, 'a': 2} %}{{ k }}{% endfor %}"), "ba");
  EXPECT_EQ(render("{% for x in [1, 2, 3, 4] if x is even %}{{ x }}/{{ loop.length }} {% endfor %}"), "2/2 4/2 ");
  EXPECT_EQ(render("{% for x in [1, 2, 3, 4] %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 4 %}{% break %}{% endif %}{{ x }}{% endfor %}"),
            "13");
  EXPECT_EQ(render("{% for x in [] %}x{% else %}none{% endfor %}"), "none");
  EXPECT_EQ(render("{% for x in [1, 2] %}{{ loop.previtem }}-{{ loop.nextitem }}-{{ loop.cycle('a', 'b') }} {% endfor %}"),
            "-2-a 1--b ");
  EXPECT_EQ(render("{% for m in messages[::-1] %}{{ m.role }}{% endfor %}",
                   {{"messages", {{{"role", "a"}}, {{"role", "b"}}}}}),
            "ba");
}

TEST(Jinja, ScopingAsJinja2) {
  // set in a loop does not leak; a namespace carries values out.
  EXPECT_EQ(render("{% set x = 1 %}{% for i in [1, 2] %}{% set x = x + i %}{{ x }}{% endfor %}{{ x }}"), "231");
  EXPECT_EQ(render("{% set ns = namespace(n=0) %}{% for i in [1, 2] %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }}"), "3");
  // if does not open a scope.
  EXPECT_EQ(render("{% if true %}{% set y = 2 %}{% endif %}{{ y }}"), "2");
  // jinja2 resolves names statically: a name assigned at top level later is undefined (not the
  // context value) in a loop that runs before the assignment.
  EXPECT_EQ(render("{% for i in [1] %}[{{ y }}]{% endfor %}{% set y = 1 %}", {{"y", "ctx"}}), "[]");
  EXPECT_EQ(render("{% if true %}[{{ y }}]{% endif %}{% set y = 1 %}", {{"y", "ctx"}}), "[ctx]");
  // Macros see their defining scope as it is when called.
  EXPECT_EQ(render("{% macro m() %}{{ z }}{% endmacro %}{% set z = 3 %}{{ m() }}"), "3");
}

TEST(Jinja, MacrosAndCall) {
  EXPECT_EQ(render("{% macro m(a, b=2, c='x') %}[{{ a }}{{ b }}{{ c }}]{% endmacro %}{{ m(1) }}{{ m(1, 3) }}{{ m(1, c='z') }}"),
            "[12x][13x][12z]");
  EXPECT_EQ(render("{% macro r(n) %}{% if n > 0 %}{{ n }}{{ r(n - 1) }}{% endif %}{% endmacro %}{{ r(3) }}"), "321");
  EXPECT_EQ(render("{% macro w() %}<{{ caller() }}>{% endmacro %}{% call w() %}in{% endcall %}"), "<in>");
  EXPECT_EQ(render("{% macro w(x) %}<{{ caller(x) }}>{% endmacro %}{% call(v) w(3) %}v={{ v }}{% endcall %}"), "<v=3>");
  EXPECT_EQ(render("{% set s %} block {% endset %}[{{ s }}]{% filter upper %}up{% endfilter %}"), "[ block ]UP");
  EXPECT_EQ(render_error("{% macro m(a) %}{% endmacro %}{{ m(1, 2) }}"), "template line 1: macro 'm' takes not more than 1 argument(s)");
}

// ---- filters, tests, methods ----------------------------------------------------------------------

TEST(Jinja, Filters) {
  const ordered_json in = {{"msgs", {{{"role", "user"}, {"content", " hi "}}, {{"role", "assistant"}, {"content", "yo"}, {"x", 1}}}}};
  EXPECT_EQ(render("{{ msgs|map(attribute='role')|join(',') }}|{{ msgs|selectattr('role', 'equalto', 'user')|list|length }}|"
                   "{{ msgs|rejectattr('x', 'defined')|map(attribute='content')|map('trim')|first }}|{{ msgs|last|length }}",
                   in),
            "user,assistant|1|hi|3");
  EXPECT_EQ(render("{{ '  a b  '|trim }}|{{ 'aXbX'|replace('X', '-') }}|{{ 'hello wOrld'|title }}|{{ 'hELLO'|capitalize }}|"
                   "{{ 'x'|upper }}{{ 'Y'|lower }}|{{ [3, 1, 2]|sort }}|{{ ['a', 'A', 'b']|unique|list }}|{{ {'b': 1, 'a': 2}|dictsort }}"),
            "a b|a-b-|Hello World|Hello|Xy|[1, 2, 3]|['a', 'b']|[('a', 2), ('b', 1)]");
  EXPECT_EQ(render("{{ '42'|int + 1 }}|{{ '4.5'|float }}|{{ 'x'|int }}|{{ 3.7|int }}|{{ 42|string ~ '!' }}|{{ 'ab'|list }}|{{ 2.5|round }}"),
            "43|4.5|0|3|42!|['a', 'b']|2.0");
  EXPECT_EQ(render("{{ 'a\\nb\\n\\nc'|indent(2) }}|{{ 'x\\ny'|indent(2, first=true) }}"), "a\n  b\n\n  c|  x\n  y");
  EXPECT_EQ(render("{{ undefined_x|default('d') }}{{ ''|default('e', true) }}{{ none|d('n') }}"), "deNone");
}

TEST(Jinja, ToJsonAsHuggingFace) {
  // json.dumps(x, ensure_ascii=False): Python separators ", " and ": ", key order kept.
  const ordered_json in = {{"t", {{"name", "f"}, {"args", {{"x", 1.5}, {"s", "é\"\n"}}}, {"n", nullptr}, {"ok", true}}}};
  EXPECT_EQ(render("{{ t|tojson }}", in), R"({"name": "f", "args": {"x": 1.5, "s": "é\"\n"}, "n": null, "ok": true})");
  EXPECT_EQ(render("{{ [1, {'a': []}]|tojson(indent=2) }}"), "[\n  1,\n  {\n    \"a\": []\n  }\n]");
  EXPECT_EQ(render("{{ 'é'|tojson(ensure_ascii=true) }}|{{ {'b': 1, 'a': 2}|tojson(sort_keys=true) }}"), R"("\u00e9"|{"a": 2, "b": 1})");
  EXPECT_EQ(render("{{ {'a': 1}|tojson(separators=(',', ':')) }}"), R"({"a":1})");
}

TEST(Jinja, TestsAndOperators) {
  EXPECT_EQ(render("{{ x is defined }}{{ none is none }}{{ 'a' is string }}{{ {} is mapping }}{{ [] is iterable }}"
                   "{{ 'a' is sequence }}{{ 1 is number }}{{ true is true }}{{ 0 is false }}{{ 3 is odd }}"),
            "FalseTrueTrueTrueTrueTrueTrueTrueFalseTrue");
  EXPECT_EQ(render("{{ 'a' in 'cat' }}{{ 2 in [1, 2] }}{{ 'k' in {'k': 1} }}{{ 'z' not in 'abc' }}{{ 1 < 2 < 3 }}{{ 1 == 1.0 }}"),
            "TrueTrueTrueTrueTrueTrue");
  EXPECT_EQ(render("{{ 'y' if true else 'n' }}{{ 'y' if false else 'n' }}[{{ 'y' if false }}]{{ 0 or 'd' }}{{ 1 and 'a' }}"),
            "yn[]da");
  EXPECT_EQ(render("{{ 2 ** 10 }} {{ 7 % 3 }} {{ -7 // 2 }} {{ 1 / 2 }} {{ '%s-%d'|format('a', 3) }} {{ '{}!'.format(5) }}"),
            "1024 1 -4 0.5 a-3 5!");
}

TEST(Jinja, StringAndDictMethods) {
  EXPECT_EQ(render("{{ '  x  '.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ 'a,b,c'.split(',') }}|{{ 'a b  c'.split() }}|"
                   "{{ 'a,b,c'.rsplit(',', 1) }}|{{ 'abc'.startswith('ab') }}|{{ 'abc'.endswith(('x', 'c')) }}|"
                   "{{ 'aXa'.replace('a', 'b') }}|{{ 'hello'.find('l') }}|{{ 'ab'.upper() }}|{{ 'hello world'.title() }}"),
            "x|a|['a', 'b', 'c']|['a', 'b', 'c']|['a,b', 'c']|True|True|bXb|2|AB|Hello World");
  EXPECT_EQ(render("{{ 'héllo'|length }}|{{ 'héllo'[1] }}|{{ 'héllo'[1:3] }}|{{ 'héllo'[::-1] }}|{{ [1, 2, 3][1:] }}|{{ [1, 2, 3][-1] }}"),
            "5|é|él|olléh|[2, 3]|3");
  EXPECT_EQ(render("{% set d = {'a': 1, 'b': 2} %}{{ d.get('a') }}{{ d.get('z', 0) }}{{ d.keys()|list }}{{ d.values()|list }}{{ d['b'] }}"),
            "10['a', 'b'][1, 2]2");
}

TEST(Jinja, SandboxIsImmutable) {
  EXPECT_EQ(render_error("{% set l = [] %}{{ l.append(1) }}"),
            "template line 1: access to attribute 'append' of 'list' object is unsafe.");
  EXPECT_EQ(render_error("{% set d = {} %}{{ d.update({'a': 1}) }}"),
            "template line 1: access to attribute 'update' of 'dict' object is unsafe.");
}

// ---- HF globals ----------------------------------------------------------------------------------------

TEST(ChatTemplate, GlobalsAndInput) {
  EXPECT_EQ(render("{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%Y-%m-%d %A') }}", {{"date", "2024-07-26"}}),
            "26 Jul 2024|2024-07-26 Friday");
  EXPECT_EQ(render("[{{ date }}]", {{"date", "2024-07-26"}}), "[]");  // date is not a template variable
  EXPECT_EQ(render("{{ add_generation_prompt }}"), "False");         // defaults to false
  EXPECT_EQ(render("{{ bos_token }}|{{ eos_token }}", {{"bos_token", nullptr}, {"eos_token", "</s>"}}), "None|</s>");
  const std::string err = render_error("line1\n{{ raise_exception('System role not supported') }}");
  EXPECT_EQ(err, "template line 2: System role not supported");
  // nlohmann::json input (sorted keys) works too.
  EXPECT_EQ(minnow::render_chat("{{ messages[0].content }}", nlohmann::json{{"messages", {{{"content", "c"}}}}}), "c");
}

// ---- errors -----------------------------------------------------------------------------------------------

TEST(Jinja, ErrorsNameTheLine) {
  EXPECT_EQ(render_error("a\nb\n{{ x|foo }}"), "template line 3: unknown filter 'foo'");
  EXPECT_EQ(render_error("{% if x is frobbed %}{% endif %}"), "template line 1: unknown test 'frobbed'");
  // Unknown filters fail at parse time even on paths that never run (as jinja2's compiler does).
  EXPECT_EQ(render_error("{% if false %}\n{{ x|foo }}\n{% endif %}"), "template line 2: unknown filter 'foo'");
  EXPECT_EQ(render_error("{% for x in y %}\n\n"), "template line 2: Unexpected end of template. Jinja was looking for the "
                                                   "following tags: 'endfor' or 'else'. The innermost block that needs to be "
                                                   "closed is 'for'.");
  EXPECT_EQ(render_error("{% frob %}"), "template line 1: Encountered unknown tag 'frob'.");
  EXPECT_EQ(render_error("{{ 1 +\n }}"), "template line 2: unexpected 'end of print statement'");
  EXPECT_EQ(render_error("\n\n{{ 'a' + 1 }}"), "template line 3: can only concatenate str (not \"int\") to str");
  EXPECT_EQ(render_error("{{ 1 / 0 }}"), "template line 1: division by zero");
  EXPECT_EQ(render_error("{% include 'x' %}"), "template line 1: tag 'include' is not supported");
}

TEST(Jinja, HostileTemplatesFailCleanly) {
  // Deep nesting, runaway recursion, huge values: errors, not crashes or hangs.
  EXPECT_NE(render_error("{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}").find("too deep"), std::string::npos);
  EXPECT_NE(render_error("{{ " + std::string(3000, '[') + std::string(3000, ']') + " }}").find("too deep"), std::string::npos);
  std::string chain = "{{ 1";
  for (int i = 0; i < 100000; ++i) chain += " + 1";
  EXPECT_NE(render_error(chain + " }}").find("too deep"), std::string::npos);
  std::string blocks;
  for (int i = 0; i < 2000; ++i) blocks += "{% if true %}";
  EXPECT_NE(render_error(blocks).find("too deep"), std::string::npos);
  EXPECT_NE(render_error("{% set ns = namespace(l=[]) %}{% for i in range(1000) %}{% set ns.l = [ns.l] %}{% endfor %}")
                .find("nested too deeply"),
            std::string::npos);
  // A namespace that holds itself prints as Python prints it (and is freed after the render).
  EXPECT_EQ(render("{% set ns = namespace() %}{% set ns.me = ns %}{{ ns }}"), "<Namespace {'me': <Namespace {...}>}>");
  EXPECT_NE(render_error("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}").find("recursion"), std::string::npos);
  EXPECT_NE(render_error("{{ 'x' * 10000000000 }}").find("too large"), std::string::npos);
  EXPECT_NE(render_error("{{ range(10000000)|length }}").find("Range too big"), std::string::npos);
  EXPECT_NE(render_error("{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}").find("too expensive"),
            std::string::npos);
  EXPECT_NE(render_error("{{ 9223372036854775807 + 1 }}").find("overflow"), std::string::npos);
  EXPECT_NE(render_error("{{ 'unterminated }}").find("template line 1"), std::string::npos);
  EXPECT_NE(render_error("{# never closed").find("Missing end of comment tag"), std::string::npos);
}
