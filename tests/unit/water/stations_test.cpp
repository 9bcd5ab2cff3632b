// Stations file parser (adapters/water/stations.h) against tests/data/water/: UTF-8 and GBK samples, the
// header rules (unknown columns refuse the file) and every row rejection naming its field and value.
#include "adapters/water/stations.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <sstream>

#include "adapters/water/gauge_monitor.h"

using namespace alertbus;
using namespace alertbus::water;

namespace {

const std::string kDataDir = std::string(ALERTBUS_SOURCE_DIR) + "/tests/data/water/";

std::string readFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

std::string problems(const StationsResult& r) {
  std::string s;
  for (auto& p : r.problems) s += p.str() + "\n";
  return s;
}

const std::string kHeader = "STCD,STNM,ADDVCD,LGTD,LTTD,STTP,FRZ,WRZ,GRZ\n";

}  // namespace

TEST_CASE("stations: Ningbo sample in UTF-8 gives six stations with thresholds", "[water][stations]") {
  WaterOptions opt;
  auto r = parseStations(readFile(kDataDir + "stations.csv"), "stations.csv", opt);
  INFO(problems(r));
  REQUIRE(r.problems.empty());
  REQUIRE(r.stations.size() == 6);
  const Station& yy = r.stations[0];
  CHECK(yy.code == "70110400");
  CHECK(yy.name == "余姚(姚江)");
  CHECK(yy.adminCode == "330281");
  CHECK(yy.lon == Approx(121.1545));
  CHECK(yy.lat == Approx(30.0452));
  CHECK(yy.kind == Station::Kind::river);
  CHECK(std::string(yy.event()) == "river-level");
  CHECK(yy.frzM == Approx(2.50));
  CHECK(yy.wrzM == Approx(2.93));
  CHECK(yy.grzM == Approx(3.43));
  CHECK(yy.maxRiseMPerH == Approx(opt.defaultMaxRiseMPerH));
  CHECK(std::isnan(r.stations[1].frzM));
  CHECK(r.stations[2].type == "ZQ");
  CHECK(r.stations[2].maxRiseMPerH == Approx(1.5));
  CHECK(r.stations[4].kind == Station::Kind::reservoir);
  CHECK(std::string(r.stations[4].event()) == "reservoir-level");
  CHECK(std::isnan(r.stations[5].wrzM));
}

TEST_CASE("stations: GBK-encoded sample decodes to the same stations", "[water][stations]") {
  WaterOptions opt;
  auto utf8 = parseStations(readFile(kDataDir + "stations.csv"), "stations.csv", opt);
  std::string gbk = readFile(kDataDir + "stations-gbk.csv");
  REQUIRE(gbk != readFile(kDataDir + "stations.csv"));  // really re-encoded
  auto r = parseStations(gbk, "stations-gbk.csv", opt);
  INFO(problems(r));
  REQUIRE(r.problems.empty());
  REQUIRE(r.stations.size() == utf8.stations.size());
  for (size_t i = 0; i < r.stations.size(); ++i) CHECK(r.stations[i].name == utf8.stations[i].name);
  CHECK(r.stations[4].name == "皎口水库");
}

TEST_CASE("stations: header rules", "[water][stations]") {
  WaterOptions opt;
  SECTION("unknown columns refuse the file and are named") {
    auto r = parseStations("STCD,STNM,ADDVCD,LGTD,LTTD,STTP,WRZZ,备注\n1,a,330281,121,30,ZZ,1,x\n", "s.csv", opt);
    CHECK(r.fileRejected);
    CHECK(r.stations.empty());
    REQUIRE(r.problems.size() == 1);
    CHECK(r.problems[0].position == "line 1");
    CHECK(r.problems[0].field == "header");
    CHECK(r.problems[0].value == "WRZZ,备注");
    CHECK(r.problems[0].reason.find("unknown columns") != std::string::npos);
  }
  SECTION("columns in any order, lower case, with BOM and CRLF") {
    auto r = parseStations("\xEF\xBB\xBFsttp,lttd,lgtd,stcd,stnm,addvcd,wrz\r\nRR,29.78,121.27,X1,皎口,330203,20\r\n",
                           "s.csv", opt);
    INFO(problems(r));
    REQUIRE(r.stations.size() == 1);
    CHECK(r.stations[0].code == "X1");
    CHECK(r.stations[0].wrzM == Approx(20));
  }
  SECTION("a required column missing") {
    auto r = parseStations("STCD,STNM,LGTD,LTTD,STTP\n", "s.csv", opt);
    CHECK(r.fileRejected);
    REQUIRE(r.problems.size() == 1);
    CHECK(r.problems[0].value == "ADDVCD");
  }
  SECTION("empty input") {
    auto r = parseStations("", "s.csv", opt);
    CHECK(r.fileRejected);
    CHECK(r.problems.size() == 1);
  }
  SECTION("larger than max_file_bytes") {
    opt.maxFileBytes = 10;
    auto r = parseStations(kHeader, "s.csv", opt);
    CHECK(r.fileRejected);
    CHECK(r.problems[0].field == "size");
  }
}

