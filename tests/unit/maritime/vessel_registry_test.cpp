// Vessel registry: positions and statics merged per MMSI, positions without lat/lon, implausible jumps (and
// recovery when the stored position was the outlier), stale reports, expiry and least-recently-seen eviction.
#include <catch2/catch.hpp>

#include "adapters/maritime/vessel_registry.h"

using namespace alertbus;
using namespace alertbus::maritime;

namespace {

constexpr int64_t kNowMs = 1724922000000LL;  // 2024-08-29T09:00Z

AisPosition pos(uint32_t mmsi, double lat, double lon, double sog = 5.0) {
  AisPosition p;
  p.type = 1;
  p.mmsi = mmsi;
  p.latDeg = lat;
  p.lonDeg = lon;
  p.sogKnots = sog;
  p.cogDeg = 90.0;
  p.headingDeg = 91;
  p.navStatus = 0;
  return p;
}

AisResult decoded(AisMessage m, int64_t timeMs) {
  AisResult r;
  r.outcome = AisOutcome::Decoded;
  r.message = std::move(m);
  r.timeMs = timeMs;
  return r;
}

}  // namespace

TEST_CASE("registry: a position report creates the vessel with its kinematics", "[registry]") {
  VesselRegistry reg;
  auto u = reg.update(decoded(pos(412345678, 29.98, 122.2), kNowMs));
  CHECK(u.outcome == RegistryOutcome::Updated);
  const VesselState* v = reg.find(412345678);
  REQUIRE(v);
  CHECK(v->hasPosition);
  CHECK(v->latDeg == 29.98);
  CHECK(v->lonDeg == 122.2);
  CHECK(*v->sogKnots == 5.0);
  CHECK(*v->cogDeg == 90.0);
  CHECK(*v->headingDeg == 91);
  CHECK(*v->navStatus == 0);
  CHECK(v->positionMs == kNowMs);
  CHECK(v->lastSeenMs == kNowMs);
  CHECK(reg.size() == 1);
}

TEST_CASE("registry: statics from types 5 and 24 A and B merge with the position", "[registry]") {
  VesselRegistry reg;
  reg.update(decoded(pos(412345678, 29.98, 122.2), kNowMs));
  AisStatic s5;
  s5.type = 5;
  s5.mmsi = 412345678;
  s5.imo = 9123456;
  s5.callsign = "BQAB";
  s5.name = "ZHE DAI YU 01234";
  s5.shipType = 30;
  s5.toBowM = 20, s5.toSternM = 5, s5.toPortM = 3, s5.toStarboardM = 3;
  s5.destination = "SHENJIAMEN";
  s5.draughtM = 2.5;
  CHECK(reg.update(decoded(s5, kNowMs + 1000)).outcome == RegistryOutcome::Updated);
  const VesselState* v = reg.find(412345678);
  CHECK(v->name == "ZHE DAI YU 01234");
  CHECK(v->callsign == "BQAB");
  CHECK(v->imo == 9123456u);
  CHECK(v->shipType == 30);
  CHECK(v->lengthM() == 25);
  CHECK(v->beamM() == 6);
  CHECK(v->destination == "SHENJIAMEN");
  CHECK(v->latDeg == 29.98);  // position kept
  CHECK(v->lastSeenMs == kNowMs + 1000);

  SECTION("type 24 part A (name only) keeps dimensions and callsign") {
    AisStatic a;
    a.type = 24;
    a.part = 0;
    a.mmsi = 412345678;
    a.name = "NEW NAME";
    reg.update(decoded(a, kNowMs + 2000));
    v = reg.find(412345678);
    CHECK(v->name == "NEW NAME");
    CHECK(v->callsign == "BQAB");
    CHECK(v->lengthM() == 25);
    CHECK(v->imo == 9123456u);
  }
  SECTION("type 19 carries both halves") {
    AisClassBExtended b;
    b.position = pos(412000001, 30.0, 122.3);
    b.position.type = 19;
    b.statics.type = 19;
    b.statics.mmsi = 412000001;
    b.statics.name = "CLASS B";
    b.statics.shipType = 37;
    CHECK(reg.update(decoded(b, kNowMs)).outcome == RegistryOutcome::Updated);
    v = reg.find(412000001);
    REQUIRE(v);
    CHECK(v->name == "CLASS B");
    CHECK(v->hasPosition);
    CHECK(v->shipType == 37);
  }
}

TEST_CASE("registry: positions without lat or lon are ignored but refresh last seen", "[registry]") {
  VesselRegistry reg;
  reg.update(decoded(pos(412345678, 29.98, 122.2), kNowMs));
  AisPosition p = pos(412345678, 0, 0);
  p.latDeg.reset();
  p.lonDeg.reset();
  auto u = reg.update(decoded(p, kNowMs + 60000));
  CHECK(u.outcome == RegistryOutcome::Ignored);
  CHECK(reg.find(412345678)->latDeg == 29.98);
  CHECK(reg.find(412345678)->lastSeenMs == kNowMs + 60000);
  CHECK(reg.counters().noPosition == 1);
  SECTION("a new vessel without a position has no position") {
    p.mmsi = 1;
    reg.update(decoded(p, kNowMs));
    CHECK_FALSE(reg.find(1)->hasPosition);
  }
}

