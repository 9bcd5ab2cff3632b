// AIS decoder: framing (checksum, tag block, prefixes, trailing metadata, line ends), reassembly (interleaving,
// missing and out-of-order fragments, table bound, expiry), every decoded type, "not available" values and
// hostile input. Sentences are written here with AisPayloadWriter, plus the widely published type-1 example.
// Also every real AIS capture of the corpus (tests/unit/corpus.h).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>

#include "adapters/maritime/ais.h"
#include "tests/unit/corpus.h"

using namespace alertbus;

namespace {

constexpr int64_t kNowMs = 1719792000000LL;  // 2024-07-01T00:00Z

struct PositionSpec {
  int type = 1;
  uint32_t mmsi = 244123456;
  int status = 0, rot = 0;
  uint32_t sog = 123;           // 0.1 kn
  int accuracy = 1;
  int32_t lon = 2700000;        // 1/10000 min: 4.5 E
  int32_t lat = 31230000;       // 52.05 N
  uint32_t cog = 2345, heading = 234, second = 42;
};

std::string positionPayload(const PositionSpec& s, int* fill) {
  AisPayloadWriter w;
  w.put(static_cast<uint32_t>(s.type), 6);
  w.put(0, 2);
  w.put(s.mmsi, 30);
  if (s.type == 18) {
    w.put(0, 8);
    w.put(s.sog, 10);
    w.put(static_cast<uint32_t>(s.accuracy), 1);
    w.put(static_cast<uint32_t>(s.lon), 28);
    w.put(static_cast<uint32_t>(s.lat), 27);
    w.put(s.cog, 12);
    w.put(s.heading, 9);
    w.put(s.second, 6);
    w.put(0, 29);
  } else {
    w.put(static_cast<uint32_t>(s.status), 4);
    w.put(static_cast<uint32_t>(s.rot), 8);
    w.put(s.sog, 10);
    w.put(static_cast<uint32_t>(s.accuracy), 1);
    w.put(static_cast<uint32_t>(s.lon), 28);
    w.put(static_cast<uint32_t>(s.lat), 27);
    w.put(s.cog, 12);
    w.put(s.heading, 9);
    w.put(s.second, 6);
    w.put(0, 25);
  }
  return w.payload(fill);
}

std::string positionSentence(const PositionSpec& s, char channel = 'A') {
  int fill = 0;
  std::string p = positionPayload(s, &fill);
  return aisSentence(p, fill, 1, 1, "", channel);
}

std::string type5Payload(uint32_t mmsi, std::string_view name, std::string_view destination, int* fill) {
  AisPayloadWriter w;
  w.put(5, 6);
  w.put(0, 2);
  w.put(mmsi, 30);
  w.put(0, 2);
  w.put(9123456, 30);                // IMO
  w.putText("PBCD", 7);
  w.putText(name, 20);
  w.put(70, 8);                      // cargo
  w.put(150, 9);
  w.put(40, 9);
  w.put(12, 6);
  w.put(13, 6);
  w.put(1, 4);                       // EPFD
  w.put(7, 4);                       // ETA July 14 09:30
  w.put(14, 5);
  w.put(9, 5);
  w.put(30, 6);
  w.put(105, 8);                     // 10.5 m
  w.putText(destination, 20);
  w.put(0, 2);
  return w.payload(fill);            // 424 bits: 71 chars, fill 2
}

AisPosition position(const AisResult& r) {
  REQUIRE(r.outcome == AisOutcome::Decoded);
  REQUIRE(std::holds_alternative<AisPosition>(r.message));
  return std::get<AisPosition>(r.message);
}

AisStatic statics(const AisResult& r) {
  REQUIRE(r.outcome == AisOutcome::Decoded);
  REQUIRE(std::holds_alternative<AisStatic>(r.message));
  return std::get<AisStatic>(r.message);
}

std::string withTag(std::string_view tagFields) {
  char cs[8];
  std::snprintf(cs, sizeof cs, "*%02X", nmeaChecksum(tagFields));
  return "\\" + std::string(tagFields) + cs + "\\";
}

const char* kDocExample = "!AIVDM,1,1,,B,15M67FC000G?ufbE`FepT@3n00Sa,0*5C";

}  // namespace

