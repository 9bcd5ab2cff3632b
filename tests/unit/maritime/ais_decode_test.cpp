// `alertbus-maritime decode` as a pure stream (adapters/maritime/ais_decode.h): one JSON object per decoded
// report with every key, "not available" as null, the sentences of multi-sentence reports (also interleaved),
// and a diagnostic with the line number for every line or message that gives no report.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "adapters/maritime/ais_decode.h"

using namespace alertbus;
using namespace alertbus::maritime;
using nlohmann::json;

namespace {

constexpr int64_t kNowMs = 1785200400000LL;

struct Run {
  std::vector<json> reports;
  std::vector<std::string> diagnostics;
  std::vector<std::string> raw;  // the report lines as written
};

// Feeds `lines` (numbered from 1) and finishes.
Run decode(const std::vector<std::string>& lines) {
  AisDecodeStream s;
  std::vector<AisDecodeLine> out;
  for (size_t i = 0; i < lines.size(); ++i) s.feed(lines[i], i + 1, kNowMs, out);
  s.finish(out);
  Run r;
  for (auto& l : out) {
    if (l.kind == AisDecodeLine::Kind::report) {
      r.raw.push_back(l.text);
      r.reports.push_back(json::parse(l.text));
    } else {
      r.diagnostics.push_back(l.text);
    }
  }
  return r;
}

uint32_t degrees(double d) { return static_cast<uint32_t>(static_cast<int32_t>(std::lround(d * 600000))); }

std::string type1(uint32_t mmsi, double lat, double lon, uint32_t sog10, uint32_t cog10, uint32_t heading) {
  AisPayloadWriter w;
  w.put(1, 6);
  w.put(0, 2);
  w.put(mmsi, 30);
  w.put(0, 4);
  w.put(0x80, 8);
  w.put(sog10, 10);
  w.put(1, 1);
  w.put(degrees(lon), 28);
  w.put(degrees(lat), 27);
  w.put(cog10, 12);
  w.put(heading, 9);
  w.put(12, 6);
  w.put(0, 25);
  int fill = 0;
  std::string p = w.payload(&fill);
  return aisSentence(p, fill);
}

std::vector<std::string> type5(uint32_t mmsi, const std::string& name, const std::string& callsign, int shipType,
                               const std::string& seq, char channel) {
  AisPayloadWriter w;
  w.put(5, 6);
  w.put(0, 2);
  w.put(mmsi, 30);
  w.put(0, 2);
  w.put(9876543, 30);
  w.putText(callsign, 7);
  w.putText(name, 20);
  w.put(static_cast<uint32_t>(shipType), 8);
  w.put(0, 30);
  w.put(1, 4);
  w.put(0, 20);
  w.put(0, 8);
  w.putText("NINGBO", 20);
  w.put(0, 2);
  int fill = 0;
  std::string p = w.payload(&fill);
  return aisSentences(p, fill, seq, channel);
}

}  // namespace

TEST_CASE("ais decode: a position report is one JSON object with every key", "[ais][decode]") {
  const std::string s = type1(412345678, 29.95, 122.3, 123, 875, 88);
  auto r = decode({"# a comment", "", s});
  REQUIRE(r.reports.size() == 1);
  CHECK(r.diagnostics.empty());
  const json& j = r.reports[0];
  CHECK(j["line"] == 3);
  CHECK(j["type"] == 1);
  CHECK(j["part"].is_null());
  CHECK(j["mmsi"] == 412345678);
  CHECK(j["lat"].get<double>() == Approx(29.95).margin(1e-7));
  CHECK(j["lon"].get<double>() == Approx(122.3).margin(1e-7));
  CHECK(j["speed_knots"].get<double>() == Approx(12.3));
  CHECK(j["course_deg"].get<double>() == Approx(87.5));
  CHECK(j["heading_deg"] == 88);
  CHECK(j["name"].is_null());
  CHECK(j["callsign"].is_null());
  CHECK(j["ship_type"].is_null());
  CHECK(j["sentences"] == json::array({s}));
  // Keys in a fixed order, so the lines read as rows.
  CHECK(r.raw[0].rfind("{\"line\":3,\"type\":1,\"part\":null,\"mmsi\":412345678,\"lat\":29.95,\"lon\":122.3,", 0) == 0);
}

