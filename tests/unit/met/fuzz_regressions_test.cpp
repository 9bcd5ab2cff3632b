// Replays the met fuzzer's findings (tests/data/fuzz/adapter-regressions/met/) through parseMetDocument the way
// fuzz/adapter_fuzz.cpp does: no exception, and every Message passes validateMessage at receivedMs ("expired"
// is fine: the runtime drops old documents).
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "adapters/met/detect.h"
#include "model/validate.h"

using namespace alertbus;

namespace {

namespace fs = std::filesystem;

constexpr int64_t kNowMs = 1785240000000LL;  // 2026-07-28T11:46:40Z, as in fuzz/adapter_fuzz.cpp

std::vector<fs::path> inputs(const char* sub) {
  std::vector<fs::path> files;
  fs::path dir = fs::path(ALERTBUS_SOURCE_DIR) / "tests/data/fuzz/adapter-regressions/met" / sub;
  if (!fs::is_directory(dir)) return files;
  for (auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().filename().string().rfind("README", 0) != 0) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void replay(const fs::path& file) {
  INFO(file.string());
  std::string bytes = slurp(file);
  met::MetOutput out;
  REQUIRE_NOTHROW(out = met::parseMetDocument(bytes, file.filename().string(), kNowMs));
  for (const auto& mb : out.output.messages) {
    auto m = mb->getRoot<schema::Message>().asReader();
    auto p = validateMessage(m, kNowMs);
    INFO("message " << m.getId().cStr() << ": "
                    << (p ? p->code + ": " + p->field + "=" + p->value + ": " + p->reason : std::string()));
    CHECK((!p || p->code == "expired"));
  }
}

}  // namespace

TEST_CASE("met: fuzzer regression inputs neither throw nor yield invalid messages", "[met][fuzz]") {
  auto files = inputs("");
  REQUIRE(files.size() >= 5);  // control characters, char refs to surrogates / beyond U+10FFFF, DEL, year 1018
  for (const auto& f : files) replay(f);
}
