// HotspotClusterer (adapters/fire/hotspot_clusterer.h): one fire -> one warning that grows, separate fires,
// bridging merges, quiet cancel, restart with restored state, bounds, and a 100k-hotspot run.
#include "adapters/fire/hotspot_clusterer.h"

#include <capnp/message.h>
#include <catch2/catch.hpp>

#include <chrono>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>

#include "model/validate.h"
#include "schemas/message.capnp.h"

using namespace alertbus;
using namespace alertbus::fire;
using schema::Message;

namespace {

const std::string kDataDir = std::string(ALERTBUS_SOURCE_DIR) + "/tests/data/fire/";
constexpr int64_t kT0 = 1785214800000LL;  // 2026-07-28T05:00:00Z
constexpr int64_t kMin = 60000, kHour = 3600000;

std::string readFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

std::string text(capnp::Text::Reader t) { return std::string(t.cStr(), t.size()); }
Message::Reader msg(const adapter::Output& o, size_t i) { return o.messages.at(i)->getRoot<Message>().asReader(); }

Hotspot hs(double lat, double lon, int64_t timeMs, double frp = 10, double pixelKm = 0.375, std::string sat = "N") {
  Hotspot h;
  h.lat = lat;
  h.lon = lon;
  h.timeMs = timeMs;
  h.frpMw = frp;
  h.scanKm = h.trackKm = pixelKm;
  h.satellite = sat;
  char b[128];
  snprintf(b, sizeof b, "%.5f,%.5f,330.0,%.2f,%.2f,2026-07-28,0500,%s,n,2.0NRT,290.0,%.2f,D", lat, lon, pixelKm,
           pixelKm, sat.c_str(), frp);
  h.line = b;
  return h;
}

// 50 pixels of one fire: a 5 x 10 grid, ~0.4 km apart.
std::vector<Hotspot> oneFire(double lat, double lon, int64_t t) {
  std::vector<Hotspot> v;
  for (int i = 0; i < 5; ++i)
    for (int j = 0; j < 10; ++j) v.push_back(hs(lat + i * 0.0036, lon + j * 0.0041, t + (i * 10 + j) * kMin));
  return v;
}

size_t countType(const adapter::Output& o, schema::MsgType t) {
  size_t n = 0;
  for (size_t i = 0; i < o.messages.size(); ++i) n += msg(o, i).getMsgType() == t;
  return n;
}

void requireValid(const adapter::Output& o, int64_t nowMs) {
  for (size_t i = 0; i < o.messages.size(); ++i) {
    auto v = validateMessage(msg(o, i), nowMs);
    INFO(text(msg(o, i).getId()) << ": " << (v ? v->field + ": " + v->value + ": " + v->reason : ""));
    REQUIRE(!v);
  }
}

std::vector<std::string> ids(const adapter::Output& o) {
  std::vector<std::string> r;
  for (size_t i = 0; i < o.messages.size(); ++i) r.push_back(text(msg(o, i).getId()));
  return r;
}

}  // namespace

TEST_CASE("clusterer: fifty pixels of one fire in one file make exactly one alert", "[fire][clusterer]") {
  HotspotClusterer c;
  auto o = c.add(oneFire(29.75, 121.86, kT0), "hdr", "viirs.csv", kT0 + kHour);
  requireValid(o, kT0 + kHour);
  REQUIRE(o.messages.size() == 1);
  auto m = msg(o, 0);
  CHECK(m.getMsgType() == schema::MsgType::ALERT);
  CHECK(text(m.getId()) == "fire-hs-20260728T0500-29.7500N-121.8600E");
  CHECK(text(m.getIncident()) == text(m.getId()));
  CHECK(m.getSentMs() == kT0 + kHour);
  auto info = m.getPayload().getWarning()[0];
  CHECK(text(info.getEventCode()) == "forest-fire");
  CHECK(info.getCategories()[0] == schema::Category::FIRE);
  CHECK(info.getColour() == schema::Colour::ORANGE);  // 50 hotspots
  CHECK(info.getExpiresMs() == kT0 + kHour + FireOptions{}.warningTtlMs);
  std::map<std::string, std::string> params;
  for (auto kv : info.getParameters()) params[text(kv.getKey())] = text(kv.getValue());
  CHECK(params["hotspotCount"] == "50");
  CHECK(params["maxFrpMW"] == "10.0");
  CHECK(params["firstDetection"] == "2026-07-28T05:00:00Z");
  CHECK(params["lastDetection"] == "2026-07-28T05:49:00Z");
  auto area = info.getAreas()[0];
  REQUIRE(area.getPolygons().size() == 1);
  auto pts = area.getPolygons()[0].getPoints();
  CHECK(pts.size() >= 5);  // a rectangle-ish hull, closed
  CHECK(pts[0].getLat() == pts[pts.size() - 1].getLat());
  CHECK(pts[0].getLon() == pts[pts.size() - 1].getLon());
  auto prov = m.getProvenance();
  CHECK(text(prov.getContentType()) == "text/csv");
  std::string orig(reinterpret_cast<const char*>(prov.getOriginal().begin()), prov.getOriginal().size());
  CHECK(orig.rfind("hdr\n", 0) == 0);
  CHECK(std::count(orig.begin(), orig.end(), '\n') == 51);
  CHECK(text(prov.getSource()) == "viirs.csv");
}

