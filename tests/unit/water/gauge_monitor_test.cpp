// Gauge state machine (adapters/water/gauge_monitor.h) on the Ningbo sample stations: observations, every
// plausibility rejection, threshold alert/escalation/de-escalation/cancel with references, hysteresis
// without flapping, rate of rise, state save/restore with identical ids. Every message must pass
// validateMessage at the receive time.
#include "adapters/water/gauge_monitor.h"

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "model/validate.h"
#include "schemas/message.capnp.h"

using namespace alertbus;
using namespace alertbus::water;
using schema::Message;

namespace {

const std::string kDataDir = std::string(ALERTBUS_SOURCE_DIR) + "/tests/data/water/";
constexpr int64_t kReceivedMs = 1785197400000LL;  // 2026-07-28T00:10:00Z = 08:10 Beijing time

std::string readFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

std::vector<Station> sampleStations(const WaterOptions& opt) {
  auto r = parseStations(readFile(kDataDir + "stations.csv"), "stations.csv", opt);
  REQUIRE(r.problems.empty());
  return r.stations;
}

std::string text(capnp::Text::Reader t) { return std::string(t.cStr(), t.size()); }

std::string problems(const adapter::Output& o) {
  std::string s;
  for (auto& p : o.problems) s += p.str() + "\n";
  return s;
}

// Every message passes the broker's validation at the receive time.
void requireValid(const adapter::Output& o, int64_t nowMs = kReceivedMs) {
  for (auto& b : o.messages) {
    auto m = b->getRoot<Message>().asReader();
    auto v = validateMessage(m, nowMs);
    INFO(text(m.getId()) << ": " << (v ? v->field + "=" + v->value + ": " + v->reason : std::string()));
    REQUIRE(!v);
  }
}

struct Msg {
  std::string id;
  schema::MsgType type;
  bool warning;
  std::vector<std::string> refs;
  schema::Colour colour;
  schema::Severity severity;
};

std::vector<Msg> summary(const adapter::Output& o) {
  std::vector<Msg> r;
  for (auto& b : o.messages) {
    auto m = b->getRoot<Message>().asReader();
    Msg x{text(m.getId()), m.getMsgType(), m.getPayload().isWarning(), {}, schema::Colour::UNSPECIFIED,
          schema::Severity::UNSPECIFIED};
    for (auto ref : m.getReferences()) x.refs.push_back(text(ref.getId()));
    if (x.warning) {
      x.colour = m.getPayload().getWarning()[0].getColour();
      x.severity = m.getPayload().getWarning()[0].getSeverity();
    }
    r.push_back(std::move(x));
  }
  return r;
}

std::vector<Msg> warnings(const adapter::Output& o, const std::string& prefix) {
  std::vector<Msg> r;
  for (auto& m : summary(o))
    if (m.warning && m.id.rfind(prefix, 0) == 0) r.push_back(m);
  return r;
}

// "STCD,TM,Z" CSV from (station, local time, level) rows.
std::string csv(const std::vector<std::tuple<std::string, std::string, std::string>>& rows) {
  std::string s = "STCD,TM,Z\n";
  for (auto& [st, tm, z] : rows) s += st + "," + tm + "," + z + "\n";
  return s;
}

std::string at(int minutesAfter6) {  // local time on 2026-07-28 from 06:00
  int m = 6 * 60 + minutesAfter6;
  char buf[32];
  snprintf(buf, sizeof buf, "2026-07-28 %02d:%02d", m / 60, m % 60);
  return buf;
}

}  // namespace

