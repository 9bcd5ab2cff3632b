// alertbus-water and alertbus-fire against a real alertbusd: gauge readings crossing a threshold become
// a warning, implausible readings are refused with their reason, the warning is cancelled after an
// adapter restart (state kept in its state file); a 119 incident is followed from alert to cancel, and
// fifty satellite pixels of one fire make one warning.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "tests/integration/adapter_harness.h"

using namespace alertbus;
using namespace alertbus::test;
namespace fs = std::filesystem;

namespace {

const std::string kWater = ALERTBUS_WATER_BIN;
const std::string kFire = ALERTBUS_FIRE_BIN;

// "YYYY-MM-DD hh:mm" in China Standard Time (the hydrology CSV convention), `minutesAgo` before now,
// on a whole minute so ids are stable.
std::string cstTime(int minutesAgo) {
  time_t t = time(nullptr) - minutesAgo * 60 + 8 * 3600;
  t -= t % 60;
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", &tm);
  return buf;
}

std::string isoAgo(int minutesAgo) {
  time_t t = time(nullptr) - minutesAgo * 60;
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S+00:00", &tm);
  return buf;
}

void drop(const std::string& path, const std::string& text) {
  std::ofstream(path + ".tmp", std::ios::binary) << text;
  fs::rename(path + ".tmp", path);
}

std::string readText(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

size_t countWithPrefix(const JournalTail& tail, const std::string& prefix, const std::string& contains = "") {
  size_t n = 0;
  for (auto& id : tail.ids())
    if (id.rfind(prefix, 0) == 0 && id.find(contains) != std::string::npos) ++n;
  return n;
}

}  // namespace

TEST_CASE("water: a rising river raises one warning, bad readings are refused, the fall cancels it after a restart",
          "[adapters][water]") {
  TempDir dir;
  BrokerProcess broker(dir, defaultSetup());
  broker.start();
  JournalTail tail(broker);
  std::string inbox = dir.file("inbox");
  drop(dir.file("stations.csv"),
       "STCD,STNM,ADDVCD,LGTD,LTTD,STTP,FRZ,WRZ,GRZ,MAXRISE\n"
       "70110400,余姚(姚江),330281,121.1545,30.0452,ZZ,2.50,2.93,3.43,\n");
  std::string config = writeAdapterConfig(dir, broker, "water", "water",
                                          "[input]\nwatch_dir = \"" + inbox + "\"\nscan_interval_ms = 100\n"
                                          "[water]\nstations_file = \"" + dir.file("stations.csv") + "\"\n");
  {
    ChildProcess water({kWater, "--config", config}, dir.file("water1.log"));
    REQUIRE(waitForFile(inbox + "/done"));
    drop(inbox + "/r1.csv", "STCD,STNM,TM,Z,Q\n"
                            "70110400,余姚," + cstTime(240) + ",2.40,120\n"
                            "70110400,余姚," + cstTime(180) + ",2.62,\n"
                            "70110400,余姚," + cstTime(120) + ",2.98,\n"   // over WRZ 2.93: yellow
                            "70110400,余姚," + cstTime(110) + ",-99999,\n"  // no-data marker
                            "70110400,余姚," + cstTime(100) + ",9.50,\n"    // 6.5 m in 20 min: a spike
                            "70110999,无名," + cstTime(100) + ",1.00,\n"    // unknown station
                            "70110400,余姚," + cstTime(-120) + ",2.99,\n"); // two hours in the future
    REQUIRE(waitForFile(inbox + "/done/r1.csv.reason"));
    std::string reasons = readText(inbox + "/done/r1.csv.reason");
    INFO(reasons);
    CHECK(reasons.find("Z=-99999") != std::string::npos);
    CHECK(reasons.find("no-data") != std::string::npos);
    CHECK(reasons.find("spike") != std::string::npos);
    CHECK(reasons.find("STCD=70110999: unknown station") != std::string::npos);
    CHECK(reasons.find("ahead of the receive clock") != std::string::npos);
    REQUIRE(tail.waitFor([&] { return countWithPrefix(tail, "water-warn-70110400-") >= 2; }, 15000));
    CHECK(water.stop() == 0);
  }
  // Oscillating around WRZ within the hysteresis, then falling, with a restarted adapter.
  ChildProcess water({kWater, "--config", config}, dir.file("water2.log"));
  drop(inbox + "/r2.csv", "STCD,STNM,TM,Z,Q\n"
                          "70110400,余姚," + cstTime(60) + ",2.92,\n"
                          "70110400,余姚," + cstTime(50) + ",2.94,\n"
                          "70110400,余姚," + cstTime(40) + ",2.91,\n"
                          "70110400,余姚," + cstTime(30) + ",2.78,\n"  // falling under 1 m/h (no spike)
                          "70110400,余姚," + cstTime(20) + ",2.64,\n"
                          "70110400,余姚," + cstTime(10) + ",2.50,\n"
                          "70110400,余姚," + cstTime(0) + ",2.40,\n");  // below FRZ 2.50 - 0.05: all clear
  REQUIRE(tail.waitFor([&] { return countWithPrefix(tail, "water-warn-70110400-", "-cancel-") == 1; }, 15000));
  REQUIRE(waitForFile(inbox + "/done/r2.csv"));
  tail.waitFor([] { return false; }, 300);
  // One alert for the crossing (FRZ then WRZ as an update), never a second alert while oscillating.
  size_t alerts = 0;
  std::string alertId;
  for (auto& id : tail.ids()) {
    if (id.rfind("water-warn-70110400-", 0) != 0) continue;
    if (tail.json(id).find("\"msgType\":\"alert\"") != std::string::npos) ++alerts, alertId = id;
  }
  CHECK(alerts == 1);
  for (auto& id : tail.ids())
    if (id.find("-cancel-") != std::string::npos && id.rfind("water-warn", 0) == 0)
      CHECK(tail.json(id).find("\"id\":\"" + alertId + "\"") != std::string::npos);  // cancels what it names
  // Observations of the accepted readings, each once; none for the refused ones.
  CHECK(countWithPrefix(tail, "water-obs-70110400-Z-") == 10);
  CHECK(countWithPrefix(tail, "water-obs-70110999") == 0);
  CHECK(water.stop() == 0);
}

TEST_CASE("water: a stations file with a bad row is a config error naming file and row", "[adapters][water]") {
  TempDir dir;
  drop(dir.file("stations.csv"), "STCD,STNM,ADDVCD,LGTD,LTTD,STTP,FRZ,WRZ,GRZ\n"
                                 "70110400,余姚,330281,121.15,30.04,ZZ,3.00,2.93,3.43\n");
  std::ofstream(dir.file("water.toml")) << "[state]\ndir = \"" << dir.file("s") << "\"\n[water]\nstations_file = \""
                                        << dir.file("stations.csv") << "\"\nhysteresis = 1\n";
  auto r = runCommand(kWater + " --config " + dir.file("water.toml") + " --dry-run");
  INFO(r.out);
  CHECK(r.status == 2);
  CHECK(r.out.find("unknown key 'water.hysteresis'") != std::string::npos);
  CHECK(r.out.find("stations.csv") != std::string::npos);
  CHECK(r.out.find("70110400") != std::string::npos);
}

TEST_CASE("fire: an incident is followed from alert to cancel and fifty pixels make one warning",
          "[adapters][fire]") {
  TempDir dir;
  BrokerProcess broker(dir, defaultSetup());
  broker.start();
  JournalTail tail(broker);
  std::string inbox = dir.file("inbox");
  std::string config =
      writeAdapterConfig(dir, broker, "fire", "fire", "[input]\nwatch_dir = \"" + inbox + "\"\nscan_interval_ms = 100\n");
  ChildProcess fire({kFire, "--config", config}, dir.file("fire.log"));
  REQUIRE(waitForFile(inbox + "/done"));

  auto report = [&](int n, int level, const std::string& status) {
    return "{\"id\":\"NB-IT-1\",\"updateNumber\":" + std::to_string(n) +
           ",\"type\":\"building-fire\",\"position\":{\"lat\":29.8683,\"lon\":121.5440},\"adminCode\":\"330203\","
           "\"address\":\"宁波市海曙区中山西路1号\",\"alarmLevel\":" + std::to_string(level) +
           ",\"reportedAt\":\"" + isoAgo(30) + "\",\"status\":\"" + status + "\",\"statusAt\":\"" + isoAgo(30 - 5 * n) +
           "\",\"resources\":{\"personnel\":" + std::to_string(20 + 10 * n) + ",\"vehicles\":" + std::to_string(4 + n) + "}}\n";
  };
  drop(inbox + "/d1.jsonl", report(0, 2, "dispatched"));
  REQUIRE(tail.waitFor([&] { return tail.count("fire-NB-IT-1-w0") == 1 && tail.count("fire-NB-IT-1-r1") == 1; }, 15000));
  drop(inbox + "/d2.jsonl", report(1, 3, "on-scene") + report(1, 3, "on-scene"));  // repeated line: once
  drop(inbox + "/d3.jsonl", report(2, 3, "extinguished"));
  REQUIRE(tail.waitFor([&] { return tail.count("fire-NB-IT-1-cancel") == 1; }, 15000));
  CHECK(tail.count("fire-NB-IT-1-w1") == 1);  // alarm level 2 -> 3: a warning update
  CHECK(tail.json("fire-NB-IT-1-w1").find("\"id\":\"fire-NB-IT-1-w0\"") != std::string::npos);
  CHECK(tail.json("fire-NB-IT-1-cancel").find("\"id\":\"fire-NB-IT-1-w0\"") != std::string::npos);

  // Fifty MODIS pixels of one fire, 1 km apart at most: one warning, not fifty.
  std::string csv = "latitude,longitude,brightness,scan,track,acq_date,acq_time,satellite,confidence,version,"
                    "bright_t31,frp,daynight\n";
  time_t t = time(nullptr) - 3 * 3600;
  struct tm tm {};
  gmtime_r(&t, &tm);
  char date[16], hhmm[8];
  strftime(date, sizeof date, "%Y-%m-%d", &tm);
  strftime(hhmm, sizeof hhmm, "%H%M", &tm);
  for (int i = 0; i < 50; ++i) {
    char line[200];
    snprintf(line, sizeof line, "%.5f,%.5f,330.0,1.0,1.0,%s,%s,T,80,6.1NRT,299.0,25.0,D\n", 29.70 + 0.004 * (i % 7),
             121.80 + 0.004 * (i / 7), date, hhmm);
    csv += line;
  }
  drop(inbox + "/firms.csv", csv);
  REQUIRE(waitForFile(inbox + "/done/firms.csv"));
  REQUIRE(tail.waitFor([&] { return countWithPrefix(tail, "fire-hs-") >= 1; }, 15000));
  tail.waitFor([] { return false; }, 300);
  CHECK(countWithPrefix(tail, "fire-hs-") == 1);
  CHECK(fire.stop() == 0);
}