TEST_CASE("ais: the published type-1 example decodes to MMSI 366053209 off San Francisco", "[ais]") {
  AisDecoder d;
  AisResult r = d.feed(kDocExample, kNowMs);
  AisPosition p = position(r);
  CHECK(p.type == 1);
  CHECK(p.mmsi == 366053209u);
  CHECK(p.navStatus == 3);
  CHECK(p.rotRaw == 0);
  CHECK(*p.rotDegPerMin == Approx(0.0));
  CHECK(*p.sogKnots == Approx(0.0));
  CHECK_FALSE(p.positionAccurate);
  CHECK(*p.lonDeg == Approx(-122.3416183).epsilon(1e-9));
  CHECK(*p.latDeg == Approx(37.8021183).epsilon(1e-9));
  CHECK(*p.cogDeg == Approx(219.3));
  CHECK(p.headingDeg == 1);
  CHECK(p.utcSecond == 59);
  CHECK(r.channel == 'B');
  CHECK(r.timeMs == kNowMs);
  CHECK(r.timeSource == AisTimeSource::Received);
  CHECK(d.counters().accepted == 1);
}

TEST_CASE("ais: checksum", "[ais]") {
  AisDecoder d;
  SECTION("bad checksum names given and computed values") {
    AisResult r = d.feed("!AIVDM,1,1,,B,15M67FC000G?ufbE`FepT@3n00Sa,0*4F", kNowMs);
    REQUIRE(r.outcome == AisOutcome::Rejected);
    CHECK(r.rejection.field == "checksum");
    CHECK(r.rejection.value == "*4F != *5C");
    CHECK(r.rejection.text() == "checksum: *4F != *5C: mismatch (given != computed)");
    CHECK(d.counters().rejectedByReason.at("checksum: mismatch (given != computed)") == 1);
  }
  SECTION("lower-case hex is accepted") {
    CHECK(d.feed("!AIVDM,1,1,,B,15M67FC000G?ufbE`FepT@3n00Sa,0*5c", kNowMs).outcome == AisOutcome::Decoded);
  }
  SECTION("missing or malformed") {
    CHECK(d.feed("!AIVDM,1,1,,B,15M67FC000G?ufbE`FepT@3n00Sa,0", kNowMs).rejection.reason == "missing '*hh'");
    CHECK(d.feed("!AIVDM,1,1,,B,15M67FC000G?ufbE`FepT@3n00Sa,0*5", kNowMs).rejection.reason == "malformed '*hh'");
    CHECK(d.feed("!AIVDM,1,1,,B,15M67FC000G?ufbE`FepT@3n00Sa,0*XZ", kNowMs).rejection.field == "checksum");
  }
  SECTION("a corrupted payload character fails the checksum") {
    AisResult r = d.feed("!AIVDM,1,1,,B,15M67FC000G?ufbE`FepT@3n00Sb,0*5C", kNowMs);
    CHECK(r.rejection.field == "checksum");
  }
}