TEST_CASE("ais decode: the published type-1 example, with a tag block and receiver metadata kept in the sentence",
          "[ais][decode]") {
  const std::string tag = "s:r003669945,c:1241544035";
  char sum[4];
  std::snprintf(sum, sizeof sum, "%02X", nmeaChecksum(tag));
  const std::string line =
      "\\" + tag + "*" + sum + "\\!AIVDM,1,1,,B,15M67FC000G?ufbE`FepT@3n00Sa,0*5C,d-105,S0010";
  auto r = decode({line});
  REQUIRE(r.reports.size() == 1);
  CHECK(r.reports[0]["mmsi"] == 366053209);
  CHECK(r.reports[0]["lat"].get<double>() == Approx(37.8021183).margin(1e-7));
  CHECK(r.reports[0]["lon"].get<double>() == Approx(-122.3416183).margin(1e-7));
  CHECK(r.reports[0]["course_deg"].get<double>() == Approx(219.3));
  CHECK(r.reports[0]["heading_deg"] == 1);
  CHECK(r.reports[0]["sentences"][0] == line);
}

TEST_CASE("ais decode: not-available values are null", "[ais][decode]") {
  AisPayloadWriter w;
  w.put(1, 6);
  w.put(0, 2);
  w.put(412000009, 30);
  w.put(15, 4);
  w.put(0x80, 8);
  w.put(1023, 10);
  w.put(0, 1);
  w.put(degrees(181), 28);
  w.put(degrees(91), 27);
  w.put(3600, 12);
  w.put(511, 9);
  w.put(60, 6);
  w.put(0, 25);
  int fill = 0;
  std::string p = w.payload(&fill);
  auto r = decode({aisSentence(p, fill)});
  REQUIRE(r.reports.size() == 1);
  for (const char* k : {"lat", "lon", "speed_knots", "course_deg", "heading_deg"}) {
    INFO(k);
    CHECK(r.reports[0][k].is_null());
  }
  CHECK(r.reports[0]["mmsi"] == 412000009);
}

TEST_CASE("ais decode: static reports name the ship, and multi-sentence ones list their sentences", "[ais][decode]") {
  SECTION("type 5 in two sentences") {
    auto s = type5(412345678, "ZHE DAI YU 168", "BVZH7", 70, "3", 'B');
    REQUIRE(s.size() == 2);
    auto r = decode({s[0], s[1]});
    REQUIRE(r.reports.size() == 1);
    const json& j = r.reports[0];
    CHECK(j["type"] == 5);
    CHECK(j["line"] == 2);
    CHECK(j["name"] == "ZHE DAI YU 168");
    CHECK(j["callsign"] == "BVZH7");
    CHECK(j["ship_type"] == 70);
    CHECK(j["lat"].is_null());
    CHECK(j["sentences"] == json::array({s[0], s[1]}));
  }
  SECTION("two messages interleaved on different sequence ids keep their own sentences") {
    auto a = type5(412000001, "ALPHA", "AAAA", 70, "1", 'A');
    auto b = type5(412000002, "BRAVO", "BBBB", 80, "2", 'A');
    auto r = decode({a[0], b[0], type1(412000003, 30, 122, 10, 10, 10), b[1], a[1]});
    REQUIRE(r.reports.size() == 3);
    CHECK(r.reports[0]["type"] == 1);
    CHECK(r.reports[1]["name"] == "BRAVO");
    CHECK(r.reports[1]["sentences"] == json::array({b[0], b[1]}));
    CHECK(r.reports[1]["line"] == 4);
    CHECK(r.reports[2]["name"] == "ALPHA");
    CHECK(r.reports[2]["sentences"] == json::array({a[0], a[1]}));
    CHECK(r.diagnostics.empty());
  }
  SECTION("type 24 parts A and B say which part they are") {
    AisPayloadWriter wa;
    wa.put(24, 6);
    wa.put(0, 2);
    wa.put(413000001, 30);
    wa.put(0, 2);
    wa.putText("ZHE PU YU 22", 20);
    wa.put(0, 8);
    AisPayloadWriter wb;
    wb.put(24, 6);
    wb.put(0, 2);
    wb.put(413000001, 30);
    wb.put(1, 2);
    wb.put(30, 8);
    wb.put(0, 42);
    wb.putText("BYZP22", 7);
    wb.put(0, 36);
    int fa = 0, fb = 0;
    std::string pa = wa.payload(&fa), pb = wb.payload(&fb);
    auto r = decode({aisSentence(pa, fa), aisSentence(pb, fb)});
    REQUIRE(r.reports.size() == 2);
    CHECK(r.reports[0]["part"] == "A");
    CHECK(r.reports[0]["name"] == "ZHE PU YU 22");
    CHECK(r.reports[0]["callsign"].is_null());
    CHECK(r.reports[1]["part"] == "B");
    CHECK(r.reports[1]["callsign"] == "BYZP22");
    CHECK(r.reports[1]["ship_type"] == 30);
  }
}

