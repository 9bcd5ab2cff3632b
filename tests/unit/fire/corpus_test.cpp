// Every real fire capture (tests/unit/corpus.h) through format detection and the fire parsers, as
// alertbus-fire reads it: something is read or the file is refused with a named problem, and every message
// passes validateMessage. Skipped (ctest) when the corpus has no fire captures; scripts/corpus-check.sh prints
// what each file gave.
#include <capnp/message.h>
#include <catch2/catch.hpp>

#include "adapters/fire/dispatch.h"
#include "adapters/fire/firms.h"
#include "adapters/fire/hotspot_clusterer.h"
#include "model/validate.h"
#include "schemas/message.capnp.h"
#include "tests/unit/corpus.h"

using namespace alertbus;
using namespace alertbus::fire;
using namespace alertbus::testing;

TEST_CASE("fire corpus: every real fire capture is detected and parsed, or refused with a named problem",
          "[fire][corpus]") {
  const auto files = corpusFiles(CorpusParser::fire);
  if (files.empty()) return reportCorpusSkipped("no fire captures (fire*, firms*, dispatch*) in " + corpusDir());
  const int64_t receivedMs = 1785211200000LL;  // 2026-07-28T04:00:00Z, after every capture
  for (const auto& f : files) {
    const std::string bytes = readCorpusFile(f.path);
    FormatGuess g = detectFireFormat(bytes);
    adapter::Output out;
    if (g.format == FireFormat::dispatchJson) {
      DispatchTracker t;
      out = t.ingest(bytes, f.rel, receivedMs);
    } else if (g.format == FireFormat::firmsModis || g.format == FireFormat::firmsViirs) {
      HotspotClusterer c;
      out = c.ingestCsv(bytes, f.rel, receivedMs);
    } else {
      INFO(f.rel << ": " << g.description);
      CHECK(g.description.rfind("unsupported format", 0) == 0);  // what the adapter refuses the file with
      continue;
    }
    std::string problems;
    for (auto& p : out.problems) problems += p.str() + "\n";
    INFO(f.rel << ": " << g.description << ": accepted " << out.accepted << ", rejected " << out.rejected << "\n"
               << problems);
    CHECK(out.accepted + out.rejected > 0);
    size_t errors = 0;
    for (auto& p : out.problems) {
      errors += p.level == adapter::InputProblem::Level::error;
      CHECK(!p.field.empty());
      CHECK(!p.reason.empty());
    }
    if (out.rejected > 0) CHECK(errors > 0);
    for (auto& m : out.messages) {
      auto v = validateMessage(m->getRoot<schema::Message>().asReader(), receivedMs);
      INFO((v ? v->field + "=" + v->value + ": " + v->reason : ""));
      CHECK(!v);
    }
  }
}
