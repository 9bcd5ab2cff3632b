// Vessel registry: see vessel_registry.h. Invariant: bySeen_ holds exactly one (lastSeenMs, mmsi) per vessel.
#include "adapters/maritime/vessel_registry.h"
#include "model/decode_util.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace alertbus::maritime {
namespace {

std::string fmt(const char* f, double a, double b) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, a, b);
  return buf;
}

// Implied speed in knots for a move; 0 for moves within the tolerance; +inf when time does not advance.
double impliedKnots(double lat1, double lon1, int64_t ms1, double lat2, double lon2, int64_t ms2, double toleranceM) {
  double d = haversineM(lat1, lon1, lat2, lon2);
  if (d <= toleranceM) return 0;
  // Same instant: the input carries no usable time (a log without tag blocks or timestamps is read at once,
  // every line with the same receive clock), so speed cannot be judged; take the position.
  if (ms2 <= ms1) return 0;
  return (d / 1852.0) / (static_cast<double>(ms2 - ms1) / 3600000.0);
}

}  // namespace

VesselRegistry::VesselRegistry(VesselRegistryOptions options) : options_(options) {
  if (options_.maxVessels == 0) options_.maxVessels = 1;
}

VesselState& VesselRegistry::touch(uint32_t mmsi, int64_t timeMs) {
  auto it = vessels_.find(mmsi);
  if (it == vessels_.end()) {
    if (vessels_.size() >= options_.maxVessels && !bySeen_.empty()) {
      uint32_t victim = bySeen_.begin()->second;
      bySeen_.erase(bySeen_.begin());
      vessels_.erase(victim);
      refused_.erase(victim);
      ++counters_.evicted;
    }
    it = vessels_.emplace(mmsi, VesselState{}).first;
    it->second.mmsi = mmsi;
    it->second.lastSeenMs = timeMs;
    bySeen_.emplace(timeMs, mmsi);
    return it->second;
  }
  VesselState& v = it->second;
  if (timeMs > v.lastSeenMs) {
    bySeen_.erase({v.lastSeenMs, mmsi});
    v.lastSeenMs = timeMs;
    bySeen_.emplace(timeMs, mmsi);
  }
  return v;
}

RegistryUpdate VesselRegistry::update(const AisResult& r) {
  if (r.outcome != AisOutcome::Decoded) return {RegistryOutcome::Ignored, 0, "", "", "not a decoded report"};
  if (auto* p = std::get_if<AisPosition>(&r.message)) return updatePosition(*p, r.timeMs);
  if (auto* s = std::get_if<AisStatic>(&r.message)) return updateStatic(*s, r.timeMs);
  if (auto* b = std::get_if<AisClassBExtended>(&r.message)) {
    RegistryUpdate st = updateStatic(b->statics, r.timeMs);
    RegistryUpdate pos = updatePosition(b->position, r.timeMs);
    return pos.outcome == RegistryOutcome::Ignored ? st : pos;
  }
  return {RegistryOutcome::Ignored, 0, "", "", "not a decoded report"};
}

RegistryUpdate VesselRegistry::updatePosition(const AisPosition& p, int64_t timeMs) {
  RegistryUpdate u;
  u.mmsi = p.mmsi;
  VesselState& v = touch(p.mmsi, timeMs);
  if (!p.latDeg || !p.lonDeg) {
    ++counters_.noPosition;
    u.reason = "position report without latitude/longitude (not available)";
    return u;
  }
  double lat = *p.latDeg, lon = *p.lonDeg;
  if (v.hasPosition) {
    if (timeMs < v.positionMs) {
      ++counters_.stale;
      u.outcome = RegistryOutcome::Rejected;
      u.field = "position";
      u.value = fmt("%.5f,%.5f", lat, lon);
      u.reason = "report time " + std::to_string(timeMs) + " is older than the stored position's " +
                 std::to_string(v.positionMs);
      return u;
    }
    double kn = impliedKnots(v.latDeg, v.lonDeg, v.positionMs, lat, lon, timeMs, options_.jumpToleranceM);
    if (kn > options_.maxPlausibleKnots) {
      auto ref = refused_.find(p.mmsi);
      bool fromRefused = ref != refused_.end() &&
                         impliedKnots(ref->second.first.first, ref->second.first.second, ref->second.second, lat, lon,
                                      timeMs, options_.jumpToleranceM) <= options_.maxPlausibleKnots;
      if (!fromRefused) {
        ++counters_.implausibleJumps;
        refused_[p.mmsi] = {{lat, lon}, timeMs};
        u.outcome = RegistryOutcome::Rejected;
        u.field = "position";
        u.value = fmt("%.5f,%.5f", lat, lon);
        char buf[200];
        double dtS = static_cast<double>(timeMs - v.positionMs) / 1000.0;
        if (std::isinf(kn))
          std::snprintf(buf, sizeof buf, "moved %.0f m from %.5f,%.5f in %.0f s (no time elapsed)",
                        haversineM(v.latDeg, v.lonDeg, lat, lon), v.latDeg, v.lonDeg, dtS);
        else
          std::snprintf(buf, sizeof buf, "implies %.0f kn from %.5f,%.5f reported %.0f s earlier (limit %.0f kn)", kn,
                        v.latDeg, v.lonDeg, dtS, options_.maxPlausibleKnots);
        u.reason = buf;
        return u;
      }
      // Two consistent reports against one stored position: the stored one was the outlier.
    }
  }
  refused_.erase(p.mmsi);
  ++counters_.positions;
  v.hasPosition = true;
  v.latDeg = lat;
  v.lonDeg = lon;
  v.positionMs = timeMs;
  v.sogKnots = p.sogKnots;
  v.cogDeg = p.cogDeg;
  v.headingDeg = p.headingDeg;
  if (p.type >= 1 && p.type <= 3) v.navStatus = p.navStatus;
  u.outcome = RegistryOutcome::Updated;
  return u;
}

RegistryUpdate VesselRegistry::updateStatic(const AisStatic& s, int64_t timeMs) {
  RegistryUpdate u;
  u.mmsi = s.mmsi;
  VesselState& v = touch(s.mmsi, timeMs);
  ++counters_.statics;
  if (!s.name.empty()) v.name = s.name;
  if (!s.callsign.empty()) v.callsign = s.callsign;
  if (!s.destination.empty()) v.destination = s.destination;
  if (s.imo) v.imo = *s.imo;
  if (s.shipType) v.shipType = *s.shipType;
  if (s.draughtM) v.draughtM = s.draughtM;
  // Type 24 part A carries no dimensions (all 0): keep what part B or type 5 said.
  if (s.toBowM || s.toSternM || s.toPortM || s.toStarboardM) {
    v.toBowM = s.toBowM;
    v.toSternM = s.toSternM;
    v.toPortM = s.toPortM;
    v.toStarboardM = s.toStarboardM;
  }
  u.outcome = RegistryOutcome::Updated;
  return u;
}

size_t VesselRegistry::expire(int64_t nowMs) {
  size_t n = 0;
  int64_t cutoff = nowMs - options_.vesselTtlMs;
  while (!bySeen_.empty() && bySeen_.begin()->first < cutoff) {
    uint32_t mmsi = bySeen_.begin()->second;
    bySeen_.erase(bySeen_.begin());
    vessels_.erase(mmsi);
    refused_.erase(mmsi);
    ++n;
  }
  counters_.expired += n;
  return n;
}

const VesselState* VesselRegistry::find(uint32_t mmsi) const {
  auto it = vessels_.find(mmsi);
  return it == vessels_.end() ? nullptr : &it->second;
}

}  // namespace alertbus::maritime
