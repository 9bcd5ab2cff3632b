// Readings parser (adapters/water/readings.h): CSV in its Chinese-hydrology variants (BOM, CRLF, CR, GBK),
// WaterML 2.0 (units, nil values, the USGS layout), format detection of the formats we do not read, and
// hostile input; the real captures of the corpus (tests/unit/corpus.h).
#include "adapters/water/readings.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "adapters/water/gauge_monitor.h"
#include "tests/unit/corpus.h"

using namespace alertbus;
using namespace alertbus::water;
using namespace alertbus::testing;

namespace {

const std::string kDataDir = std::string(ALERTBUS_SOURCE_DIR) + "/tests/data/water/";

std::string readFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

std::string problems(const ReadingsResult& r) {
  std::string s;
  for (auto& p : r.problems) s += p.str() + "\n";
  return s;
}

int64_t t(const char* text) {
  int64_t ms = 0;
  REQUIRE(parseWaterTime(text, 480, ms));
  return ms;
}

}  // namespace

TEST_CASE("readings: time formats", "[water][readings]") {
  int64_t ms = 0;
  CHECK(parseWaterTime("2026-07-28 08:00", 480, ms));
  CHECK(ms == 1785196800000LL);  // 2026-07-28T00:00:00Z
  CHECK(parseWaterTime("2026-07-28 08:00:00", 480, ms));
  CHECK(ms == 1785196800000LL);
  CHECK(parseWaterTime("2026/07/28 08:00", 480, ms));
  CHECK(ms == 1785196800000LL);
  CHECK(parseWaterTime("2026-07-28T00:00:00Z", 480, ms));
  CHECK(ms == 1785196800000LL);
  CHECK(parseWaterTime("2026-07-28T02:00:00.000+02:00", 480, ms));
  CHECK(ms == 1785196800000LL);
  CHECK(parseWaterTime("2026-07-27T20:00:00-0400", 480, ms));
  CHECK(ms == 1785196800000LL);
  CHECK(parseWaterTime("2026-07-28", 0, ms));  // a date alone: midnight at the default offset
  CHECK(ms == 1785196800000LL);
  for (const char* bad : {"", "2026-07-28 25:00", "2026-13-01 00:00", "2026-02-29 00:00", "2026-07-28 8:00",
                          "28/07/2026 08:00", "2026-07-28 08:00 junk", "2026-07-28T08:00+8"}) {
    INFO(bad);
    CHECK(!parseWaterTime(bad, 480, ms));
  }
}

TEST_CASE("readings: CSV sample with Z and Q", "[water][readings]") {
  WaterOptions opt;
  std::string csv = readFile(kDataDir + "readings.csv");
  auto r = parseReadings(csv, "readings.csv", opt);
  INFO(problems(r));
  CHECK(r.format == "csv");
  CHECK(r.problems.empty());
  REQUIRE(r.readings.size() == 7);
  const Reading& z = r.readings[0];
  CHECK(z.station == "70110400");
  CHECK(z.stationName == "余姚");
  CHECK(z.quantity == "waterLevel");
  CHECK(z.unit == "m");
  CHECK(z.value == Approx(2.41));
  CHECK(z.timeMs == t("2026-07-28 06:00"));
  CHECK(z.position == "line 2");
  CHECK(z.valueField == "Z");
  CHECK(z.original == "70110400,余姚,2026-07-28 06:00,2.41,120.5");
  CHECK(z.contentType == std::string(kCsvContentType));
  const Reading& q = r.readings[1];
  CHECK(q.quantity == "discharge");
  CHECK(q.unit == "m3/s");
  CHECK(q.value == Approx(120.5));
  CHECK(q.valueField == "Q");
  CHECK(r.readings[2].position == "line 3");  // empty Q: no reading for it
  CHECK(r.readings[5].quantity == "discharge");  // empty Z
  CHECK(r.readings[6].timeMs == t("2026-07-28 08:00"));  // ISO 8601 with offset
}