TEST_CASE("ais: tag block, prefixes, trailing metadata and line ends", "[ais]") {
  AisDecoder d;
  SECTION("tag block c: sets the time") {
    AisResult r = d.feed(withTag("s:2573345,c:1565352001") + kDocExample, kNowMs);
    CHECK(position(r).mmsi == 366053209u);
    CHECK(r.timeMs == 1565352001000LL);
    CHECK(r.timeSource == AisTimeSource::TagBlock);
  }
  SECTION("tag block with a bad checksum is rejected") {
    AisResult r = d.feed(std::string("\\s:2573345,c:1565352001*00\\") + kDocExample, kNowMs);
    REQUIRE(r.outcome == AisOutcome::Rejected);
    CHECK(r.rejection.field == "tag block checksum");
    CHECK(r.rejection.value.rfind("*00 != *", 0) == 0);
  }
  SECTION("tag block with a one-digit checksum or no closing backslash") {
    CHECK(d.feed(std::string("\\c:1565352001*A\\") + kDocExample, kNowMs).rejection.field == "tag block checksum");
    CHECK(d.feed(std::string("\\c:1565352001*11") + kDocExample, kNowMs).rejection.field == "tag block");
  }
  SECTION("tag block c: in milliseconds") {
    CHECK(d.feed(withTag("c:1565352001123") + kDocExample, kNowMs).timeMs == 1565352001123LL);
  }
  SECTION("ISO prefix") {
    AisResult r = d.feed(std::string("2019-08-09 12:00:01 ") + kDocExample, kNowMs);
    CHECK(position(r).mmsi == 366053209u);
    CHECK(r.timeMs == 1565352001000LL);
    CHECK(r.timeSource == AisTimeSource::Prefix);
  }
  SECTION("bracketed ISO prefix with milliseconds") {
    CHECK(d.feed(std::string("[2019-08-09 12:00:01.250] ") + kDocExample, kNowMs).timeMs == 1565352001250LL);
    CHECK(d.feed(std::string("2019-08-09T12:00:01Z ") + kDocExample, kNowMs).timeMs == 1565352001000LL);
  }
  SECTION("unix seconds prefix with fraction") {
    CHECK(d.feed(std::string("1565352001.123 ") + kDocExample, kNowMs).timeMs == 1565352001123LL);
  }
  SECTION("an unparseable prefix is stripped and the received time kept") {
    AisResult r = d.feed(std::string("rx7: ") + kDocExample, kNowMs);
    CHECK(position(r).mmsi == 366053209u);
    CHECK(r.timeSource == AisTimeSource::Received);
  }
  SECTION("prefix and tag block: the tag block wins") {
    AisResult r = d.feed("2019-08-09 12:00:01 " + withTag("c:1565352999") + kDocExample, kNowMs);
    CHECK(r.timeMs == 1565352999000LL);
  }
  SECTION("trailing receiver metadata") {
    CHECK(position(d.feed(std::string(kDocExample) + ",1565352001", kNowMs)).mmsi == 366053209u);
    CHECK(position(d.feed(std::string(kDocExample) + " rssi=-90", kNowMs)).mmsi == 366053209u);
    CHECK(position(d.feed(std::string(kDocExample) + ",d-109,S2105,t050056.00\r\n", kNowMs)).mmsi == 366053209u);
  }
  SECTION("CR, LF and CRLF") {
    for (const char* end : {"\r", "\n", "\r\n"})
      CHECK(d.feed(std::string(kDocExample) + end, kNowMs).outcome == AisOutcome::Decoded);
  }
  SECTION("blank lines and comments are ignored, not counted as rejections") {
    CHECK(d.feed("", kNowMs).outcome == AisOutcome::Ignored);
    CHECK(d.feed("\r\n", kNowMs).outcome == AisOutcome::Ignored);
    CHECK(d.feed("# comment", kNowMs).outcome == AisOutcome::Ignored);
    CHECK(d.counters().ignored == 3);
    CHECK(d.counters().rejected == 0);
  }
  SECTION("other talkers and VDO") {
    PositionSpec s;
    int fill = 0;
    std::string p = positionPayload(s, &fill);
    CHECK(position(d.feed(aisSentence(p, fill, 1, 1, "", 'B', "BSVDM"), kNowMs)).mmsi == s.mmsi);
    AisResult r = d.feed(aisSentence(p, fill, 1, 1, "", 'B', "ABVDO"), kNowMs);
    CHECK(position(r).mmsi == s.mmsi);
    CHECK(r.ownShip);
    CHECK(d.feed(aisSentence(p, fill, 1, 1, "", 'B', "GPGGA"), kNowMs).rejection.reason == "not a VDM/VDO sentence");
  }
}

