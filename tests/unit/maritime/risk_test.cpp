// Vessels at risk: warnings taken from broker messages (alert/update/cancel/expiry, events of interest),
// shelters, polygons and circles, change detection, report ids and chaining, bounds, and validateMessage on
// every report. Geometry: a typhoon warning box over the sea east of Zhoushan, Shenjiamen port as shelter.
#include <catch2/catch.hpp>

#include <optional>

#include "adapters/maritime/risk.h"
#include "model/validate.h"

using namespace alertbus;
using namespace alertbus::maritime;

namespace {

constexpr int64_t kNowMs = 1724922000000LL;  // 2024-08-29T09:00Z
constexpr uint32_t kAtSea = 412000001, kInPort = 412000002, kOutside = 412000003;

struct WarningSpec {
  std::string sender = "met", id = "typhoon-2411-orange";
  std::string origin;                                       // Message.origin: the CAP sender as written
  schema::MsgType type = schema::MsgType::ALERT;
  schema::Status status = schema::Status::ACTUAL;
  std::string eventCode = "typhoon";
  std::string extraEventCode;                               // in eventCodes
  std::vector<std::vector<std::pair<double, double>>> polygons = {
      {{29.5, 122.0}, {29.5, 123.0}, {30.5, 123.0}, {30.5, 122.0}, {29.5, 122.0}}};
  std::vector<std::tuple<double, double, double>> circles;  // lat, lon, km
  int64_t expiresMs = 0;
  std::vector<std::pair<std::string, std::string>> refs;    // sender, id
  std::string incident;
  int64_t sentMs = kNowMs - 60000;
};

std::unique_ptr<capnp::MallocMessageBuilder> build(const WarningSpec& s) {
  auto b = std::make_unique<capnp::MallocMessageBuilder>();
  auto m = b->initRoot<schema::Message>();
  m.setId(s.id);
  m.setSender(s.sender);
  if (!s.origin.empty()) m.setOrigin(s.origin);
  m.setSentMs(s.sentMs);
  m.setStatus(s.status);
  m.setMsgType(s.type);
  if (!s.incident.empty()) m.setIncident(s.incident);
  auto refs = m.initReferences(static_cast<unsigned>(s.refs.size()));
  for (unsigned i = 0; i < s.refs.size(); ++i) {
    refs[i].setSender(s.refs[i].first);
    refs[i].setId(s.refs[i].second);
    refs[i].setSentMs(kNowMs - 120000);
  }
  auto info = m.initPayload().initWarning(1)[0];
  info.setLanguage("zh-CN");
  info.setEventCode(s.eventCode);
  if (!s.extraEventCode.empty()) {
    auto ecs = info.initEventCodes(1);
    ecs[0].setKey("GB/T 35965");
    ecs[0].setValue(s.extraEventCode);
  }
  info.setExpiresMs(s.expiresMs);
  auto area = info.initAreas(1)[0];
  area.setDescription("舟山东部海域");
  auto polys = area.initPolygons(static_cast<unsigned>(s.polygons.size()));
  for (unsigned i = 0; i < s.polygons.size(); ++i) {
    auto pts = polys[i].initPoints(static_cast<unsigned>(s.polygons[i].size()));
    for (unsigned k = 0; k < s.polygons[i].size(); ++k) {
      pts[k].setLat(s.polygons[i][k].first);
      pts[k].setLon(s.polygons[i][k].second);
    }
  }
  auto cs = area.initCircles(static_cast<unsigned>(s.circles.size()));
  for (unsigned i = 0; i < s.circles.size(); ++i) {
    cs[i].initCenter().setLat(std::get<0>(s.circles[i]));
    cs[i].getCenter().setLon(std::get<1>(s.circles[i]));
    cs[i].setRadiusKm(std::get<2>(s.circles[i]));
  }
  return b;
}

WarningIntake take(RiskMonitor& rm, const WarningSpec& s, int64_t at = kNowMs) {
  auto b = build(s);
  return rm.onMessage(b->getRoot<schema::Message>().asReader(), at);
}

RiskOptions withShelter() {
  RiskOptions o;
  GeoArea port;
  port.name = "Shenjiamen";
  port.polygons = {{{29.93, 122.28}, {29.93, 122.32}, {29.97, 122.32}, {29.97, 122.28}}};
  o.shelters.push_back(port);
  return o;
}

void place(VesselRegistry& reg, uint32_t mmsi, double lat, double lon, int64_t at) {
  AisPosition p;
  p.type = 1;
  p.mmsi = mmsi;
  p.latDeg = lat;
  p.lonDeg = lon;
  p.sogKnots = 3.5;
  p.cogDeg = 270.0;
  reg.updatePosition(p, at);
}

VesselRegistry fleet() {
  VesselRegistryOptions o;
  o.maxPlausibleKnots = 100000;  // tests teleport vessels
  VesselRegistry reg(o);
  place(reg, kAtSea, 30.2, 122.6, kNowMs);
  AisStatic s;
  s.type = 5;
  s.mmsi = kAtSea;
  s.name = "ZHE DAI YU 01234";
  s.callsign = "BQAB";
  s.imo = 9123456;
  s.shipType = 30;
  reg.updateStatic(s, kNowMs);
  place(reg, kInPort, 29.95, 122.30, kNowMs);
  place(reg, kOutside, 31.5, 122.5, kNowMs);
  return reg;
}

schema::Message::Reader msg(const adapter::Output& out, size_t i = 0) {
  REQUIRE(out.messages.size() > i);
  return out.messages[i]->getRoot<schema::Message>().asReader();
}

std::vector<uint32_t> mmsis(schema::Message::Reader m) {
  std::vector<uint32_t> r;
  for (auto v : m.getPayload().getSitrep().getVessels()) r.push_back(v.getMmsi());
  return r;
}

void requireValid(const adapter::Output& out, int64_t nowMs) {
  for (const auto& mb : out.messages) {
    auto p = validateMessage(mb->getRoot<schema::Message>().asReader(), nowMs);
    INFO((p ? p->field + "=" + p->value + ": " + p->reason : std::string()));
    CHECK_FALSE(p.has_value());
  }
}

std::string str(capnp::Text::Reader t) { return std::string(t.cStr(), t.size()); }

}  // namespace

