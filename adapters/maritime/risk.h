// "Vessels at risk": which ships are still at sea inside an active warning area and outside every port or
// shelter. Holds the warnings taken from broker messages, answers with sitrep report Messages. Pure (no I/O,
// no clock: the caller passes nowMs), bounded (maxWarnings, maxVesselsPerReport), one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <capnp/message.h>

#include "adapters/common/output.h"
#include "adapters/maritime/vessel_registry.h"
#include "schemas/message.capnp.h"

namespace alertbus::maritime {

struct GeoPoint {
  double lat = 0, lon = 0;  // WGS 84 degrees
};

// A named area: polygons (rings, closed or not; at least 3 distinct points) and circles. Used for shelters.
struct GeoArea {
  std::string name;                           // e.g. "Shenjiamen fishing port"; shown nowhere but in errors
  std::vector<std::vector<GeoPoint>> polygons;
  struct Circle {
    GeoPoint center;
    double radiusKm = 0;                      // kilometres
  };
  std::vector<Circle> circles;
};

// TOML [maritime.risk] keys map 1:1 (events, max_warnings, ...); shelters are [[maritime.risk.shelter]]
// tables with name, polygons = [[[lat, lon], ...], ...] and circles = [{lat, lon, radius_km}].
struct RiskOptions {
  // Event codes of interest, matched case-insensitively against Info.eventCode and every Info.eventCodes
  // value; a trailing '*' matches a prefix ("11B0*"). Defaults: the family codes the met adapter emits and the
  // national warning-signal codes 11B01 (typhoon) and 11B06 (gale), as in config/rules.toml. No numeric code for
  // storm surge: 11B05 was suggested but is not verified (it may be cold wave in the signal list), so it is left
  // out rather than match the wrong warnings; add the met feed's storm-surge code here once confirmed.
  std::vector<std::string> events = {"typhoon", "11B01", "gale", "11B06", "storm-surge"};
  std::vector<GeoArea> shelters;              // ports and shelters: a vessel inside any of them is not at risk
  size_t maxWarnings = 64;                    // active warnings; at the limit a new warning is refused (Rejected)
  size_t maxAreasPerWarning = 64;             // areas beyond this are dropped with a warning problem
  size_t maxVesselsPerReport = 500;           // vessels listed per report; the count and narrative say how many
                                              // were left out (sorted by MMSI, the first ones are kept)
  int64_t reportIntervalMs = 15 * 60 * 1000;  // ms; an unchanged warning is re-reported after this long; 0 = never
  int64_t warningTtlMs = 24 * 3600 * 1000;    // ms; a warning without Info.expiresMs ends this long after it was
                                              // taken (or last updated); 0 = only cancel ends it
  std::string sender = "maritime";            // this adapter's agency, used in references to its own reports
  std::string source = "maritime-risk";       // provenance.source of the reports
  size_t maxOriginalBytes = 8192;             // provenance.original (JSON summary of the inputs) is cut to this
  std::string runId;                          // "" or [0-9a-z]+: put in report ids ("...-<runId>-<n>") so the
                                              // numbering of a restarted adapter (which starts again at 1) never
                                              // reuses an id of an earlier run; the adapter uses its start time
};

// Config errors ("shelters[2] (Port X): polygon[0]: 2 distinct points, needs 3"), empty if none. The runtime
// reports them as file:line: reason and refuses to start; RiskMonitor itself skips invalid shelters.
std::vector<std::string> checkRiskOptions(const RiskOptions& options);

enum class WarningOutcome {
  Ignored,   // not for this monitor: not a warning, an event not of interest, status system/draft, an ack...
  Taken,     // a new warning, an update of one, or a cancel of one
  Rejected,  // relevant but refused; problem says why (table full, invalid message)
};

struct WarningIntake {
  WarningOutcome outcome = WarningOutcome::Ignored;
  std::string reason;                         // why Ignored/Rejected, or what was done when Taken
  std::vector<adapter::InputProblem> problems;  // Rejected: one error; Taken: warnings for dropped parts
};

// Not thread-safe. Memory: O(maxWarnings x areas) plus one set of reported MMSIs per warning.
class RiskMonitor {
 public:
  explicit RiskMonitor(RiskOptions options = {});
  ~RiskMonitor();
  RiskMonitor(RiskMonitor&&) noexcept;
  RiskMonitor& operator=(RiskMonitor&&) noexcept;