TEST_CASE("ais: types 1, 2, 3 and 18 with all fields", "[ais]") {
  AisDecoder d;
  for (int type : {1, 2, 3, 18}) {
    PositionSpec s;
    s.type = type;
    s.status = 5;
    s.rot = static_cast<uint32_t>(-20) & 0xff;
    s.lon = -2700000;  // 4.5 W
    s.lat = -31230000;  // 52.05 S
    AisPosition p = position(d.feed(positionSentence(s), kNowMs));
    CHECK(p.type == type);
    CHECK(p.mmsi == 244123456u);
    CHECK(*p.sogKnots == Approx(12.3));
    CHECK(p.positionAccurate);
    CHECK(*p.lonDeg == Approx(-4.5));
    CHECK(*p.latDeg == Approx(-52.05));
    CHECK(*p.cogDeg == Approx(234.5));
    CHECK(p.headingDeg == 234);
    CHECK(p.utcSecond == 42);
    if (type == 18) {
      CHECK_FALSE(p.navStatus);
      CHECK_FALSE(p.rotRaw);
    } else {
      CHECK(p.navStatus == 5);
      CHECK(p.rotRaw == -20);
      CHECK(*p.rotDegPerMin == Approx(-(20 / 4.733) * (20 / 4.733)));
    }
  }
  CHECK(d.counters().accepted == 4);
}

TEST_CASE("ais: not available values are absent", "[ais]") {
  AisDecoder d;
  for (int type : {1, 18}) {
    PositionSpec s;
    s.type = type;
    s.rot = 0x80;               // -128
    s.sog = 1023;
    s.lon = 181 * 600000;
    s.lat = 91 * 600000;
    s.cog = 3600;
    s.heading = 511;
    s.second = 60;
    AisPosition p = position(d.feed(positionSentence(s), kNowMs));
    CHECK_FALSE(p.sogKnots);
    CHECK_FALSE(p.lonDeg);
    CHECK_FALSE(p.latDeg);
    CHECK_FALSE(p.cogDeg);
    CHECK_FALSE(p.headingDeg);
    CHECK_FALSE(p.utcSecond);
    CHECK_FALSE(p.rotRaw);
    CHECK_FALSE(p.rotDegPerMin);
  }
  SECTION("ROT +-127 keeps the raw value but no rate; SOG 102.2 is present") {
    PositionSpec s;
    s.rot = 127;
    s.sog = 1022;
    AisPosition p = position(d.feed(positionSentence(s), kNowMs));
    CHECK(p.rotRaw == 127);
    CHECK_FALSE(p.rotDegPerMin);
    CHECK(*p.sogKnots == Approx(102.2));
  }
}