TEST_CASE("risk: a vessel inside the typhoon polygon and not in shelter is reported", "[risk]") {
  RiskMonitor rm(withShelter());
  auto reg = fleet();
  WarningSpec w;
  w.incident = "typhoon-2411";
  CHECK(take(rm, w).outcome == WarningOutcome::Taken);
  auto out = rm.evaluate(reg, kNowMs);
  requireValid(out, kNowMs);
  REQUIRE(out.messages.size() == 1);
  auto m = msg(out);
  CHECK(str(m.getId()) == "vessels-at-risk-typhoon-2411-orange-1");
  CHECK(m.getMsgType() == schema::MsgType::ALERT);
  CHECK(m.getStatus() == schema::Status::ACTUAL);
  CHECK(m.getSentMs() == kNowMs);
  CHECK(str(m.getIncident()) == "typhoon-2411");
  REQUIRE(m.getReferences().size() == 1);
  CHECK(str(m.getReferences()[0].getSender()) == "met");
  CHECK(str(m.getReferences()[0].getId()) == "typhoon-2411-orange");
  CHECK(m.getReferences()[0].getSentMs() == kNowMs - 60000);
  auto sr = m.getPayload().getSitrep();
  CHECK(str(sr.getEvent()) == "typhoon");
  CHECK(sr.getReportNumber() == 1);
  REQUIRE(sr.getAreas().size() == 1);
  CHECK(str(sr.getAreas()[0].getDescription()) == "舟山东部海域");
  CHECK(mmsis(m) == std::vector<uint32_t>{kAtSea});  // not the one in Shenjiamen, not the one outside
  auto v = sr.getVessels()[0];
  CHECK(str(v.getName()) == "ZHE DAI YU 01234");
  CHECK(str(v.getCallsign()) == "BQAB");
  CHECK(v.getImo() == 9123456u);
  CHECK(v.getShipType() == 30);
  CHECK(v.getPosition().getLat() == 30.2);
  CHECK(v.getSogKnots() == 3.5);
  CHECK(v.getCogDeg() == 270.0);
  CHECK(v.getLastSeenMs() == kNowMs);
  REQUIRE(v.getAreas().size() == 1);
  CHECK(str(v.getAreas()[0]) == "舟山东部海域");
  REQUIRE(sr.getResources().size() == 1);
  CHECK(str(sr.getResources()[0].getKind()) == "vessels-at-risk");
  CHECK(sr.getResources()[0].getCount() == 1);
  std::string n = str(sr.getNarrative());
  CHECK(n.find("1 艘船舶位于台风预警区域内") != std::string::npos);
  CHECK(n.find("1 vessel inside typhoon warning area, not in shelter") != std::string::npos);
  CHECK(str(m.getProvenance().getContentType()) == "application/json");
  CHECK(str(m.getProvenance().getSource()) == "maritime-risk");
  CHECK(m.getProvenance().getOriginal().size() > 0);
}

