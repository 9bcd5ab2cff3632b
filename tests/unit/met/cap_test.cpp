// CAP parser (adapters/met/cap.h) against the samples in tests/data/cap/: mapping of every CAP field, the
// encodings and namespaces seen in the wild, hostile and broken input. Good samples must pass validateMessage.
#include "adapters/met/cap.h"

#include <capnp/message.h>
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <vector>

#include "model/validate.h"
#include "schemas/message.capnp.h"

using namespace alertbus;
using namespace alertbus::met;
using schema::Message;

namespace {

const std::string kDataDir = std::string(ALERTBUS_SOURCE_DIR) + "/tests/data/cap/";
constexpr int64_t kReceivedMs = 1785200000000LL;  // 2026-07-28T00:53:20Z

std::string readFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

std::string problems(const CapResult& r) {
  std::string s;
  for (auto& p : r.problems) s += p.str() + "\n";
  return s;
}

bool hasProblem(const CapResult& r, std::string_view position, std::string_view reasonPart) {
  for (auto& p : r.problems)
    if (p.position == position && p.reason.find(reasonPart) != std::string::npos) return true;
  return false;
}

struct Parsed {
  capnp::MallocMessageBuilder builder;
  CapResult result;
  Message::Reader msg() { return builder.getRoot<Message>().asReader(); }
};

std::unique_ptr<Parsed> parseSample(const std::string& name) {
  auto p = std::make_unique<Parsed>();
  std::string xml = readFile(kDataDir + name);
  REQUIRE(!xml.empty());
  p->result = parseCap(xml, name, kReceivedMs, p->builder);
  return p;
}

// A good sample: accepted, and the broker's own validation agrees at the time it was sent.
std::unique_ptr<Parsed> parseGood(const std::string& name) {
  auto p = parseSample(name);
  INFO(problems(p->result));
  REQUIRE(p->result.accepted);
  auto m = p->msg();
  auto v = validateMessage(m, m.getSentMs());
  INFO((v ? v->field + ": " + v->value + ": " + v->reason : std::string()));
  REQUIRE(!v);
  return p;
}

std::string text(capnp::Text::Reader t) { return std::string(t.cStr(), t.size()); }

}  // namespace