TEST_CASE("ais: type 5 over two sentences, interleaved with another type 5", "[ais]") {
  AisDecoder d;
  int fill = 0;
  std::string a = type5Payload(244000001, "ZEEBRUGGE EXPRESS", "ROTTERDAM", &fill);
  std::string b = type5Payload(244000002, "NORDIC@STAR", "HULL  ", &fill);
  REQUIRE(fill == 2);
  auto sa = aisSentences(a, fill, "1", 'A');
  auto sb = aisSentences(b, fill, "2", 'A');
  REQUIRE(sa.size() == 2);
  SECTION("consecutive") {
    CHECK(d.feed(sa[0], kNowMs).outcome == AisOutcome::Pending);
    CHECK(d.pendingGroups() == 1);
    AisStatic s = statics(d.feed(sa[1], kNowMs));
    CHECK(s.type == 5);
    CHECK(s.mmsi == 244000001u);
    CHECK(s.imo == 9123456u);
    CHECK(s.callsign == "PBCD");
    CHECK(s.name == "ZEEBRUGGE EXPRESS");
    CHECK(s.shipType == 70);
    CHECK(s.toBowM == 150);
    CHECK(s.toSternM == 40);
    CHECK(s.toPortM == 12);
    CHECK(s.toStarboardM == 13);
    CHECK(s.etaMonth == 7);
    CHECK(s.etaDay == 14);
    CHECK(s.etaHour == 9);
    CHECK(s.etaMinute == 30);
    CHECK(*s.draughtM == Approx(10.5));
    CHECK(s.destination == "ROTTERDAM");
    CHECK(d.pendingGroups() == 0);
  }
  SECTION("interleaved by sequence id") {
    CHECK(d.feed(sa[0], kNowMs).outcome == AisOutcome::Pending);
    CHECK(d.feed(sb[0], kNowMs).outcome == AisOutcome::Pending);
    CHECK(d.feed(kDocExample, kNowMs).outcome == AisOutcome::Decoded);
    CHECK(statics(d.feed(sb[1], kNowMs)).name == "NORDICSTAR");
    CHECK(statics(d.feed(sa[1], kNowMs)).name == "ZEEBRUGGE EXPRESS");
  }
  SECTION("same sequence id on different channels does not mix") {
    auto sb1 = aisSentences(b, fill, "1", 'B');
    CHECK(d.feed(sa[0], kNowMs).outcome == AisOutcome::Pending);
    CHECK(d.feed(sb1[0], kNowMs).outcome == AisOutcome::Pending);
    CHECK(statics(d.feed(sa[1], kNowMs)).mmsi == 244000001u);
    AisStatic s = statics(d.feed(sb1[1], kNowMs));
    CHECK(s.mmsi == 244000002u);
    CHECK(s.destination == "HULL");
  }
  SECTION("missing first fragment") {
    AisResult r = d.feed(sa[1], kNowMs);
    REQUIRE(r.outcome == AisOutcome::Rejected);
    CHECK(r.rejection.field == "fragment");
    CHECK(r.rejection.value == "2/2 seq 1 ch A talker AI");
    CHECK(r.rejection.reason == "no pending group (fragment 1 missing or expired)");
  }
  SECTION("missing middle fragment of three") {
    auto s3 = aisSentences(a, fill, "3", 'A', 30);
    REQUIRE(s3.size() == 3);
    CHECK(d.feed(s3[0], kNowMs).outcome == AisOutcome::Pending);
    AisResult r = d.feed(s3[2], kNowMs);
    CHECK(r.rejection.reason == "out of order or missing fragment");
    CHECK(d.pendingGroups() == 0);
    CHECK(d.counters().droppedGroups == 1);
  }
  SECTION("fragment 1 repeated restarts the group") {
    CHECK(d.feed(sa[0], kNowMs).outcome == AisOutcome::Pending);
    CHECK(d.feed(sa[0], kNowMs).outcome == AisOutcome::Pending);
    CHECK(statics(d.feed(sa[1], kNowMs)).mmsi == 244000001u);
    CHECK(d.counters().droppedByReason.at("fragment: restarted before completion") == 1);
  }
  SECTION("expiry by sentences and by time") {
    AisDecoderOptions o;
    o.maxGroupAgeSentences = 3;
    o.maxGroupAgeMs = 1000;
    AisDecoder e(o);
    CHECK(e.feed(sa[0], kNowMs).outcome == AisOutcome::Pending);
    for (int i = 0; i < 3; ++i) e.feed(kDocExample, kNowMs);
    CHECK(e.feed(sa[1], kNowMs).rejection.field == "fragment");
    CHECK(e.feed(sa[0], kNowMs).outcome == AisOutcome::Pending);
    CHECK(e.feed(sa[1], kNowMs + 1001).rejection.field == "fragment");
    CHECK(e.counters().droppedByReason.at("fragment: expired before completion") == 2);
  }
  SECTION("fill bits count on the last fragment: 5 leave 421 bits (420 needed), 6 are refused") {
    auto s5 = aisSentences(a, 5, "1", 'A');
    CHECK(d.feed(s5[0], kNowMs).outcome == AisOutcome::Pending);
    CHECK(statics(d.feed(s5[1], kNowMs)).destination == "ROTTERDAM");
    auto cut = aisSentences(a.substr(0, 69), 0, "1", 'A');  // 414 bits
    CHECK(d.feed(cut[0], kNowMs).outcome == AisOutcome::Pending);
    AisResult r = d.feed(cut[1], kNowMs);
    CHECK(r.rejection.value == "type 5, 414 bits (needs 420)");
    CHECK(r.rejection.reason == "truncated");
  }
}

