// DispatchTracker (adapters/fire/dispatch.h) against the Ningbo samples in tests/data/fire/: an incident followed
// from alert through sitreps and updates to cancel, duplicates, every rejection, hostile input, state restore.
#include "adapters/fire/dispatch.h"

#include <capnp/message.h>
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "model/validate.h"
#include "schemas/message.capnp.h"

using namespace alertbus;
using namespace alertbus::fire;
using schema::Message;

namespace {

const std::string kDataDir = std::string(ALERTBUS_SOURCE_DIR) + "/tests/data/fire/";
constexpr int64_t kReceivedMs = 1785202200000LL;  // 2026-07-28T01:30:00Z = 09:30 +08:00

std::string readFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

std::string text(capnp::Text::Reader t) { return std::string(t.cStr(), t.size()); }
Message::Reader msg(const adapter::Output& o, size_t i) { return o.messages.at(i)->getRoot<Message>().asReader(); }

std::string problems(const adapter::Output& o) {
  std::string s;
  for (auto& p : o.problems) s += p.str() + "\n";
  return s;
}

void requireValid(const adapter::Output& o, int64_t nowMs) {
  for (size_t i = 0; i < o.messages.size(); ++i) {
    auto v = validateMessage(msg(o, i), nowMs);
    INFO(text(msg(o, i).getId()) << ": " << (v ? v->field + ": " + v->value + ": " + v->reason : ""));
    REQUIRE(!v);
  }
}

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> r;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) r.push_back(l);
  return r;
}

}  // namespace

TEST_CASE("dispatch: first report of a building fire gives an alert and a sitrep", "[fire][dispatch]") {
  DispatchTracker t;
  auto recs = lines(readFile(kDataDir + "dispatch-incident-jsonl.jsonl"));
  REQUIRE(recs.size() == 5);
  auto o = t.ingest(recs[0], "119-feed", kReceivedMs);
  INFO(problems(o));
  CHECK(o.problems.empty());
  CHECK(o.accepted == 1);
  CHECK(o.rejected == 0);
  REQUIRE(o.messages.size() == 2);
  requireValid(o, kReceivedMs);

  auto w = msg(o, 0);
  CHECK(text(w.getId()) == "fire-NB-20260728-0153-w0");
  CHECK(w.getMsgType() == schema::MsgType::ALERT);
  CHECK(w.getStatus() == schema::Status::ACTUAL);
  CHECK(text(w.getIncident()) == "fire-NB-20260728-0153");
  CHECK(w.getSentMs() == kReceivedMs);
  CHECK(w.getSender().size() == 0);
  REQUIRE(w.getPayload().isWarning());
  auto infos = w.getPayload().getWarning();
  REQUIRE(infos.size() == 1);
  auto info = infos[0];
  CHECK(text(info.getLanguage()) == "zh-CN");
  CHECK(text(info.getEventCode()) == "fire");
  CHECK(info.getCategories()[0] == schema::Category::FIRE);
  CHECK(info.getSeverity() == schema::Severity::MODERATE);  // 二级
  CHECK(info.getColour() == schema::Colour::YELLOW);
  CHECK(info.getUrgency() == schema::Urgency::IMMEDIATE);
  CHECK(info.getCertainty() == schema::Certainty::OBSERVED);
  CHECK(info.getEffectiveMs() == 1785201300000LL);  // 09:15+08:00
  CHECK(info.getExpiresMs() == kReceivedMs + FireOptions{}.warningTtlMs);
  CHECK(text(info.getHeadline()).find("二级火警") != std::string::npos);
  CHECK(text(info.getHeadline()).find("天童南路588号") != std::string::npos);
  bool sawLevel = false, sawAddress = false;
  for (auto kv : info.getParameters()) {
    if (text(kv.getKey()) == "alarmLevel") sawLevel = text(kv.getValue()) == "2";
    if (text(kv.getKey()) == "address") sawAddress = text(kv.getValue()).find("鄞州区") != std::string::npos;
  }
  CHECK(sawLevel);
  CHECK(sawAddress);
  REQUIRE(info.getAreas().size() == 1);
  auto area = info.getAreas()[0];
  REQUIRE(area.getCircles().size() == 1);
  CHECK(area.getCircles()[0].getCenter().getLat() == Approx(29.8683));
  CHECK(area.getCircles()[0].getRadiusKm() == Approx(1.0));
  REQUIRE(area.getAdminCodes().size() == 1);
  CHECK(text(area.getAdminCodes()[0]) == "330212");
  auto prov = w.getProvenance();
  CHECK(text(prov.getContentType()) == "application/json");
  CHECK(std::string(reinterpret_cast<const char*>(prov.getOriginal().begin()), prov.getOriginal().size()) == recs[0]);
  CHECK(text(prov.getSource()) == "119-feed");
  CHECK(prov.getReceivedMs() == kReceivedMs);

  auto s = msg(o, 1);
  CHECK(text(s.getId()) == "fire-NB-20260728-0153-r1");
  CHECK(s.getMsgType() == schema::MsgType::ALERT);
  REQUIRE(s.getPayload().isSitrep());
  auto sr = s.getPayload().getSitrep();
  CHECK(sr.getReportNumber() == 1);
  CHECK(sr.getVersion() == 0);
  CHECK(text(sr.getEvent()) == "fire");
  REQUIRE(sr.getResources().size() == 2);
  CHECK(text(sr.getResources()[0].getKind()) == "personnel");
  CHECK(sr.getResources()[0].getCount() == 32);
  CHECK(text(sr.getNarrative()).find("被困 3 人") != std::string::npos);
  CHECK(sr.getPeriodEndMs() == 1785201390000LL);
}