TEST_CASE("readings: GBK CSV decodes and keeps the original bytes", "[water][readings]") {
  WaterOptions opt;
  std::string gbk = readFile(kDataDir + "readings-gbk.csv");
  auto r = parseReadings(gbk, "readings-gbk.csv", opt);
  INFO(problems(r));
  CHECK(r.problems.empty());
  REQUIRE(r.readings.size() == 7);
  CHECK(r.readings[0].stationName == "余姚");
  CHECK(r.readings[6].stationName == "皎口水库");
  // provenance.original is the line as received: GBK bytes, not the UTF-8 conversion.
  CHECK(r.readings[0].original != "70110400,余姚,2026-07-28 06:00,2.41,120.5");
  CHECK(gbk.find(r.readings[0].original) != std::string::npos);
}

TEST_CASE("readings: BOM CRLF CR-only and blank lines", "[water][readings]") {
  WaterOptions opt;
  SECTION("BOM and CRLF with a blank line") {
    auto r = parseReadings(readFile(kDataDir + "readings-bom-crlf.csv"), "bom", opt);
    INFO(problems(r));
    CHECK(r.problems.empty());
    REQUIRE(r.readings.size() == 2);
    CHECK(r.readings[0].original == "70110400,2026-07-28 06:00,2.41");
    CHECK(r.readings[1].position == "line 4");
  }
  SECTION("CR-only line ends") {
    auto r = parseReadings(readFile(kDataDir + "readings-cr.csv"), "cr", opt);
    INFO(problems(r));
    CHECK(r.problems.empty());
    REQUIRE(r.readings.size() == 2);
    CHECK(r.readings[1].value == Approx(2.41));
  }
  SECTION("tab-separated, quoted cells, extra columns warned once") {
    auto r = parseReadings("STCD\tTM\tZ\tWPTN\n\"70110400\"\t2026-07-28 06:00\t2.41\t5\n", "tab", opt);
    INFO(problems(r));
    REQUIRE(r.readings.size() == 1);
    CHECK(r.readings[0].station == "70110400");
    REQUIRE(r.problems.size() == 1);
    CHECK(r.problems[0].level == adapter::InputProblem::Level::warning);
    CHECK(r.problems[0].value == "WPTN");
  }
}

TEST_CASE("readings: CSV rejections name field value and reason", "[water][readings]") {
  WaterOptions opt;
  auto r = parseReadings(readFile(kDataDir + "readings-bad.csv"), "bad.csv", opt);
  INFO(problems(r));
  REQUIRE(r.problems.size() == 3);  // the rest is judged by GaugeMonitor
  CHECK(r.rejected == 3);
  CHECK(r.problems[0].position == "line 3");
  CHECK(r.problems[0].field == "TM");
  CHECK(r.problems[0].value == "2026-07-28 25:00");
  CHECK(r.problems[1].position == "line 4");
  CHECK(r.problems[1].field == "Z");
  CHECK(r.problems[1].value == "abc");
  CHECK(r.problems[1].reason == "not a number");
  CHECK(r.problems[2].position == "line 10");
  CHECK(r.problems[2].reason == "neither Z nor Q given");
  CHECK(r.readings.size() == 8);
  SECTION("wrong cell count and a missing station code") {
    auto r2 = parseReadings("STCD,TM,Z\n70110400,2026-07-28 06:00,2.41,9,9\n,2026-07-28 06:00,2.41\n", "x", opt);
    REQUIRE(r2.problems.size() == 2);
    CHECK(r2.problems[0].field == "line");
    CHECK(r2.problems[1].field == "STCD");
  }
}

TEST_CASE("readings: WaterML 2.0 sample with units and nil values", "[water][readings]") {
  WaterOptions opt;
  auto r = parseReadings(readFile(kDataDir + "waterml2-sample.xml"), "wml.xml", opt);
  INFO(problems(r));
  CHECK(r.format == "waterml2");
  REQUIRE(r.readings.size() == 4);
  const Reading& a = r.readings[0];
  CHECK(a.station == "70120200");
  CHECK(a.stationName == "北渡(奉化江)");
  CHECK(a.quantity == "waterLevel");
  CHECK(a.unit == "m");
  CHECK(a.value == Approx(9.0 * 0.3048));
  CHECK(a.timeMs == t("2026-07-28 06:00"));
  CHECK(a.position == "series[1]/point[1]");
  CHECK(a.contentType == std::string(kWaterMl2ContentType));
  CHECK(a.original.find("<wml2:point>") == 0);
  CHECK(a.original.find("9.00") != std::string::npos);
  CHECK(r.readings[1].value == Approx(10.0 * 0.3048));
  CHECK(r.readings[2].quantity == "discharge");
  CHECK(r.readings[2].unit == "m3/s");
  CHECK(r.readings[2].value == Approx(10000 * 0.028316846592));
  CHECK(r.readings[3].value == Approx(12000));  // point metadata uom m3/s overrides the default ft3/s
  REQUIRE(r.problems.size() == 2);
  CHECK(r.rejected == 2);
  CHECK(r.problems[0].position == "series[1]/point[2]");
  CHECK(r.problems[0].field == "value");
  CHECK(r.problems[0].reason == "nil value");
  CHECK(r.problems[1].position == "series[1]/point[3]");
  CHECK(r.problems[1].reason == "nil value (missing)");
}