TEST_CASE("water monitor: sample readings become valid observations", "[water][monitor]") {
  WaterOptions opt;
  GaugeMonitor mon(sampleStations(opt), opt);
  auto r = mon.processBytes(readFile(kDataDir + "readings.csv"), "readings.csv", kReceivedMs);
  INFO(problems(r.output));
  CHECK(r.output.problems.empty());
  CHECK(r.output.accepted == 7);
  CHECK(r.output.rejected == 0);
  requireValid(r.output);
  // 7 observations; 余姚: FRZ alert at 2.62 (07:00), escalation to WRZ at 2.95 (08:00), rate of rise
  // 0.33 m/h over 1 h; 皎口水库 at 19.42 is above its FRZ 19.00. In time order, observation first.
  auto all = summary(r.output);
  std::vector<std::string> ids;
  for (auto& x : all) ids.push_back(x.id);
  CHECK(ids == std::vector<std::string>{"water-obs-70110400-Z-20260727T220000Z",
                                        "water-obs-70110400-Q-20260727T220000Z",
                                        "water-obs-70110400-Z-20260727T230000Z",
                                        "water-warn-70110400-20260727T230000Z",
                                        "water-obs-70110400-Z-20260728T000000Z",
                                        "water-warn-70110400-20260727T230000Z-upd-20260728T000000Z",
                                        "water-rise-70110400-20260728T000000Z",
                                        "water-obs-70110400-Q-20260728T000000Z",
                                        "water-obs-70120200-Q-20260728T000000Z",
                                        "water-obs-70130100-Z-20260728T000000Z",
                                        "water-warn-70130100-20260728T000000Z"});
  auto m = r.output.messages[0]->getRoot<Message>().asReader();
  CHECK(text(m.getId()) == "water-obs-70110400-Z-20260727T220000Z");
  CHECK(m.getMsgType() == schema::MsgType::ALERT);
  CHECK(m.getStatus() == schema::Status::ACTUAL);
  CHECK(m.getSentMs() == kReceivedMs);
  CHECK(m.getSender().size() == 0);
  auto o = m.getPayload().getObservation();
  CHECK(text(o.getStation()) == "70110400");
  CHECK(text(o.getStationName()) == "余姚(姚江)");
  CHECK(text(o.getQuantity()) == "waterLevel");
  CHECK(text(o.getUnit()) == "m");
  CHECK(o.getValue() == Approx(2.41));
  REQUIRE(o.getThresholds().size() == 3);
  CHECK(text(o.getThresholds()[1].getName()) == "WRZ");
  CHECK(o.getThresholds()[1].getValue() == Approx(2.93));
  CHECK(o.getPosition().getLat() == Approx(30.0452));
  CHECK(text(o.getAdminCode()) == "330281");
  CHECK(text(o.getEvent()) == "river-level");
  auto p = m.getProvenance();
  CHECK(text(p.getContentType()) == "text/csv");
  CHECK(std::string(reinterpret_cast<const char*>(p.getOriginal().begin()), p.getOriginal().size()) ==
        "70110400,余姚,2026-07-28 06:00,2.41,120.5");
  CHECK(text(p.getSource()) == "readings.csv");
  CHECK(p.getReceivedMs() == kReceivedMs);
  auto q = r.output.messages[1]->getRoot<Message>().asReader();
  CHECK(text(q.getId()) == "water-obs-70110400-Q-20260727T220000Z");
  CHECK(text(q.getPayload().getObservation().getUnit()) == "m3/s");
  CHECK(q.getPayload().getObservation().getThresholds().size() == 0);
  // the reservoir
  bool reservoir = false;
  for (auto& b : r.output.messages) {
    auto x = b->getRoot<Message>().asReader();
    if (x.getPayload().isObservation() && text(x.getPayload().getObservation().getStation()) == "70130100") {
      CHECK(text(x.getPayload().getObservation().getEvent()) == "reservoir-level");
      reservoir = true;
    }
  }
  CHECK(reservoir);
}

TEST_CASE("water monitor: GBK and WaterML inputs publish valid messages", "[water][monitor]") {
  WaterOptions opt;
  GaugeMonitor mon(sampleStations(opt), opt);
  auto g = mon.processBytes(readFile(kDataDir + "readings-gbk.csv"), "gbk.csv", kReceivedMs);
  INFO(problems(g.output));
  CHECK(g.output.accepted == 7);
  requireValid(g.output);
  GaugeMonitor mon2(sampleStations(opt), opt);
  auto w = mon2.processBytes(readFile(kDataDir + "waterml2-sample.xml"), "wml.xml", kReceivedMs + 3600000);
  INFO(problems(w.output));
  CHECK(w.output.accepted == 4);
  CHECK(w.output.rejected == 2);  // the two nil points
  requireValid(w.output, kReceivedMs + 3600000);
  auto m = w.output.messages[0]->getRoot<Message>().asReader();
  CHECK(text(m.getId()) == "water-obs-70120200-Z-20260727T220000Z");
  CHECK(text(m.getProvenance().getContentType()) == "application/vnd.ogc.waterml2+xml");
  CHECK(m.getPayload().getObservation().getValue() == Approx(2.7432));
}