TEST_CASE("clusterer: fifty pixels arriving one by one make one alert and updates", "[fire][clusterer]") {
  HotspotClusterer c;
  size_t alerts = 0, updates = 0;
  std::string warningId;
  for (auto& h : oneFire(29.75, 121.86, kT0)) {
    int64_t now = h.timeMs + 10 * kMin;
    auto o = c.add({h}, "", "stream", now);
    requireValid(o, now);
    for (size_t i = 0; i < o.messages.size(); ++i) {
      auto m = msg(o, i);
      if (m.getMsgType() == schema::MsgType::ALERT) {
        ++alerts;
        warningId = text(m.getId());
      } else {
        REQUIRE(m.getMsgType() == schema::MsgType::UPDATE);
        ++updates;
        REQUIRE(m.getReferences().size() == 1);
        CHECK(text(m.getReferences()[0].getId()) == warningId);
        CHECK(text(m.getId()) == warningId + "-u" + std::to_string(updates));
      }
    }
  }
  CHECK(alerts == 1);
  CHECK(updates >= 3);
  CHECK(updates <= 15);  // grows by factor 1.5, not one per pixel
  CHECK(c.stats().liveClusters == 1);
}

TEST_CASE("clusterer: two separate fires make two alerts", "[fire][clusterer]") {
  HotspotClusterer c;
  auto a = oneFire(29.75, 121.86, kT0), b = oneFire(29.60, 121.40, kT0 + 5 * kMin);
  a.insert(a.end(), b.begin(), b.end());
  auto o = c.add(a, "", "x", kT0 + 2 * kHour);
  requireValid(o, kT0 + 2 * kHour);
  REQUIRE(o.messages.size() == 2);
  CHECK(countType(o, schema::MsgType::ALERT) == 2);
  CHECK(ids(o)[0] != ids(o)[1]);
  CHECK(c.stats().liveClusters == 2);
}

TEST_CASE("clusterer: a weak single pixel waits for a second one", "[fire][clusterer]") {
  HotspotClusterer c;
  CHECK(c.add({hs(29.75, 121.86, kT0, 1.2)}, "", "x", kT0 + kHour).messages.empty());
  auto o = c.add({hs(29.751, 121.861, kT0 + 2 * kHour, 1.5)}, "", "x", kT0 + 3 * kHour);
  requireValid(o, kT0 + 3 * kHour);
  REQUIRE(o.messages.size() == 1);
  auto area = msg(o, 0).getPayload().getWarning()[0].getAreas()[0];
  CHECK(area.getPolygons().size() == 0);  // 2 pixels: a circle
  REQUIRE(area.getCircles().size() == 1);
  CHECK(area.getCircles()[0].getRadiusKm() > 0.2);
  CHECK(area.getCircles()[0].getRadiusKm() < 1.0);
  SECTION("a strong single pixel publishes at once") {
    auto o2 = c.add({hs(28.0, 120.0, kT0, 80)}, "", "x", kT0 + kHour);
    CHECK(countType(o2, schema::MsgType::ALERT) == 1);
  }
}