TEST_CASE("risk: without a shelter the vessel in port is at risk too", "[risk]") {
  RiskMonitor rm;
  auto reg = fleet();
  take(rm, WarningSpec{});
  auto out = rm.evaluate(reg, kNowMs);
  CHECK(mmsis(msg(out)) == std::vector<uint32_t>{kAtSea, kInPort});
}

TEST_CASE("risk: no re-report when nothing changed until the interval passes", "[risk]") {
  RiskOptions o = withShelter();
  o.reportIntervalMs = 600000;
  RiskMonitor rm(o);
  auto reg = fleet();
  take(rm, WarningSpec{});
  REQUIRE(rm.evaluate(reg, kNowMs).messages.size() == 1);
  place(reg, kAtSea, 30.21, 122.61, kNowMs + 60000);  // moves but stays inside
  CHECK(rm.evaluate(reg, kNowMs + 60000).messages.empty());
  CHECK(rm.evaluate(reg, kNowMs + 599999).messages.empty());
  auto out = rm.evaluate(reg, kNowMs + 600000);
  requireValid(out, kNowMs + 600000);
  REQUIRE(out.messages.size() == 1);
  CHECK(msg(out).getMsgType() == schema::MsgType::UPDATE);
  CHECK(str(msg(out).getId()) == "vessels-at-risk-typhoon-2411-orange-2");
  CHECK(str(msg(out).getPayload().getSitrep().getNarrative()).find("periodic report") != std::string::npos);
}

TEST_CASE("risk: a vessel moving out gives an update report referencing the previous one", "[risk]") {
  RiskMonitor rm(withShelter());
  auto reg = fleet();
  take(rm, WarningSpec{});
  rm.evaluate(reg, kNowMs);
  SECTION("out of the area") {
    place(reg, kAtSea, 31.2, 122.6, kNowMs + 60000);
  }
  SECTION("into the shelter") {
    place(reg, kAtSea, 29.95, 122.29, kNowMs + 60000);
  }
  auto out = rm.evaluate(reg, kNowMs + 60000);
  requireValid(out, kNowMs + 60000);
  REQUIRE(out.messages.size() == 1);
  auto m = msg(out);
  CHECK(m.getMsgType() == schema::MsgType::UPDATE);
  CHECK(mmsis(m).empty());
  CHECK(m.getPayload().getSitrep().getResources()[0].getCount() == 0);
  REQUIRE(m.getReferences().size() == 2);
  CHECK(str(m.getReferences()[0].getId()) == "typhoon-2411-orange");
  CHECK(str(m.getReferences()[1].getSender()) == "maritime");
  CHECK(str(m.getReferences()[1].getId()) == "vessels-at-risk-typhoon-2411-orange-1");
  CHECK(m.getReferences()[1].getSentMs() == kNowMs);
  CHECK(m.getPayload().getSitrep().getPeriodStartMs() == kNowMs);
  CHECK(str(m.getPayload().getSitrep().getNarrative()).find("0 entered, 1 left") == std::string::npos);
  CHECK(str(m.getPayload().getSitrep().getNarrative()).find("0 vessel(s) entered, 1 left") != std::string::npos);
}