TEST_CASE("water monitor: each plausibility rejection names field value and reason", "[water][monitor]") {
  WaterOptions opt;
  GaugeMonitor mon(sampleStations(opt), opt);
  auto r = mon.processBytes(readFile(kDataDir + "readings-bad.csv"), "bad.csv", kReceivedMs);
  INFO(problems(r.output));
  requireValid(r.output);
  CHECK(r.output.accepted == 3);  // 06:00, 07:00 and the duplicate 06:00
  CHECK(r.duplicates == 1);
  CHECK(r.output.rejected == 8);
  REQUIRE(r.output.problems.size() == 8);
  struct Want {
    const char* pos;
    const char* field;
    const char* value;
    const char* reason;
  };
  const Want want[] = {{"line 3", "TM", "2026-07-28 25:00", "not a time"},
                       {"line 4", "Z", "abc", "not a number"},
                       {"line 10", "Z", "", "neither Z nor Q given"},
                       {"line 5", "STCD", "99999999", "unknown station"},
                       {"line 6", "Z", "-99999", "no-data marker"},
                       {"line 7", "Z", "4.90", "spike: 2.49 m in 30 min"},
                       {"line 8", "TM", "2030-01-01 00:00", "ahead of the receive clock"},
                       {"line 9", "Z", "nan", "not a finite number"}};
  for (size_t i = 0; i < 8; ++i) {
    INFO(r.output.problems[i].str());
    CHECK(r.output.problems[i].level == adapter::InputProblem::Level::error);
    CHECK(r.output.problems[i].source == "bad.csv");
    CHECK(r.output.problems[i].position == want[i].pos);
    CHECK(r.output.problems[i].field == want[i].field);
    CHECK(r.output.problems[i].value == want[i].value);
    CHECK(r.output.problems[i].reason.find(want[i].reason) != std::string::npos);
  }
  CHECK(r.output.problems[5].reason.find("max rise 1.00 m/h") != std::string::npos);
  // only two observations: 06:00 and 07:00
  CHECK(summary(r.output).size() == 2);
}