TEST_CASE("registry: not decoded results are ignored", "[registry]") {
  VesselRegistry reg;
  AisResult r;
  r.outcome = AisOutcome::Rejected;
  CHECK(reg.update(r).outcome == RegistryOutcome::Ignored);
  CHECK(reg.size() == 0);
}

TEST_CASE("registry: an implausible jump is rejected with a reason and does not move the vessel", "[registry]") {
  VesselRegistry reg;  // 60 kn limit
  reg.update(decoded(pos(412345678, 30.0, 122.0), kNowMs));
  // 1 degree of latitude (60 nm) in 10 minutes: 360 kn.
  auto u = reg.update(decoded(pos(412345678, 31.0, 122.0), kNowMs + 600000));
  CHECK(u.outcome == RegistryOutcome::Rejected);
  CHECK(u.field == "position");
  CHECK(u.value == "31.00000,122.00000");
  CHECK(u.reason.find("implies 360 kn") != std::string::npos);
  CHECK(u.reason.find("limit 60 kn") != std::string::npos);
  CHECK(reg.find(412345678)->latDeg == 30.0);
  CHECK(reg.counters().implausibleJumps == 1);

  SECTION("a plausible move is taken") {
    // 0.1 degree (6 nm) in 30 minutes: 12 kn.
    CHECK(reg.update(decoded(pos(412345678, 30.1, 122.0), kNowMs + 1800000)).outcome == RegistryOutcome::Updated);
    CHECK(reg.find(412345678)->latDeg == 30.1);
  }
  SECTION("two consistent reports against an outlier: the stored one was wrong") {
    CHECK(reg.update(decoded(pos(412345678, 31.001, 122.0), kNowMs + 660000)).outcome == RegistryOutcome::Updated);
    CHECK(reg.find(412345678)->latDeg == 31.001);
  }
  SECTION("the limit is an option") {
    VesselRegistryOptions o;
    o.maxPlausibleKnots = 400;
    VesselRegistry fast(o);
    fast.update(decoded(pos(1, 30.0, 122.0), kNowMs));
    CHECK(fast.update(decoded(pos(1, 31.0, 122.0), kNowMs + 600000)).outcome == RegistryOutcome::Updated);
  }
  SECTION("a move at the same instant is taken: the input has no usable time (a log read at once)") {
    CHECK(reg.update(decoded(pos(412345678, 30.01, 122.0), kNowMs)).outcome == RegistryOutcome::Updated);
    CHECK(reg.update(decoded(pos(412345678, 30.001, 122.0), kNowMs)).outcome == RegistryOutcome::Updated);
    CHECK(reg.find(412345678)->latDeg == 30.001);
  }
  SECTION("a report older than the stored position is rejected as stale") {
    auto s = reg.update(decoded(pos(412345678, 30.0, 122.0), kNowMs - 1000));
    CHECK(s.outcome == RegistryOutcome::Rejected);
    CHECK(s.reason.find("older") != std::string::npos);
  }
}

TEST_CASE("registry: expire drops vessels not seen within the TTL", "[registry]") {
  VesselRegistryOptions o;
  o.vesselTtlMs = 600000;
  VesselRegistry reg(o);
  reg.update(decoded(pos(1, 30.0, 122.0), kNowMs));
  reg.update(decoded(pos(2, 30.0, 122.1), kNowMs + 300000));
  CHECK(reg.expire(kNowMs + 600000) == 0);
  CHECK(reg.expire(kNowMs + 600001) == 1);
  CHECK(reg.find(1) == nullptr);
  CHECK(reg.find(2) != nullptr);
  CHECK(reg.counters().expired == 1);
  // A later report keeps vessel 2 alive.
  reg.update(decoded(pos(2, 30.0, 122.1), kNowMs + 800000));
  CHECK(reg.expire(kNowMs + 1000000) == 0);
  CHECK(reg.expire(kNowMs + 1400001) == 1);
  CHECK(reg.size() == 0);
}

TEST_CASE("registry: at max vessels the least recently seen is evicted", "[registry]") {
  VesselRegistryOptions o;
  o.maxVessels = 3;
  VesselRegistry reg(o);
  reg.update(decoded(pos(1, 30.0, 122.0), kNowMs));
  reg.update(decoded(pos(2, 30.0, 122.0), kNowMs + 1));
  reg.update(decoded(pos(3, 30.0, 122.0), kNowMs + 2));
  reg.update(decoded(pos(1, 30.0, 122.0), kNowMs + 3));  // 1 is fresh again; 2 is now the oldest
  reg.update(decoded(pos(4, 30.0, 122.0), kNowMs + 4));
  CHECK(reg.size() == 3);
  CHECK(reg.find(2) == nullptr);
  CHECK(reg.find(1) != nullptr);
  CHECK(reg.find(4) != nullptr);
  CHECK(reg.counters().evicted == 1);
}

TEST_CASE("registry: haversine distance of one degree of latitude is 60 nm", "[registry]") {
  CHECK(haversineM(30, 122, 31, 122) / 1852.0 == Approx(60.04).epsilon(0.001));
}