TEST_CASE("dispatch: incident followed through alert then sitreps then update then cancel", "[fire][dispatch]") {
  DispatchTracker t;
  auto recs = lines(readFile(kDataDir + "dispatch-incident-jsonl.jsonl"));
  int64_t now = kReceivedMs + 9000000;  // 12:00 +08:00, after every statusAt in the file
  auto first = t.ingest(recs[0], "119", now);
  REQUIRE(first.messages.size() == 2);
  int64_t warnSent = msg(first, 0).getSentMs();

  // update 1: on-scene, same level -> sitrep only
  auto o1 = t.ingest(recs[1], "119", now + 60000);
  requireValid(o1, now + 60000);
  REQUIRE(o1.messages.size() == 1);
  CHECK(text(msg(o1, 0).getId()) == "fire-NB-20260728-0153-r2");
  CHECK(msg(o1, 0).getMsgType() == schema::MsgType::UPDATE);
  REQUIRE(msg(o1, 0).getReferences().size() == 1);
  CHECK(text(msg(o1, 0).getReferences()[0].getId()) == "fire-NB-20260728-0153-r1");
  CHECK(msg(o1, 0).getPayload().getSitrep().getEvacuated() == 260);
  CHECK(msg(o1, 0).getPayload().getSitrep().getReportNumber() == 2);

  // update 2: level 2 -> 3: sitrep + warning update referencing the original warning
  auto o2 = t.ingest(recs[2], "119", now + 120000);
  requireValid(o2, now + 120000);
  REQUIRE(o2.messages.size() == 2);
  CHECK(msg(o2, 0).getPayload().isSitrep());
  CHECK(msg(o2, 0).getPayload().getSitrep().getInjured() == 2);
  CHECK(msg(o2, 0).getPayload().getSitrep().getRescued() == 3);
  auto up = msg(o2, 1);
  CHECK(text(up.getId()) == "fire-NB-20260728-0153-w1");
  CHECK(up.getMsgType() == schema::MsgType::UPDATE);
  REQUIRE(up.getReferences().size() == 1);
  CHECK(text(up.getReferences()[0].getId()) == "fire-NB-20260728-0153-w0");
  CHECK(text(up.getReferences()[0].getSender()) == "fire");
  CHECK(up.getReferences()[0].getSentMs() == warnSent);
  CHECK(up.getPayload().getWarning()[0].getColour() == schema::Colour::ORANGE);
  CHECK(up.getPayload().getWarning()[0].getSeverity() == schema::Severity::SEVERE);
  CHECK(up.getPayload().getWarning()[0].getAreas()[0].getCircles()[0].getRadiusKm() == Approx(2.0));

  // update 3: controlled -> material -> warning update w2
  auto o3 = t.ingest(recs[3], "119", now + 180000);
  requireValid(o3, now + 180000);
  REQUIRE(o3.messages.size() == 2);
  CHECK(text(msg(o3, 1).getId()) == "fire-NB-20260728-0153-w2");
  CHECK(text(msg(o3, 1).getPayload().getWarning()[0].getHeadline()).find("已控制") != std::string::npos);

  // update 4: extinguished -> sitrep + cancel referencing the original
  auto o4 = t.ingest(recs[4], "119", now + 240000);
  requireValid(o4, now + 240000);
  REQUIRE(o4.messages.size() == 2);
  CHECK(msg(o4, 0).getPayload().isSitrep());
  auto c = msg(o4, 1);
  CHECK(text(c.getId()) == "fire-NB-20260728-0153-cancel");
  CHECK(c.getMsgType() == schema::MsgType::CANCEL);
  REQUIRE(c.getReferences().size() == 1);
  CHECK(text(c.getReferences()[0].getId()) == "fire-NB-20260728-0153-w0");
  CHECK(c.getPayload().getWarning()[0].getResponseTypes()[0] == schema::ResponseType::ALL_CLEAR);
  CHECK(text(c.getIncident()) == "fire-NB-20260728-0153");

  // a late correction after close: sitrep only, never a second cancel
  std::string late = recs[4];
  late.replace(late.find("\"updateNumber\":4"), 16, "\"updateNumber\":5");
  late.replace(late.find("\"dead\":0"), 8, "\"dead\":1");
  auto o5 = t.ingest(late, "119", now + 300000);
  REQUIRE(o5.messages.size() == 1);
  CHECK(o5.messages.size() == 1);
  CHECK(msg(o5, 0).getPayload().isSitrep());
  CHECK(msg(o5, 0).getPayload().getSitrep().getDead() == 1);
}