TEST_CASE("ais decode: every line or message without a report gets a diagnostic with its line number", "[ais][decode]") {
  const std::string good = type1(412345678, 29.95, 122.3, 123, 875, 88);
  std::string badSum = good;
  badSum.back() = badSum.back() == '0' ? '1' : '0';
  auto lost = type5(412000111, "LOST", "X", 0, "7", 'A');
  auto restarted = type5(412000112, "AGAIN", "Y", 0, "5", 'B');
  AisPayloadWriter w4;  // type 4 base station report: well-formed, not decoded here
  w4.put(4, 6);
  w4.put(0, 2);
  w4.put(4130001, 30);
  w4.put(0, 130);
  int fill = 0;
  std::string p4 = w4.payload(&fill);
  auto r = decode({badSum, "RECEIVER RESTART", aisSentence(p4, fill), lost[1], restarted[0], restarted[0],
                   restarted[1], lost[0], "\xff\xfe garbage \x80"});
  INFO([&] {
    std::string s;
    for (auto& d : r.diagnostics) s += d + "\n";
    return s;
  }());
  REQUIRE(r.diagnostics.size() == 7);
  CHECK(r.diagnostics[0].rfind("line 1: checksum: *", 0) == 0);
  CHECK(r.diagnostics[0].find("mismatch (given != computed)") != std::string::npos);
  CHECK(r.diagnostics[1] == "line 2: line: RECEIVER RESTART: no '!' sentence start");
  CHECK(r.diagnostics[2] == "line 3: type 4: not decoded (types 1, 2, 3, 5, 18, 19 and 24 are)");
  CHECK(r.diagnostics[3] == "line 4: fragment: 2/2 seq 7 ch A talker AI: no pending group (fragment 1 missing or expired)");
  CHECK(r.diagnostics[4] ==
        "line 5: message of 1 fragment(s) of 2 (talker AI, sequence id 5, channel B) never completed: a new fragment 1 "
        "on line 6");
  CHECK(r.diagnostics[5].rfind("line 9: line: ", 0) == 0);  // garbage, shown with '?' for its bytes
  CHECK(r.diagnostics[6] ==
        "line 8: message of 1 fragment(s) of 2 (talker AI, sequence id 7, channel A) never completed: the input ended");
  REQUIRE(r.reports.size() == 1);  // the restarted message, from its second fragment 1
  CHECK(r.reports[0]["name"] == "AGAIN");
  CHECK(r.reports[0]["sentences"] == json::array({restarted[0], restarted[1]}));
  CHECK(r.reports[0]["line"] == 7);
}

TEST_CASE("ais decode: a refused fragment ends its message, named after the fragment's own reason", "[ais][decode]") {
  auto a = type5(412000001, "ALPHA", "AAAA", 70, "1", 'A');
  // Fragment 2 of a three-part message arrives where fragment 2 of 2 was expected.
  std::string wrong = aisSentence("0000", 0, 3, 2, "1", 'A');
  auto r = decode({a[0], wrong});
  REQUIRE(r.diagnostics.size() == 2);
  CHECK(r.diagnostics[0] == "line 2: fragment: 2/3 seq 1 ch A talker AI: fragment count differs from fragment 1");
  CHECK(r.diagnostics[1] ==
        "line 1: message of 1 fragment(s) of 2 (talker AI, sequence id 1, channel A) never completed: the fragment on "
        "line 2 was refused");
  CHECK(r.reports.empty());
}

TEST_CASE("ais decode: raw bytes that are not UTF-8 still give valid JSON", "[ais][decode]") {
  const std::string line = "\xb0\xa1\xff " + type1(412345678, 29.95, 122.3, 123, 875, 88);
  auto r = decode({line});  // decode() parses every report with nlohmann::json: it throws on invalid JSON
  REQUIRE(r.reports.size() == 1);
  CHECK(r.reports[0]["sentences"][0].get<std::string>().find("\xEF\xBF\xBD") == 0);  // U+FFFD
}
