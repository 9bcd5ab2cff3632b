// NAVTEX parsing: framing (CR, LF, CRLF, chunked streams, missing NNNN, garbled headers), every subject
// indicator, every position form, date-time groups, garble ratio, cancellations, ids, and validateMessage on all
// output. Samples in tests/data/navtex/ (written for these tests, Chinese-coast style), and every real
// reception of the corpus (tests/unit/corpus.h).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "adapters/maritime/navtex.h"
#include "model/validate.h"
#include "schemas/message.capnp.h"
#include "tests/unit/corpus.h"

using namespace alertbus;
using namespace alertbus::maritime;

namespace {

constexpr int64_t kNowMs = 1724922000000LL;  // 2024-08-29T09:00Z

schema::Message::Reader root(const adapter::Output& out, size_t i = 0) {
  REQUIRE(out.messages.size() > i);
  return out.messages[i]->getRoot<schema::Message>().asReader();
}

schema::Info::Reader info(const adapter::Output& out, size_t i = 0) {
  auto m = root(out, i);
  if (m.getPayload().isForecast()) return m.getPayload().getForecast()[0];
  REQUIRE(m.getPayload().isWarning());
  return m.getPayload().getWarning()[0];
}

void requireValid(const adapter::Output& out, int64_t nowMs = kNowMs) {
  for (const auto& mb : out.messages) {
    auto p = validateMessage(mb->getRoot<schema::Message>().asReader(), nowMs);
    INFO((p ? p->field + "=" + p->value + ": " + p->reason : std::string()));
    CHECK_FALSE(p.has_value());
  }
}

std::string param(schema::Info::Reader i, const std::string& key) {
  for (auto kv : i.getParameters())
    if (std::string(kv.getKey().cStr()) == key) return kv.getValue().cStr();
  return "<absent>";
}

std::string str(capnp::Text::Reader t) { return std::string(t.cStr(), t.size()); }

std::string readFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string frame(const std::string& key, const std::string& body) {
  return "ZCZC " + key + "\n" + body + "\nNNNN\n";
}

// The one circle of a frame whose body is "291433 UTC AUG 24\nLIGHT <pos> UNLIT".
std::pair<double, double> singlePosition(const std::string& pos) {
  auto out = parseNavtex(frame("NA01", "291433 UTC AUG 24\nLIGHT " + pos + " UNLIT"), "t", kNowMs);
  requireValid(out);
  auto areas = info(out).getAreas();
  REQUIRE(areas.size() == 1);
  INFO(pos);
  REQUIRE(areas[0].getCircles().size() == 1);
  auto c = areas[0].getCircles()[0].getCenter();
  return {c.getLat(), c.getLon()};
}

}  // namespace

TEST_CASE("navtex: every position form real stations use", "[navtex]") {
  const double lat = 54 + 12.5 / 60, lon = 7 + 45.3 / 60;
  for (const char* form : {"54-12.5N 007-45.3E", "54 12.5N 007 45.3E", "5412.5N 00745.3E", "54 12,5 N 007 45,3 E",
                           "54-12,5N 007-45,3E", "54-12.5N, 007-45.3E", "54-12.5 N 007-45.3 E", "54-12.5N/007-45.3E"}) {
    auto [la, lo] = singlePosition(form);
    INFO(form);
    CHECK(la == Approx(lat));
    CHECK(lo == Approx(lon));
  }
  SECTION("whole minutes") {
    auto [la, lo] = singlePosition("54-12N 007-45E");
    CHECK(la == Approx(54.2));
    CHECK(lo == Approx(7.75));
  }
  SECTION("degrees only") {
    auto [la, lo] = singlePosition("54N 007E");
    CHECK(la == Approx(54));
    CHECK(lo == Approx(7));
  }
  SECTION("decimal degrees") {
    auto [la, lo] = singlePosition("54.25N 7.5E");
    CHECK(la == Approx(54.25));
    CHECK(lo == Approx(7.5));
  }
  SECTION("south and west are negative") {
    auto [la, lo] = singlePosition("33-51.5S 151-12.0W");
    CHECK(la == Approx(-(33 + 51.5 / 60)));
    CHECK(lo == Approx(-(151 + 12.0 / 60)));
  }
  SECTION("Zhoushan without hyphens or with compact minutes") {
    auto [la, lo] = singlePosition("2959N 12212E");
    CHECK(la == Approx(29 + 59.0 / 60));
    CHECK(lo == Approx(122.2));
  }
  SECTION("forecast words and numbers are not positions") {
    auto out = parseNavtex(frame("NE10", "291433 UTC AUG 24\nNORTH 6 INCREASING 7. SEA 25 METRE. WIND 15 M/S.\n"
                                         "VQ(3)5S LFL.10S 120600 AND 130700 SEP. CHART 43"),
                           "t", kNowMs);
    requireValid(out);
    auto a = info(out).getAreas()[0];
    CHECK(a.getPolygons().size() == 0);
    CHECK(a.getCircles().size() == 0);
    CHECK(str(a.getDescription()) == "NAVTEX station N");
  }
  SECTION("minutes 60 or more and latitude beyond 90 are not positions") {
    auto out = parseNavtex(frame("NA02", "291433 UTC AUG 24\nAT 54-65N 007-45E AND 95-00N 007-00E"), "t", kNowMs);
    CHECK(info(out).getAreas()[0].getCircles().size() == 0);
  }
}