TEST_CASE("stations: each bad row is refused naming field and value and the rest goes through", "[water][stations]") {
  WaterOptions opt;
  std::string csv = kHeader +
                    "70110400,余姚,330281,121.15,30.04,ZZ,2.50,2.93,3.43\n"  // line 2 good
                    "70110401,甲,330281,121.15,30.04,ZZ,3.00,2.93,3.43\n"    // line 3 FRZ >= WRZ
                    "70110402,乙,330281,121.15,30.04,ZZ,,3.50,3.43\n"        // line 4 WRZ >= GRZ
                    "70110403,丙,33028,121.15,30.04,ZZ,,,\n"                 // line 5 ADDVCD
                    "70110404,丁,330281,121.15,30.04,XX,,,\n"                // line 6 STTP
                    "70110405,戊,330281,200,30.04,ZZ,,,\n"                   // line 7 LGTD
                    "70110406,己,330281,121.15,north,ZZ,,,\n"                // line 8 LTTD
                    "70110400,重复,330281,121.15,30.04,ZZ,,,\n"              // line 9 duplicate
                    "bad code,庚,330281,121.15,30.04,ZZ,,,\n"                // line 10 STCD
                    "70110407,辛,330281,121.15,30.04,ZZ,abc,,\n"             // line 11 FRZ
                    "70110408,壬,330281000000,121.15,30.04,RR,,,\n";         // line 12 good, 12-digit code
  auto r = parseStations(csv, "s.csv", opt);
  INFO(problems(r));
  REQUIRE(r.stations.size() == 2);
  CHECK(r.stations[1].adminCode == "330281000000");
  REQUIRE(r.problems.size() == 9);
  struct Want {
    const char* pos;
    const char* field;
    const char* value;
    const char* reason;
  };
  const Want want[] = {{"line 3", "WRZ", "2.93", "FRZ=3.00 >= WRZ=2.93"},
                       {"line 4", "GRZ", "3.43", "WRZ=3.50 >= GRZ=3.43"},
                       {"line 5", "ADDVCD", "33028", "6 or 12 digits"},
                       {"line 6", "STTP", "XX", "ZZ or ZQ"},
                       {"line 7", "LGTD", "200", "-180..180"},
                       {"line 8", "LTTD", "north", "-90..90"},
                       {"line 9", "STCD", "70110400", "duplicate"},
                       {"line 10", "STCD", "bad code", "station code"},
                       {"line 11", "FRZ", "abc", "not a number"}};
  for (size_t i = 0; i < 9; ++i) {
    INFO(r.problems[i].str());
    CHECK(r.problems[i].source == "s.csv");
    CHECK(r.problems[i].position == want[i].pos);
    CHECK(r.problems[i].field == want[i].field);
    CHECK(r.problems[i].value == want[i].value);
    CHECK(r.problems[i].reason.find(want[i].reason) != std::string::npos);
  }
  CHECK(r.problems[0].reason.find("70110401") != std::string::npos);  // names the station
}

TEST_CASE("stations: max_stations bounds the list", "[water][stations]") {
  WaterOptions opt;
  opt.maxStations = 2;
  std::string csv = kHeader;
  for (int i = 0; i < 5; ++i) csv += "S" + std::to_string(i) + ",n,330281,121,30,ZZ,,,\n";
  auto r = parseStations(csv, "s.csv", opt);
  CHECK(r.stations.size() == 2);
  CHECK(r.problems.size() == 3);
  CHECK(r.problems[0].reason.find("max_stations") != std::string::npos);
}

TEST_CASE("stations: hostile input does not crash", "[water][stations]") {
  WaterOptions opt;
  std::string garbage;
  for (int i = 0; i < 5000; ++i) garbage += char((i * 7919) % 256);
  auto r1 = parseStations(garbage, "g", opt);
  CHECK(!r1.problems.empty());
  std::string longLine = kHeader + std::string(10 * 1024 * 1024, 'x') + "\n";
  auto r2 = parseStations(longLine, "long", opt);
  REQUIRE(r2.problems.size() == 1);
  CHECK(r2.problems[0].reason.find("longer than") != std::string::npos);
  auto r3 = parseStations(kHeader + "\"unterminated,1,2\n", "q", opt);
  CHECK(r3.problems.size() == 1);
}
