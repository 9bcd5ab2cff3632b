// `alertbus-maritime decode FILE|-`, the real executable, on tests/data/ais/zhoushan-receiver.nmea (CRLF, a tag
// block, a prefix, multi-sentence and class B reports, bad lines): one JSON object per report on stdout, one
// "line N: reason" per undecodable line on stderr, exit 0; the same from standard input; exit 1 only when the
// input cannot be read. No config file and no broker are needed.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tests/integration/broker_process.h"

using namespace alertbus::test;
using nlohmann::json;

namespace {

const std::string kMaritime = ALERTBUS_MARITIME_BIN;
const std::string kSample = std::string(ALERTBUS_SOURCE_DIR) + "/tests/data/ais/zhoushan-receiver.nmea";

struct Decoded {
  int status = -1;
  std::vector<std::string> out, err;  // lines
};

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> v;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) v.push_back(l);
  return v;
}

// Runs `alertbus-maritime decode <args>` in `dir` (cwd: no config there), stdout and stderr apart.
Decoded run(const TempDir& dir, const std::string& args) {
  const std::string err = dir.file("stderr");
  // runCommand adds 2>&1 after the group; inside it, the executable's stderr goes to the file.
  auto r = runCommand("cd " + dir.path() + " && { " + kMaritime + " decode " + args + " 2>" + err + "; }");
  std::ifstream e(err);
  std::stringstream es;
  es << e.rdbuf();
  return {r.status, lines(r.out), lines(es.str())};
}

void checkSample(const Decoded& d) {
  INFO("stdout:\n" << [&] {
    std::string s;
    for (auto& l : d.out) s += l + "\n";
    return s;
  }() << "stderr:\n" << [&] {
    std::string s;
    for (auto& l : d.err) s += l + "\n";
    return s;
  }());
  CHECK(d.status == 0);
  REQUIRE(d.out.size() == 7);
  std::vector<json> j;
  for (auto& l : d.out) j.push_back(json::parse(l));  // every stdout line is one JSON object
  CHECK(j[0]["type"] == 1);
  CHECK(j[0]["mmsi"] == 412345678);
  CHECK(j[0]["lat"] == 29.95);
  CHECK(j[0]["lon"] == 122.3);
  CHECK(j[0]["speed_knots"] == 12.3);
  CHECK(j[0]["course_deg"] == 87.5);
  CHECK(j[0]["heading_deg"] == 88);
  CHECK(j[0]["line"] == 6);
  CHECK(j[0]["sentences"][0].get<std::string>().rfind("\\s:ZS01,c:1785200400*", 0) == 0);
  CHECK(j[1]["type"] == 5);
  CHECK(j[1]["name"] == "ZHE DAI YU 168");
  CHECK(j[1]["callsign"] == "BVZH7");
  CHECK(j[1]["ship_type"] == 70);
  CHECK(j[1]["sentences"].size() == 2);  // CRLF ends are not part of the sentences
  CHECK(j[1]["sentences"][1] == "!AIVDM,2,2,3,B,00000000000,2*24");
  CHECK(j[2]["type"] == 18);
  CHECK(j[2]["heading_deg"].is_null());
  CHECK(j[3]["part"] == "A");
  CHECK(j[4]["part"] == "B");
  CHECK(j[4]["callsign"] == "BYZP22");
  CHECK(j[5]["type"] == 19);
  CHECK(j[5]["name"] == "ZHOU GANG TUO 3");
  CHECK(j[5]["lat"] == 29.88);
  CHECK(j[6]["lat"].is_null());
  REQUIRE(d.err.size() == 5);
  CHECK(d.err[0] == "line 16: checksum: *50 != *5C: mismatch (given != computed)");
  CHECK(d.err[1] == "line 17: line: RECEIVER ZS01 RESTART: no '!' sentence start");
  CHECK(d.err[2] == "line 18: type 4: not decoded (types 1, 2, 3, 5, 18, 19 and 24 are)");
  CHECK(d.err[3].rfind("line 19: fragment: 2/2 seq 7", 0) == 0);
  CHECK(d.err[4] ==
        "line 20: message of 1 fragment(s) of 2 (talker AI, sequence id 7, channel A) never completed: the input ended");
}

}  // namespace

TEST_CASE("maritime decode: a receiver log becomes one JSON line per report, bad lines on stderr", "[maritime][decode]") {
  TempDir dir;
  SECTION("from a file") { checkSample(run(dir, kSample)); }
  SECTION("from standard input") { checkSample(run(dir, "- < " + kSample)); }
}

TEST_CASE("maritime decode: exit status is non-zero only when the input cannot be read", "[maritime][decode]") {
  TempDir dir;
  SECTION("a missing file") {
    auto d = run(dir, dir.file("no-such.nmea"));
    CHECK(d.status == 1);
    REQUIRE(d.err.size() == 1);
    CHECK(d.err[0] == "alertbus-maritime decode: " + dir.file("no-such.nmea") + ": No such file or directory");
    CHECK(d.out.empty());
  }
  SECTION("a directory") {
    auto d = run(dir, dir.path());
    CHECK(d.status == 1);
    REQUIRE(!d.err.empty());
    CHECK(d.err.back().find("read error") != std::string::npos);
  }
  SECTION("nothing decodable is still a success") {
    std::ofstream(dir.file("junk.txt")) << "hello\nworld";
    auto d = run(dir, dir.file("junk.txt"));
    CHECK(d.status == 0);
    CHECK(d.out.empty());
    REQUIRE(d.err.size() == 2);
    CHECK(d.err[1] == "line 2: line: world: no '!' sentence start");  // the last line has no line end
  }
}
