// alertbus-maritime against a real alertbusd: AIS positions dropped into its watched directory build the
// vessel registry; a typhoon warning published by the met agency reaches the adapter through outlet
// maritime-watch, and "vessels at risk" reports list the ships inside its area and not in a shelter,
// follow them as they move, and end when the warning is cancelled. NAVTEX receptions become warnings.
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "adapters/maritime/ais.h"
#include "tests/integration/adapter_harness.h"

using namespace alertbus;
using namespace alertbus::test;
namespace fs = std::filesystem;

namespace {

const std::string kMaritime = ALERTBUS_MARITIME_BIN;

void drop(const std::string& path, const std::string& text) {
  std::ofstream(path + ".tmp", std::ios::binary) << text;
  fs::rename(path + ".tmp", path);
}

// One AIS type 1 position report sentence (class A), 5 kn, course 90, with a tag block giving the
// receiver's time `agoS` seconds before now (as shore stations add).
std::string position(uint32_t mmsi, double lat, double lon, int agoS) {
  AisPayloadWriter w;
  w.put(1, 6);
  w.put(0, 2);
  w.put(mmsi, 30);
  w.put(0, 4);                                           // under way using engine
  w.put(0x80, 8);                                        // rate of turn not available
  w.put(50, 10);                                         // 5.0 kn
  w.put(0, 1);
  w.put(static_cast<uint32_t>(static_cast<int32_t>(lon * 600000)), 28);
  w.put(static_cast<uint32_t>(static_cast<int32_t>(lat * 600000)), 27);
  w.put(900, 12);
  w.put(90, 9);
  w.put(10, 6);
  w.put(0, 2 + 3 + 1 + 19);
  int fill = 0;
  std::string payload = w.payload(&fill);
  std::string tag = "c:" + std::to_string(time(nullptr) - agoS);
  char sum[4];
  snprintf(sum, sizeof sum, "%02X", nmeaChecksum(tag));
  return "\\" + tag + "*" + sum + "\\" + aisSentence(payload, fill) + "\r\n";
}

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A typhoon warning (or its cancel) from the met agency whose area is a box off Xiangshan.
void publishWarning(Client& met, const std::string& id, schema::MsgType type, const std::string& ref = "") {
  capnp::MallocMessageBuilder b;
  auto m = b.initRoot<schema::Message>();
  m.setId(id);
  m.setSentMs(nowMs());
  m.setStatus(schema::Status::ACTUAL);
  m.setMsgType(type);
  if (!ref.empty()) {
    auto r = m.initReferences(1)[0];
    r.setSender("met");
    r.setId(ref);
  }
  auto info = m.getPayload().initWarning(1)[0];
  info.setLanguage("zh-CN");
  info.setEvent("台风");
  info.setEventCode("typhoon");
  info.setSeverity(schema::Severity::SEVERE);
  info.setColour(schema::Colour::ORANGE);
  info.setExpiresMs(nowMs() + 6 * 3600 * 1000);
  auto area = info.initAreas(1)[0];
  area.setDescription("象山港外海域");
  auto ring = area.initPolygons(1)[0].initPoints(5);
  double box[5][2] = {{29.0, 121.9}, {29.0, 122.5}, {29.5, 122.5}, {29.5, 121.9}, {29.0, 121.9}};
  for (unsigned i = 0; i < 5; ++i) {
    ring[i].setLat(box[i][0]);
    ring[i].setLon(box[i][1]);
  }
  area.setAltitudeM(NAN);
  area.setCeilingM(NAN);
  met.publish(b);
}

}  // namespace

