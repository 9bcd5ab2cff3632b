// FIRMS CSV parser and format detection (adapters/fire/firms.h): MODIS and VIIRS layouts from the samples in
// tests/data/fire/ and the real captures of the corpus, every line rejection with field/value/reason, hostile
// input, and the shared helpers.
#include "adapters/fire/firms.h"

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "tests/unit/corpus.h"

using namespace alertbus;
using namespace alertbus::fire;
using namespace alertbus::testing;

namespace {

const std::string kDataDir = std::string(ALERTBUS_SOURCE_DIR) + "/tests/data/fire/";
constexpr int64_t kReceivedMs = 1785218400000LL;  // 2026-07-28T06:00:00Z

std::string readFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

std::string problems(const FirmsResult& r) {
  std::string s;
  for (auto& p : r.problems) s += p.str() + "\n";
  return s;
}

}  // namespace

TEST_CASE("firms: MODIS sample parses with one problem per bad line", "[fire][firms]") {
  auto csv = readFile(kDataDir + "modis-sample.csv");
  auto r = parseFirmsCsv(csv, "modis.csv", kReceivedMs);
  INFO(problems(r));
  CHECK(r.layout == FireFormat::firmsModis);
  CHECK(r.accepted == 4);
  CHECK(r.rejected == 4);
  CHECK(r.filtered == 1);  // confidence 12 < 30
  REQUIRE(r.hotspots.size() == 3);
  auto& h = r.hotspots[0];
  CHECK(h.lat == Approx(29.74512));
  CHECK(h.lon == Approx(121.85703));
  CHECK(h.scanKm == Approx(1.02));
  CHECK(h.trackKm == Approx(1.01));
  CHECK(h.timeMs == 1785215820000LL);  // 2026-07-28T05:17Z
  CHECK(formatIsoUtc(h.timeMs) == "2026-07-28T05:17:00Z");
  CHECK(h.frpMw == Approx(38.6));
  CHECK(h.brightnessK == Approx(331.2));
  CHECK(h.satellite == "T");
  CHECK(h.confidence == "82");
  CHECK(h.lineNo == 2);
  CHECK(h.line == "29.74512,121.85703,331.2,1.02,1.01,2026-07-28,0517,T,82,6.1NRT,299.1,38.6,D");
  CHECK(r.header.rfind("latitude,longitude,brightness", 0) == 0);

  struct Want {
    const char* position;
    const char* field;
    const char* value;
    const char* reason;
  };
  const Want want[] = {
      {"line 6", "latitude", "95.20000", "latitude 95.20000 out of range -90..90"},
      {"line 7", "acq_time", "2561", "acq_time 2561 is not hhmm"},
      {"line 8", "confidence", "x", "confidence 'x' is not l/n/h or 0-100"},
      {"line 9", "line", "29.70000,121.50000,310.0,1.0,1.0,2026-07-28,0517,T,60", "expected 13 columns, got 9"},
      {"input", "confidence", "1 lines", "1 hotspot(s) below the confidence threshold filtered"},
  };
  REQUIRE(r.problems.size() == std::size(want));
  for (size_t i = 0; i < std::size(want); ++i) {
    INFO(r.problems[i].str());
    CHECK(r.problems[i].position == want[i].position);
    CHECK(r.problems[i].field == want[i].field);
    CHECK(r.problems[i].value == want[i].value);
    CHECK(r.problems[i].reason.find(want[i].reason) != std::string::npos);
    CHECK(r.problems[i].source == "modis.csv");
  }
  CHECK(r.problems[3].level == adapter::InputProblem::Level::error);
  CHECK(r.problems[4].level == adapter::InputProblem::Level::warning);
}

