// The water gauge state machine: readings of known stations -> Observation messages, threshold
// (FRZ/WRZ/GRZ) warnings with escalation/de-escalation updates and cancels, rate-of-rise warnings.
// Pure: no I/O, the clock is passed in (receivedMs). State is bounded to one entry per station x quantity
// and round-trips through saveState()/loadState(), so re-feeding the same readings after a restart with
// restored state yields identical message ids. Not thread-safe: one GaugeMonitor per adapter thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/common/output.h"
#include "adapters/water/readings.h"
#include "adapters/water/stations.h"

namespace alertbus::water {

// Every tunable of the water adapter, one TOML key each: the runtime maps `snake_case` keys 1:1 to these
// members (max_file_bytes -> maxFileBytes, ...). Units are in the names; the default is the initializer.
struct WaterOptions {
  // --- input bounds (stations file and readings inputs) ---
  size_t maxFileBytes = 32 * 1024 * 1024;  // max_file_bytes: larger inputs are refused unread
  size_t maxLineBytes = 64 * 1024;         // max_line_bytes: longer CSV lines are refused (one problem)
  size_t maxStations = 10000;              // max_stations: rows beyond are refused; also bounds the state
  size_t maxReadingsPerInput = 100000;     // max_readings_per_input: further readings/points are refused
                                           // (bounds memory: about 1 KB per reading incl. its messages)
  size_t maxProblemsPerInput = 1000;       // max_problems_per_input: further problems of one input (one
                                           // parse or process call) are counted, not listed: one last
                                           // problem says how many were left out
  // --- readings ---
  int defaultUtcOffsetMinutes = 8 * 60;    // default_utc_offset_minutes: zone of times without an offset
                                           // (China Standard Time, +08:00)
  std::vector<double> noDataValues = {-999999, -99999, -9999, -999, 99999, 999999};
                                           // no_data_values: exact markers refused as "no-data marker"
  double defaultMaxRiseMPerH = 1.0;        // default_max_rise_m_per_h: |level change| faster than this
                                           // vs. the last accepted reading is a spike (station MAXRISE wins)
  int64_t maxFutureMs = 10 * 60 * 1000;    // max_future_ms: readings further ahead of receivedMs refused
  // --- threshold warnings ---
  double hysteresisM = 0.05;               // hysteresis_m: a warning for threshold T falls back only when
                                           // the level drops below T - hysteresis_m (no flapping)
  double redMarginAboveGrzM = 0;           // red_margin_above_grz_m: > 0 adds a red/extreme level at
                                           // GRZ + margin; 0 = no red level (GRZ is orange/severe)
  int64_t warningTtlMs = 3 * 3600 * 1000;  // warning_ttl_ms: expiresMs = receivedMs + this (alert, update)
  int64_t warningRenewMs = 3600 * 1000;    // warning_renew_ms: an active warning is re-issued as an update
                                           // once a reading is this much newer than its last issue (keeps
                                           // expiresMs ahead while the adapter lives); 0 = never
  double areaRadiusKm = 5.0;               // area_radius_km: warning area circle around the station
  // --- rate of rise ---
  double rateOfRiseWarnMPerH = 0.3;        // rate_of_rise_warn_m_per_h: rise rate that raises a warning
  double rateOfRiseClearMPerH = 0.1;       // rate_of_rise_clear_m_per_h: the warning is cancelled when the
                                           // rate falls below this (hysteresis)
  int64_t rateWindowMs = 3600 * 1000;      // rate_window_ms: the rate is measured over at least this span
                                           // (from the newest accepted reading at or before now - window)
  size_t maxHistoryPoints = 256;           // max_history_points: per station x quantity history bound
  // --- message envelope ---
  std::string agency = "water";            // agency: sender written into references (the broker stamps
                                           // Message.sender itself)
};

// One call's result: the messages to publish and the problems, plus what was taken but not republished.
struct MonitorResult {
  adapter::Output output;    // accepted = readings taken (incl. duplicates), rejected = readings refused
  size_t duplicates = 0;     // readings not newer than the last accepted one (not errors; not republished)
};

class GaugeMonitor {
 public:
  // `stations` as returned by parseStations (codes unique). Copies what it needs.
  GaugeMonitor(const std::vector<Station>& stations, WaterOptions options);