TEST_CASE("risk: a warning update moves the area and continues the series", "[risk]") {
  RiskMonitor rm(withShelter());
  auto reg = fleet();
  take(rm, WarningSpec{});
  rm.evaluate(reg, kNowMs);
  WarningSpec u;
  u.id = "typhoon-2411-red";
  u.type = schema::MsgType::UPDATE;
  u.refs = {{"met", "typhoon-2411-orange"}};
  u.polygons = {{{31.0, 122.0}, {31.0, 123.0}, {32.0, 123.0}, {32.0, 122.0}, {31.0, 122.0}}};
  auto in = take(rm, u, kNowMs + 60000);
  CHECK(in.outcome == WarningOutcome::Taken);
  CHECK(rm.activeWarnings() == 1);
  auto out = rm.evaluate(reg, kNowMs + 60000);
  requireValid(out, kNowMs + 60000);
  REQUIRE(out.messages.size() == 1);
  auto m = msg(out);
  CHECK(str(m.getId()) == "vessels-at-risk-typhoon-2411-orange-2");
  CHECK(m.getMsgType() == schema::MsgType::UPDATE);
  CHECK(mmsis(m) == std::vector<uint32_t>{kOutside});
  CHECK(str(m.getReferences()[0].getId()) == "typhoon-2411-red");
  CHECK(m.getPayload().getSitrep().getVersion() == 2);
  CHECK(m.getPayload().getSitrep().getAreas()[0].getPolygons()[0].getPoints()[0].getLat() == 31.0);
  SECTION("a cancel of the update's id ends it") {
    WarningSpec c;
    c.id = "typhoon-2411-cancel";
    c.type = schema::MsgType::CANCEL;
    c.refs = {{"met", "typhoon-2411-red"}};
    CHECK(take(rm, c, kNowMs + 120000).outcome == WarningOutcome::Taken);
    auto fin = rm.evaluate(reg, kNowMs + 120000);
    REQUIRE(fin.messages.size() == 1);
    CHECK(str(msg(fin).getId()) == "vessels-at-risk-typhoon-2411-orange-3");
  }
}

TEST_CASE("risk: cancel gives a final update report with zero vessels", "[risk]") {
  RiskMonitor rm(withShelter());
  auto reg = fleet();
  take(rm, WarningSpec{});
  rm.evaluate(reg, kNowMs);
  WarningSpec c;
  c.id = "typhoon-2411-cancel";
  c.type = schema::MsgType::CANCEL;
  c.refs = {{"met", "typhoon-2411-orange"}};
  CHECK(take(rm, c, kNowMs + 60000).outcome == WarningOutcome::Taken);
  auto out = rm.evaluate(reg, kNowMs + 60000);
  requireValid(out, kNowMs + 60000);
  REQUIRE(out.messages.size() == 1);
  auto m = msg(out);
  CHECK(m.getMsgType() == schema::MsgType::UPDATE);
  CHECK(mmsis(m).empty());
  CHECK(m.getPayload().getSitrep().getResources()[0].getCount() == 0);
  std::string n = str(m.getPayload().getSitrep().getNarrative());
  CHECK(n.find("已取消") != std::string::npos);
  CHECK(n.find("warning cancelled") != std::string::npos);
  REQUIRE(m.getReferences().size() == 3);
  CHECK(str(m.getReferences()[1].getId()) == "typhoon-2411-cancel");
  CHECK(str(m.getReferences()[2].getId()) == "vessels-at-risk-typhoon-2411-orange-1");
  CHECK(rm.activeWarnings() == 0);
  CHECK(rm.evaluate(reg, kNowMs + 3600000).messages.empty());
  SECTION("a cancel of nothing known is ignored") {
    CHECK(take(rm, c).outcome == WarningOutcome::Ignored);
  }
}

TEST_CASE("risk: a warning cancelled before any evaluate produces no report", "[risk]") {
  RiskMonitor rm;
  auto reg = fleet();
  take(rm, WarningSpec{});
  WarningSpec c;
  c.id = "x";
  c.type = schema::MsgType::CANCEL;
  c.refs = {{"", "typhoon-2411-orange"}};
  take(rm, c);
  CHECK(rm.evaluate(reg, kNowMs).messages.empty());
  CHECK(rm.activeWarnings() == 0);
}