TEST_CASE("water monitor: threshold alert escalation de-escalation and cancel", "[water][monitor]") {
  WaterOptions opt;
  opt.rateOfRiseWarnMPerH = 100;  // isolate threshold warnings
  GaugeMonitor mon(sampleStations(opt), opt);
  // 余姚: FRZ 2.50, WRZ 2.93, GRZ 3.43; hysteresis 0.05.
  auto r = mon.processBytes(csv({{"70110400", at(0), "2.40"},
                                 {"70110400", at(30), "2.55"},    // FRZ alert
                                 {"70110400", at(60), "2.95"},    // -> WRZ update
                                 {"70110400", at(90), "3.44"},    // -> GRZ update
                                 {"70110400", at(120), "3.30"},   // below GRZ-0.05: de-escalate to WRZ
                                 {"70110400", at(150), "2.90"},   // inside WRZ hysteresis: quiet
                                 {"70110400", at(180), "2.85"},   // below WRZ-0.05: de-escalate to FRZ
                                 {"70110400", at(210), "2.40"}}),  // below FRZ-0.05: cancel
                            "x.csv", kReceivedMs + 4 * 3600 * 1000);
  INFO(problems(r.output));
  CHECK(r.output.rejected == 0);
  requireValid(r.output, kReceivedMs + 4 * 3600 * 1000);
  auto w = warnings(r.output, "water-warn-");
  REQUIRE(w.size() == 6);
  const std::string alertId = "water-warn-70110400-20260727T223000Z";
  CHECK(w[0].id == alertId);
  CHECK(w[0].type == schema::MsgType::ALERT);
  CHECK(w[0].colour == schema::Colour::BLUE);
  CHECK(w[0].severity == schema::Severity::MINOR);
  CHECK(w[0].refs.empty());
  CHECK(w[1].id == alertId + "-upd-20260727T230000Z");
  CHECK(w[1].type == schema::MsgType::UPDATE);
  CHECK(w[1].colour == schema::Colour::YELLOW);
  CHECK(w[1].refs == std::vector<std::string>{alertId});
  CHECK(w[2].type == schema::MsgType::UPDATE);
  CHECK(w[2].colour == schema::Colour::ORANGE);
  CHECK(w[2].severity == schema::Severity::SEVERE);
  CHECK(w[2].refs == std::vector<std::string>{alertId, w[1].id});
  CHECK(w[3].type == schema::MsgType::UPDATE);  // de-escalation GRZ -> WRZ
  CHECK(w[3].colour == schema::Colour::YELLOW);
  CHECK(w[3].refs == std::vector<std::string>{alertId, w[2].id});
  CHECK(w[4].type == schema::MsgType::UPDATE);  // de-escalation WRZ -> FRZ
  CHECK(w[4].colour == schema::Colour::BLUE);
  // the cancel is the last message published
  CHECK(summary(r.output).back().id == w[5].id);
  const Msg& cancel = w[5];
  CHECK(cancel.id == alertId + "-cancel-20260728T013000Z");
  CHECK(cancel.type == schema::MsgType::CANCEL);
  CHECK(cancel.refs == std::vector<std::string>{alertId, w[4].id});

  // The content of the escalation to WRZ.
  for (auto& b : r.output.messages) {
    auto m = b->getRoot<Message>().asReader();
    if (text(m.getId()) != w[1].id) continue;
    CHECK(text(m.getIncident()) == alertId);
    CHECK(m.getReferences()[0].getSender() == "water");
    auto info = m.getPayload().getWarning()[0];
    CHECK(text(info.getLanguage()) == "zh-CN");
    REQUIRE(info.getCategories().size() == 1);
    CHECK(info.getCategories()[0] == schema::Category::GEO);
    CHECK(text(info.getEvent()) == "余姚(姚江)超警戒水位");
    CHECK(text(info.getEventCode()) == "river-level");
    CHECK(text(info.getEventCodes()[0].getKey()) == "alertbus");
    CHECK(text(info.getEventCodes()[0].getValue()) == "river-level");
    CHECK(info.getSeverity() == schema::Severity::MODERATE);
    CHECK(info.getExpiresMs() == kReceivedMs + 4 * 3600 * 1000 + opt.warningTtlMs);
    auto area = info.getAreas()[0];
    CHECK(text(area.getDescription()) == "余姚(姚江)");
    CHECK(area.getCircles()[0].getRadiusKm() == Approx(opt.areaRadiusKm));
    CHECK(area.getCircles()[0].getCenter().getLon() == Approx(121.1545));
    CHECK(text(area.getAdminCodes()[0]) == "330281");
    std::map<std::string, std::string> params;
    for (auto kv : info.getParameters()) params[text(kv.getKey())] = text(kv.getValue());
    CHECK(params["waterLevelM"] == "2.95");
    CHECK(params["thresholdName"] == "WRZ");
    CHECK(params["thresholdM"] == "2.93");
    CHECK(params["riseRateMPerH"] == "0.55");  // (2.95 - 2.40) over the 1 h window
  }
}

TEST_CASE("water monitor: red level above GRZ plus margin", "[water][monitor]") {
  WaterOptions opt;
  opt.rateOfRiseWarnMPerH = 100;
  opt.redMarginAboveGrzM = 0.3;
  GaugeMonitor mon(sampleStations(opt), opt);
  auto r = mon.processBytes(csv({{"70110400", at(0), "3.44"}, {"70110400", at(30), "3.80"}}), "x", kReceivedMs);
  requireValid(r.output);
  auto w = warnings(r.output, "water-warn-");
  REQUIRE(w.size() == 2);
  CHECK(w[0].colour == schema::Colour::ORANGE);
  CHECK(w[1].colour == schema::Colour::RED);
  CHECK(w[1].severity == schema::Severity::EXTREME);
}

