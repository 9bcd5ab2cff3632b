// Fire adapter, lowest layer: FireOptions (every knob of the fire library, one struct the runtime maps 1:1 from
// TOML), input format detection, and the NASA FIRMS active-fire CSV parser. Pure: no I/O, clocks or globals.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/common/output.h"
#include "model/decode_util.h"

namespace alertbus::fire {

// Every option of the fire library. Field names map 1:1 to TOML keys (camelCase -> snake_case, e.g.
// joinDistanceKm -> join_distance_km). Defaults are the values the adapter runs with when a key is absent.
struct FireOptions {
  // --- all inputs -------------------------------------------------------------------------------------
  std::string agency = "fire";            // Reference.sender on updates/cancels (the broker stamps this agency)
  std::string senderName = "";            // Info.senderName, e.g. "宁波市消防救援支队"; "" leaves it empty
  size_t maxInputBytes = 16u << 20;       // bytes; a larger input is rejected unread (one error problem)
  size_t maxLineBytes = 64u << 10;        // bytes; a longer CSV line or JSON record is rejected (that record only)
  size_t maxRecords = 200000;             // records per input; the rest is rejected with one error problem
  int maxJsonDepth = 64;                  // nesting levels; a deeper JSON record is rejected before parsing
  int64_t maxFutureMs = 15 * 60 * 1000;   // ms; a timestamp later than receivedMs + this is rejected
  int64_t warningTtlMs = 6 * 3600 * 1000; // ms; Info.expiresMs = sentMs + this on every alert/update

  // --- 119 dispatch reports (dispatch.h) ---------------------------------------------------------------
  double alarmRadiusKm[5] = {0.5, 1.0, 2.0, 3.0, 5.0};  // km; warning circle radius for alarm level 1..5
  double materialMoveKm = 1.0;            // km; a position change at least this large triggers a warning update
  size_t maxIncidents = 10000;            // tracked incidents; at the limit closed ones are forgotten first
                                          // (oldest first), then the least recently updated open one
  size_t maxTextBytes = 4000;             // bytes; address/narrative longer than this are cut (warning)

  // --- FIRMS CSV (this file) ---------------------------------------------------------------------------
  int modisMinConfidence = 30;            // 0..100; MODIS hotspots below are filtered (counted, one warning)
  char viirsMinConfidence = 'n';          // 'l', 'n' or 'h'; VIIRS hotspots below are filtered
  double maxPixelKm = 10.0;               // km; scan/track outside (0, maxPixelKm] reject the line