  // Runs every reading through the checks and the state machine, in time order (a file listing newest
  // first is fine); `receivedMs` (ms since the Unix epoch, UTC) is the adapter's clock: sentMs, expiry,
  // provenance and the future-time check use it. `source` names the input in problems and provenance.
  // Each rejected reading yields one error problem naming its field, value and reason:
  //   STCD (featureOfInterest for WaterML) "unknown station"; Z/Q/value "no-data marker", "not a finite
  //   number", "spike: 2.49 m in 30 min since 2.41 m is 4.98 m/h, beyond the max rise 1.00 m/h of station
  //   70110400" (water level in m only, against the last accepted reading); TM/time "more than 600 s ahead
  //   of the receive clock (...)". Thresholds, spikes and warnings apply to waterLevel in m only; discharge
  //   and levels in a unit that could not be converted are published as observations alone.
  // Messages (publish in vector order), all passing validateMessage(m, receivedMs):
  //   observation per accepted reading; threshold warning alert/update/cancel; rate-of-rise alert/update/
  //   cancel. Message ids (deterministic from station, quantity and reading times):
  //     water-obs-<STCD>-<Z|Q>-<yyyymmddThhmmssZ>                 observation
  //     water-warn-<STCD>-<T0>                                    threshold alert (T0 = crossing reading time)
  //     water-warn-<STCD>-<T0>-upd-<T>                            escalation/de-escalation/renewal update
  //     water-warn-<STCD>-<T0>-cancel-<T>                         cancel (fell below lowest - hysteresis)
  //     water-rise-<STCD>-<T0>[-upd-<T>|-cancel-<T>]              rate-of-rise warning, same pattern
  // Updates and cancels reference the original alert and the latest update; Message.incident = the
  // original alert id.
  // Warning content: one Info, zh-CN, category geo (CAP 1.2 files floods under "Met", but this is a
  // measured hydrological state, not weather; rules route on sender and event, not category),
  // eventCode = station event, eventCodes [{alertbus, event}], urgency immediate, certainty observed.
  // Level -> severity/colour/response: FRZ minor/blue/monitor, WRZ moderate/yellow/prepare, GRZ
  // severe/orange/prepare, GRZ + red_margin_above_grz_m (only when that option is > 0) extreme/red/prepare.
  // The level goes up to the highest threshold reached, and down to the highest threshold not yet fallen
  // below by hysteresis_m (both an update); below the lowest threshold - hysteresis_m it is cancelled.
  // A cancel keeps the colour of the level it ends (colour-gated rules deliver it too), urgency past,
  // response allClear. Area: station name, circle of area_radius_km, adminCodes [ADDVCD]. Parameters:
  // station, waterLevelM, observedAt, thresholdName, thresholdM, riseRateMPerH (over the rate window,
  // else since the previous reading). Rate-of-rise warnings: minor/blue/monitor, parameters
  // riseRateMPerH and windowMinutes. Alerts and updates expire at receivedMs + warning_ttl_ms.
  // Cost: O(readings x log readings), allocates the messages.
  MonitorResult process(std::vector<Reading> readings, std::string_view source, int64_t receivedMs);

  // parseReadings + process: parse problems come first, then the monitor's.
  MonitorResult processBytes(std::string_view bytes, std::string_view source, int64_t receivedMs);

  // The state as a JSON string (compact, at most one entry per station x quantity). Deterministic.
  std::string saveState() const;
  // Replaces the state with a saved one. Entries for stations no longer configured are dropped. On error
  // (malformed JSON, wrong shape, too many entries) returns false with `error` set and keeps the old state.
  bool loadState(std::string_view json, std::string& error);

  const WaterOptions& options() const { return options_; }

  // Implementation state, public for the state codec; treat as opaque.
  struct ActiveWarning {
    std::string alertId;      // original alert id ("" = none active)
    int64_t alertSentMs = 0;
    std::string lastId;       // latest alert/update id
    int64_t lastSentMs = 0;
    int64_t lastIssueTimeMs = 0;  // reading time of the latest alert/update (renewal clock)
    int level = -1;           // index into the station's level list (threshold warnings only)
  };
  struct Series {
    int64_t lastTimeMs = 0;   // last accepted reading; 0 = none
    double lastValue = 0;
    std::vector<std::pair<int64_t, double>> history;  // accepted (timeMs, value), oldest first, bounded
    ActiveWarning level;      // threshold warning
    ActiveWarning rise;       // rate-of-rise warning
  };

 private:
  struct Level {
    std::string name;         // "FRZ" | "WRZ" | "GRZ" | "GRZ+0.5"
    double valueM;
  };
  struct StationInfo {
    Station station;
    std::vector<Level> levels;  // increasing
  };
  void processOne(const Reading& r, std::string_view source, int64_t receivedMs, MonitorResult& out,
                  std::vector<std::pair<size_t, adapter::InputProblem>>& problems);

  WaterOptions options_;
  std::map<std::string, StationInfo> stations_;
  std::map<std::string, Series> series_;  // key "<STCD>|<quantity>"
};

}  // namespace alertbus::water