TEST_CASE("risk: expiry ends the warning with a final report", "[risk]") {
  RiskMonitor rm(withShelter());
  auto reg = fleet();
  WarningSpec w;
  w.expiresMs = kNowMs + 3600000;
  take(rm, w);
  REQUIRE(rm.evaluate(reg, kNowMs).messages.size() == 1);
  auto out = rm.evaluate(reg, kNowMs + 3600000);
  requireValid(out, kNowMs + 3600000);
  REQUIRE(out.messages.size() == 1);
  CHECK(mmsis(msg(out)).empty());
  CHECK(str(msg(out).getPayload().getSitrep().getNarrative()).find("expired") != std::string::npos);
  CHECK(rm.activeWarnings() == 0);
  SECTION("an already expired alert is refused") {
    WarningSpec old;
    old.id = "old";
    old.expiresMs = kNowMs - 1;
    CHECK(take(rm, old).outcome == WarningOutcome::Rejected);
  }
  SECTION("a warning without expiry ends after warning_ttl_ms") {
    RiskOptions o;
    o.warningTtlMs = 7200000;
    o.reportIntervalMs = 0;
    RiskMonitor r2(o);
    take(r2, WarningSpec{});
    r2.evaluate(reg, kNowMs);
    CHECK(r2.evaluate(reg, kNowMs + 7199999).messages.empty());
    auto fin = r2.evaluate(reg, kNowMs + 7200000);
    REQUIRE(fin.messages.size() == 1);
    CHECK(r2.activeWarnings() == 0);
  }
}

TEST_CASE("risk: circle areas by haversine distance", "[risk]") {
  RiskMonitor rm;
  VesselRegistryOptions ro;
  ro.maxPlausibleKnots = 100000;
  VesselRegistry reg(ro);
  place(reg, 1, 30.0 + 10.0 / 111.2, 122.5, kNowMs);  // ~10 km north of the centre
  place(reg, 2, 30.0 + 30.0 / 111.2, 122.5, kNowMs);  // ~30 km north
  WarningSpec w;
  w.eventCode = "gale";
  w.polygons.clear();
  w.circles = {{30.0, 122.5, 20.0}};
  take(rm, w);
  auto out = rm.evaluate(reg, kNowMs);
  requireValid(out, kNowMs);
  CHECK(mmsis(msg(out)) == std::vector<uint32_t>{1});
  CHECK(str(msg(out).getPayload().getSitrep().getNarrative()).find("大风") != std::string::npos);
}

TEST_CASE("risk: several polygons in one area", "[risk]") {
  RiskMonitor rm;
  auto reg = fleet();
  WarningSpec w;
  w.polygons = {{{0.0, 0.0}, {0.0, 1.0}, {1.0, 1.0}, {0.0, 0.0}},  // unrelated, counter-clockwise order
                {{31.0, 122.0}, {32.0, 122.0}, {32.0, 123.0}, {31.0, 123.0}, {31.0, 122.0}}};
  take(rm, w);
  CHECK(mmsis(msg(rm.evaluate(reg, kNowMs))) == std::vector<uint32_t>{kOutside});
}