TEST_CASE("cap: 1.2 zh-CN + en-US typhoon alert maps every field", "[cap]") {
  auto p = parseGood("cap12-multilang.xml");
  auto m = p->msg();
  CHECK(p->result.capVersion == "1.2");
  CHECK(p->result.capSender == "nbqx@nbmb.gov.cn");
  CHECK(text(m.getOrigin()) == "nbqx@nbmb.gov.cn");  // kept in the model: references name it
  CHECK(p->result.problems.empty());
  CHECK(text(m.getId()) == "urn:oid:2.49.0.1.156.0.2026.07.28.001");
  CHECK(m.getSender().size() == 0);  // stamped by the broker
  CHECK(m.getSentMs() == 1785200400000LL);  // 2026-07-28T01:00:00Z
  CHECK(m.getStatus() == schema::Status::ACTUAL);
  CHECK(m.getMsgType() == schema::MsgType::ALERT);
  CHECK(text(m.getIncident()) == "typhoon-2026-09");
  auto prov = m.getProvenance();
  CHECK(text(prov.getContentType()) == "application/cap+xml");
  CHECK(text(prov.getSource()) == "cap12-multilang.xml");
  CHECK(prov.getReceivedMs() == kReceivedMs);
  CHECK(prov.getOriginal().size() == readFile(kDataDir + "cap12-multilang.xml").size());

  REQUIRE(m.getPayload().isWarning());
  auto infos = m.getPayload().getWarning();
  REQUIRE(infos.size() == 2);
  auto zh = infos[0];
  CHECK(text(zh.getLanguage()) == "zh-CN");
  REQUIRE(zh.getCategories().size() == 1);
  CHECK(zh.getCategories()[0] == schema::Category::MET);
  CHECK(text(zh.getEvent()) == "台风");
  CHECK(text(zh.getEventCode()) == "11B01");  // CMA preferred over the first (SAME)
  REQUIRE(zh.getEventCodes().size() == 2);
  CHECK(text(zh.getEventCodes()[0].getKey()) == "SAME");
  REQUIRE(zh.getResponseTypes().size() == 2);
  CHECK(zh.getResponseTypes()[1] == schema::ResponseType::MONITOR);
  CHECK(zh.getUrgency() == schema::Urgency::EXPECTED);
  CHECK(zh.getSeverity() == schema::Severity::MODERATE);
  CHECK(zh.getCertainty() == schema::Certainty::LIKELY);
  CHECK(zh.getColour() == schema::Colour::ORANGE);  // 预警级别=橙色 beats severity Moderate (yellow)
  CHECK(text(zh.getAudience()) == "公众");
  CHECK(zh.getEffectiveMs() == 1785200400000LL);
  CHECK(zh.getOnsetMs() == 1785211200000LL);
  CHECK(zh.getExpiresMs() > zh.getOnsetMs());
  CHECK(text(zh.getSenderName()) == "宁波市气象台");
  CHECK(text(zh.getHeadline()) == "宁波市气象台发布台风橙色预警信号");
  CHECK(text(zh.getInstruction()).find("加固门窗") != std::string::npos);
  CHECK(text(zh.getWeb()) == "http://qx.ningbo.gov.cn/");
  CHECK(text(zh.getContact()) == "0574-12121");
  CHECK(zh.getParameters().size() == 2);
  REQUIRE(zh.getResources().size() == 1);
  CHECK(zh.getResources()[0].getSizeBytes() == 12345);
  CHECK(text(zh.getResources()[0].getMimeType()) == "image/png");

  auto areas = zh.getAreas();
  REQUIRE(areas.size() == 2);
  auto a = areas[0];
  CHECK(text(a.getDescription()) == "北仑区");
  REQUIRE(a.getPolygons().size() == 2);
  CHECK(a.getPolygons()[0].getPoints().size() == 4);
  CHECK(a.getPolygons()[1].getPoints().size() == 5);
  CHECK(a.getPolygons()[0].getPoints()[1].getLon() == Approx(122.0));
  REQUIRE(a.getCircles().size() == 1);
  CHECK(a.getCircles()[0].getRadiusKm() == 0);
  CHECK(a.getCircles()[0].getCenter().getLat() == Approx(29.95));
  REQUIRE(a.getGeocodes().size() == 2);
  REQUIRE(a.getAdminCodes().size() == 1);
  CHECK(text(a.getAdminCodes()[0]) == "330212");
  CHECK(a.getAltitudeM() == 0);
  CHECK(a.getCeilingM() == Approx(304.8));  // 1000 ft
  CHECK(std::isnan(areas[1].getAltitudeM()));
  CHECK(text(areas[1].getAdminCodes()[0]) == "330211");

  auto en = infos[1];
  CHECK(text(en.getLanguage()) == "en-US");
  CHECK(text(en.getEventCode()) == "typhoon");  // no eventCode: event lower-cased
  CHECK(en.getColour() == schema::Colour::YELLOW);  // from severity Moderate
}