TEST_CASE("readings: WaterML 2.0 in the USGS daily-values layout", "[water][readings]") {
  // Shaped like USGS NWIS dv output: an empty first point, date-only times, ft3/s, no MonitoringPoint
  // identifier (the Collection's gml:identifier names the site), observedProperty by xlink:title.
  const char* xml = R"(<wml2:Collection gml:id="C.USGS.0001" xmlns:wml2="http://www.opengis.net/waterml/2.0"
 xmlns:gml="http://www.opengis.net/gml/3.2" xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:om="http://www.opengis.net/om/2.0">
 <gml:identifier codeSpace="http://waterservices.usgs.gov/nwis/dv">USGS.0001</gml:identifier>
 <wml2:observationMember><om:OM_Observation gml:id="o1">
  <om:observedProperty xlink:title="Discharge" xlink:href="http://waterdata.usgs.gov/nwisweb/rdf?parmCd=00060"/>
  <om:featureOfInterest xlink:title="SOME RIVER"><wml2:MonitoringPoint gml:id="USGS.MP.0001"/></om:featureOfInterest>
  <om:result><wml2:MeasurementTimeseries gml:id="ts">
   <wml2:defaultPointMetadata><wml2:DefaultTVPMeasurementMetadata><wml2:uom xlink:title="ft3/s"/></wml2:DefaultTVPMeasurementMetadata></wml2:defaultPointMetadata>
   <wml2:point><wml2:MeasurementTVP><wml2:metadata><wml2:TVPMeasurementMetadata/></wml2:metadata></wml2:MeasurementTVP></wml2:point>
   <wml2:point><wml2:MeasurementTVP><wml2:time>2014-09-01</wml2:time><wml2:value>2690.0</wml2:value></wml2:MeasurementTVP></wml2:point>
   <wml2:point><wml2:MeasurementTVP><wml2:time>2014-09-02</wml2:time><wml2:value>2750.0</wml2:value></wml2:MeasurementTVP></wml2:point>
  </wml2:MeasurementTimeseries></om:result></om:OM_Observation></wml2:observationMember></wml2:Collection>)";
  WaterOptions opt;
  opt.defaultUtcOffsetMinutes = 0;
  auto r = parseReadings(xml, "usgs", opt);
  INFO(problems(r));
  REQUIRE(r.readings.size() == 2);
  CHECK(r.readings[0].station == "USGS.0001");
  CHECK(r.readings[0].stationName == "SOME RIVER");
  CHECK(r.readings[0].quantity == "discharge");
  CHECK(r.readings[0].value == Approx(2690.0 * 0.028316846592));
  CHECK(r.readings[0].position == "point[2]");
  REQUIRE(r.problems.size() == 1);
  CHECK(r.problems[0].position == "point[1]");
  CHECK(r.problems[0].field == "time");
  CHECK(r.problems[0].reason == "time missing");
}

TEST_CASE("readings: the real USGS WaterML 2.0 capture (Potomac daily means)", "[water][readings][corpus]") {
  const std::string rel = "hydro/usgs-waterml2-dv-01646500-potomac.xml";
  auto f = corpusFile(rel);
  if (!f) return reportCorpusSkipped(rel + " is not in " + corpusDir());
  WaterOptions opt;
  opt.defaultUtcOffsetMinutes = 0;
  auto p = parseReadings(readCorpusFile(f->path), rel, opt);
  INFO(problems(p));
  CHECK(p.format == "waterml2");
  CHECK(p.readings.size() == 8);
  CHECK(p.rejected == 1);  // the first point carries metadata only
  REQUIRE(!p.readings.empty());
  CHECK(p.readings[0].station == "USGS.01646500");
}