TEST_CASE("dispatch: the whole JSON Lines file in one input gives the same sequence", "[fire][dispatch]") {
  DispatchTracker t;
  auto o = t.ingest(readFile(kDataDir + "dispatch-incident-jsonl.jsonl"), "file.jsonl", kReceivedMs + 9000000);
  INFO(problems(o));
  CHECK(o.accepted == 5);
  CHECK(o.rejected == 0);
  requireValid(o, kReceivedMs + 9000000);
  std::vector<std::string> ids;
  for (size_t i = 0; i < o.messages.size(); ++i) ids.push_back(text(msg(o, i).getId()));
  CHECK(ids == std::vector<std::string>{"fire-NB-20260728-0153-w0", "fire-NB-20260728-0153-r1",
                                        "fire-NB-20260728-0153-r2", "fire-NB-20260728-0153-r3",
                                        "fire-NB-20260728-0153-w1", "fire-NB-20260728-0153-r4",
                                        "fire-NB-20260728-0153-w2", "fire-NB-20260728-0153-r5",
                                        "fire-NB-20260728-0153-cancel"});
  CHECK(o.problems.empty());
  CHECK(o.problems.size() == 0);
}

TEST_CASE("dispatch: repeated reports produce nothing", "[fire][dispatch]") {
  DispatchTracker t;
  auto recs = lines(readFile(kDataDir + "dispatch-incident-jsonl.jsonl"));
  REQUIRE(t.ingest(recs[0], "119", kReceivedMs).messages.size() == 2);
  SECTION("same id and updateNumber") {
    auto o = t.ingest(recs[0], "119", kReceivedMs + 1000);
    CHECK(o.messages.empty());
    CHECK(o.accepted == 1);
    CHECK(o.rejected == 0);
    CHECK(t.stats().duplicates == 1);
  }
  SECTION("same content with a new updateNumber") {
    std::string again = recs[0];
    again.replace(again.find("\"updateNumber\":0"), 16, "\"updateNumber\":7");
    auto o = t.ingest(again, "119", kReceivedMs + 1000);
    CHECK(o.messages.empty());
    CHECK(t.stats().duplicates == 1);
  }
  SECTION("an older update after a newer one is stale") {
    REQUIRE(t.ingest(recs[2], "119", kReceivedMs + 1000).messages.size() == 2);
    auto o = t.ingest(recs[1], "119", kReceivedMs + 2000);
    CHECK(o.messages.empty());
    REQUIRE(o.problems.size() == 1);
    CHECK(o.problems[0].level == adapter::InputProblem::Level::warning);
    CHECK(o.problems[0].field == "updateNumber");
    CHECK(t.stats().stale == 1);
  }
}