TEST_CASE("water monitor: level oscillating around WRZ does not flap", "[water][monitor]") {
  WaterOptions opt;
  GaugeMonitor mon(sampleStations(opt), opt);
  // 皎口水库 reservoir: FRZ 19.00, WRZ 20.00, GRZ 21.50. 20 readings, 3 min apart, 20.02 / 19.98.
  std::vector<std::tuple<std::string, std::string, std::string>> rows;
  for (int i = 0; i < 20; ++i) rows.emplace_back("70130100", at(i * 3), i % 2 == 0 ? "20.02" : "19.98");
  auto r = mon.processBytes(csv(rows), "osc.csv", kReceivedMs);
  INFO(problems(r.output));
  CHECK(r.output.rejected == 0);
  requireValid(r.output);
  auto w = warnings(r.output, "water-");
  REQUIRE(w.size() == 1);
  CHECK(w[0].type == schema::MsgType::ALERT);
  CHECK(w[0].id == "water-warn-70130100-20260727T220000Z");
  CHECK(w[0].colour == schema::Colour::YELLOW);
  auto m = r.output.messages[1]->getRoot<Message>().asReader();
  CHECK(text(m.getPayload().getWarning()[0].getEventCode()) == "reservoir-level");
  CHECK(summary(r.output).size() == 21);
}

TEST_CASE("water monitor: an active warning is renewed as an update", "[water][monitor]") {
  WaterOptions opt;
  opt.rateOfRiseWarnMPerH = 100;
  GaugeMonitor mon(sampleStations(opt), opt);
  auto r = mon.processBytes(csv({{"70130100", at(0), "20.10"}, {"70130100", at(30), "20.10"},
                                 {"70130100", at(60), "20.10"}}),
                            "x", kReceivedMs);
  auto w = warnings(r.output, "water-warn-");
  REQUIRE(w.size() == 2);
  CHECK(w[1].type == schema::MsgType::UPDATE);
  CHECK(w[1].id == "water-warn-70130100-20260727T220000Z-upd-20260727T230000Z");
}

TEST_CASE("water monitor: rate of rise warning and its cancel", "[water][monitor]") {
  WaterOptions opt;  // warn at 0.3 m/h over 1 h, clear below 0.1 m/h
  GaugeMonitor mon(sampleStations(opt), opt);
  // 北渡: FRZ 2.80, far above these levels; 0.1 m every 15 min = 0.4 m/h, then flat.
  auto r = mon.processBytes(csv({{"70120200", at(0), "1.00"},
                                 {"70120200", at(15), "1.10"},
                                 {"70120200", at(30), "1.20"},
                                 {"70120200", at(45), "1.30"},
                                 {"70120200", at(60), "1.40"},     // 0.40 m/h over 1 h: alert
                                 {"70120200", at(75), "1.50"},
                                 {"70120200", at(90), "1.52"},
                                 {"70120200", at(105), "1.53"},
                                 {"70120200", at(120), "1.53"},    // 0.13 m/h: still active
                                 {"70120200", at(135), "1.53"}}),  // 0.03 m/h: cancel
                            "rise.csv", kReceivedMs + 3 * 3600 * 1000);
  INFO(problems(r.output));
  requireValid(r.output, kReceivedMs + 3 * 3600 * 1000);
  auto w = warnings(r.output, "water-rise-");
  REQUIRE(w.size() == 3);
  CHECK(w[0].id == "water-rise-70120200-20260727T230000Z");
  CHECK(w[0].type == schema::MsgType::ALERT);
  CHECK(w[1].id == "water-rise-70120200-20260727T230000Z-upd-20260728T000000Z");  // renewal after 1 h
  CHECK(w[1].type == schema::MsgType::UPDATE);
  CHECK(w[2].id == "water-rise-70120200-20260727T230000Z-cancel-20260728T001500Z");
  CHECK(w[2].type == schema::MsgType::CANCEL);
  CHECK(w[2].refs == std::vector<std::string>{w[0].id, w[1].id});
  CHECK(warnings(r.output, "water-warn-").empty());
}

