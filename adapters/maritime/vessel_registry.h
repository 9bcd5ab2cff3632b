// Last known state of every ship heard on AIS, keyed by MMSI: statics merged with the latest plausible
// position. Pure (no I/O, no clock: times come from the caller), bounded (maxVessels), one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "adapters/maritime/ais.h"
#include "model/decode_util.h"

namespace alertbus::maritime {

// TOML [maritime.registry] keys map 1:1 (max_vessels, vessel_ttl_ms, max_plausible_knots, jump_tolerance_m).
struct VesselRegistryOptions {
  size_t maxVessels = 20000;          // vessels kept; at the limit the least recently seen one is evicted (counted)
  int64_t vesselTtlMs = 30 * 60 * 1000;  // ms; expire(nowMs) drops vessels not heard for longer than this
  double maxPlausibleKnots = 60;      // knots; a position implying a higher speed from the last one is rejected
  double jumpToleranceM = 500;        // metres; moves up to this far are never called implausible (GNSS noise,
                                      // two reports in the same second)
};

// Everything known about one ship. Strings are "" and optionals empty until the ship reports them.
struct VesselState {
  uint32_t mmsi = 0;
  std::string name, callsign, destination;  // from types 5, 19, 24 (latest non-empty value wins)
  uint32_t imo = 0;                    // 0 = unknown
  int shipType = 0;                    // AIS ship type 1..99; 0 = unknown
  int toBowM = 0, toSternM = 0, toPortM = 0, toStarboardM = 0;  // metres from the reference point; 0 = n/a
  std::optional<double> draughtM;
  bool hasPosition = false;            // false until a plausible position with lat and lon arrived
  double latDeg = 0, lonDeg = 0;       // WGS 84 degrees, valid when hasPosition
  int64_t positionMs = 0;              // unix ms of the position report
  std::optional<double> sogKnots, cogDeg;
  std::optional<int> headingDeg, navStatus;  // navStatus 0..15 (class A only)
  int64_t lastSeenMs = 0;              // unix ms of the newest report of any kind (drives expiry and eviction)
  int lengthM() const { return toBowM + toSternM; }
  int beamM() const { return toPortM + toStarboardM; }
};

enum class RegistryOutcome {
  Updated,   // the vessel's state changed (position and/or statics)
  Ignored,   // nothing to take: not a decoded report, or a position without lat/lon (lastSeen still refreshed)
  Rejected,  // a position refused: implausible jump or older than the stored one; reason says why
};

struct RegistryUpdate {
  RegistryOutcome outcome = RegistryOutcome::Ignored;
  uint32_t mmsi = 0;
  std::string field;   // for Rejected: "position"
  std::string value;   // for Rejected: "lat,lon" as received
  std::string reason;  // for Rejected/Ignored: one line, e.g. "implies 312 kn from 52.05,4.5 reported 60 s
                       // earlier (limit 60 kn)"; the runtime turns it into an adapter::InputProblem
};

struct RegistryCounters {
  uint64_t positions = 0, statics = 0;      // reports taken
  uint64_t noPosition = 0;                  // position reports without lat/lon
  uint64_t implausibleJumps = 0, stale = 0; // positions rejected
  uint64_t evicted = 0, expired = 0;        // vessels removed
};

// Not thread-safe. update() is O(log n); memory is O(maxVessels).
class VesselRegistry {
 public:
  explicit VesselRegistry(VesselRegistryOptions options = {});

  // Takes one AisDecoder result: Decoded positions (types 1/2/3/18), statics (5/19/24) and type 19's both
  // halves; anything else is Ignored. The report time is result.timeMs.
  RegistryUpdate update(const AisResult& result);
  RegistryUpdate updatePosition(const AisPosition& p, int64_t timeMs);
  RegistryUpdate updateStatic(const AisStatic& s, int64_t timeMs);

  // Drops vessels whose lastSeenMs is older than nowMs - vesselTtlMs. Returns how many. O(k log n).
  size_t expire(int64_t nowMs);

  // nullptr if unknown. The pointer is valid until the next non-const call.
  const VesselState* find(uint32_t mmsi) const;
  // All vessels, unordered. Valid until the next non-const call.
  const std::unordered_map<uint32_t, VesselState>& vessels() const { return vessels_; }
  size_t size() const { return vessels_.size(); }
  const RegistryCounters& counters() const { return counters_; }
  const VesselRegistryOptions& options() const { return options_; }

 private:
  VesselState& touch(uint32_t mmsi, int64_t timeMs);  // finds or inserts (evicting), refreshes lastSeenMs

  VesselRegistryOptions options_;
  RegistryCounters counters_;
  std::unordered_map<uint32_t, VesselState> vessels_;
  std::set<std::pair<int64_t, uint32_t>> bySeen_;   // (lastSeenMs, mmsi): oldest first, for expiry/eviction
  // A position refused as a jump, kept per vessel: if the next report is plausible from it but not from the
  // stored one, the stored one was the outlier and the new one is taken. Bounded by vessels_.
  std::unordered_map<uint32_t, std::pair<std::pair<double, double>, int64_t>> refused_;
};

// Great-circle distance in metres (haversine, mean Earth radius 6371.0088 km).
inline double haversineM(double lat1, double lon1, double lat2, double lon2) {
  return greatCircleKm(lat1, lon1, lat2, lon2) * 1000.0;  // model/decode_util.h
}

}  // namespace alertbus::maritime