  // --- hotspot clustering (hotspot_clusterer.h) --------------------------------------------------------
  double joinDistanceKm = 1.5;            // km between hotspot centres for them to belong to one fire; two
                                          // pixels whose footprints touch always join (see clusterer)
  int64_t joinWindowMs = 24 * 3600 * 1000;  // ms; a hotspot joins a cluster only within this of its detections
  size_t minHotspots = 1;                 // hotspots a cluster needs before its first warning...
  size_t minHotspotsLowFrp = 2;           // ...or this many while its max FRP is below lowFrpMw (or unknown)
  double lowFrpMw = 5.0;                  // MW; see minHotspotsLowFrp
  double growthFactor = 1.5;              // an update when hotspot count or hull area reaches factor x the last
                                          // published value (> 1)
  int64_t updateMinIntervalMs = 3 * 3600 * 1000;  // ms of detection time: new detections this much after the
                                                  // last published ones also give an update
  int64_t quietMs = 24 * 3600 * 1000;     // ms without detections after which tick() cancels a cluster
  size_t maxClusters = 20000;             // live clusters; at the limit the one quiet longest is dropped (a
                                          // published one is cancelled)
  size_t maxHotspotsPerCluster = 50000;   // members kept per cluster (for hull and duplicate detection); more
                                          // still count (count, FRP, times) but are not kept
  size_t maxOriginalBytes = 64u << 10;    // bytes of CSV lines kept per cluster for provenance.original
};

// ---------------------------------------------------------------------------------------------------------
// Format detection.
enum class FireFormat { unknown, dispatchJson, firmsModis, firmsViirs };

struct FormatGuess {
  FireFormat format = FireFormat::unknown;
  std::string description;  // unknown: "unsupported format (...)" naming what was seen; else a short label
};

// Looks at the first bytes (and, for JSON, the top-level keys) and names the format. Never throws. Cost:
// O(input) for JSON (one bounded parse), O(first line) for CSV.
FormatGuess detectFireFormat(std::string_view input, const FireOptions& options = {});

// ---------------------------------------------------------------------------------------------------------
// FIRMS CSV (https://firms.modaps.eosdis.nasa.gov/): MODIS C6.1 and VIIRS 375 m layouts.
//   MODIS: latitude,longitude,brightness,scan,track,acq_date,acq_time,satellite,confidence,version,bright_t31,
//          frp,daynight   (confidence 0..100)
//   VIIRS: latitude,longitude,bright_ti4,scan,track,acq_date,acq_time,satellite,confidence,version,bright_ti5,
//          frp,daynight   (confidence l/n/h or low/nominal/high)
// Columns are found by header name (case-insensitive, any order). Required: latitude, longitude, acq_date,
// acq_time, confidence and brightness (MODIS) or bright_ti4 (VIIRS). Optional: scan, track (km; default 1.0
// MODIS, 0.375 VIIRS), satellite, frp (MW), daynight, version, bright_t31/bright_ti5, instrument, type.
// Other columns are ignored, listed once in a warning. acq_date is YYYY-MM-DD, acq_time hhmm UTC (1..4 digits,
// leading zeros may be missing as in FIRMS API output). A numeric confidence is compared with
// modisMinConfidence, a letter with viirsMinConfidence, whatever the layout.
struct Hotspot {
  double lat = 0, lon = 0;        // WGS 84 degrees, pixel centre
  double scanKm = 1, trackKm = 1; // pixel size along scan (~east-west) and along track (~north-south), km
  int64_t timeMs = 0;             // acquisition time, ms since the epoch UTC
  double frpMw = -1;              // fire radiative power, MW; < 0 if absent
  double brightnessK = 0;         // brightness (MODIS) or bright_ti4 (VIIRS), kelvin; 0 if absent
  std::string satellite;          // as received ("A", "T", "N", "1", ...), at most 16 bytes
  std::string confidence;         // as received
  std::string line;               // the CSV line as received, without line end (provenance)
  size_t lineNo = 0;              // 1-based line in its input; 0 for synthetic hotspots
};

struct FirmsResult {
  FireFormat layout = FireFormat::unknown;  // firmsModis or firmsViirs once the header is understood
  std::string header;                       // header line as received (provenance of cluster warnings)
  std::vector<Hotspot> hotspots;            // accepted hotspots at or above the confidence threshold, input order
  std::vector<adapter::InputProblem> problems;  // input order; errors reject one line (or all: bad header)
  size_t accepted = 0;                      // data lines taken (including filtered ones)
  size_t rejected = 0;                      // data lines refused, one error problem each
  size_t filtered = 0;                      // accepted lines below the confidence threshold (not in hotspots)
};

// Parses a whole FIRMS CSV download. Never throws; bad lines are rejected one by one with field/value/reason
// (e.g. field "latitude", value "95.2", reason "latitude 95.2 out of range -90..90"), the rest goes through.
// `receivedMs` (ms since the epoch) bounds future timestamps (options.maxFutureMs). Cost: linear in input.
FirmsResult parseFirmsCsv(std::string_view csv, std::string_view source, int64_t receivedMs,
                          const FireOptions& options = {});

// ---------------------------------------------------------------------------------------------------------
// Small pure helpers shared by the fire library (exposed for tests).

// ISO 8601 date-time with a UTC offset: "YYYY-MM-DDThh:mm[:ss[.fff]](Z|+hh:mm|-hh:mm|+hhmm)" ('T' or ' ').
// False when malformed or without an offset.
bool parseIsoTime(std::string_view text, int64_t& ms);
using alertbus::formatIsoUtc;  // model/decode_util.h: "2022-08-31T00:03:00Z"
// Great-circle distance, km (model/decode_util.h).
inline double distanceKm(double lat1, double lon1, double lat2, double lon2) {
  return greatCircleKm(lat1, lon1, lat2, lon2);
}

}  // namespace alertbus::fire