TEST_CASE("cap: namespaces and versions", "[cap]") {
  SECTION("cap: prefixed 1.1") {
    auto p = parseGood("cap11-prefixed.xml");
    CHECK(p->result.capVersion == "1.1");
    auto info = p->msg().getPayload().getWarning()[0];
    CHECK(p->msg().getStatus() == schema::Status::EXERCISE);
    CHECK(text(info.getLanguage()) == "en-US");  // CAP default
    CHECK(text(info.getEventCode()) == "rainstorm");
    CHECK(info.getColour() == schema::Colour::ORANGE);  // Severe
    CHECK(text(info.getAreas()[0].getAdminCodes()[0]) == "330212001000");
  }
  SECTION("1.0 with password and 'Very Likely'") {
    auto p = parseGood("cap10.xml");
    CHECK(p->result.capVersion == "1.0");
    auto info = p->msg().getPayload().getWarning()[0];
    CHECK(info.getCertainty() == schema::Certainty::LIKELY);
    CHECK(info.getColour() == schema::Colour::YELLOW);  // parameter colour=yellow beats Minor (blue)
    CHECK(p->msg().getSentMs() == 1785216600000LL);
  }
  SECTION("unknown namespace is rejected") {
    capnp::MallocMessageBuilder b;
    auto r = parseCap("<alert xmlns='urn:oasis:names:tc:emergency:cap:9.9'/>", "t", 0, b);
    CHECK(!r.accepted);
    CHECK(hasProblem(r, "alert", "namespace"));
  }
  SECTION("ForeignNamespace::warn: read as CAP 1.2 with one warning naming the namespace") {
    std::string doc = readFile(kDataDir + "cap12-update.xml");
    const std::string ns = "urn:oasis:names:tc:emergency:cap:1.2";
    doc.replace(doc.find(ns), ns.size(), "urn:oasis:names:tc:emergency:cap:1.3");
    capnp::MallocMessageBuilder b;
    auto r = parseCap(doc, "t", 0, b, ForeignNamespace::warn);
    INFO(problems(r));
    CHECK(r.accepted);
    CHECK(r.capVersion == "1.2");
    REQUIRE(r.problems.size() == 1);
    CHECK(r.problems[0].level == CapProblem::Level::warning);
    CHECK(r.problems[0].position == "alert");
    CHECK(r.problems[0].field == "xmlns");
    CHECK(r.problems[0].value == "urn:oasis:names:tc:emergency:cap:1.3");
    CHECK(r.problems[0].str() ==
          "t: warning: alert: xmlns=\"urn:oasis:names:tc:emergency:cap:1.3\": not a CAP 1.0, 1.1 or 1.2 namespace; "
          "read as CAP 1.2");
    SECTION("no namespace at all is named as such") {
      capnp::MallocMessageBuilder b2;
      auto r2 = parseCap("<alert/>", "t", 0, b2, ForeignNamespace::warn);
      CHECK(!r2.accepted);  // an empty alert: its own errors
      REQUIRE(!r2.problems.empty());
      CHECK(r2.problems[0].level == CapProblem::Level::warning);
      CHECK(r2.problems[0].value == "(none)");
    }
    SECTION("the default still refuses it") {
      capnp::MallocMessageBuilder b3;
      auto r3 = parseCap(doc, "t", 0, b3);
      CHECK(!r3.accepted);
      CHECK(hasProblem(r3, "alert", "namespace"));
    }
  }
  SECTION("a feed is not an alert") {
    capnp::MallocMessageBuilder b;
    auto r = parseCap("<feed xmlns='http://www.w3.org/2005/Atom'/>", "t", 0, b);
    CHECK(!r.accepted);
    CHECK(hasProblem(r, "feed", "not a CAP <alert>"));
  }
}

TEST_CASE("cap: update and cancel carry their references", "[cap]") {
  SECTION("update with two references") {
    auto p = parseGood("cap12-update.xml");
    auto m = p->msg();
    CHECK(m.getMsgType() == schema::MsgType::UPDATE);
    auto refs = m.getReferences();
    REQUIRE(refs.size() == 2);
    CHECK(text(refs[0].getSender()) == "nbqx@nbmb.gov.cn");
    CHECK(text(refs[0].getId()) == "urn:oid:2.49.0.1.156.0.2026.07.28.001");
    CHECK(refs[0].getSentMs() == 1785200400000LL);
    CHECK(text(refs[1].getId()) == "NB-RAIN-2026-0042");
    CHECK(m.getPayload().getWarning()[0].getColour() == schema::Colour::RED);
  }
  SECTION("cancel") {
    auto p = parseGood("cap12-cancel.xml");
    CHECK(p->msg().getMsgType() == schema::MsgType::CANCEL);
    REQUIRE(p->msg().getReferences().size() == 1);
    CHECK(text(p->msg().getReferences()[0].getId()) == "urn:oid:2.49.0.1.156.0.2026.07.28.002");
  }
  SECTION("bad reference entries are dropped with a warning") {
    std::string xml = readFile(kDataDir + "cap12-update.xml");
    auto at = xml.find("<references>") + 12;
    xml.insert(at, "just-an-id nbqx,x,not-a-time ");
    capnp::MallocMessageBuilder b;
    auto r = parseCap(xml, "t", 0, b);
    CHECK(r.accepted);
    CHECK(hasProblem(r, "alert/references", "not a sender,identifier,sent triple"));
    CHECK(hasProblem(r, "alert/references", "sent time unparsable"));
    CHECK(b.getRoot<Message>().getReferences().size() == 3);
  }
}