TEST_CASE("readings: XML refusals", "[water][readings]") {
  WaterOptions opt;
  SECTION("DOCTYPE and ENTITY") {
    auto r = parseReadings(readFile(kDataDir + "waterml2-doctype.xml"), "x", opt);
    REQUIRE(r.problems.size() == 1);
    CHECK(r.problems[0].reason == "DOCTYPE/ENTITY declarations are refused");
    CHECK(r.readings.empty());
  }
  SECTION("malformed XML") {
    auto r = parseReadings("<wml2:Collection xmlns:wml2=\"http://www.opengis.net/waterml/2.0\"><a>", "x", opt);
    REQUIRE(r.problems.size() == 1);
    CHECK(r.problems[0].reason.find("malformed XML") == 0);
  }
  SECTION("WaterML 1.1") {
    auto r = parseReadings("<timeSeriesResponse xmlns=\"http://www.cuahsi.org/waterML/1.1/\"/>", "x", opt);
    REQUIRE(r.problems.size() == 1);
    CHECK(r.problems[0].reason == "unsupported format (looks like WaterML 1.x (CUAHSI))");
  }
  SECTION("other XML") {
    auto r = parseReadings("<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\"/>", "x", opt);
    REQUIRE(r.problems.size() == 1);
    CHECK(r.problems[0].reason.find("unsupported format (XML root <alert>") == 0);
  }
  SECTION("observed property that is not water") {
    auto r = parseReadings(R"(<w:Collection xmlns:w="http://www.opengis.net/waterml/2.0" xmlns:om="o" xmlns:x="l">
      <om:OM_Observation><om:observedProperty x:title="Temperature, water"/><om:result><w:MeasurementTimeseries>
      <w:point><w:MeasurementTVP><w:time>2026-07-28T00:00:00Z</w:time><w:value>21.5</w:value></w:MeasurementTVP></w:point>
      </w:MeasurementTimeseries></om:result></om:OM_Observation></w:Collection>)",
                           "x", opt);
    REQUIRE(r.problems.size() == 1);
    CHECK(r.problems[0].field == "observedProperty");
    CHECK(r.problems[0].value == "Temperature, water");
  }
}

TEST_CASE("readings: formats we do not read are named", "[water][readings]") {
  WaterOptions opt;
  struct Case {
    std::string input;
    const char* reason;
  };
  const Case cases[] = {
      {"#\n# U.S. Geological Survey\n#\nagency_cd\tsite_no\n5s\t15s\nUSGS\t01594440\n",
       "unsupported format (looks like USGS RDB)"},
      {"{\"name\":\"ns1:timeSeriesResponseType\",\"declaredType\":\"org.cuahsi.waterml.TimeSeriesResponseType\"}",
       "unsupported format (looks like USGS NWIS WaterML-JSON)"},
      {"{\n \"station\":{\"rloi_id\":1001}}", "unsupported format (looks like UK Environment Agency flood-monitoring JSON)"},
      {"[1,2,3]", "unsupported format (looks like JSON)"},
      {std::string("\x00\x01\x02garbage\xff\xfe", 12), "unsupported format (binary data)"},
      {"", "empty input"},
      {"\r\n\r\n  \n", "empty input"},
      {"hello world\nthis is not a CSV of readings\n",
       "unsupported format (CSV header must name STCD, TM and Z and/or Q)"},
  };
  for (auto& c : cases) {
    INFO(c.input.substr(0, 40));
    auto r = parseReadings(c.input, "x", opt);
    REQUIRE(r.problems.size() == 1);
    CHECK(r.problems[0].reason == c.reason);
    CHECK(r.readings.empty());
    CHECK(r.format.empty());
    CHECK(r.rejected == 1);
  }
}