TEST_CASE("firms: VIIRS sample with columns in another order and an extra column", "[fire][firms]") {
  auto r = parseFirmsCsv(readFile(kDataDir + "viirs-sample.csv"), "viirs.csv", kReceivedMs);
  INFO(problems(r));
  CHECK(r.layout == FireFormat::firmsViirs);
  CHECK(r.accepted == 4);
  CHECK(r.rejected == 1);
  CHECK(r.filtered == 1);  // "low"
  REQUIRE(r.hotspots.size() == 3);
  CHECK(r.hotspots[0].lat == Approx(29.74488));
  CHECK(r.hotspots[0].brightnessK == Approx(345.61));
  CHECK(r.hotspots[0].scanKm == Approx(0.39));
  CHECK(r.hotspots[2].confidence == "n");
  REQUIRE(r.problems.size() == 3);
  CHECK(r.problems[0].level == adapter::InputProblem::Level::warning);
  CHECK(r.problems[0].position == "line 1");
  CHECK(r.problems[0].value == "station");
  CHECK(r.problems[0].reason == "unknown column(s) ignored: station");
  CHECK(r.problems[1].field == "confidence");
  CHECK(r.problems[1].value == "maybe");
  CHECK(r.problems[1].reason == "confidence 'maybe' is not l/n/h or 0-100");
  CHECK(r.problems[2].reason.find("1 hotspot(s) below the confidence threshold") != std::string::npos);
}

TEST_CASE("firms: confidence thresholds are options", "[fire][firms]") {
  FireOptions opt;
  opt.modisMinConfidence = 80;
  opt.viirsMinConfidence = 'h';
  auto m = parseFirmsCsv(readFile(kDataDir + "modis-sample.csv"), "m", kReceivedMs, opt);
  CHECK(m.hotspots.size() == 1);
  CHECK(m.filtered == 3);
  auto v = parseFirmsCsv(readFile(kDataDir + "viirs-sample.csv"), "v", kReceivedMs, opt);
  CHECK(v.hotspots.size() == 1);
  opt.viirsMinConfidence = 'l';
  CHECK(parseFirmsCsv(readFile(kDataDir + "viirs-sample.csv"), "v", kReceivedMs, opt).hotspots.size() == 4);
}

TEST_CASE("firms: each value rejection names field value and reason", "[fire][firms]") {
  const std::string header =
      "latitude,longitude,brightness,scan,track,acq_date,acq_time,satellite,confidence,version,bright_t31,frp,"
      "daynight\n";
  struct Case {
    const char* line;
    const char* field;
    const char* value;
    const char* reason;
  };
  const Case cases[] = {
      {"abc,121.5,310,1,1,2026-07-28,0517,T,60,6.1NRT,296,5,D", "latitude", "abc", "latitude 'abc' is not a number"},
      {"29.7,181.5,310,1,1,2026-07-28,0517,T,60,6.1NRT,296,5,D", "longitude", "181.5",
       "longitude 181.5 out of range -180..180"},
      {"29.7,121.5,310,0,1,2026-07-28,0517,T,60,6.1NRT,296,5,D", "scan", "0", "scan '0' is not a pixel size"},
      {"29.7,121.5,310,1,55,2026-07-28,0517,T,60,6.1NRT,296,5,D", "track", "55", "track '55' is not a pixel size"},
      {"29.7,121.5,310,1,1,2026-02-30,0517,T,60,6.1NRT,296,5,D", "acq_date", "2026-02-30",
       "acq_date '2026-02-30' is not YYYY-MM-DD"},
      {"29.7,121.5,310,1,1,2026-07-28,12345,T,60,6.1NRT,296,5,D", "acq_time", "12345", "acq_time 12345 is not hhmm"},
      {"29.7,121.5,310,1,1,2026-07-28,0960,T,60,6.1NRT,296,5,D", "acq_time", "0960", "acq_time 0960 is not hhmm"},
      {"29.7,121.5,310,1,1,2026-07-28,0517,T,101,6.1NRT,296,5,D", "confidence", "101",
       "confidence '101' is not l/n/h or 0-100"},
      {"29.7,121.5,hot,1,1,2026-07-28,0517,T,60,6.1NRT,296,5,D", "brightness", "hot", "is not a temperature"},
      {"29.7,121.5,310,1,1,2026-07-28,0517,T,60,6.1NRT,296,-5,D", "frp", "-5", "is not a non-negative number"},
      {"29.7,121.5,310,1,1,2026-07-28,0517,T,60,6.1NRT,296,5,X", "daynight", "X", "is not D or N"},
      {"29.7,121.5,310,1,1,2026-07-29,0517,T,60,6.1NRT,296,5,D", "acq_date", "2026-07-29 0517", "is in the future"},
  };
  for (auto& c : cases) {
    auto r = parseFirmsCsv(header + c.line + "\n", "t.csv", kReceivedMs);
    INFO(c.line << "\n" << problems(r));
    CHECK(r.rejected == 1);
    CHECK(r.hotspots.empty());
    REQUIRE(r.problems.size() == 1);
    CHECK(r.problems[0].position == "line 2");
    CHECK(r.problems[0].field == c.field);
    CHECK(r.problems[0].value == c.value);
    CHECK(r.problems[0].reason.find(c.reason) != std::string::npos);
  }
  SECTION("short acq_time as in FIRMS API output, CRLF and blank lines") {
    auto r = parseFirmsCsv(header + "\r\n29.7,121.5,310,1,1,2026-07-28,3,T,60,6.1NRT,296,5,D\r\n\r\n", "t", kReceivedMs);
    INFO(problems(r));
    REQUIRE(r.hotspots.size() == 1);
    CHECK(formatIsoUtc(r.hotspots[0].timeMs) == "2026-07-28T00:03:00Z");
  }
}

