// Atom/RSS feeds carrying CAP (adapters/met/feed.h): embedded alerts (elements, prefixed, escaped, CDATA),
// links (Atom cap+xml, RSS enclosure/link/guid), NWS-style index entries, hostile and broken feeds.
#include "adapters/met/feed.h"

#include <capnp/message.h>
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "model/validate.h"
#include "schemas/message.capnp.h"

using namespace alertbus;
using namespace alertbus::met;
using schema::Message;

namespace {

const std::string kDir = std::string(ALERTBUS_SOURCE_DIR) + "/tests/data/feed/";
constexpr int64_t kReceivedMs = 1785200000000LL;  // 2026-07-28T00:53:20Z

std::string readFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

std::string problems(const std::vector<CapProblem>& ps) {
  std::string s;
  for (auto& p : ps) s += p.str() + "\n";
  return s;
}

std::string text(capnp::Text::Reader t) { return std::string(t.cStr(), t.size()); }

// Maps one found alert with parseCap; REQUIREs acceptance and validateMessage at its sent time.
struct Mapped {
  capnp::MallocMessageBuilder b;
  CapResult r;
  Message::Reader msg() { return b.getRoot<Message>().asReader(); }
};
std::unique_ptr<Mapped> mapGood(const FeedAlert& a) {
  auto m = std::make_unique<Mapped>();
  m->r = parseCap(a.xml, "feed#" + a.entryKey, kReceivedMs, m->b);
  INFO(a.xml << "\n" << problems(m->r.problems));
  REQUIRE(m->r.accepted);
  auto v = validateMessage(m->msg(), m->msg().getSentMs());
  INFO((v ? v->field + ": " + v->reason : std::string()));
  REQUIRE(!v);
  return m;
}

}  // namespace

TEST_CASE("feed: Atom with embedded alerts links and an empty entry", "[feed]") {
  auto f = parseFeed(readFile(kDir + "atom-embedded.atom"), "atom-embedded.atom", kReceivedMs);
  INFO(problems(f.problems));
  CHECK(f.format == "atom");
  CHECK(f.entries == 5);
  REQUIRE(f.alerts.size() == 3);
  REQUIRE(f.links.size() == 1);

  SECTION("alert element with its own default namespace") {
    CHECK(f.alerts[0].position == "feed/entry[1]");
    CHECK(f.alerts[0].entryKey == "entry[1]");
    CHECK(!f.alerts[0].fromIndex);
    auto m = mapGood(f.alerts[0]);
    CHECK(text(m->msg().getId()) == "urn:oid:2.49.0.1.156.0.2026.07.28.101");
    CHECK(text(m->msg().getPayload().getWarning()[0].getEventCode()) == "11B01");
  }
  SECTION("prefixed cap:alert inherits the feed's xmlns:cap and is an update naming entry 1") {
    CHECK(f.alerts[1].xml.find("xmlns:cap=\"urn:oasis:names:tc:emergency:cap:1.2\"") != std::string::npos);
    CHECK(f.alerts[1].xml.find("http://www.w3.org/2005/Atom") == std::string::npos);  // not needed: not declared
    auto m = mapGood(f.alerts[1]);
    CHECK(m->msg().getMsgType() == schema::MsgType::UPDATE);
    REQUIRE(m->msg().getReferences().size() == 1);
    CHECK(text(m->msg().getReferences()[0].getId()) == "urn:oid:2.49.0.1.156.0.2026.07.28.101");
    CHECK(text(m->msg().getReferences()[0].getSender()) == "nbqx@nbmb.gov.cn");
  }
  SECTION("escaped content with a Latin-1 declaration: declaration dropped and the UTF-8 text kept") {
    CHECK(f.alerts[2].xml.rfind("<alert", 0) == 0);
    auto m = mapGood(f.alerts[2]);
    CHECK(m->msg().getMsgType() == schema::MsgType::CANCEL);
    CHECK(text(m->msg().getReferences()[0].getId()) == "urn:oid:2.49.0.1.156.0.2026.07.28.102");
    CHECK(text(m->msg().getPayload().getWarning()[0].getEvent()) == "台风");
  }
  SECTION("a cap+xml link wins over the html alternate") {
    CHECK(f.links[0].url == "http://qx.ningbo.gov.cn/cap/104.xml");
    CHECK(f.links[0].type == "application/cap+xml");
    CHECK(f.links[0].position == "feed/entry[4]");
    CHECK(f.links[0].entryId == "urn:oid:2.49.0.1.156.0.2026.07.28.104");
    CHECK(f.links[0].updatedMs == 1785204000000LL);  // 2026-07-28T10:00:00+08:00
  }
  SECTION("an entry with nothing to take is a warning") {
    REQUIRE(f.problems.size() == 1);
    CHECK(f.problems[0].level == CapProblem::Level::warning);
    CHECK(f.problems[0].position == "feed/entry[5]");
  }
}