TEST_CASE("cap: encodings and line ends", "[cap]") {
  SECTION("ISO-8859-1 declared: é converted to UTF-8") {
    auto p = parseGood("latin1.xml");
    CHECK(text(p->msg().getPayload().getWarning()[0].getHeadline()) == "Orage violent près de Montréal, soyez prudents");
    CHECK(p->result.problems.empty());
  }
  SECTION("declared UTF-8 but Latin-1 bytes: decoded as Latin-1 with a warning") {
    auto p = parseGood("latin1-declared-utf8.xml");
    CHECK(text(p->msg().getPayload().getWarning()[0].getHeadline()) == "Tempête près de Québec");
    CHECK(hasProblem(p->result, "document", "decoded as ISO-8859-1"));
  }
  SECTION("UTF-8 BOM") {
    auto p = parseGood("bom.xml");
    CHECK(text(p->msg().getId()) == "NB-RAIN-BOM");
  }
  SECTION("CR-only line ends") {
    auto p = parseGood("cr-only.xml");
    CHECK(text(p->msg().getId()) == "NB-FOG-CR");
    CHECK(p->msg().getPayload().getWarning()[0].getAreas()[0].getCircles().size() == 1);
  }
}

TEST_CASE("cap: hostile and broken documents", "[cap]") {
  SECTION("DOCTYPE with an external entity (XXE) is refused") {
    auto p = parseSample("xxe-doctype.xml");
    CHECK(!p->result.accepted);
    REQUIRE(p->result.problems.size() == 1);
    CHECK(p->result.problems[0].field == "DOCTYPE");
    CHECK(p->result.problems[0].source == "xxe-doctype.xml");
  }
  SECTION("malformed XML gives one error with pugixml's offset") {
    auto p = parseSample("malformed.xml");
    CHECK(!p->result.accepted);
    REQUIRE(p->result.problems.size() == 1);
    CHECK(p->result.problems[0].position.rfind("offset ", 0) == 0);
    CHECK(p->result.problems[0].reason.find("malformed XML") != std::string::npos);
  }
  SECTION("broken polygons and circles are dropped, the alert is kept") {
    auto p = parseGood("broken-polygon.xml");
    auto& r = p->result;
    const std::string a = "alert/info[1]/area[1]";
    CHECK(hasProblem(r, a + "/polygon[2]", "not closed"));
    CHECK(hasProblem(r, a + "/polygon[3]", "not a lat,lon pair"));
    CHECK(hasProblem(r, a + "/polygon[4]", "outside"));
    CHECK(hasProblem(r, a + "/polygon[5]", "empty polygon"));
    CHECK(hasProblem(r, a + "/circle[1]", "circle dropped"));
    for (auto& pr : r.problems) CHECK(pr.level == CapProblem::Level::warning);
    auto area = p->msg().getPayload().getWarning()[0].getAreas()[0];
    CHECK(area.getPolygons().size() == 1);
    CHECK(area.getCircles().size() == 0);
    CHECK(r.problems[0].str() ==
          "broken-polygon.xml: warning: alert/info[1]/area[1]/polygon[2]: polygon=\"29.9,121.8 29.9,122.0 30.0,121.9 "
          "29.95,121.85\": ring not closed (first != last); polygon dropped");
  }
  SECTION("missing required header fields are errors naming the element") {
    capnp::MallocMessageBuilder b;
    auto r = parseCap("<alert xmlns='urn:oasis:names:tc:emergency:cap:1.2'><sent>yesterday</sent>"
                      "<status>Real</status><msgType>Alert</msgType></alert>",
                      "t", 0, b);
    CHECK(!r.accepted);
    CHECK(hasProblem(r, "alert/identifier", "missing"));
    CHECK(hasProblem(r, "alert/sender", "missing"));
    CHECK(hasProblem(r, "alert/sent", "ISO 8601"));
    CHECK(hasProblem(r, "alert/status", "not Actual"));
    CHECK(hasProblem(r, "alert/info", "no <info>"));
  }
  SECTION("oversized input is refused unread") {
    capnp::MallocMessageBuilder b;
    std::string big(kMaxCapBytes + 1, ' ');
    auto r = parseCap(big, "t", 0, b);
    CHECK(!r.accepted);
    CHECK(r.problems[0].field == "size");
  }
}