TEST_CASE("readings: hostile sizes are bounded", "[water][readings]") {
  WaterOptions opt;
  SECTION("a 10 MB line") {
    std::string csv = "STCD,TM,Z\n" + std::string(10 * 1024 * 1024, '9') + "\n70110400,2026-07-28 06:00,2.41\n";
    auto r = parseReadings(csv, "long", opt);
    REQUIRE(r.problems.size() == 1);
    CHECK(r.problems[0].position == "line 2");
    CHECK(r.problems[0].reason.find("longer than 65536 bytes") != std::string::npos);
    CHECK(r.problems[0].value.size() <= 200);
    CHECK(r.readings.size() == 1);
  }
  SECTION("max_file_bytes") {
    opt.maxFileBytes = 16;
    auto r = parseReadings("STCD,TM,Z\n70110400,2026-07-28 06:00,2.41\n", "big", opt);
    REQUIRE(r.problems.size() == 1);
    CHECK(r.problems[0].field == "size");
  }
  SECTION("max_readings_per_input") {
    opt.maxReadingsPerInput = 2;
    auto r = parseReadings("STCD,TM,Z,Q\n1,2026-07-28 06:00,2.41,3\n1,2026-07-28 07:00,2.41,3\n", "many", opt);
    CHECK(r.readings.size() == 2);
    CHECK(r.rejected == 2);
  }
  SECTION("deeply nested XML") {
    std::string xml = "<w:Collection xmlns:w=\"http://www.opengis.net/waterml/2.0\">";
    for (int i = 0; i < 100000; ++i) xml += "<a>";
    for (int i = 0; i < 100000; ++i) xml += "</a>";
    xml += "</w:Collection>";
    auto r = parseReadings(xml, "deep", opt);
    REQUIRE(r.problems.size() == 1);
    CHECK(r.problems[0].field == "MeasurementTimeseries");
  }
  SECTION("invalid bytes that are neither UTF-8 nor GB18030") {
    auto r = parseReadings("STCD,TM,Z\n70110400,2026-07-28 06:00,2.41\n\x81\x20\x81\x20,2026-07-28 07:00,1\n", "enc", opt);
    REQUIRE(r.problems.size() == 1);
    CHECK(r.problems[0].reason == "neither valid UTF-8 nor GB18030/GBK text");
    CHECK(r.readings.size() == 1);
  }
}

// Every real hydrology capture (tests/unit/corpus.h): read, or refused with a named problem for each refusal;
// every reading names its station, quantity and time. scripts/corpus-check.sh prints what each file gave.
TEST_CASE("readings: every real water capture is read, or refused with a named problem", "[water][readings][corpus]") {
  const auto files = corpusFiles(CorpusParser::water);
  if (files.empty()) return reportCorpusSkipped("no water captures (hydro*, water*, gauge*, waterml*) in " + corpusDir());
  WaterOptions opt;
  for (const auto& f : files) {
    auto r = parseReadings(readCorpusFile(f.path), f.rel, opt);
    INFO(f.rel << ": format " << (r.format.empty() ? "-" : r.format) << ", accepted " << r.readings.size()
               << ", rejected " << r.rejected << "\n" << problems(r));
    CHECK(r.readings.size() + r.rejected > 0);
    if (r.rejected > 0) CHECK(!r.problems.empty());
    for (const auto& p : r.problems) {
      CHECK(p.source == f.rel);
      CHECK(!p.field.empty());
      CHECK(!p.reason.empty());
    }
    for (const auto& reading : r.readings) {
      CHECK(!reading.station.empty());
      CHECK((reading.quantity == "waterLevel" || reading.quantity == "discharge"));
      CHECK(reading.timeMs != 0);
    }
  }
}

TEST_CASE("readings: problems per input are capped and counted", "[water][readings]") {
  WaterOptions opt;
  opt.maxProblemsPerInput = 100;
  std::string csv = "STCD,TM,Z\n";
  for (int i = 0; i < 5000; ++i) csv += "70110400,bad time,1\n";
  auto r = parseReadings(csv, "many", opt);
  CHECK(r.rejected == 5000);
  REQUIRE(r.problems.size() == 101);
  CHECK(r.problems.back().field == "problems");
  CHECK(r.problems.back().value == "4900 more");
  SECTION("16 MB of one-byte lines stream through in bounded memory") {
    WaterOptions big;
    std::string lines = "STCD,TM,Z\n";
    lines.reserve(16 * 1024 * 1024 + 16);
    while (lines.size() < 16 * 1024 * 1024) lines += "x\n";
    auto b = parseReadings(lines, "lines", big);
    CHECK(b.problems.size() == big.maxProblemsPerInput + 1);
    CHECK(b.rejected > 8000000);
  }
}