TEST_CASE("feed: NWS-style index entries are mapped from their cap elements", "[feed]") {
  auto f = parseFeed(readFile(kDir + "atom-index.atom"), "atom-index.atom", kReceivedMs);
  INFO(problems(f.problems));
  REQUIRE(f.alerts.size() == 2);
  CHECK(f.links.empty());
  SECTION("no identifier: the entry id; event from the title; sender from the feed author") {
    auto& a = f.alerts[0];
    CHECK(a.fromIndex);
    CHECK(a.entryXml.find("<entry") == 0);
    auto m = mapGood(a);
    CHECK(text(m->msg().getId()) == "http://alerts.example.gov/cap/get.php?x=NB.Gale.0728.1");
    CHECK(m->r.capSender == "w-nbqx@nbmb.gov.cn");
    CHECK(text(m->msg().getOrigin()) == "w-nbqx@nbmb.gov.cn");
    CHECK(m->r.capVersion == "1.1");
    CHECK(m->msg().getSentMs() == 1785200400000LL);  // published
    auto info = m->msg().getPayload().getWarning()[0];
    CHECK(text(info.getEvent()) == "Gale Warning");
    CHECK(text(info.getHeadline()) == "Gale Warning issued July 28 at 9:00AM CST by NBQX");
    CHECK(text(info.getWeb()) == "http://alerts.example.gov/cap/get.php?x=NB.Gale.0728.1");
    CHECK(info.getSeverity() == schema::Severity::MODERATE);
    auto area = info.getAreas()[0];
    CHECK(area.getPolygons().size() == 0);  // <cap:polygon/> left out, no warning
    REQUIRE(area.getGeocodes().size() == 2);  // two pairs in one cap:geocode split
    CHECK(text(area.getGeocodes()[1].getKey()) == "UGC");
    REQUIRE(area.getAdminCodes().size() == 1);
    CHECK(text(area.getAdminCodes()[0]) == "330922");
    CHECK(m->r.problems.empty());
  }
  SECTION("an index update keeps its references and cap:area blocks") {
    auto m = mapGood(f.alerts[1]);
    CHECK(text(m->msg().getId()) == "NB-GALE-0728-2");
    CHECK(m->msg().getMsgType() == schema::MsgType::UPDATE);
    REQUIRE(m->msg().getReferences().size() == 1);
    CHECK(text(m->msg().getReferences()[0].getId()) == "http://alerts.example.gov/cap/get.php?x=NB.Gale.0728.1");
    CHECK(m->msg().getPayload().getWarning()[0].getAreas()[0].getCircles().size() == 1);
  }
}

TEST_CASE("feed: RSS enclosure link guid and CDATA-embedded cancel", "[feed]") {
  auto f = parseFeed(readFile(kDir + "rss-cap.rss"), "rss-cap.rss", kReceivedMs);
  INFO(problems(f.problems));
  CHECK(f.format == "rss");
  CHECK(f.problems.empty());
  REQUIRE(f.links.size() == 3);
  CHECK(f.links[0].url == "http://qx.ningbo.gov.cn/cap/201.xml");  // enclosure beats <link>
  CHECK(f.links[0].position == "rss/channel/item[1]");
  CHECK(f.links[0].entryId == "urn:oid:2.49.0.1.156.0.2026.07.28.201");
  CHECK(f.links[0].updatedMs == 1785200400000LL);
  CHECK(f.links[1].url == "http://qx.ningbo.gov.cn/cap/202.cap");
  CHECK(f.links[1].updatedMs == 1785202200000LL);
  CHECK(f.links[2].url == "http://qx.ningbo.gov.cn/cap/203.cap");  // guid that is a URL
  CHECK(f.links[2].updatedMs == 1785204000000LL);
  REQUIRE(f.alerts.size() == 1);
  CHECK(f.alerts[0].entryKey == "item[4]");
  auto m = mapGood(f.alerts[0]);
  CHECK(m->msg().getMsgType() == schema::MsgType::CANCEL);
  CHECK(text(m->msg().getReferences()[0].getId()) == "NB-GALE-0728-2");
  CHECK(m->msg().getPayload().getWarning().size() == 0);  // a cancel needs no info
}