TEST_CASE("cap: never crashes on truncated or garbled samples", "[cap][robustness]") {
  const char* names[] = {"cap12-multilang.xml", "cap11-prefixed.xml", "latin1.xml", "broken-polygon.xml"};
  uint32_t seed = 12345;
  auto rnd = [&] { return seed = seed * 1664525u + 1013904223u; };
  size_t accepted = 0, runs = 0;
  for (auto name : names) {
    std::string xml = readFile(kDataDir + name);
    for (size_t cut = 0; cut < xml.size(); cut += 7) {
      capnp::MallocMessageBuilder b;
      auto r = parseCap(std::string_view(xml).substr(0, cut), name, 0, b);
      CHECK((r.accepted == (r.errorCount() == 0)));
      ++runs;
    }
    for (int i = 0; i < 300; ++i) {
      std::string g = xml;
      for (int k = 0; k < 4; ++k) g[rnd() % g.size()] = static_cast<char>(rnd() & 0xff);
      capnp::MallocMessageBuilder b;
      auto r = parseCap(g, name, 0, b);
      if (r.accepted) {
        ++accepted;
        validateMessage(b.getRoot<Message>().asReader(), 0);  // must not crash either
      }
      ++runs;
    }
  }
  CHECK(runs > 1000);
  CHECK(accepted > 0);
}

TEST_CASE("cap: normative event code skips DWD metadata eventCodes", "[cap]") {
  capnp::MallocMessageBuilder b;
  auto r = parseCap(
      "<alert xmlns='urn:oasis:names:tc:emergency:cap:1.2'><identifier>X</identifier><sender>s</sender>"
      "<sent>2026-07-28T09:00:00+08:00</sent><status>Actual</status><msgType>Alert</msgType><scope>Public</scope>"
      "<references/>"
      "<info><event>STURMBOEN</event><urgency>Immediate</urgency><severity>Moderate</severity>"
      "<certainty>Likely</certainty><eventCode><valueName>PROFILE_VERSION</valueName><value>2.1</value></eventCode>"
      "<eventCode><valueName>II</valueName><value>52</value></eventCode></info></alert>",
      "dwd", 0, b);
  INFO(problems(r));
  REQUIRE(r.accepted);
  CHECK(r.problems.empty());  // the empty <references/> is not worth a warning
  CHECK(text(b.getRoot<Message>().getPayload().getWarning()[0].getEventCode()) == "52");
}

// Found by fuzzing (tests/data/fuzz/adapter-regressions/met/cap-onset-after-expires.xml): the bus refuses an
// info whose expiry comes before its onset, so the onset is dropped with a warning and the expiry kept.
TEST_CASE("cap: an onset after expires is left absent with a warning", "[cap]") {
  capnp::MallocMessageBuilder b;
  auto r = parseCap(
      "<alert xmlns='urn:oasis:names:tc:emergency:cap:1.2'><identifier>X</identifier><sender>s</sender>"
      "<sent>2026-07-28T09:00:00+08:00</sent><status>Actual</status><msgType>Alert</msgType><scope>Public</scope>"
      "<info><event>Gale</event><urgency>Immediate</urgency><severity>Moderate</severity><certainty>Likely</certainty>"
      "<onset>2036-07-28T12:00:00+08:00</onset><expires>2036-07-28T09:00:00+08:00</expires></info></alert>",
      "t", 0, b);
  INFO(problems(r));
  REQUIRE(r.accepted);
  CHECK(hasProblem(r, "alert/info[1]/onset", "after expires"));
  auto info = b.getRoot<Message>().getPayload().getWarning()[0];
  CHECK(info.getOnsetMs() == 0);
  CHECK(info.getExpiresMs() == 2100819600000LL);  // 2036-07-28T01:00:00Z
  CHECK_FALSE(validateMessage(b.getRoot<Message>().asReader(), 1785240000000LL).has_value());
}