TEST_CASE("water monitor: restored state gives identical ids", "[water][monitor]") {
  WaterOptions opt;
  auto rows = std::vector<std::tuple<std::string, std::string, std::string>>{
      {"70110400", at(0), "2.40"}, {"70110400", at(30), "2.55"}, {"70110400", at(60), "2.95"},
      {"70120200", at(0), "1.00"}, {"70120200", at(30), "1.20"}, {"70120200", at(60), "1.40"}};
  auto rows2 = std::vector<std::tuple<std::string, std::string, std::string>>{
      {"70110400", at(90), "3.44"}, {"70110400", at(120), "3.30"}, {"70110400", at(180), "2.40"},
      {"70120200", at(90), "1.45"}, {"70120200", at(120), "1.45"}, {"70120200", at(180), "1.45"}};
  GaugeMonitor a(sampleStations(opt), opt);
  a.processBytes(csv(rows), "1.csv", kReceivedMs);
  std::string saved = a.saveState();
  auto first = a.processBytes(csv(rows2), "2.csv", kReceivedMs + 3600000);
  requireValid(first.output, kReceivedMs + 3600000);

  GaugeMonitor b(sampleStations(opt), opt);  // "after a restart"
  std::string error;
  REQUIRE(b.loadState(saved, error));
  CHECK(b.saveState() == saved);
  auto second = b.processBytes(csv(rows2), "2.csv", kReceivedMs + 7200000);
  auto x = summary(first.output), y = summary(second.output);
  REQUIRE(x.size() == y.size());
  REQUIRE(x.size() > 6);  // observations plus warning updates and cancels
  for (size_t i = 0; i < x.size(); ++i) {
    CHECK(x[i].id == y[i].id);
    CHECK(x[i].refs == y[i].refs);
  }
  // Re-feeding what the state already holds publishes nothing: duplicates.
  auto again = b.processBytes(csv(rows2), "2.csv", kReceivedMs + 7200000);
  CHECK(again.output.messages.empty());
  CHECK(again.duplicates == rows2.size());
  CHECK(again.output.accepted == rows2.size());
}

TEST_CASE("water monitor: loadState refuses bad state and keeps the old one", "[water][monitor]") {
  WaterOptions opt;
  GaugeMonitor mon(sampleStations(opt), opt);
  mon.processBytes(csv({{"70110400", at(0), "2.60"}}), "x", kReceivedMs);
  std::string before = mon.saveState();
  std::string error;
  for (const char* bad : {"", "not json", "{}", "{\"version\":2,\"series\":[]}", "{\"version\":1,\"series\":{}}",
                          "{\"version\":1,\"series\":[{\"key\":\"x\"}]}",
                          "{\"version\":1,\"series\":[{\"key\":\"70110400|waterLevel\",\"lastTimeMs\":1,\"lastValue\":2,\"history\":[],"
                          "\"level\":{\"alertId\":\"a\",\"alertSentMs\":1,\"lastId\":\"a\",\"lastSentMs\":1,"
                          "\"lastIssueTimeMs\":1,\"level\":99},\"rise\":null}]}",
                          "{\"version\":1,\"series\":[{\"key\":\"70110400|waterLevel\",\"lastTimeMs\":\"a\"}]}"}) {
    INFO(bad);
    CHECK(!mon.loadState(bad, error));
    CHECK(!error.empty());
    CHECK(mon.saveState() == before);
  }
  // Entries of stations no longer configured are dropped.
  GaugeMonitor other(std::vector<Station>{}, opt);
  REQUIRE(other.loadState(before, error));
  CHECK(other.saveState() == "{\"series\":[],\"version\":1}");
}

TEST_CASE("water monitor: problems per call are capped", "[water][monitor]") {
  WaterOptions opt;
  opt.maxProblemsPerInput = 10;
  GaugeMonitor mon(sampleStations(opt), opt);
  std::string in = "STCD,TM,Z\n";
  for (int i = 0; i < 50; ++i) in += "NOPE" + std::to_string(i) + ",2026-07-28 06:00,1\n";
  auto r = mon.processBytes(in, "x", kReceivedMs);
  CHECK(r.output.rejected == 50);
  REQUIRE(r.output.problems.size() == 11);
  CHECK(r.output.problems.back().value == "40 more");
}

TEST_CASE("water monitor: hostile input never crashes", "[water][monitor]") {
  WaterOptions opt;
  GaugeMonitor mon(sampleStations(opt), opt);
  std::string garbage;
  for (int i = 0; i < 100000; ++i) garbage += char((i * 2654435761u) >> 13);
  for (const std::string& in : {std::string(), garbage, std::string("STCD,TM,Z\n") + garbage,
                                std::string("<") + garbage, readFile(kDataDir + "waterml2-doctype.xml")}) {
    auto r = mon.processBytes(in, "hostile", kReceivedMs);
    CHECK(!r.output.problems.empty());
    requireValid(r.output);
  }
}