TEST_CASE("ais: the fragment table is bounded and evicts the oldest group", "[ais]") {
  AisDecoderOptions o;
  o.maxPendingGroups = 4;
  AisDecoder d(o);
  int fill = 0;
  std::string p = type5Payload(244000001, "A", "B", &fill);
  std::vector<std::vector<std::string>> groups;
  for (char ch : {'A', 'B'})
    for (const char* seq : {"1", "2", "3"}) groups.push_back(aisSentences(p, fill, seq, ch));
  for (auto& g : groups) CHECK(d.feed(g[0], kNowMs).outcome == AisOutcome::Pending);
  CHECK(d.pendingGroups() == 4);
  CHECK(d.counters().droppedByReason.at("fragment: evicted: fragment table full") == 2);
  CHECK(d.feed(groups[0][1], kNowMs).outcome == AisOutcome::Rejected);
  CHECK(d.feed(groups[1][1], kNowMs).outcome == AisOutcome::Rejected);
  for (size_t i = 2; i < groups.size(); ++i) CHECK(d.feed(groups[i][1], kNowMs).outcome == AisOutcome::Decoded);
  CHECK(d.pendingGroups() == 0);
}

TEST_CASE("ais: type 19 class B extended", "[ais]") {
  AisPayloadWriter w;
  w.put(19, 6);
  w.put(0, 2);
  w.put(367000019, 30);
  w.put(0, 8);
  w.put(55, 10);
  w.put(0, 1);
  w.put(static_cast<uint32_t>(-73500000) & 0xfffffff, 28);  // 122.5 W
  w.put(22200000, 27);                                       // 37 N
  w.put(900, 12);
  w.put(511, 9);
  w.put(12, 6);
  w.put(0, 4);
  w.putText("SEA SPRITE", 20);
  w.put(37, 8);
  w.put(10, 9);
  w.put(5, 9);
  w.put(2, 6);
  w.put(2, 6);
  w.put(1, 4);
  w.put(0, 7);
  int fill = 0;
  std::string payload = w.payload(&fill);
  AisDecoder d;
  AisResult r = d.feed(aisSentence(payload, fill, 1, 1, "", 'B'), kNowMs);
  REQUIRE(r.outcome == AisOutcome::Decoded);
  REQUIRE(std::holds_alternative<AisClassBExtended>(r.message));
  const auto& x = std::get<AisClassBExtended>(r.message);
  CHECK(x.position.type == 19);
  CHECK(x.position.mmsi == 367000019u);
  CHECK(*x.position.sogKnots == Approx(5.5));
  CHECK(*x.position.lonDeg == Approx(-122.5));
  CHECK(*x.position.latDeg == Approx(37.0));
  CHECK(*x.position.cogDeg == Approx(90.0));
  CHECK_FALSE(x.position.headingDeg);
  CHECK(x.statics.name == "SEA SPRITE");
  CHECK(x.statics.shipType == 37);
  CHECK(x.statics.toBowM == 10);
  CHECK(x.statics.toStarboardM == 2);
}

TEST_CASE("ais: type 24 parts A and B", "[ais]") {
  AisDecoder d;
  SECTION("part A name") {
    AisPayloadWriter w;
    w.put(24, 6);
    w.put(0, 2);
    w.put(338000024, 30);
    w.put(0, 2);
    w.putText("LITTLE WING   ", 20);
    int fill = 0;
    std::string p = w.payload(&fill);
    CHECK(fill == 2);
    AisStatic s = statics(d.feed(aisSentence(p, fill), kNowMs));
    CHECK(s.part == 0);
    CHECK(s.mmsi == 338000024u);
    CHECK(s.name == "LITTLE WING");
    SECTION("fill bits that cut into the name field make it truncated") {
      AisResult r = d.feed(aisSentence(p, 5), kNowMs);
      CHECK(r.rejection.field == "payload");
      CHECK(r.rejection.value == "type 24, 157 bits (needs 160)");
      CHECK(d.feed(aisSentence(p, 6), kNowMs).rejection.field == "fill bits");
    }
  }
  SECTION("part B type, callsign, dimensions") {
    AisPayloadWriter w;
    w.put(24, 6);
    w.put(0, 2);
    w.put(338000024, 30);
    w.put(1, 2);
    w.put(36, 8);
    w.putText("ABC", 3);
    w.put(0, 4);
    w.put(0, 20);
    w.putText("WDX1234", 7);
    w.put(8, 9);
    w.put(4, 9);
    w.put(2, 6);
    w.put(1, 6);
    w.put(0, 6);
    int fill = 0;
    AisStatic s = statics(d.feed(aisSentence(w.payload(&fill), fill), kNowMs));
    CHECK(s.part == 1);
    CHECK(s.shipType == 36);
    CHECK(s.callsign == "WDX1234");
    CHECK(s.toBowM == 8);
    CHECK(s.toSternM == 4);
    CHECK(s.toPortM == 2);
    CHECK(s.toStarboardM == 1);
  }
  SECTION("reserved part number 3 on a 174-bit report (seen from Class B units in a 2023 capture)") {
    AisPayloadWriter w;
    w.put(24, 6);
    w.put(0, 2);
    w.put(338000024, 30);
    w.put(3, 2);
    w.put(0, 134);
    int fill = 0;
    AisResult r = d.feed(aisSentence(w.payload(&fill), fill), kNowMs);
    CHECK(r.rejection.field == "type 24 part number");
    CHECK(r.rejection.value == "3");
  }
}

