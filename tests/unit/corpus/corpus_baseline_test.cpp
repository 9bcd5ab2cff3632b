// Every adapter parser over every real capture (tests/unit/corpus.h), compared with the committed counts in
// tests/data/corpus-baseline.tsv: a file that was read and no longer is (fewer accepted, more rejected), a
// parser that throws on it, or a baseline file missing from the folder fails the test, naming the file and
// both counts; a file not in the baseline and a file read better than the baseline are reported (WARN).
// Regenerate after a deliberate change: scripts/corpus-check.sh --update-baseline (see the .tsv's header).
#include <capnp/message.h>
#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "adapters/fire/dispatch.h"
#include "adapters/fire/firms.h"
#include "adapters/fire/hotspot_clusterer.h"
#include "adapters/maritime/ais.h"
#include "adapters/maritime/navtex.h"
#include "adapters/met/detect.h"
#include "adapters/water/gauge_monitor.h"
#include "adapters/water/readings.h"
#include "tests/unit/corpus.h"

using namespace alertbus;
using namespace alertbus::testing;

namespace {

// Fixed, after every capture: the parsers that look at the clock (NAVTEX date-time groups, FIRMS ages) give
// the same counts on every run.
constexpr int64_t kReceivedMs = 1785211200000LL;  // 2026-07-28T04:00:00Z

struct Counts {
  size_t accepted = 0;
  size_t rejected = 0;
};

// What the adapter's parser makes of one whole input; the units are the baseline header's.
Counts readWith(CorpusParser parser, const std::string& bytes, const std::string& source) {
  switch (parser) {
    case CorpusParser::met: {
      met::MetOutput o = met::parseMetDocument(bytes, source, kReceivedMs);
      return {o.output.accepted + o.links.size(), o.output.rejected};
    }
    case CorpusParser::water: {
      water::WaterOptions opt;
      water::ReadingsResult r = water::parseReadings(bytes, source, opt);
      return {r.readings.size(), r.rejected};
    }
    case CorpusParser::fire: {
      fire::FormatGuess g = fire::detectFireFormat(bytes);
      if (g.format == fire::FireFormat::dispatchJson) {
        fire::DispatchTracker t;
        auto out = t.ingest(bytes, source, kReceivedMs);
        return {out.accepted, out.rejected};
      }
      if (g.format == fire::FireFormat::firmsModis || g.format == fire::FireFormat::firmsViirs) {
        fire::HotspotClusterer c;
        auto out = c.ingestCsv(bytes, source, kReceivedMs);
        return {out.accepted, out.rejected};
      }
      return {0, 1};  // the adapter refuses the whole file (unsupported format)
    }
    case CorpusParser::ais: {
      AisDecoder d;
      std::string_view all = bytes;
      size_t start = 0;
      while (start < all.size()) {  // lines end in LF, CRLF or CR alone, as alertbus-maritime splits them
        size_t end = all.find_first_of("\r\n", start);
        if (end == std::string_view::npos) end = all.size();
        d.feed(all.substr(start, end - start), kReceivedMs);
        start = end + 1;
      }
      return {d.counters().accepted, d.counters().rejected};
    }
    case CorpusParser::navtex: {
      auto out = maritime::parseNavtex(bytes, source, kReceivedMs);
      return {out.accepted, out.rejected};
    }
  }
  return {};
}

struct BaselineRow {
  std::string parser;
  Counts counts;
};

std::string baselinePath() {
  const char* env = std::getenv("ALERTBUS_CORPUS_BASELINE");
  return env && *env ? env : std::string(ALERTBUS_SOURCE_DIR) + "/tests/data/corpus-baseline.tsv";
}

// Reads the baseline; every malformed line is named in `errors` as "file:line: reason".
std::map<std::string, BaselineRow> readBaseline(const std::string& path, std::vector<std::string>& errors) {
  std::map<std::string, BaselineRow> rows;
  std::ifstream in(path);
  if (!in) {
    errors.push_back(path + ": cannot be read");
    return rows;
  }
  std::string line;
  for (size_t n = 1; std::getline(in, line); ++n) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream s(line);
    std::string rel, parser, acc, rej, rest;
    std::getline(s, rel, '\t');
    std::getline(s, parser, '\t');
    std::getline(s, acc, '\t');
    std::getline(s, rej, '\t');
    auto number = [](const std::string& t, size_t& v) {
      if (t.empty() || t.find_first_not_of("0123456789") != std::string::npos || t.size() > 12) return false;
      v = std::stoull(t);
      return true;
    };
    BaselineRow row{parser, {}};
    if (rel.empty() || parser.empty() || !number(acc, row.counts.accepted) || !number(rej, row.counts.rejected) ||
        std::getline(s, rest, '\t')) {
      errors.push_back(path + ":" + std::to_string(n) + ": expected path<TAB>parser<TAB>accepted<TAB>rejected, got \"" +
                       line + "\"");
      continue;
    }
    if (!rows.emplace(rel, row).second) errors.push_back(path + ":" + std::to_string(n) + ": " + rel + " listed twice");
  }
  return rows;
}