TEST_CASE("risk: only warnings of interest are taken", "[risk]") {
  RiskMonitor rm;
  WarningSpec w;
  SECTION("rainstorm is not of interest") {
    w.eventCode = "rainstorm";
    CHECK(take(rm, w).outcome == WarningOutcome::Ignored);
  }
  SECTION("the national code in eventCodes matches") {
    w.eventCode = "大风";
    w.extraEventCode = "11B06";
    CHECK(take(rm, w).outcome == WarningOutcome::Taken);
  }
  SECTION("a prefix pattern matches") {
    RiskOptions o;
    o.events = {"11B0*"};
    RiskMonitor r2(o);
    w.eventCode = "11B01";
    CHECK(take(r2, w).outcome == WarningOutcome::Taken);
  }
  SECTION("exercises and tests are taken (each in its own lane); system and draft are ignored") {
    w.status = schema::Status::EXERCISE;
    CHECK(take(rm, w).outcome == WarningOutcome::Taken);
    w.status = schema::Status::TEST;
    CHECK(take(rm, w).outcome == WarningOutcome::Taken);
    w.id = "typhoon-2411-system";
    w.status = schema::Status::SYSTEM;
    CHECK(take(rm, w).outcome == WarningOutcome::Ignored);
    w.status = schema::Status::DRAFT;
    CHECK(take(rm, w).outcome == WarningOutcome::Ignored);
    CHECK(rm.activeWarnings() == 2);
  }
  SECTION("a duplicate alert is ignored") {
    CHECK(take(rm, w).outcome == WarningOutcome::Taken);
    CHECK(take(rm, w).outcome == WarningOutcome::Ignored);
  }
  SECTION("an update of an unknown warning is taken as new") {
    w.type = schema::MsgType::UPDATE;
    w.refs = {{"met", "never-seen"}};
    CHECK(take(rm, w).outcome == WarningOutcome::Taken);
    CHECK(rm.activeWarnings() == 1);
  }
  SECTION("an invalid warning of interest is rejected with a problem") {
    w.polygons = {{{29.5, 122.0}, {29.5, 123.0}, {30.5, 123.0}, {30.5, 122.0}}};  // not closed
    auto r = take(rm, w);
    CHECK(r.outcome == WarningOutcome::Rejected);
    REQUIRE(r.problems.size() == 1);
    CHECK(r.problems[0].reason.find("ring not closed") != std::string::npos);
  }
}

TEST_CASE("risk: bounds on warnings and listed vessels", "[risk]") {
  RiskOptions o;
  o.maxWarnings = 1;
  o.maxVesselsPerReport = 2;
  RiskMonitor rm(o);
  VesselRegistry reg;
  for (uint32_t i = 1; i <= 5; ++i) place(reg, 412000000 + i, 30.0 + i * 0.01, 122.5, kNowMs);
  take(rm, WarningSpec{});
  WarningSpec second;
  second.id = "gale-1";
  second.eventCode = "gale";
  auto r = take(rm, second);
  CHECK(r.outcome == WarningOutcome::Rejected);
  CHECK(r.reason.find("max_warnings") != std::string::npos);
  auto out = rm.evaluate(reg, kNowMs);
  requireValid(out, kNowMs);
  auto m = msg(out);
  CHECK(mmsis(m) == std::vector<uint32_t>{412000001, 412000002});
  CHECK(m.getPayload().getSitrep().getResources()[0].getCount() == 5);
  CHECK(str(m.getPayload().getSitrep().getNarrative()).find("Only the first 2 by MMSI are listed; 3 more") !=
        std::string::npos);
}

TEST_CASE("risk: report ids are sanitised and bounded", "[risk]") {
  CHECK(sanitiseIdPart("a b,c<d&e\tf", 16, 2) == "a_b_c_d_e_f");
  std::string longId(300, 'x');
  std::string s = sanitiseIdPart(longId, 16, 4);
  CHECK(s.size() == 180);
  CHECK(s.find('~') == 171);
  std::string zh;
  for (int i = 0; i < 100; ++i) zh += "台";
  std::string z = sanitiseIdPart(zh, 16, 4);
  CHECK(z.size() <= 180);
  CHECK(isCleanUtf8(z.data(), z.size()));

  RiskMonitor rm;
  auto reg = fleet();
  WarningSpec w;
  w.id = "typhoon/" + std::string(192, 'x');  // the longest id the broker lets through
  CHECK(take(rm, w).outcome == WarningOutcome::Taken);
  auto out = rm.evaluate(reg, kNowMs);
  requireValid(out, kNowMs);
  std::string id = str(msg(out).getId());
  CHECK(id.size() <= 200);
  CHECK(id.rfind("vessels-at-risk-typhoon/xxx", 0) == 0);
  CHECK(id.substr(id.size() - 2) == "-1");
}

