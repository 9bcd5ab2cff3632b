// Corpus run (opt-in): ALERTBUS_FIRE_CORPUS=<dir> runs format detection and the fire parsers over every file in
// the directory and prints, per file, the format, accepted/rejected records, problem lines and clusters. Every
// message must pass validateMessage. Skipped with a message when the variable is unset.
#include <capnp/message.h>
#include <catch2/catch.hpp>

#include <cstdlib>
#include <dirent.h>
#include <fstream>
#include <iostream>
#include <sstream>
#include <sys/stat.h>

#include "adapters/fire/dispatch.h"
#include "adapters/fire/firms.h"
#include "adapters/fire/hotspot_clusterer.h"
#include "model/validate.h"
#include "schemas/message.capnp.h"

using namespace alertbus;
using namespace alertbus::fire;

TEST_CASE("fire corpus: every file in ALERTBUS_FIRE_CORPUS is detected and parsed", "[fire][corpus]") {
  const char* dir = std::getenv("ALERTBUS_FIRE_CORPUS");
  if (!dir || !*dir) {
    WARN("skipped: set ALERTBUS_FIRE_CORPUS to a directory of fire inputs to run the corpus");
    return;
  }
  std::vector<std::string> files;
  if (DIR* d = opendir(dir)) {
    while (auto* e = readdir(d)) {
      std::string path = std::string(dir) + "/" + e->d_name;
      struct stat st;
      if (e->d_name[0] != '.' && stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) files.push_back(path);
    }
    closedir(d);
  }
  std::sort(files.begin(), files.end());
  REQUIRE(!files.empty());
  const int64_t receivedMs = 1785211200000LL;  // 2026-07-28T04:00:00Z, after every capture
  for (auto& path : files) {
    std::ifstream f(path, std::ios::binary);
    std::ostringstream s;
    s << f.rdbuf();
    std::string bytes = s.str();
    FormatGuess g = detectFireFormat(bytes);
    adapter::Output out;
    size_t clusters = 0;
    if (g.format == FireFormat::dispatchJson) {
      DispatchTracker t;
      out = t.ingest(bytes, path, receivedMs);
    } else if (g.format == FireFormat::firmsModis || g.format == FireFormat::firmsViirs) {
      HotspotClusterer c;
      out = c.ingestCsv(bytes, path, receivedMs);
      clusters = c.stats().liveClusters;
    } else {
      out.problems.push_back({adapter::InputProblem::Level::error, path, "input", "format", "", g.description});
      out.rejected = 1;
    }
    size_t errors = 0;
    for (auto& p : out.problems) errors += p.level == adapter::InputProblem::Level::error;
    std::cout << path << ": " << g.description << ": accepted " << out.accepted << ", rejected " << out.rejected
              << ", problem lines " << out.problems.size() << " (" << errors << " errors), clusters " << clusters
              << ", messages " << out.messages.size() << "\n";
    for (size_t i = 0; i < out.problems.size() && i < 5; ++i) std::cout << "  " << out.problems[i].str() << "\n";
    for (auto& m : out.messages) {
      auto v = validateMessage(m->getRoot<schema::Message>().asReader(), receivedMs);
      INFO(path << ": " << (v ? v->field + ": " + v->reason : ""));
      CHECK(!v);
    }
  }
}