TEST_CASE("clusterer: a bridging hotspot merges two published fires", "[fire][clusterer]") {
  HotspotClusterer c;
  auto o1 = c.add({hs(29.75, 121.80, kT0, 30), hs(29.7505, 121.8005, kT0, 30)}, "", "x", kT0 + kHour);
  auto o2 = c.add({hs(29.75, 121.83, kT0 + 10 * kMin, 30), hs(29.7505, 121.8305, kT0 + 10 * kMin, 30)}, "", "x",
                  kT0 + kHour);
  REQUIRE(o1.messages.size() == 1);
  REQUIRE(o2.messages.size() == 1);
  std::string idA = ids(o1)[0], idB = ids(o2)[0];
  REQUIRE(idA != idB);
  CHECK(c.stats().liveClusters == 2);
  auto o = c.add({hs(29.75, 121.815, kT0 + 20 * kMin, 30)}, "", "x", kT0 + 2 * kHour);  // ~1.45 km to both
  requireValid(o, kT0 + 2 * kHour);
  REQUIRE(o.messages.size() == 2);
  auto cancel = msg(o, 0);
  CHECK(cancel.getMsgType() == schema::MsgType::CANCEL);
  CHECK(text(cancel.getId()) == idB + "-c");
  REQUIRE(cancel.getReferences().size() == 1);
  CHECK(text(cancel.getReferences()[0].getId()) == idB);
  auto up = msg(o, 1);
  CHECK(up.getMsgType() == schema::MsgType::UPDATE);
  CHECK(text(up.getId()) == idA + "-u1");
  REQUIRE(up.getReferences().size() == 2);
  CHECK(text(up.getReferences()[0].getId()) == idA);
  CHECK(text(up.getReferences()[1].getId()) == idB);
  CHECK(text(up.getReferences()[1].getSender()) == "fire");
  CHECK(c.stats().liveClusters == 1);
  CHECK(c.stats().merges == 1);
  std::map<std::string, std::string> params;
  for (auto kv : up.getPayload().getWarning()[0].getParameters()) params[text(kv.getKey())] = text(kv.getValue());
  CHECK(params["hotspotCount"] == "5");
}

TEST_CASE("clusterer: quiet clusters are cancelled by tick", "[fire][clusterer]") {
  FireOptions opt;
  opt.quietMs = 12 * kHour;
  HotspotClusterer c(opt);
  auto o = c.add(oneFire(29.75, 121.86, kT0), "", "x", kT0 + kHour);
  REQUIRE(o.messages.size() == 1);
  std::string id = ids(o)[0];
  int64_t last = kT0 + 49 * kMin;
  CHECK(c.tick(last + 12 * kHour - 1).messages.empty());
  auto t = c.tick(last + 12 * kHour);
  requireValid(t, last + 12 * kHour);
  REQUIRE(t.messages.size() == 1);
  CHECK(t.messages.size() == 1);
  auto m = msg(t, 0);
  CHECK(m.getMsgType() == schema::MsgType::CANCEL);
  CHECK(text(m.getId()) == id + "-c");
  CHECK(text(m.getReferences()[0].getId()) == id);
  CHECK(m.getSentMs() == last + 12 * kHour);
  CHECK(c.stats().liveClusters == 0);
  CHECK(c.tick(last + 13 * kHour).messages.empty());
  SECTION("old hotspots after the cancel are stale, not a new fire") {
    auto again = c.add(oneFire(29.75, 121.86, kT0), "", "x", last + 13 * kHour);
    CHECK(again.messages.empty());
    CHECK(c.stats().stale == 50);
    REQUIRE(again.problems.size() == 1);
    CHECK(again.problems[0].level == adapter::InputProblem::Level::warning);
  }
}