TEST_CASE("ais: skipped, unknown and truncated payloads", "[ais]") {
  AisDecoder d;
  SECTION("type 4 is skipped, not rejected") {
    AisPayloadWriter w;
    w.put(4, 6);
    w.put(0, 162);
    int fill = 0;
    AisResult r = d.feed(aisSentence(w.payload(&fill), fill), kNowMs);
    CHECK(r.outcome == AisOutcome::Skipped);
    CHECK(r.skippedType == 4);
    CHECK(d.counters().skippedByType[4] == 1);
    CHECK(d.counters().rejected == 0);
  }
  SECTION("type 0 and type 40 are rejected") {
    CHECK(d.feed(aisSentence("0000000000000000", 0), kNowMs).rejection.field == "type");
    CHECK(d.feed(aisSentence("P000000000000000", 0), kNowMs).rejection.field == "type");
  }
  SECTION("truncated type 1") {
    AisResult r = d.feed(aisSentence("15M67FC000G?ufbE`Fep", 0), kNowMs);
    CHECK(r.rejection.field == "payload");
    CHECK(r.rejection.value == "type 1, 120 bits (needs 143)");
    CHECK(r.rejection.reason == "truncated");
  }
  SECTION("empty, tiny and bad-character payloads") {
    CHECK(d.feed("!AIVDM,1,1,,B,,0*25", kNowMs).rejection.reason == "empty");
    CHECK(d.feed(aisSentence("1", 0), kNowMs).rejection.reason == "truncated");
    AisResult r = d.feed(aisSentence("15M67FC000G?ufbE`FepT@3n00S~", 0), kNowMs);
    CHECK(r.rejection.reason == "character outside the 6-bit armour");
    CHECK(r.rejection.value == "~");
  }
  SECTION("bad fields") {
    CHECK(d.feed(aisSentence("15M67FC000G?ufbE`FepT@3n00Sa", 0, 0, 1), kNowMs).rejection.field == "fragment count");
    CHECK(d.feed(aisSentence("15M67FC000G?ufbE`FepT@3n00Sa", 0, 2, 3), kNowMs).rejection.field == "fragment number");
    CHECK(d.feed(aisSentence("15M67FC000G?ufbE`FepT@3n00Sa", 0, 1, 1, "12"), kNowMs).rejection.field ==
          "sequence id");
    CHECK(d.feed("$PGHP,1,2008,5,9,0,0,0,10,338,2,,1,09*17", kNowMs).rejection.field == "sentence");
    CHECK(d.feed("IamNotAnAisMessage1111", kNowMs).rejection.field == "line");
  }
}

