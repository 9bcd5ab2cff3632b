// 119 fire-brigade dispatch incident reports (JSON) -> alertbus warnings and situation reports, following each
// incident through its updates. Pure: no I/O, no clocks (times come in as arguments); one DispatchTracker per
// dispatch feed, one thread (not thread-safe). State survives restarts through saveState()/loadState().
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/common/output.h"
#include "adapters/fire/firms.h"

namespace alertbus::fire {

// Input: UTF-8 JSON, one report object, an array of them, or JSON Lines (one object per line). One report:
//   {
//     "id": "NB-20260728-0153",          required; incident id, [A-Za-z0-9._:-]{1,64}, stable over updates
//     "updateNumber": 0,                 optional; 0,1,2,... per incident (0 = first report); integer >= 0
//     "type": "building-fire",           required; see the event mapping below (English code or Chinese name)
//     "position": {"lat": 29.87, "lon": 121.55},   WGS 84 degrees; position and/or adminCode required
//     "adminCode": "330212",             GB/T 2260, 6 or 12 digits
//     "address": "宁波市鄞州区...",        optional text (cut to maxTextBytes with a warning)
//     "alarmLevel": 2,                   required; 1..5 = 一级..五级火警 (integer, or "一级".."五级")
//     "reportedAt": "2026-07-28T09:15:00+08:00",   required; ISO 8601 with a UTC offset (Z allowed)
//     "status": "dispatched",            required; reported | dispatched | on-scene | controlled |
//                                        extinguished | closed | false-alarm
//     "statusAt": "2026-07-28T09:21:00+08:00",     optional; time of the status
//     "resources": {"personnel": 32, "vehicles": 6, "boats": 0, "aircraft": 1, ...}  optional; any kind
//                                        name [a-z0-9_-]{1,32} -> integer 0..1000000
//     "casualties": {"injured": 0, "dead": 0, "missing": 0, "trapped": 2, "rescued": 1, "evacuated": 120},
//                                        optional; integers 0..1000000
//     "narrative": "..."                 optional text (cut to maxTextBytes with a warning)
//   }
// Any other key: a warning problem naming it (the record is still taken; the key stays in provenance.original).
// Event mapping (Info.eventCode / Sitrep.event; all allowed for the "fire" agency in config/agencies.toml):
//   "fire":        building-fire, residential-fire, factory-fire, warehouse-fire, vehicle-fire, ship-fire,
//                  grass-fire, fire, other-fire, 建筑火灾, 火灾, 车辆火灾
//   "forest-fire": forest-fire, wildfire, mountain-fire, 森林火灾, 山火
//   "hazmat":      hazmat, chemical-leak, gas-leak, explosion, 危化品泄漏, 危险化学品, 燃气泄漏, 爆炸
//   "rescue":      rescue, traffic, traffic-accident, water-rescue, collapse, elevator, flood-rescue,
//                  抢险救援, 交通事故, 水域救援, 坍塌
//   anything else: error (the agency may not publish other events).
// Alarm level -> severity / colour / circle radius (alarmRadiusKm):
//   1 一级 minor/blue, 2 二级 moderate/yellow, 3 三级 severe/orange, 4 四级 and 5 五级 extreme/red.
// Messages per report (ids are deterministic, so a replay after a restart without state repeats them):
//   first report of an incident: warning "fire-<id>-w0" (msgType alert, one zh-CN Info: category fire /
//     cbrne (hazmat) / rescue, urgency immediate, certainty observed, area = circle of alarmRadiusKm around
//     the position + adminCodes, parameters alarmLevel, alarmLevelName, address, incidentType,
//     dispatchStatus, reportedAt, updateNumber), then sitrep "fire-<id>-r1";
//     a first report that is already extinguished/closed/false-alarm gives only the sitrep.
//   later report: sitrep "fire-<id>-r<n>" (n = 2, 3, ...: Sitrep.reportNumber; version = updateNumber;
//     sitrep 1 is msgType alert, later ones msgType update referencing "fire-<id>-r1");
//     plus a warning update "fire-<id>-w<k>" (k = 1, 2, ...) referencing "fire-<id>-w0" when it changes
//     materially: alarm level, event code, status becomes controlled, adminCode, or the position moves
//     >= materialMoveKm;
//   extinguished / closed / false-alarm: the sitrep, then cancel "fire-<id>-cancel" referencing "-w0"
//     (payload a warning Info with responseType allClear). Reports after that give sitreps only.
//   Message.incident = "fire-<id>" on all of them. Sitrep: evacuated/rescued/injured/dead/missing from
//   casualties; trapped has no schema field: "被困 N 人" is appended to the narrative; resources as
//   ResourceCount in input order; periodStartMs = reportedAt, periodEndMs = statusAt (else reportedAt).
//   Warnings: effective/onset = reportedAt, expiresMs = sentMs + warningTtlMs. sentMs = receivedMs.
// Duplicates: a report whose id + updateNumber was already applied, or whose content (the parsed object) is
//   (the parsed object without updateNumber) is identical to one already applied for that incident, produces
//   nothing (accepted, counted in
//   stats().duplicates). A report whose updateNumber is lower than the highest applied is stale: nothing,
//   one warning problem.
// Errors (that record only, the rest goes through; one error problem with field/value/reason):
//   malformed JSON, a record that is not an object, deeper than maxJsonDepth or longer than maxLineBytes,
//   missing/invalid id, type, alarmLevel, reportedAt, status, position/adminCode, a timestamp later than
//   receivedMs + maxFutureMs, bad resources/casualties numbers. A top-level GeoJSON object or a JSON object
//   that is none of these reports (no dispatch keys) is rejected as "unsupported format (...)".
class DispatchTracker {
 public:
  explicit DispatchTracker(FireOptions options = {});

  // Takes one input (whole file or HTTP body) as received. source names it ("stdin", a path, a URL);
  // receivedMs: ms since the epoch, the adapter's clock. Never throws. Cost: linear in the input.
  adapter::Output ingest(std::string_view json, std::string_view source, int64_t receivedMs);

  // State as JSON text (per incident: warning id/sent time, last applied values, seen update numbers and
  // content hashes). loadState replaces the state; false (state unchanged, *error set) on malformed text.
  std::string saveState() const;
  bool loadState(std::string_view json, std::string* error = nullptr);

  struct Stats {
    size_t incidents = 0;       // tracked now
    uint64_t duplicates = 0;    // reports that produced nothing because already applied
    uint64_t stale = 0;         // reports older than the applied updateNumber
    uint64_t evicted = 0;       // incidents forgotten at maxIncidents
  };
  Stats stats() const;

  struct Incident {             // public for tests and state; not an API for the runtime
    std::string warningId;      // "" until the first warning
    int64_t warningSentMs = 0;
    int warningUpdates = 0;
    int sitreps = 0;
    int64_t firstSitrepMs = 0;  // sentMs of sitrep 1 (later sitreps reference it)
    bool closed = false;
    int64_t highestUpdate = -1; // highest updateNumber applied; -1 none
    std::vector<uint64_t> contentHashes;  // FNV-1a of applied reports (last 64)
    int alarmLevel = 0;
    std::string eventCode, status, adminCode;
    double lat = 0, lon = 0;
    bool hasPosition = false;
    int64_t lastAppliedMs = 0;  // receivedMs of the last applied report (eviction order)
  };

 private:
  adapter::Output applyRecord(std::string_view bytes, const std::string& position, std::string_view source,
                              int64_t receivedMs);
  void evictIfNeeded();

  FireOptions options_;
  std::map<std::string, Incident> incidents_;
  Stats stats_;
};

}  // namespace alertbus::fire