TEST_CASE("maritime: vessels at risk follow ships and warnings, and NAVTEX becomes warnings", "[adapters][maritime]") {
  TempDir dir;
  BrokerSetup setup = defaultSetup();
  setup.agencies.push_back({"maritime", "adapter", {"*"}, {}, {"maritime-watch"}});
  setup.rulesToml = R"(
[[rule]]
name = "typhoon-to-maritime-watch"
event = ["typhoon"]
kind = ["warning"]
to = ["maritime-watch:vessels-at-risk"]
continue = true

[[rule]]
name = "everything-to-city-desk"
to = ["dashboard:city-desk"]
)";
  BrokerProcess broker(dir, setup);
  broker.start();
  JournalTail tail(broker);
  std::string inbox = dir.file("inbox");
  std::string config = writeAdapterConfig(
      dir, broker, "maritime", "maritime",
      "[input]\nwatch_dir = \"" + inbox + "\"\nscan_interval_ms = 100\n"
      "[maritime]\nevaluate_interval_ms = 200\n[maritime.registry]\nvessel_ttl_ms = 86400000\n"
      "[[maritime.risk.shelter]]\nname = \"石浦渔港\"\ncircles = [{ lat = 29.20, lon = 121.95, radius_km = 3.0 }]\n");
  ChildProcess maritime({kMaritime, "--config", config}, dir.file("maritime.log"));
  REQUIRE(waitForFile(inbox + "/done"));

  // Three ships: at sea inside the warning box, in the Shipu shelter (inside the box too), and far away.
  drop(inbox + "/ais-1.nmea", position(412000001, 29.30, 122.20, 10800) + position(412000002, 29.20, 121.95, 10800) +
                                  position(412000003, 30.50, 123.50, 10800) + "!AIVDM,1,1,,A,garbage,0*00\r\n");
  REQUIRE(waitForFile(inbox + "/done/ais-1.nmea"));
  CHECK(fs::exists(inbox + "/done/ais-1.nmea.reason"));  // the garbage line, named with its reason

  Client met(broker.clientOptions("met"));
  publishWarning(met, "TY-LEKIMA-1", schema::MsgType::ALERT);
  auto reportsFor = [&](const std::string& warning) {
    std::vector<std::string> out;
    for (auto& id : tail.ids())
      if (id.rfind("vessels-at-risk-" + warning + "-", 0) == 0) out.push_back(id);
    return out;
  };
  REQUIRE(waitFor([&] { return !reportsFor("TY-LEKIMA-1").empty(); }, 15000, {&met, &tail.client()}));
  std::string first = tail.json(reportsFor("TY-LEKIMA-1")[0]);
  INFO(first);
  CHECK(first.find("\"mmsi\":412000001") != std::string::npos);
  CHECK(first.find("\"mmsi\":412000002") == std::string::npos);  // in shelter
  CHECK(first.find("\"mmsi\":412000003") == std::string::npos);  // outside the area
  CHECK(first.find("{\"sender\":\"met\",\"id\":\"TY-LEKIMA-1\"") != std::string::npos);  // references the warning

  // The ship at sea runs for the shelter: the next report no longer lists it.
  drop(inbox + "/ais-2.nmea", position(412000001, 29.21, 121.96, 0));  // 25 km in 3 h
  REQUIRE(waitFor([&] { return reportsFor("TY-LEKIMA-1").size() >= 2; }, 15000, {&met, &tail.client()}));
  std::string second = tail.json(reportsFor("TY-LEKIMA-1").back());
  INFO(second);
  CHECK(second.find("\"mmsi\":412000001") == std::string::npos);
  CHECK(second.find("\"msgType\":\"update\"") != std::string::npos);

  // The warning is cancelled: a final report, then nothing more for it.
  size_t before = reportsFor("TY-LEKIMA-1").size();
  publishWarning(met, "TY-LEKIMA-2", schema::MsgType::CANCEL, "TY-LEKIMA-1");
  REQUIRE(waitFor([&] { return reportsFor("TY-LEKIMA-1").size() == before + 1; }, 15000, {&met, &tail.client()}));
  CHECK(tail.json(reportsFor("TY-LEKIMA-1").back()).find("\"vessels\":[]") != std::string::npos);

  // NAVTEX: a Shanghai navigational warning off Zhoushan.
  drop(inbox + "/navtex.txt",
       "ZCZC QA45\r\n291530 UTC JUL 26\r\nSHANGHAI NAV WARNING 045/26\r\nEAST CHINA SEA. ZHOUSHAN.\r\n"
       "WRECK IN POSITION 29-59.0N 122-12.0E.\r\nVESSELS ARE ADVISED TO KEEP CLEAR.\r\nNNNN\r\n");
  REQUIRE(tail.waitFor(
      [&] {
        for (auto& id : tail.ids())
          if (id.rfind("navtex-QA45", 0) == 0) return true;
        return false;
      },
      15000));
  CHECK(maritime.stop() == 0);
}