TEST_CASE("risk: config check names bad shelters", "[risk]") {
  RiskOptions o;
  GeoArea bad;
  bad.name = "Port X";
  bad.polygons = {{{30, 122}, {30, 122.1}}};
  o.shelters.push_back(bad);
  auto errs = checkRiskOptions(o);
  REQUIRE(errs.size() == 1);
  CHECK(errs[0] == "shelters[0] (Port X): polygon[0]: 2 distinct points, needs 3");
  CHECK(checkRiskOptions(withShelter()).empty());
}

TEST_CASE("risk: an exercise warning gives exercise reports, an actual one actual reports, never one series",
          "[risk]") {
  RiskMonitor rm(withShelter());
  auto reg = fleet();
  WarningSpec real;
  WarningSpec drill;
  drill.id = "typhoon-drill-2411";
  drill.status = schema::Status::EXERCISE;
  REQUIRE(take(rm, real).outcome == WarningOutcome::Taken);
  REQUIRE(take(rm, drill).outcome == WarningOutcome::Taken);
  auto out = rm.evaluate(reg, kNowMs);
  requireValid(out, kNowMs);
  REQUIRE(out.messages.size() == 2);
  CHECK(str(msg(out, 0).getId()) == "vessels-at-risk-typhoon-2411-orange-1");
  CHECK(msg(out, 0).getStatus() == schema::Status::ACTUAL);
  CHECK(str(msg(out, 1).getId()) == "vessels-at-risk-typhoon-drill-2411-1");
  CHECK(msg(out, 1).getStatus() == schema::Status::EXERCISE);
  CHECK(mmsis(msg(out, 1)) == std::vector<uint32_t>{kAtSea});

  SECTION("an exercise cancel naming the real warning does not end it") {
    WarningSpec c;
    c.id = "typhoon-drill-cancel";
    c.type = schema::MsgType::CANCEL;
    c.status = schema::Status::EXERCISE;
    c.refs = {{"met", "typhoon-2411-orange"}};
    CHECK(take(rm, c, kNowMs + 60000).outcome == WarningOutcome::Ignored);
    CHECK(rm.evaluate(reg, kNowMs + 60000).messages.empty());
    CHECK(rm.activeWarnings() == 2);
  }
  SECTION("an actual update naming the drill starts a series of its own, the drill goes on") {
    WarningSpec u;
    u.id = "typhoon-2411-upd";
    u.type = schema::MsgType::UPDATE;
    u.refs = {{"met", "typhoon-drill-2411"}};
    CHECK(take(rm, u, kNowMs + 60000).outcome == WarningOutcome::Taken);
    CHECK(rm.activeWarnings() == 3);
    auto next = rm.evaluate(reg, kNowMs + 60000);
    REQUIRE(next.messages.size() == 1);
    CHECK(str(msg(next).getId()) == "vessels-at-risk-typhoon-2411-upd-1");
    CHECK(msg(next).getStatus() == schema::Status::ACTUAL);
  }
  SECTION("the drill's own cancel ends the drill series with an exercise final report") {
    WarningSpec c;
    c.id = "typhoon-drill-cancel";
    c.type = schema::MsgType::CANCEL;
    c.status = schema::Status::EXERCISE;
    c.refs = {{"met", "typhoon-drill-2411"}};
    CHECK(take(rm, c, kNowMs + 60000).outcome == WarningOutcome::Taken);
    auto fin = rm.evaluate(reg, kNowMs + 60000);
    requireValid(fin, kNowMs + 60000);
    REQUIRE(fin.messages.size() == 1);
    CHECK(str(msg(fin).getId()) == "vessels-at-risk-typhoon-drill-2411-2");
    CHECK(msg(fin).getStatus() == schema::Status::EXERCISE);
    CHECK(mmsis(msg(fin)).empty());
    CHECK(rm.activeWarnings() == 1);
  }
}