TEST_CASE("navtex: two positions give two circles and three or more a closed polygon", "[navtex]") {
  NavtexOptions o;
  o.pointRadiusKm = 3.5;
  SECTION("two") {
    auto out = parseNavtex(frame("NA03", "291433 UTC AUG 24\nCABLE BETWEEN 54-12N 007-45E AND 54-15N 007-50E"), "t",
                           kNowMs, o);
    requireValid(out);
    auto cs = info(out).getAreas()[0].getCircles();
    REQUIRE(cs.size() == 2);
    CHECK(cs[0].getRadiusKm() == 3.5);
  }
  SECTION("polygon in text order is closed") {
    auto out = parseNavtex(readFile(std::string(ALERTBUS_SOURCE_DIR) + "/tests/data/navtex/cn-QA45-zhoushan-nav-warning-crlf.txt"),
                           "zhoushan", kNowMs);
    requireValid(out);
    auto polys = info(out).getAreas()[0].getPolygons();
    REQUIRE(polys.size() == 1);
    auto pts = polys[0].getPoints();
    CHECK(pts.size() == 5);
    CHECK(pts[0].getLat() == pts[pts.size() - 1].getLat());
    CHECK(pts[0].getLon() == pts[pts.size() - 1].getLon());
  }
  SECTION("a self-crossing order becomes the convex hull") {
    auto out = parseNavtex(frame("NA04", "291433 UTC AUG 24\n30-00N 122-00E\n31-00N 123-00E\n30-00N 123-00E\n31-00N 122-00E"),
                           "t", kNowMs);
    requireValid(out);
    auto polys = info(out).getAreas()[0].getPolygons();
    REQUIRE(polys.size() == 1);
    CHECK(polys[0].getPoints().size() == 5);
  }
  SECTION("collinear points become one circle around them") {
    auto out = parseNavtex(frame("NA05", "291433 UTC AUG 24\n30-00N 122-00E 30-10N 122-00E 30-20N 122-00E"), "t",
                           kNowMs);
    requireValid(out);
    auto cs = info(out).getAreas()[0].getCircles();
    REQUIRE(cs.size() == 1);
    CHECK(cs[0].getCenter().getLat() == Approx(30 + 10.0 / 60));
    CHECK(cs[0].getRadiusKm() > 18.0);
  }
}