TEST_CASE("dispatch: array with Chinese type and level names and an unknown field", "[fire][dispatch]") {
  DispatchTracker t;
  auto o = t.ingest(readFile(kDataDir + "dispatch-array.json"), "array.json", kReceivedMs + 6 * 3600000);
  INFO(problems(o));
  CHECK(o.accepted == 2);
  CHECK(o.rejected == 0);
  REQUIRE(o.messages.size() == 4);
  requireValid(o, kReceivedMs + 6 * 3600000);
  auto forest = msg(o, 0).getPayload().getWarning()[0];
  CHECK(text(forest.getEventCode()) == "forest-fire");
  CHECK(forest.getColour() == schema::Colour::ORANGE);  // 三级
  auto hazmat = msg(o, 2).getPayload().getWarning()[0];
  CHECK(text(hazmat.getEventCode()) == "hazmat");
  CHECK(hazmat.getCategories()[0] == schema::Category::CBRNE);
  CHECK(hazmat.getColour() == schema::Colour::RED);  // 四级
  CHECK(hazmat.getSeverity() == schema::Severity::EXTREME);
  REQUIRE(o.problems.size() == 1);
  auto& p = o.problems[0];
  CHECK(p.level == adapter::InputProblem::Level::warning);
  CHECK(p.field == "reporter");
  CHECK(p.position.rfind("record 1", 0) == 0);
  CHECK(p.reason.find("unknown field") != std::string::npos);
  // the unknown field stays in provenance
  auto orig = msg(o, 0).getProvenance().getOriginal();
  CHECK(std::string(reinterpret_cast<const char*>(orig.begin()), orig.size()).find("reporter") != std::string::npos);
}

TEST_CASE("dispatch: single object with adminCode only gives an area without a circle", "[fire][dispatch]") {
  DispatchTracker t;
  auto o = t.ingest(readFile(kDataDir + "dispatch-single.json"), "single.json", kReceivedMs + 8 * 3600000);
  INFO(problems(o));
  REQUIRE(o.messages.size() == 2);
  requireValid(o, kReceivedMs + 8 * 3600000);
  auto info = msg(o, 0).getPayload().getWarning()[0];
  CHECK(text(info.getEventCode()) == "rescue");
  CHECK(info.getCategories()[0] == schema::Category::RESCUE);
  CHECK(info.getColour() == schema::Colour::BLUE);
  CHECK(info.getAreas()[0].getCircles().size() == 0);
  CHECK(text(info.getAreas()[0].getAdminCodes()[0]) == "330203");
}

TEST_CASE("dispatch: each bad record is rejected with field value and reason and the rest goes through",
          "[fire][dispatch]") {
  DispatchTracker t;
  auto o = t.ingest(readFile(kDataDir + "dispatch-bad.jsonl"), "bad.jsonl", kReceivedMs);
  INFO(problems(o));
  CHECK(o.accepted == 1);   // NB-GOOD-13
  CHECK(o.rejected == 13);
  REQUIRE(o.messages.size() == 2);
  CHECK(text(msg(o, 0).getId()) == "fire-NB-GOOD-13-w0");
  requireValid(o, kReceivedMs);
  struct Want {
    const char* field;
    const char* value;
    const char* reason;
    const char* position;
  };
  const Want want[] = {
      {"position.lat", "95.2", "latitude 95.2 out of range", "record 1 (line 1)"},
      {"type", "volcano", "not a known incident type", "record 2 (line 2)"},
      {"alarmLevel", "7", "is not 1..5", "record 3 (line 3)"},
      {"reportedAt", "2026-07-28 09:15:00", "not ISO 8601 with a UTC offset", "record 4 (line 4)"},
      {"adminCode", "33021", "is not 6 or 12 digits", "record 5 (line 5)"},
      {"id", "", "id is required", "record 6 (line 6)"},
      {"status", "burning", "is not reported/dispatched", "record 7 (line 7)"},
      {"reportedAt", "2027-01-01T00:00:00+08:00", "is in the future", "record 8 (line 8)"},
      {"resources.vehicles", "-3", "is not an integer", "record 9 (line 9)"},
      {"id", "NB BAD 10", "is not [A-Za-z0-9._:-]{1,64}", "record 10 (line 10)"},
      {"position", "", "position or adminCode is required", "record 11 (line 11)"},
      {"record", "{\"id\":\"NB-BAD-12\", \"type\":", "malformed JSON", "record 12 (line 12)"},
      {"record", "this is not json", "malformed JSON", "record 13 (line 13)"},
  };
  REQUIRE(o.problems.size() == std::size(want));
  for (size_t i = 0; i < std::size(want); ++i) {
    INFO(o.problems[i].str());
    CHECK(o.problems[i].level == adapter::InputProblem::Level::error);
    CHECK(o.problems[i].source == "bad.jsonl");
    CHECK(o.problems[i].field == want[i].field);
    CHECK(o.problems[i].value == want[i].value);
    CHECK(o.problems[i].reason.find(want[i].reason) != std::string::npos);
    CHECK(o.problems[i].position == want[i].position);
  }
}