TEST_CASE("risk: references by CAP sender (origin) follow the chain alert -> update -> cancel", "[risk]") {
  RiskMonitor rm(withShelter());
  auto reg = fleet();
  WarningSpec a;
  a.id = "33020041600000_20240829090000";
  a.origin = "nbqx@nbmb.gov.cn";
  REQUIRE(take(rm, a).outcome == WarningOutcome::Taken);
  REQUIRE(rm.evaluate(reg, kNowMs).messages.size() == 1);
  WarningSpec u;
  u.id = "33020041600000_20240829120000";
  u.origin = "nbqx@nbmb.gov.cn";
  u.type = schema::MsgType::UPDATE;
  u.refs = {{"nbqx@nbmb.gov.cn", a.id}};
  u.polygons = {{{31.0, 122.0}, {31.0, 123.0}, {32.0, 123.0}, {32.0, 122.0}, {31.0, 122.0}}};
  auto in = take(rm, u, kNowMs + 60000);
  CHECK(in.outcome == WarningOutcome::Taken);
  CHECK(in.reason == "updated warning " + a.id);
  CHECK(rm.activeWarnings() == 1);  // the same series, not a new one
  auto out = rm.evaluate(reg, kNowMs + 60000);
  REQUIRE(out.messages.size() == 1);
  CHECK(str(msg(out).getId()) == "vessels-at-risk-" + a.id + "-2");
  CHECK(mmsis(msg(out)) == std::vector<uint32_t>{kOutside});
  CHECK(take(rm, u, kNowMs + 70000).outcome == WarningOutcome::Ignored);  // the same update again
  CHECK(rm.evaluate(reg, kNowMs + 70000).messages.empty());                // counted once: nothing changed

  WarningSpec c;
  c.id = "33020041600000_20240829150000";
  c.origin = "nbqx@nbmb.gov.cn";
  c.type = schema::MsgType::CANCEL;
  SECTION("a cancel naming the alert and the update") {
    c.refs = {{"nbqx@nbmb.gov.cn", a.id}, {"nbqx@nbmb.gov.cn", u.id}};
  }
  SECTION("a cancel naming only the first alert of the chain") {
    c.refs = {{"nbqx@nbmb.gov.cn", a.id}};
  }
  SECTION("a cancel naming the update by its bus agency") {
    c.refs = {{"met", u.id}};
  }
  SECTION("a cancel from another bus agency (a provincial observatory) naming the CAP sender") {
    c.sender = "met-province";
    c.origin = "zjqx@zjmb.gov.cn";
    c.refs = {{"nbqx@nbmb.gov.cn", u.id}};
  }
  CHECK(take(rm, c, kNowMs + 120000).outcome == WarningOutcome::Taken);
  auto fin = rm.evaluate(reg, kNowMs + 120000);
  requireValid(fin, kNowMs + 120000);
  REQUIRE(fin.messages.size() == 1);
  CHECK(str(msg(fin).getId()) == "vessels-at-risk-" + a.id + "-3");
  CHECK(mmsis(msg(fin)).empty());
  CHECK(str(msg(fin).getPayload().getSitrep().getNarrative()).find("已取消") != std::string::npos);
  REQUIRE(msg(fin).getReferences().size() == 3);
  CHECK(str(msg(fin).getReferences()[1].getSender()) == c.sender);
  CHECK(str(msg(fin).getReferences()[1].getId()) == c.id);
  CHECK(rm.activeWarnings() == 0);
}

TEST_CASE("risk: a reference whose sender is neither the agency nor the origin names nothing", "[risk]") {
  RiskMonitor rm;
  auto reg = fleet();
  WarningSpec a;
  a.id = "33020041600000_20240829090000";
  a.origin = "nbqx@nbmb.gov.cn";
  REQUIRE(take(rm, a).outcome == WarningOutcome::Taken);
  WarningSpec c;
  c.id = "zj-cancel-1";
  c.sender = "met-province";
  c.origin = "zjqx@zjmb.gov.cn";
  c.type = schema::MsgType::CANCEL;
  c.refs = {{"zjqx@zjmb.gov.cn", a.id}};  // the cancelling observatory's own sender: not the original's
  CHECK(take(rm, c).outcome == WarningOutcome::Ignored);
  c.refs = {{"met-province", a.id}};
  CHECK(take(rm, c).outcome == WarningOutcome::Ignored);
  CHECK(rm.activeWarnings() == 1);
}