TEST_CASE("clusterer: restored state re-fed with the same file publishes nothing and keeps ids", "[fire][clusterer]") {
  auto modis = readFile(kDataDir + "modis-sample.csv");
  auto viirs = readFile(kDataDir + "viirs-sample.csv");
  const int64_t now = 1785218400000LL;  // 06:00Z
  HotspotClusterer a;
  auto o1 = a.ingestCsv(modis, "modis.csv", now);
  requireValid(o1, now);
  REQUIRE(o1.messages.size() == 1);
  CHECK(o1.accepted == 4);
  CHECK(o1.rejected == 4);
  std::string id = ids(o1)[0];
  CHECK(id == "fire-hs-20260728T0517-29.7451N-121.8570E");
  std::string state = a.saveState();

  HotspotClusterer b;
  std::string err;
  REQUIRE(b.loadState(state, &err));
  auto again = b.ingestCsv(modis, "modis.csv", now + kHour);
  CHECK(again.messages.empty());
  CHECK(b.stats().duplicates == 3);
  // the VIIRS pass of the same fire doubles it: an update of the same warning, in both instances alike
  auto ua = a.ingestCsv(viirs, "viirs.csv", now + kHour);
  auto ub = b.ingestCsv(viirs, "viirs.csv", now + kHour);
  requireValid(ub, now + kHour);
  REQUIRE(ub.messages.size() == 1);
  CHECK(ids(ua) == ids(ub));
  CHECK(ids(ub)[0] == id + "-u1");
  CHECK(text(msg(ub, 0).getReferences()[0].getId()) == id);
  CHECK(a.saveState() == b.saveState());
  SECTION("malformed state is refused and leaves the state alone") {
    CHECK(!b.loadState("{", &err));
    CHECK(!b.loadState(R"({"version":2})", &err));
    CHECK(!b.loadState(R"({"version":1,"clusters":[{"key":1}]})", &err));
    CHECK(b.stats().liveClusters == 1);
  }
}

TEST_CASE("clusterer: maxClusters drops the longest-quiet cluster and cancels it", "[fire][clusterer]") {
  FireOptions opt;
  opt.maxClusters = 3;
  HotspotClusterer c(opt);
  adapter::Output all;
  for (int i = 0; i < 5; ++i) all.append(c.add({hs(20.0 + i, 110.0, kT0 + i * kMin, 80)}, "", "x", kT0 + kHour));
  requireValid(all, kT0 + kHour);
  CHECK(c.stats().liveClusters == 3);
  CHECK(c.stats().evicted == 2);
  CHECK(countType(all, schema::MsgType::ALERT) == 5);
  CHECK(countType(all, schema::MsgType::CANCEL) == 2);
}

TEST_CASE("clusterer: large off-nadir MODIS pixels that touch still join", "[fire][clusterer]") {
  HotspotClusterer c;
  // 4.0 km x 1.8 km pixels, centres 3.9 km apart east-west
  double dLon = 3.9 / (111.195 * std::cos(45.0 * M_PI / 180));
  auto o = c.add({hs(45.0, 10.0, kT0, 30, 4.0, "A"), hs(45.0, 10.0 + dLon, kT0, 30, 4.0, "A")}, "", "x", kT0 + kHour);
  CHECK(o.messages.size() == 1);
  CHECK(c.stats().liveClusters == 1);
}

TEST_CASE("clusterer: 100k synthetic hotspots cluster quickly", "[fire][clusterer][perf]") {
  std::mt19937 rng(42);
  std::uniform_real_distribution<double> lat(25, 45), lon(100, 125), jitter(-0.01, 0.01);
  std::vector<Hotspot> v;
  v.reserve(100000);
  for (int f = 0; f < 2000; ++f) {  // 2000 fires of 50 pixels
    double la = lat(rng), lo = lon(rng);
    for (int k = 0; k < 50; ++k) v.push_back(hs(la + jitter(rng), lo + jitter(rng), kT0 + k * kMin, 5 + k));
  }
  std::shuffle(v.begin(), v.end(), rng);
  HotspotClusterer c;
  auto start = std::chrono::steady_clock::now();
  auto o = c.add(v, "", "synthetic", kT0 + 2 * kHour);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  std::cout << "100k hotspots: " << ms << " ms, " << c.stats().liveClusters << " clusters, " << o.messages.size()
            << " messages\n";
  CHECK(c.stats().liveClusters <= 2000);
  CHECK(c.stats().liveClusters >= 1900);  // a few random fires overlap
  CHECK(countType(o, schema::MsgType::ALERT) == o.messages.size());
  requireValid(o, kT0 + 2 * kHour);
  auto t = c.tick(kT0 + 48 * kHour);
  CHECK(t.messages.size() == o.messages.size());
  CHECK(c.stats().liveClusters == 0);
}