TEST_CASE("firms: bad headers and hostile input never crash", "[fire][firms]") {
  FireOptions opt;
  opt.maxInputBytes = 1 << 20;
  SECTION("not a FIRMS header") {
    auto r = parseFirmsCsv("a,b,c\n1,2,3\n", "x", kReceivedMs, opt);
    CHECK(r.layout == FireFormat::unknown);
    REQUIRE(r.problems.size() == 1);
    CHECK(r.problems[0].field == "header");
    CHECK(r.problems[0].reason.find("missing column(s) latitude, longitude, acq_date, acq_time, confidence") !=
          std::string::npos);
    CHECK(r.rejected == 1);
  }
  SECTION("empty") {
    for (std::string s : {"", "\n\n", "\xEF\xBB\xBF"}) {
      auto r = parseFirmsCsv(s, "x", kReceivedMs, opt);
      CHECK(r.rejected == 1);
      CHECK(r.hotspots.empty());
    }
  }
  SECTION("too big, huge line, binary") {
    CHECK(parseFirmsCsv(std::string(opt.maxInputBytes + 1, 'a'), "x", kReceivedMs, opt).rejected == 1);
    std::string huge = readFile(kDataDir + "modis-sample.csv") + std::string(100000, '9') + "\n";
    auto r = parseFirmsCsv(huge, "x", kReceivedMs, opt);
    CHECK(r.problems[r.problems.size() - 2].reason.find("longer than maxLineBytes") != std::string::npos);
    std::string bin;
    for (int i = 0; i < 5000; ++i) bin += char(i * 7919 % 256);
    parseFirmsCsv("latitude,longitude,brightness,acq_date,acq_time,confidence\n" + bin, "x", kReceivedMs, opt);
  }
  SECTION("maxRecords") {
    opt.maxRecords = 2;
    std::string csv = "latitude,longitude,brightness,acq_date,acq_time,confidence\n";
    for (int i = 0; i < 5; ++i) csv += "29.7,121.5,310,2026-07-28,0517,60\n";
    auto r = parseFirmsCsv(csv, "x", kReceivedMs, opt);
    CHECK(r.hotspots.size() == 2);
    CHECK(r.rejected == 3);
  }
}