TEST_CASE("navtex: every subject indicator maps to an event and eventCode", "[navtex]") {
  struct Case {
    char b2;
    const char* name;
    schema::Category cat;
  };
  for (Case c : {Case{'A', "navigational-warning", schema::Category::TRANSPORT},
                 Case{'B', "meteorological-warning", schema::Category::MET}, Case{'C', "ice-report", schema::Category::MET},
                 Case{'D', "search-and-rescue", schema::Category::TRANSPORT},
                 Case{'E', "meteorological-forecast", schema::Category::MET},
                 Case{'F', "pilot-service", schema::Category::TRANSPORT},
                 Case{'G', "ais-service", schema::Category::TRANSPORT}, Case{'H', "loran", schema::Category::TRANSPORT},
                 Case{'I', "unassigned", schema::Category::TRANSPORT}, Case{'J', "satnav", schema::Category::TRANSPORT},
                 Case{'K', "other-navaid", schema::Category::TRANSPORT},
                 Case{'L', "navigational-warning-additional", schema::Category::TRANSPORT},
                 Case{'M', "unassigned", schema::Category::TRANSPORT}, Case{'T', "unassigned", schema::Category::TRANSPORT},
                 Case{'V', "special-service", schema::Category::TRANSPORT},
                 Case{'W', "special-service", schema::Category::TRANSPORT},
                 Case{'X', "special-service", schema::Category::TRANSPORT},
                 Case{'Y', "special-service", schema::Category::TRANSPORT}}) {
    std::string key = std::string("Q") + c.b2 + "12";
    auto out = parseNavtex(frame(key, "291433 UTC AUG 24\nTEXT"), "t", kNowMs);
    INFO(key);
    requireValid(out);
    auto i = info(out);
    CHECK(str(i.getEvent()) == std::string("navtex-") + c.name);
    CHECK(str(i.getEventCode()) == std::string("navtex-") + c.b2);
    REQUIRE(i.getCategories().size() == 1);
    CHECK(i.getCategories()[0] == c.cat);
    CHECK(root(out).getPayload().isForecast() == (c.b2 == 'E'));
    CHECK(param(i, "station") == "Q");
    CHECK(param(i, "subject") == std::string(1, c.b2));
    CHECK(param(i, "serial") == "12");
  }
  SECTION("Z (no message on hand) publishes nothing and says so") {
    auto out = parseNavtex(frame("QZ01", "291433 UTC AUG 24\nNIL"), "t", kNowMs);
    CHECK(out.messages.empty());
    CHECK(out.accepted == 1);
    REQUIRE(out.problems.size() == 1);
    CHECK(out.problems[0].level == adapter::InputProblem::Level::warning);
  }
  SECTION("serial 00 is must-display") {
    auto out = parseNavtex(frame("QA00", "291433 UTC AUG 24\nURGENT"), "t", kNowMs);
    CHECK(param(info(out), "must-display") == "true");
  }
}

TEST_CASE("navtex: date-time groups give sentMs and the id", "[navtex]") {
  SECTION("DTG 301530Z AUG 19") {
    auto out = parseNavtex(frame("JA94", "DTG 301530Z AUG 19\nTEXT"), "t", kNowMs);
    requireValid(out);
    CHECK(str(root(out).getId()) == "navtex-JA94-201908301530");
    CHECK(root(out).getSentMs() == 1567179000000LL);
    CHECK(param(info(out), "dtg") == "301530Z AUG 19");
  }
  SECTION("missing year is the one nearest reception") {
    auto out = parseNavtex(frame("JA94", "281930 UTC AUG\nTEXT"), "t", kNowMs);
    CHECK(str(root(out).getId()) == "navtex-JA94-202408281930");
  }
  SECTION("national month name, two-digit year") {
    auto out = parseNavtex(frame("NA01", "291433 UTC DES 12\nTEXT"), "t", kNowMs);
    CHECK(str(root(out).getId()) == "navtex-NA01-201212291433");
  }
  SECTION("bare DDHHMM as the first word takes month and year from reception") {
    auto out = parseNavtex(frame("SE94", "290600 NAVTEX-HAMBURG (NCC)\nFORECAST"), "t", kNowMs);
    CHECK(str(root(out).getId()) == "navtex-SE94-202408290600");
  }
  SECTION("no DTG: receivedMs and a content hash, the same for a repeat broadcast") {
    auto a = parseNavtex(frame("OL66", "SUBFACTS AND GUNFACTS\nNIL"), "t", kNowMs);
    auto b = parseNavtex(frame("OL66", "SUBFACTS AND GUNFACTS\nNIL"), "t", kNowMs + 4 * 3600 * 1000);
    CHECK(root(a).getSentMs() == kNowMs);
    std::string id = str(root(a).getId());
    CHECK(id.rfind("navtex-OL66-h", 0) == 0);
    CHECK(id.size() == std::string("navtex-OL66-h").size() + 16);
    CHECK(str(root(b).getId()) == id);
  }
}