// Polygon numbers are read by layout (the same digits-and-point pattern as the number before, checked with
// one compare) or by a loop per digit; both must give exactly what strtod gives, for every way of writing a
// number CAP senders use, however the layout changes from one number to the next.
TEST_CASE("cap: polygon numbers equal strtod's, whatever their layouts", "[cap]") {
  std::mt19937 rng(20261129);
  auto number = [&](double limit) {
    const int style = static_cast<int>(rng() % 8);
    const double v = (static_cast<double>(rng() % 2000001) / 1000000.0 - 1.0) * limit;
    char buf[64];
    switch (style) {
      case 0: std::snprintf(buf, sizeof buf, "%.2f", v); break;
      case 1: std::snprintf(buf, sizeof buf, "%.4f", v); break;
      case 2: std::snprintf(buf, sizeof buf, "%.6f", v); break;   // longer than 8 bytes: the digit loop
      case 3: std::snprintf(buf, sizeof buf, "%.0f", v); break;   // no point
      case 4: std::snprintf(buf, sizeof buf, "%.1f", v); break;
      case 5: std::snprintf(buf, sizeof buf, "%+.3f", v); break;  // explicit '+'
      case 6: std::snprintf(buf, sizeof buf, "%.9f", v); break;
      default: std::snprintf(buf, sizeof buf, "%.5f", v); break;
    }
    return std::string(buf);
  };
  for (int round = 0; round < 300; ++round) {
    // Runs of one style (as senders write) and changes of style, 4 to 40 points, closed.
    const int points = 4 + static_cast<int>(rng() % 37);
    std::vector<std::string> lat, lon;
    for (int i = 0; i + 1 < points; ++i) {
      lat.push_back(number(89.9));
      lon.push_back(number(179.9));
    }
    lat.push_back(lat[0]);
    lon.push_back(lon[0]);
    std::string poly;
    for (size_t i = 0; i < lat.size(); ++i) poly += (i ? " " : "") + lat[i] + "," + lon[i];
    capnp::MallocMessageBuilder b;
    auto r = parseCap(
        "<alert xmlns='urn:oasis:names:tc:emergency:cap:1.2'><identifier>P</identifier><sender>s</sender>"
        "<sent>2026-07-28T09:00:00+08:00</sent><status>Actual</status><msgType>Alert</msgType><scope>Public</scope>"
        "<info><event>Gale</event><urgency>Immediate</urgency><severity>Moderate</severity>"
        "<certainty>Likely</certainty><area><areaDesc>a</areaDesc><polygon>" + poly +
            "</polygon></area></info></alert>",
        "t", 0, b);
    INFO(poly);
    INFO(problems(r));
    REQUIRE(r.accepted);
    auto polys = b.getRoot<Message>().getPayload().getWarning()[0].getAreas()[0].getPolygons();
    REQUIRE(polys.size() == 1);
    auto pts = polys[0].getPoints();
    REQUIRE(pts.size() == lat.size());
    for (unsigned i = 0; i < pts.size(); ++i) {
      CHECK(pts[i].getLat() == std::strtod(lat[i].c_str(), nullptr));
      CHECK(pts[i].getLon() == std::strtod(lon[i].c_str(), nullptr));
    }
  }
}

TEST_CASE("cap: time parsing", "[cap]") {
  int64_t ms = 0;
  CHECK(parseCapTime("1970-01-01T00:00:00Z", ms));
  CHECK(ms == 0);
  CHECK(parseCapTime("2026-07-28T09:00:00+08:00", ms));
  CHECK(ms == 1785200400000LL);
  CHECK(parseCapTime("2026-07-28T01:00:00.250-00:00", ms));
  CHECK(ms == 1785200400250LL);
  CHECK(!parseCapTime("2026-07-28 01:00:00Z", ms));
  CHECK(!parseCapTime("2026-07-28T01:00:00", ms));  // no offset
  CHECK(!parseCapTime("2026-13-28T01:00:00Z", ms));
  CHECK(!parseCapTime("2026-07-28T01:00:00+08", ms));
}