TEST_CASE("firms: format detection", "[fire][firms]") {
  CHECK(detectFireFormat(readFile(kDataDir + "modis-sample.csv")).format == FireFormat::firmsModis);
  CHECK(detectFireFormat(readFile(kDataDir + "viirs-sample.csv")).format == FireFormat::firmsViirs);
  CHECK(detectFireFormat("").description == "unsupported format (empty input)");
  CHECK(detectFireFormat("<alert/>").format == FireFormat::unknown);
  CHECK(detectFireFormat("hello,world\n").description.find("unsupported format (first line") == 0);
  CHECK(detectFireFormat(std::string(1000, '[')).description.find("nested deeper") != std::string::npos);
  CHECK(detectFireFormat(R"({"type":"Feature","geometry":null})").description == "unsupported format (GeoJSON Feature)");
}

// The real FIRMS captures of the corpus (tests/unit/corpus.h); each case is skipped (ctest) without its file.
TEST_CASE("firms: the real MODIS C6.1 Europe 24 h capture", "[fire][firms][corpus]") {
  const std::string rel = "fire/firms-modis-c61-europe-24h-2022-08-31.csv";
  auto f = corpusFile(rel);
  if (!f) return reportCorpusSkipped(rel + " is not in " + corpusDir());
  auto modis = readCorpusFile(f->path);
  CHECK(detectFireFormat(modis).format == FireFormat::firmsModis);
  auto r = parseFirmsCsv(modis, "modis", 1785211200000LL);
  INFO(problems(r));
  CHECK(r.rejected == 0);
  CHECK(r.accepted == 203);
  CHECK(r.hotspots.size() + r.filtered == 203);
}

TEST_CASE("firms: the real VIIRS S-NPP Europe 24 h capture", "[fire][firms][corpus]") {
  const std::string rel = "fire/firms-viirs-snpp-c2-europe-24h-2022-09-04.csv";
  auto f = corpusFile(rel);
  if (!f) return reportCorpusSkipped(rel + " is not in " + corpusDir());
  auto viirs = readCorpusFile(f->path);
  CHECK(detectFireFormat(viirs).format == FireFormat::firmsViirs);
  auto r = parseFirmsCsv(viirs, "viirs", 1785211200000LL);
  INFO(problems(r));
  CHECK(r.rejected == 0);
  CHECK(r.accepted == 1205);
  CHECK(r.filtered == 34);  // the "low" lines
}

TEST_CASE("firms: the real NSW RFS hazard-reduction JSON is refused as an unsupported format", "[fire][firms][corpus]") {
  const std::string rel = "fire/au-nsw-rfs-hazard-reduction-feed-2020-10-10.json";
  auto f = corpusFile(rel);
  if (!f) return reportCorpusSkipped(rel + " is not in " + corpusDir());
  auto g = detectFireFormat(readCorpusFile(f->path));
  CHECK(g.format == FireFormat::unknown);
  INFO(g.description);
  CHECK(g.description.find("unsupported format (JSON object with keys") == 0);
}

TEST_CASE("firms: helpers parse ISO 8601 with offsets", "[fire][firms]") {
  int64_t ms;
  REQUIRE(parseIsoTime("2026-07-28T09:15:00+08:00", ms));
  CHECK(ms == 1785201300000LL);
  REQUIRE(parseIsoTime("2026-07-28T01:15:00Z", ms));
  CHECK(ms == 1785201300000LL);
  REQUIRE(parseIsoTime("2026-07-28T01:15:00.250Z", ms));
  CHECK(ms == 1785201300250LL);
  REQUIRE(parseIsoTime("2026-07-28 09:15+0800", ms));
  CHECK(ms == 1785201300000LL);
  CHECK(!parseIsoTime("2026-07-28T09:15:00", ms));
  CHECK(!parseIsoTime("2026-13-28T09:15:00Z", ms));
  CHECK(!parseIsoTime("2026-07-28T24:15:00Z", ms));
  CHECK(!parseIsoTime("", ms));
  CHECK(formatIsoUtc(0) == "1970-01-01T00:00:00Z");
  CHECK(distanceKm(30, 120, 31, 120) == Approx(111.2).epsilon(0.01));
}