TEST_CASE("navtex: garbled receptions are rejected above the ratio and kept as low-confidence below", "[navtex]") {
  SECTION("non-ASCII garbage is rejected with the ratio") {
    auto out = parseNavtex("ZCZC WZ29\r339 200114 \xe2\x80\x9e\xc5\xbd\rNNNN\r", "t", kNowMs);
    CHECK(out.messages.empty());
    CHECK(out.rejected == 1);
    REQUIRE(out.problems.size() == 1);
    CHECK(out.problems[0].level == adapter::InputProblem::Level::error);
    CHECK(out.problems[0].reason.find("% of characters garbled (2 of 11)") != std::string::npos);
  }
  SECTION("a few bad characters: published, certainty unknown, reason in a parameter and a warning") {
    auto out = parseNavtex(frame("NA07", "291433 UTC AUG 24\nKVALOEYA LIGHT 63-52.3N 009-43.1E IS UN*IT\n"
                                         "RE-ESTABLISHED WHEN CONDITIONS PERMIT. VESSELS ARE ADVISED TO KEEP CLEAR"),
                           "t", kNowMs);
    requireValid(out);
    REQUIRE(out.messages.size() == 1);
    auto i = info(out);
    CHECK(i.getCertainty() == schema::Certainty::UNKNOWN);
    CHECK(param(i, "reception-quality").find("of characters garbled (1 of") != std::string::npos);
    REQUIRE(out.problems.size() == 1);
    CHECK(out.problems[0].level == adapter::InputProblem::Level::warning);
    CHECK(out.problems[0].reason.find("low-confidence") != std::string::npos);
    CHECK(i.getAreas()[0].getCircles().size() == 1);
  }
  SECTION("clean text is certain") {
    auto out = parseNavtex(frame("NA08", "291433 UTC AUG 24\nLIGHT UNLIT"), "t", kNowMs);
    CHECK(info(out).getCertainty() == schema::Certainty::OBSERVED);
    CHECK(out.problems.empty());
  }
  SECTION("the ratio is an option") {
    NavtexOptions o;
    o.maxGarbleRatio = 0.5;
    auto out = parseNavtex("ZCZC WA29\r339 200114 \xe2\x80\x9e\xc5\xbd\rNNNN\r", "t", kNowMs, o);
    REQUIRE(out.messages.size() == 1);
    requireValid(out);
    CHECK(str(info(out).getDescription()) == "339 200114 **");
  }
  SECTION("a garbled header is rejected") {
    auto out = parseNavtex(readFile(std::string(ALERTBUS_SOURCE_DIR) + "/tests/data/navtex/cn-QA4x-garbled-header.txt"),
                           "t", kNowMs);
    CHECK(out.messages.empty());
    CHECK(out.rejected == 1);
    CHECK(out.problems[0].field == "header");
  }
  SECTION("missing NNNN: published as low-confidence") {
    auto out = parseNavtex(readFile(std::string(ALERTBUS_SOURCE_DIR) + "/tests/data/navtex/cn-QE07-forecast-missing-nnnn.txt"),
                           "t", kNowMs);
    requireValid(out);
    REQUIRE(out.messages.size() == 1);
    CHECK(root(out).getPayload().isForecast());
    CHECK(param(info(out), "reception-quality").find("missing NNNN") != std::string::npos);
    CHECK(info(out).getCertainty() == schema::Certainty::UNKNOWN);
  }
  SECTION("a frame cut by the next ZCZC is missing NNNN, the next one is fine") {
    auto out = parseNavtex("ZCZC NA10\n291433 UTC AUG 24\nPART ONE\nZCZC NA11\n291434 UTC AUG 24\nPART TWO\nNNNN\n", "t",
                           kNowMs);
    requireValid(out);
    REQUIRE(out.messages.size() == 2);
    CHECK(param(info(out, 0), "reception-quality") == "missing NNNN (the frame may be truncated)");
    CHECK(param(info(out, 1), "reception-quality") == "<absent>");
  }
}