TEST_CASE("dispatch: hostile input never crashes", "[fire][dispatch]") {
  FireOptions opt;
  opt.maxInputBytes = 1 << 20;
  DispatchTracker t(opt);
  SECTION("empty and blank") {
    for (std::string s : {"", "   \n\n", "\xEF\xBB\xBF"}) {
      auto o = t.ingest(s, "x", kReceivedMs);
      CHECK(o.messages.empty());
      CHECK(o.rejected == 1);
    }
  }
  SECTION("deep nesting is refused before parsing") {
    std::string deep(100000, '[');
    auto o = t.ingest(deep, "deep", kReceivedMs);
    CHECK(o.messages.empty());
    CHECK(o.rejected >= 1);
    std::string deepObj = "{\"id\":\"X\",\"a\":" + std::string(70, '[') + std::string(70, ']') + "}";
    auto o2 = t.ingest(deepObj, "deep", kReceivedMs);
    REQUIRE(o2.problems.size() == 1);
    CHECK(o2.problems[0].reason.find("nested deeper than 64") != std::string::npos);
  }
  SECTION("too big") {
    std::string big(opt.maxInputBytes + 1, ' ');
    auto o = t.ingest(big, "big", kReceivedMs);
    REQUIRE(o.problems.size() == 1);
    CHECK(o.problems[0].reason.find("maxInputBytes") != std::string::npos);
  }
  SECTION("a huge single record") {
    std::string rec = "{\"id\":\"NB-1\",\"narrative\":\"" + std::string(200000, 'a') + "\"}";
    auto o = t.ingest(rec, "huge", kReceivedMs);
    REQUIRE(o.problems.size() == 1);
    CHECK(o.problems[0].reason.find("longer than maxLineBytes") != std::string::npos);
  }
  SECTION("garbage bytes and wrong types") {
    for (std::string s : {"\x01\x02\xff\xfe", "[1,2,3]", "{\"id\":[]}", "{\"id\":\"A\",\"type\":{}}", "[{", "{\"a\":\"\\",
                          "{\"id\":\"A\",\"type\":\"fire\",\"alarmLevel\":1e400}", "null", "\"str\"",
                          "{\"id\":\"A\",\"type\":\"fire\",\"alarmLevel\":2,\"reportedAt\":\"2026-07-28T09:15:00Z\","
                          "\"status\":\"reported\",\"adminCode\":\"330212\",\"narrative\":\"a\\u0001b\"}"}) {
      auto o = t.ingest(s, "junk", kReceivedMs);
      requireValid(o, kReceivedMs);
    }
  }
}

TEST_CASE("dispatch: GeoJSON and other JSON are an unsupported format", "[fire][dispatch]") {
  DispatchTracker t;
  auto o = t.ingest(R"({"type":"FeatureCollection","features":[]})", "geo.json", kReceivedMs);
  REQUIRE(o.problems.size() == 1);
  CHECK(o.problems[0].reason == "unsupported format (GeoJSON FeatureCollection)");
  CHECK(o.rejected == 1);
  auto o2 = t.ingest(R"({"resultsSummary":{},"results":[]})", "search.json", kReceivedMs);
  REQUIRE(o2.problems.size() == 1);
  CHECK(o2.problems[0].reason.find("unsupported format (JSON object with keys results") != std::string::npos);
  CHECK(detectFireFormat(R"({"type":"FeatureCollection","features":[]})").description ==
        "unsupported format (GeoJSON FeatureCollection)");
  CHECK(detectFireFormat(readFile(kDataDir + "dispatch-array.json")).format == FireFormat::dispatchJson);
  CHECK(detectFireFormat(readFile(kDataDir + "dispatch-incident-jsonl.jsonl")).format == FireFormat::dispatchJson);
  CHECK(detectFireFormat(readFile(kDataDir + "dispatch-single.json")).format == FireFormat::dispatchJson);
}