TEST_CASE("feed: hostile and broken feeds", "[feed]") {
  SECTION("DOCTYPE in the feed is refused before parsing") {
    auto f = parseFeed("<?xml version='1.0'?><!DOCTYPE feed [<!ENTITY x SYSTEM 'file:///etc/passwd'>]>"
                       "<feed xmlns='http://www.w3.org/2005/Atom'><entry><title>&x;</title></entry></feed>",
                       "t", 0);
    REQUIRE(f.errorCount() == 1);
    CHECK(f.problems[0].field == "DOCTYPE");
    CHECK(f.alerts.empty());
  }
  SECTION("DOCTYPE inside escaped content is handed on and refused by parseCap") {
    auto f = parseFeed(readFile(kDir + "atom-escaped-xxe.atom"), "x", 0);
    REQUIRE(f.alerts.size() == 1);
    capnp::MallocMessageBuilder b;
    auto r = parseCap(f.alerts[0].xml, "x#entry[1]", 0, b);
    CHECK(!r.accepted);
    REQUIRE(r.problems.size() == 1);
    CHECK(r.problems[0].field == "DOCTYPE");
  }
  SECTION("malformed feed") {
    auto f = parseFeed("<feed xmlns='http://www.w3.org/2005/Atom'><entry>", "t", 0);
    REQUIRE(f.errorCount() == 1);
    CHECK(f.problems[0].reason.find("malformed XML") != std::string::npos);
  }
  SECTION("not a feed") {
    auto f = parseFeed("<html/>", "t", 0);
    REQUIRE(f.errorCount() == 1);
    CHECK(f.problems[0].reason.find("not an Atom") != std::string::npos);
  }
  SECTION("RSS without channel") {
    auto f = parseFeed("<rss version='2.0'/>", "t", 0);
    CHECK(f.errorCount() == 1);
  }
  SECTION("oversized feed") {
    auto f = parseFeed(std::string(kMaxFeedBytes + 1, ' '), "t", 0);
    REQUIRE(f.errorCount() == 1);
    CHECK(f.problems[0].field == "size");
  }
  SECTION("foreign namespace on feed is a warning") {
    auto f = parseFeed("<feed><entry><link href='http://x/a.cap'/></entry></feed>", "t", 7);
    CHECK(f.errorCount() == 0);
    REQUIRE(f.links.size() == 1);
    CHECK(f.links[0].updatedMs == 7);  // no entry time: receivedMs
    CHECK(f.problems.size() == 1);
  }
  SECTION("Atom out-of-line content with src") {
    auto f = parseFeed("<feed xmlns='http://www.w3.org/2005/Atom'><entry><content type='application/cap+xml' "
                       "src='http://x/1.xml'/><link href='http://x/1.html' type='text/html'/></entry></feed>",
                       "t", 0);
    REQUIRE(f.links.size() == 1);
    CHECK(f.links[0].url == "http://x/1.xml");
  }
  SECTION("CR-only line ends") {
    std::string s = readFile(kDir + "atom-embedded.atom");
    for (auto& c : s)
      if (c == '\n') c = '\r';
    auto f = parseFeed(s, "cr", kReceivedMs);
    REQUIRE(f.alerts.size() == 3);
    mapGood(f.alerts[0]);
  }
  SECTION("truncated feeds never crash") {
    std::string s = readFile(kDir + "atom-embedded.atom");
    for (size_t cut = 0; cut < s.size(); cut += 13) {
      auto f = parseFeed(std::string_view(s).substr(0, cut), "t", 0);
      CHECK((f.errorCount() > 0 || !f.alerts.empty() || !f.links.empty() || !f.problems.empty() || f.entries == 0));
    }
  }
}

TEST_CASE("feed: RFC 822 dates", "[feed]") {
  int64_t ms = 0;
  CHECK(parseRfc822Time("Wed, 11 Jun 2003 22:39:00 PDT", ms));
  CHECK(ms == 1055396340000LL);
  CHECK(parseRfc822Time("11 Jun 2003 22:39 -0700", ms));
  CHECK(ms == 1055396340000LL);
  CHECK(parseRfc822Time("Tue, 28 Jul 2026 09:00:00 +0800", ms));
  CHECK(ms == 1785200400000LL);
  CHECK(!parseRfc822Time("2026-07-28T09:00:00+08:00", ms));
  CHECK(!parseRfc822Time("Tue, 28 Foo 2026 09:00:00 GMT", ms));
  CHECK(!parseRfc822Time("Tue, 28 Jul 2026 09:00:00 XYZ", ms));
}