TEST_CASE("navtex: cancellations become references and msgType cancel or update", "[navtex]") {
  SECTION("a cancel-only frame is msgType cancel") {
    auto out = parseNavtex("ZCZC JA94\r151930 UTC FEB\rCANCEL GERMAN NAV WARN 079/19\rNNNN\r", "t", kNowMs);
    requireValid(out);
    auto m = root(out);
    CHECK(m.getMsgType() == schema::MsgType::CANCEL);
    CHECK(str(info(out).getHeadline()) == "CANCEL GERMAN NAV WARN 079/19");
    REQUIRE(m.getReferences().size() == 1);
    CHECK(str(m.getReferences()[0].getId()) == "navtex-ref-GERMAN-NAV-WARN-079/19");
    CHECK(str(m.getReferences()[0].getSender()) == "maritime");
  }
  SECTION("CANCEL NAVAREA with a warning number") {
    auto out = parseNavtex(frame("QA47", "291200 UTC AUG 24\nCANCEL NAVAREA XI 123/24."), "t", kNowMs);
    requireValid(out);
    CHECK(root(out).getMsgType() == schema::MsgType::CANCEL);
    CHECK(str(root(out).getReferences()[0].getId()) == "navtex-ref-NAVAREA-XI-123/24");
  }
  SECTION("CANCEL <B1B2B3B4> resolves to the exact id of a frame seen before") {
    NavtexDecoder d;
    auto a = d.feed(frame("OL65", "281200 UTC AUG 24\nSUBFACTS"), "t", kNowMs);
    auto b = d.feed(frame("OL66", "291200 UTC AUG 24\nSUBFACTS NEW\nCANCEL OL65"), "t", kNowMs);
    requireValid(b);
    auto m = root(b);
    CHECK(m.getMsgType() == schema::MsgType::UPDATE);
    REQUIRE(m.getReferences().size() == 1);
    CHECK(str(m.getReferences()[0].getId()) == str(root(a).getId()));
    CHECK(m.getReferences()[0].getSentMs() == root(a).getSentMs());
  }
  SECTION("CANCEL <B1B2B3B4> not seen: navtex-<key>") {
    auto out = parseNavtex(frame("OL66", "SUBFACTS NEW\nCANCEL OL65"), "t", kNowMs);
    CHECK(str(root(out).getReferences()[0].getId()) == "navtex-OL65");
  }
  SECTION("a garbled CANCELLED at the end of a line references the text before it") {
    auto out = parseNavtex(frame("PA16", "NAVIGATIONAL WARNING NR. 16 140201 UTC DEC\nNEW WRECK 51-51.27N 002-54.34E\n"
                                         "NAVIGATIONAL WARNING NR 13 061801 UTC DEC CNCELLED"),
                           "t", kNowMs);
    requireValid(out);
    auto m = root(out);
    CHECK(m.getMsgType() == schema::MsgType::UPDATE);
    CHECK(str(m.getReferences()[0].getId()) == "navtex-ref-NAVIGATIONAL-WARNING-NR-13-061801-UTC-DEC");
    CHECK(str(m.getId()) == "navtex-PA16-202312140201");
  }
  SECTION("CANCEL THIS MSG sets expiresMs and references nothing") {
    auto out = parseNavtex(readFile(std::string(ALERTBUS_SOURCE_DIR) + "/tests/data/navtex/cn-QA45-zhoushan-nav-warning-crlf.txt"),
                           "t", kNowMs);
    requireValid(out);
    auto m = root(out);
    CHECK(str(m.getId()) == "navtex-QA45-202408290830");
    CHECK(str(info(out).getHeadline()) == "NAV WARNING 0456/24 ZHOUSHAN ISLANDS");
    CHECK(info(out).getExpiresMs() == 1725120000000LL);  // 2024-08-31T16:00Z
    CHECK(m.getMsgType() == schema::MsgType::UPDATE);     // it also cancels QA41
    REQUIRE(m.getReferences().size() == 1);
    CHECK(str(m.getReferences()[0].getId()) == "navtex-QA41");
  }
  SECTION("a frame already expired by CANCEL THIS MSG is rejected") {
    auto out = parseNavtex(frame("QA46", "281200 UTC AUG 24\nTEXT\nCANCEL THIS MSG 290800 UTC"), "t", kNowMs);
    CHECK(out.messages.empty());
    CHECK(out.rejected == 1);
  }
}

TEST_CASE("navtex: CR-only input with two frames", "[navtex]") {
  auto out = parseNavtex(readFile(std::string(ALERTBUS_SOURCE_DIR) + "/tests/data/navtex/cn-NB12-guangzhou-gale-warning-cr.txt") +
                             "ZCZC NA13\r291433 UTC AUG 24\rLIGHT 54-12N 007-45E UNLIT\rNNNN\r",
                         "t", kNowMs);
  requireValid(out);
  REQUIRE(out.messages.size() == 2);
  CHECK(out.problems.empty());
  CHECK(str(info(out, 0).getHeadline()) == "GUANGZHOU NAVTEX. GALE WARNING.");  // the DTG line is framing
  CHECK(str(info(out, 0).getDescription()).find("\nGUANGZHOU NAVTEX. GALE WARNING.\n") != std::string::npos);
  CHECK(info(out, 0).getAreas()[0].getCircles()[0].getCenter().getLat() == Approx(21.5));
  CHECK(str(root(out, 0).getProvenance().getContentType()) == "text/plain; navtex");
  auto orig = root(out, 1).getProvenance().getOriginal();
  CHECK(std::string(reinterpret_cast<const char*>(orig.begin()), orig.size()) ==
        "ZCZC NA13\r291433 UTC AUG 24\rLIGHT 54-12N 007-45E UNLIT\rNNNN");
}