TEST_CASE("ais: garbage never crashes and every line has one counted outcome", "[ais]") {
  AisDecoderOptions o;
  o.maxPendingGroups = 8;
  AisDecoder d(o);
  std::mt19937 rng(12345);
  int fill = 0;
  std::string t5 = type5Payload(244000001, "X", "Y", &fill);
  std::vector<std::string> seeds{kDocExample, withTag("c:1565352001") + kDocExample};
  for (auto& s : aisSentences(t5, fill, "4", 'B')) seeds.push_back(s);
  const std::string alphabet = "!\\*,$0123456789ABCDEFabcdef:@`w.-VDMO \r\n\x01\xff";
  uint64_t nonBlank = 0;
  for (int i = 0; i < 200000; ++i) {
    std::string line;
    if (rng() % 2) {
      line = seeds[rng() % seeds.size()];
      int edits = 1 + static_cast<int>(rng() % 4);
      for (int e = 0; e < edits && !line.empty(); ++e) {
        size_t at = rng() % line.size();
        switch (rng() % 3) {
          case 0: line[at] = alphabet[rng() % alphabet.size()]; break;
          case 1: line.erase(at, 1 + rng() % 5); break;
          default: line.insert(at, 1, alphabet[rng() % alphabet.size()]);
        }
      }
    } else {
      size_t n = rng() % 120;
      for (size_t k = 0; k < n; ++k) line.push_back(alphabet[rng() % alphabet.size()]);
    }
    AisResult r = d.feed(line, kNowMs + i);
    if (r.outcome == AisOutcome::Rejected) {
      CHECK_FALSE(r.rejection.field.empty());
      CHECK_FALSE(r.rejection.reason.empty());
    }
    if (r.outcome != AisOutcome::Ignored) ++nonBlank;
  }
  const AisCounters& c = d.counters();
  CHECK(c.accepted + c.rejected + c.skipped + c.pending == nonBlank);
  CHECK(d.pendingGroups() <= 8);
}

// Every real AIS capture (tests/unit/corpus.h), line by line as alertbus-maritime splits it: each non-blank line
// ends in exactly one counted outcome, each refusal names its field and reason, and every decoded report is an
// MMSI with positions and courses in range. scripts/corpus-check.sh prints per-file counts and reasons.
TEST_CASE("ais: every real AIS capture is decoded line by line with counted outcomes", "[ais][corpus]") {
  const auto files = alertbus::testing::corpusFiles(alertbus::testing::CorpusParser::ais);
  if (files.empty())
    return alertbus::testing::reportCorpusSkipped("no AIS captures (ais*, nmea*, maritime*) in " +
                                                  alertbus::testing::corpusDir());
  for (const auto& f : files) {
    AisDecoder d;
    const std::string content = alertbus::testing::readCorpusFile(f.path);
    uint64_t outcomes[5] = {};
    size_t start = 0;
    while (start < content.size()) {  // lines end in LF, CRLF or CR alone
      size_t end = content.find_first_of("\r\n", start);
      if (end == std::string::npos) end = content.size();
      AisResult r = d.feed(std::string_view(content).substr(start, end - start), kNowMs);
      ++outcomes[static_cast<int>(r.outcome)];
      INFO(f.rel << ": " << content.substr(start, std::min<size_t>(end - start, 120)));
      if (r.outcome == AisOutcome::Rejected) {
        CHECK(!r.rejection.field.empty());
        CHECK(!r.rejection.reason.empty());
      }
      const AisPosition* p = std::get_if<AisPosition>(&r.message);
      if (auto* x = std::get_if<AisClassBExtended>(&r.message)) p = &x->position;
      if (p) {
        CHECK(p->mmsi != 0);
        if (p->latDeg) CHECK(std::abs(*p->latDeg) <= 90);
        if (p->lonDeg) CHECK(std::abs(*p->lonDeg) <= 180);
        if (p->cogDeg) CHECK((*p->cogDeg >= 0 && *p->cogDeg < 360));
        if (p->headingDeg) CHECK((*p->headingDeg >= 0 && *p->headingDeg < 360));
      }
      if (auto* s = std::get_if<AisStatic>(&r.message)) CHECK(s->mmsi != 0);
      start = end + 1;
    }
    const AisCounters& c = d.counters();
    INFO(f.rel << ": accepted " << c.accepted << ", rejected " << c.rejected << ", skipped " << c.skipped
               << ", pending " << c.pending);
    CHECK(c.accepted == outcomes[static_cast<int>(AisOutcome::Decoded)]);
    CHECK(c.rejected == outcomes[static_cast<int>(AisOutcome::Rejected)]);
    CHECK(c.skipped == outcomes[static_cast<int>(AisOutcome::Skipped)]);
    CHECK(c.pending == outcomes[static_cast<int>(AisOutcome::Pending)]);
    CHECK(c.accepted > 0);  // a receiver capture holds at least one report this decoder reads
  }
}