TEST_CASE("dispatch: state restored after a restart keeps references and duplicates", "[fire][dispatch]") {
  auto recs = lines(readFile(kDataDir + "dispatch-incident-jsonl.jsonl"));
  std::string state;
  int64_t warnSent;
  {
    DispatchTracker t;
    auto o = t.ingest(recs[0] + "\n" + recs[1], "119", kReceivedMs);
    REQUIRE(o.messages.size() == 3);
    warnSent = msg(o, 0).getSentMs();
    state = t.saveState();
  }
  DispatchTracker t2;
  std::string err;
  REQUIRE(t2.loadState(state, &err));
  CHECK(t2.ingest(recs[1], "119", kReceivedMs + 5000).messages.empty());  // already applied
  auto o = t2.ingest(recs[2], "119", kReceivedMs + 5000);
  REQUIRE(o.messages.size() == 2);
  CHECK(text(msg(o, 0).getId()) == "fire-NB-20260728-0153-r3");
  CHECK(text(msg(o, 1).getId()) == "fire-NB-20260728-0153-w1");
  CHECK(msg(o, 1).getReferences()[0].getSentMs() == warnSent);
  CHECK(!t2.loadState("{\"version\":1,\"incidents\":{\"x y\":{}}}", &err));
  CHECK(!t2.loadState("not json", &err));
  CHECK(t2.stats().incidents == 1);  // unchanged by the failed loads
}

TEST_CASE("dispatch: a first report that is already a false alarm gives only a sitrep", "[fire][dispatch]") {
  DispatchTracker t;
  std::string rec = R"({"id":"NB-20260728-0199","updateNumber":0,"type":"fire","adminCode":"330205",)"
                    R"("address":"宁波市江北区某小区","alarmLevel":1,"reportedAt":"2026-07-28T09:00:00+08:00",)"
                    R"("status":"false-alarm","narrative":"烧烤烟雾引起误报。"})";
  auto o = t.ingest(rec, "119", kReceivedMs);
  requireValid(o, kReceivedMs);
  REQUIRE(o.messages.size() == 1);
  CHECK(msg(o, 0).getPayload().isSitrep());
  CHECK(text(msg(o, 0).getId()) == "fire-NB-20260728-0199-r1");
  std::string later = rec;
  later.replace(later.find("\"updateNumber\":0"), 16, "\"updateNumber\":1");
  later.replace(later.find("烧烤烟雾引起误报。"), std::string("烧烤烟雾引起误报。").size(), "已核实，误报。");
  auto o2 = t.ingest(later, "119", kReceivedMs);
  requireValid(o2, kReceivedMs);
  REQUIRE(o2.messages.size() == 1);  // no warning and no cancel for an incident that never had a warning
  CHECK(msg(o2, 0).getMsgType() == schema::MsgType::UPDATE);
}

TEST_CASE("dispatch: maxIncidents forgets closed incidents first", "[fire][dispatch]") {
  FireOptions opt;
  opt.maxIncidents = 2;
  DispatchTracker t(opt);
  auto rec = [](const std::string& id, const std::string& status) {
    return R"({"id":")" + id + R"(","type":"fire","adminCode":"330212","alarmLevel":1,)"
           R"("reportedAt":"2026-07-28T09:00:00+08:00","status":")" + status + R"("})";
  };
  t.ingest(rec("A", "false-alarm"), "x", kReceivedMs);
  t.ingest(rec("B", "dispatched"), "x", kReceivedMs + 1);
  t.ingest(rec("C", "dispatched"), "x", kReceivedMs + 2);
  CHECK(t.stats().incidents == 2);
  CHECK(t.stats().evicted == 1);
  // B is still known: its update is not a new alert
  auto o = t.ingest(rec("B", "controlled"), "x", kReceivedMs + 3);
  for (size_t i = 0; i < o.messages.size(); ++i) CHECK(msg(o, i).getMsgType() != schema::MsgType::ALERT);
}