TEST_CASE("navtex: garble before ZCZC and text on the header line", "[navtex]") {
  auto out = parseNavtex("**ZCZC NA14 291433 UTC AUG 24\nLIGHT 54-12N 007-45E UNLIT\nNNNN\n", "t", kNowMs);
  requireValid(out);
  REQUIRE(out.messages.size() == 1);
  CHECK(str(root(out).getId()) == "navtex-NA14-202408291433");
  CHECK(str(info(out).getHeadline()) == "LIGHT 54-12N 007-45E UNLIT");
  REQUIRE(out.problems.size() == 1);  // the two stars outside the frame
  CHECK(out.problems[0].level == adapter::InputProblem::Level::warning);
  SECTION("a fifth header character is not a key") {
    auto bad = parseNavtex("ZCZC NA145\nTEXT\nNNNN\n", "t", kNowMs);
    CHECK(bad.rejected == 1);
  }
}

TEST_CASE("navtex: a stream fed in small chunks gives the same messages as the whole", "[navtex]") {
  std::string all = readFile(std::string(ALERTBUS_SOURCE_DIR) + "/tests/data/navtex/cn-QA45-zhoushan-nav-warning-crlf.txt") +
                    "noise line\r\n" + frame("NA13", "291433 UTC AUG 24\nLIGHT 54-12N 007-45E UNLIT");
  auto whole = parseNavtex(all, "s", kNowMs);
  for (size_t step : {1, 3, 7, 64}) {
    NavtexDecoder d;
    adapter::Output out;
    for (size_t p = 0; p < all.size(); p += step) out.append(d.feed(std::string_view(all).substr(p, step), "s", kNowMs));
    out.append(d.finish("s", kNowMs));
    INFO(step);
    REQUIRE(out.messages.size() == whole.messages.size());
    for (size_t i = 0; i < out.messages.size(); ++i) CHECK(str(root(out, i).getId()) == str(root(whole, i).getId()));
    CHECK(out.problems.size() == 1);  // the noise line
  }
}

TEST_CASE("navtex: hostile input never crashes and every output validates", "[navtex]") {
  std::string junk;
  for (int i = 0; i < 3000; ++i) junk += static_cast<char>((i * 7919) % 256);
  for (const std::string& in :
       {std::string("ZCZC"), std::string("ZCZC \n"), std::string("ZCZC AA\nNNNN"), junk, "ZCZC AB12\n" + junk + "\nNNNN",
        "ZCZC AA12\n" + std::string(20000, 'A') + "\nNNNN\n", std::string("NNNN\nZCZC AA12\n\n\nNNNN\n"),
        std::string("ZCZC AA12\n99-99N 999-99E 89-59.99N 179-59.99W\nNNNN")}) {
    auto out = parseNavtex(in, "h", kNowMs);
    requireValid(out);
    CHECK(out.accepted + out.rejected <= 2);
  }
}

// Every real NAVTEX reception of the corpus (tests/unit/corpus.h): a message or a named refusal per frame, and
// every message passes validateMessage. scripts/corpus-check.sh prints what each file gave.
TEST_CASE("navtex: every real NAVTEX reception is read, or refused with a named problem", "[navtex][corpus]") {
  const auto files = alertbus::testing::corpusFiles(alertbus::testing::CorpusParser::navtex);
  if (files.empty())
    return alertbus::testing::reportCorpusSkipped("no NAVTEX receptions (ZCZC frames under navtex*, maritime*) in " +
                                                  alertbus::testing::corpusDir());
  for (const auto& f : files) {
    auto out = parseNavtex(alertbus::testing::readCorpusFile(f.path), f.rel, kNowMs);
    std::string problems;
    for (const auto& p : out.problems) problems += p.str() + "\n";
    INFO(f.rel << ": accepted " << out.accepted << ", rejected " << out.rejected << "\n" << problems);
    CHECK(out.accepted + out.rejected >= 1);
    CHECK(out.messages.size() == out.accepted);
    if (out.rejected > 0) CHECK(!out.problems.empty());
    for (const auto& p : out.problems) {
      CHECK(!p.field.empty());
      CHECK(!p.reason.empty());
    }
    requireValid(out);
  }
}