  // Takes a Message received from the broker (Message.sender stamped by the broker). Status actual, exercise
  // and test are considered, each in a lane of its own: a warning's reports carry its status, and a reference
  // resolves only to a warning of the same status (a drill's cancel never ends the real warning). Only
  // payload.warning is considered; the Infos matching `events` give the event (the first matching Info's
  // eventCode) and the areas (the first matching Info that has areas). msgType:
  //   alert  -> a new active warning, keyed (sender, id); the same key again is a duplicate and Ignored.
  //   update -> replaces the warning each references[] entry names; its areas, event, expiry and message
  //             identity become the update's. The report series continues. An update of an unknown warning is
  //             taken as a new one (we may have started after the alert); an update without any matching Info
  //             ends the referenced warning. An update already taken, seen again, is Ignored.
  //   cancel -> ends each referenced warning (a final report follows at the next evaluate).
  // A reference names a warning when its id is that of the alert or of any update of it taken so far (the
  // last 32), and its sender (when it has one) is the bus agency that published that message or the message's
  // origin (the CAP sender as written: "nbqx@nbmb.gov.cn,<identifier>,<sent>" as real CAP writes references).
  // The update or cancel may come from another bus agency than the alert (a provincial observatory cancelling
  // through its own adapter). sentMs is not compared (CAP readers keep 0 for a sent time they cannot read).
  // The message is checked with validateMessage(m, receivedMs) first. Copies what it keeps.
  WarningIntake onMessage(schema::Message::Reader m, int64_t receivedMs);

  // Computes, per active warning, the vessels with a position inside any of its areas (polygons: Boost.Geometry
  // covered_by with lon/lat as cartesian x/y, fine at city/coastal scale, not across the antimeridian; circles:
  // haversine) and inside no shelter. Returns one report Message per warning whose set of vessels or whose
  // warning changed since its last report, or whose last report is reportIntervalMs old. Warnings that were
  // cancelled, superseded by an update without matching events, or expired (Info.expiresMs <= nowMs, or
  // warningTtlMs) get a final report and are removed.
  //
  // Report: id "vessels-at-risk-<warning id>-<n>", n = 1, 2, ... per series (the id of the warning that
  // started it, sanitised: whitespace, control characters, ',', '<', '&' become '_'; cut so the id is at most
  // 200 bytes, with an 8-hex-digit hash of the full id appended when cut). msgType alert for n = 1, else update
  // referencing the previous report. The final report is an update listing zero vessels whose narrative says
  // the warning was cancelled/expired (not a cancel: the earlier reports were true when sent; a cancel would tell
  // consumers to disregard them). payload.sitrep: reportNumber n, version = warning messages seen for it
  // (alert 1, +1 per update), periodStartMs = previous report's sentMs (or when the warning was taken),
  // periodEndMs = nowMs, event = the warning's event code, areas = the warning's areas as received, vessels
  // sorted by MMSI (areas = descriptions of the warning areas it is inside, "area[i]" when blank),
  // resources [{kind "vessels-at-risk", count = all vessels at risk, listed or not}], narrative
  // "<n> 艘船舶位于台风预警区域内（不在避风港内） / <n> vessels inside typhoon warning area, not in shelter".
  // references: the warning message in force (sender, id, sentMs), then the previous report (options.sender).
  // incident = the warning's incident. status = the warning's (actual, exercise or test), sentMs = nowMs,
  // provenance {application/json, a JSON summary (warning reference, reason, MMSIs) cut to maxOriginalBytes,
  // options.source, receivedMs = nowMs}.
  // A warning taken and ended before any evaluate produces no report. Every vessel in `registry` with a position
  // counts, however old: call registry.expire(nowMs) first. Cost O(warnings x vessels x vertices).
  adapter::Output evaluate(const VesselRegistry& registry, int64_t nowMs);

  size_t activeWarnings() const;  // warnings held, including ended ones awaiting their final report

 private:
  struct Warning;
  struct Shelter;
  // The active warning of that status that a reference (sender, id) names (see onMessage), or nullptr.
  Warning* findRef(schema::Status status, std::string_view sender, std::string_view id);
  bool insideArea(const Warning& w, size_t area, double lat, double lon) const;
  bool inShelter(double lat, double lon) const;

  RiskOptions options_;
  std::vector<std::unique_ptr<Shelter>> shelters_;
  std::vector<Warning> warnings_;             // in arrival order; ended ones are removed after their final report
};

// Replaces characters not allowed in a Message id (whitespace, control, ',', '<', '&') by '_' and cuts the
// result so prefix + result + suffix fits in 200 bytes (at a UTF-8 boundary, with a hash of the whole when cut).
std::string sanitiseIdPart(std::string_view text, size_t prefixBytes, size_t suffixBytes);

}  // namespace alertbus::maritime