const char* kHeader =
    "# Per real capture (../shared/realdata, or $ALERTBUS_CORPUS), what its adapter's parser reads: path relative\n"
    "# to the corpus folder, parser, accepted, rejected. Checked by tests/unit/corpus/corpus_baseline_test.cpp:\n"
    "# fewer accepted or more rejected than here fails, as does a file listed here that is missing.\n"
    "#   met:    CAP/GB-T documents mapped, plus feed entry links to fetch; documents refused (a feed refused\n"
    "#           whole counts one)                                             (met::parseMetDocument)\n"
    "#   ais:    sentences decoded (single or reassembled); lines refused      (AisDecoder counters)\n"
    "#   navtex: messages; messages refused                                    (maritime::parseNavtex)\n"
    "#   water:  readings; readings refused (a file refused whole counts one)  (water::parseReadings)\n"
    "#   fire:   dispatch records or FIRMS detections; refused                 (fire adapter's parsers)\n"
    "# Regenerate after a deliberate change (and say why in the commit): scripts/corpus-check.sh --update-baseline\n";

// Writes the baseline as x.new, then renames it over the old one.
bool writeBaseline(const std::string& path, const std::vector<std::pair<CorpusFile, Counts>>& rows) {
  const std::string tmp = path + ".new";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << kHeader;
    for (auto& [f, c] : rows)
      out << f.rel << '\t' << corpusParserName(f.parser) << '\t' << c.accepted << '\t' << c.rejected << '\n';
    if (!out.flush()) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

std::string describe(const Counts& c) {
  return "accepted " + std::to_string(c.accepted) + ", rejected " + std::to_string(c.rejected);
}

}  // namespace

TEST_CASE("corpus: every real capture is read at least as well as tests/data/corpus-baseline.tsv says",
          "[corpus]") {
  const std::vector<CorpusFile> files = corpusFiles();
  if (files.empty()) return reportCorpusSkipped("no captures in " + corpusDir());
  const std::string path = baselinePath();

  std::vector<std::pair<CorpusFile, Counts>> now;
  std::vector<std::string> failures;  // regressions, throws, missing files: each fails the test
  for (const auto& f : files) {
    // Said before the parser runs, so that a crash's output names the file it crashed on.
    std::cout << "reading " << f.rel << " (" << corpusParserName(f.parser) << ")" << std::endl;
    try {
      now.emplace_back(f, readWith(f.parser, readCorpusFile(f.path), f.rel));
    } catch (const std::exception& e) {
      failures.push_back(f.rel + ": the " + corpusParserName(f.parser) + " parser threw: " + e.what());
    }
  }
  REQUIRE(failures.empty());

  const char* update = std::getenv("ALERTBUS_CORPUS_UPDATE_BASELINE");
  if (update && *update && std::string(update) != "0") {
    REQUIRE(writeBaseline(path, now));
    WARN("wrote " << now.size() << " rows to " << path);
    return;
  }

  std::vector<std::string> errors;
  auto baseline = readBaseline(path, errors);
  INFO("baseline " << path);
  for (auto& e : errors) FAIL_CHECK(e);

  std::vector<std::string> added, improved;
  for (auto& [f, c] : now) {
    auto it = baseline.find(f.rel);
    if (it == baseline.end()) {
      added.push_back(f.rel + " (" + corpusParserName(f.parser) + "): " + describe(c));
      continue;
    }
    const BaselineRow& b = it->second;
    const std::string got = describe(c), want = describe(b.counts);
    if (b.parser != corpusParserName(f.parser))
      failures.push_back(f.rel + ": read by the " + corpusParserName(f.parser) + " parser, the baseline says " +
                         b.parser);
    else if (c.accepted < b.counts.accepted || c.rejected > b.counts.rejected)
      failures.push_back(f.rel + " (" + b.parser + "): " + got + "; baseline " + want);
    else if (c.accepted != b.counts.accepted || c.rejected != b.counts.rejected)
      improved.push_back(f.rel + " (" + b.parser + "): " + got + "; baseline " + want);
    baseline.erase(it);
  }
  for (auto& [rel, b] : baseline)
    failures.push_back(rel + " (" + b.parser + "): in the baseline but not in " + corpusDir() +
                       " (removed or renamed? regenerate the baseline if that was meant)");

  auto lines = [](const std::vector<std::string>& v) {
    std::string s;
    for (auto& l : v) s += "\n  " + l;
    return s;
  };
  if (!added.empty())
    WARN("not in the baseline yet (add with scripts/corpus-check.sh --update-baseline):" << lines(added));
  if (!improved.empty())
    WARN("read better than the baseline (record it with scripts/corpus-check.sh --update-baseline):"
         << lines(improved));
  INFO("files read worse than the baseline, or missing:" << lines(failures));
  CHECK(failures.empty());
}
