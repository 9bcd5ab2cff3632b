// Replays the fire fuzzer's findings (tests/data/fuzz/adapter-regressions/fire/) through the calls
// fuzz/adapter_fuzz.cpp makes: detectFireFormat, a DispatchTracker fed the input twice (and its state reloaded),
// a HotspotClusterer fed it as FIRMS CSV, ticked an hour later, its state reloaded and ticked two days later.
// No call may throw, and every Message must pass validateMessage at the time of the call that produced it.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "adapters/fire/dispatch.h"
#include "adapters/fire/firms.h"
#include "adapters/fire/hotspot_clusterer.h"
#include "model/validate.h"

using namespace alertbus;

namespace {

namespace fs = std::filesystem;

constexpr int64_t kNowMs = 1785240000000LL;  // 2026-07-28T11:46:40Z, as in fuzz/adapter_fuzz.cpp
constexpr int64_t kHourMs = 3600 * 1000;

std::vector<fs::path> inputs() {
  std::vector<fs::path> files;
  fs::path dir = fs::path(ALERTBUS_SOURCE_DIR) / "tests/data/fuzz/adapter-regressions/fire";
  for (auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().filename().string().rfind("README", 0) != 0) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void requireValid(const adapter::Output& out, int64_t nowMs) {
  for (const auto& mb : out.messages) {
    auto m = mb->getRoot<schema::Message>().asReader();
    auto p = validateMessage(m, nowMs);
    INFO("message " << m.getId().cStr() << ": "
                    << (p ? p->code + ": " + p->field + "=" + p->value + ": " + p->reason : std::string()));
    CHECK_FALSE(p.has_value());
  }
}

}  // namespace

TEST_CASE("fire: fuzzer regression inputs neither throw nor yield invalid messages", "[fire][fuzz]") {
  auto files = inputs();
  for (const auto& f : files) {
    INFO(f.string());
    std::string in = slurp(f);
    REQUIRE_NOTHROW(fire::detectFireFormat(in));
    adapter::Output out;
    std::string error;

    fire::DispatchTracker dispatch;
    REQUIRE_NOTHROW(out = dispatch.ingest(in, "fuzz", kNowMs));
    requireValid(out, kNowMs);
    REQUIRE_NOTHROW(out = dispatch.ingest(in, "fuzz", kNowMs + 60000));
    requireValid(out, kNowMs + 60000);
    fire::DispatchTracker restored;
    CHECK(restored.loadState(dispatch.saveState(), &error));

    fire::HotspotClusterer clusters;
    REQUIRE_NOTHROW(out = clusters.ingestCsv(in, "fuzz", kNowMs));
    requireValid(out, kNowMs);
    REQUIRE_NOTHROW(out = clusters.tick(kNowMs + kHourMs));
    requireValid(out, kNowMs + kHourMs);
    fire::HotspotClusterer reloaded;
    CHECK(reloaded.loadState(clusters.saveState(), &error));
    REQUIRE_NOTHROW(out = reloaded.tick(kNowMs + 48 * kHourMs));
    requireValid(out, kNowMs + 48 * kHourMs);
  }
  CHECK_FALSE(files.empty());
}
