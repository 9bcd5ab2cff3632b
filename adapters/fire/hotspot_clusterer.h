// Satellite hotspots -> forest-fire warnings: groups FIRMS hotspots into fires in space and time so that fifty
// pixels of one fire make one warning that grows (updates), not fifty. Pure; one instance per hotspot stream,
// one thread (not thread-safe). State survives restarts through saveState()/loadState().
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "adapters/common/output.h"
#include "adapters/fire/firms.h"

namespace alertbus::fire {

// Clustering rules (options in FireOptions):
//   * Join: a hotspot joins a cluster when it lies within the join distance of ANY member and its detection
//     time is within joinWindowMs of the cluster's [first, last] detection. Join distance between two pixels
//     = max(joinDistanceKm, 1.05 * (max(scanA, trackA) + max(scanB, trackB)) / 2): pixels whose footprints
//     touch always join, so large off-nadir MODIS pixels (up to 4.8 x 2 km) still chain. A hotspot that joins
//     two or more clusters merges them: the survivor is the one published first (else the one whose first
//     detection is earliest); the absorbed one's warning is cancelled and the survivor publishes an update
//     referencing its own first warning and the absorbed warning.
//   * Index: a uniform grid of joinDistanceKm cells (rows of constant latitude, columns scaled by cos(lat)),
//     so a hotspot is compared only with members in nearby cells: ~O(1) per hotspot for realistic densities.
//     Clusters do not wrap across the antimeridian.
//   * Duplicates: a hotspot equal to a kept member (same time, satellite, and position to 1e-5 degrees) is
//     skipped (counted), so re-feeding a file after restoring state publishes nothing.
//   * Stale: a hotspot detected before (latest tick nowMs - quietMs) is skipped (counted, one warning): its
//     cluster would be cancelled at once.
//   * Publication, decided once per add() call for every cluster the call touched:
//       first warning (msgType alert) when count >= minHotspots, or >= minHotspotsLowFrp while the cluster's
//       max FRP < lowFrpMw (or no FRP given): single weak pixels are often not fires;
//       update when count >= growthFactor x last published count, hull area >= growthFactor x last published
//       area, the newest detection is >= updateMinIntervalMs after the newest one last published, or a merge.
//   * tick(nowMs): clusters without detections for quietMs are cancelled (msgType cancel referencing the
//     first warning); unpublished ones are forgotten silently.
// Ids (deterministic, from the cluster's earliest hotspot when first published, ties by lat then lon):
//   warning "fire-hs-<yyyymmddThhmm>-<lat 4 decimals><N|S>-<lon 4 decimals><E|W>", e.g.
//   "fire-hs-20220831T0003-52.8409N-29.9968E" (a clash with an id already used gets "-2", "-3", ...);
//   updates "<warning id>-u<n>" (n = 1, 2, ...); cancel "<warning id>-c"; Message.incident = warning id.
// Messages: status actual, sentMs = receivedMs (add) or nowMs (tick), one zh-CN Info: category fire,
//   eventCode "forest-fire", urgency immediate, certainty likely, severity/colour from size: minor/blue,
//   moderate/yellow at >= 5 hotspots or max FRP >= 50 MW, severe/orange at >= 25 hotspots or max FRP >= 200 MW
//   (never extreme/red: that needs a human), expiresMs = sentMs + warningTtlMs (0 on cancels).
//   Area: convex hull (Boost.Geometry) of the pixel footprints (each pixel a scan x track rectangle) as a
//   closed ring; with 1-2 pixels a circle around them instead. Parameters: hotspotCount, maxFrpMW (absent when
//   no FRP), firstDetection, lastDetection (ISO 8601 UTC), areaKm2, satellites.
//   Provenance: text/csv, original = the FIRMS header line and the CSV lines of the cluster's hotspots
//   (first ones kept, at most maxOriginalBytes), source and receivedMs of the add() call; cancels carry the same
//   lines with source "clock" (tick), "clusterer" (maxClusters) or the add() source (merge).
class HotspotClusterer {
 public:
  explicit HotspotClusterer(FireOptions options = {});

  // Adds hotspots (any order) and returns the messages they cause plus a warning per skipped group
  // (duplicates, stale). `header` is the FIRMS header line for provenance ("" for synthetic hotspots).
  // receivedMs: ms since the epoch, the adapter's clock (sentMs, provenance). Cost: ~O(n) grid lookups plus
  // an O(m log m) hull for each touched published cluster of m members.
  adapter::Output add(const std::vector<Hotspot>& hotspots, std::string_view header, std::string_view source,
                      int64_t receivedMs);

  // parseFirmsCsv + add: problems of both, accepted/rejected from the parse. Never throws.
  adapter::Output ingestCsv(std::string_view csv, std::string_view source, int64_t receivedMs);

  // Cancels clusters quiet for quietMs before nowMs (ms since the epoch). Idempotent for the same nowMs.
  adapter::Output tick(int64_t nowMs);

  // State as JSON text (clusters, kept members and lines, used ids, the tick clock). loadState replaces the
  // current state; false (state unchanged, *error set) on malformed text. Size: bounded by maxClusters x
  // (maxHotspotsPerCluster members + maxOriginalBytes).
  std::string saveState() const;
  bool loadState(std::string_view json, std::string* error = nullptr);

  struct Stats {
    size_t liveClusters = 0;       // clusters currently tracked
    size_t publishedClusters = 0;  // of which published
    uint64_t duplicates = 0;       // hotspots skipped as already known
    uint64_t stale = 0;            // hotspots skipped as older than the quiet horizon
    uint64_t merges = 0;
    uint64_t evicted = 0;          // clusters dropped at maxClusters
  };
  Stats stats() const;

 private:
  struct Member {
    double lat, lon, sizeKm, scanKm, trackKm;
    int64_t timeMs;
    double frpMw;
    std::string satellite;
  };
  struct Cluster {
    uint64_t key = 0;              // internal handle
    std::vector<Member> members;
    size_t count = 0;              // hotspots including ones not kept
    double maxFrp = -1;
    int64_t firstMs = 0, lastMs = 0;
    std::set<std::string> satellites;
    std::string original;          // CSV lines kept for provenance (without header)
    // publication
    std::string warningId;         // "" until first published
    int64_t warningSentMs = 0;
    int updates = 0;
    size_t pubCount = 0;
    double pubAreaKm2 = 0;
    int64_t pubLastMs = 0;
    std::vector<std::pair<std::string, int64_t>> mergedRefs;  // absorbed warnings not yet referenced
    bool touched = false;
  };
  using CellKey = uint64_t;

  CellKey cellOf(double lat, double lon) const;
  void indexMember(uint64_t cluster, size_t member);
  void unindexCluster(const Cluster& c);
  uint64_t mergeClusters(uint64_t a, uint64_t b, adapter::Output& out, std::string_view source, int64_t receivedMs);
  void publish(Cluster& c, std::string_view header, std::string_view source, int64_t receivedMs, adapter::Output& out);
  void cancel(const Cluster& c, std::string_view reason, int64_t nowMs, std::string_view source, adapter::Output& out);
  void evictIfNeeded(adapter::Output& out, int64_t nowMs);
  std::string newWarningId(const Cluster& c);
  void rebuildIndex();

  FireOptions options_;
  double cellKm_;
  double maxSizeKm_ = 0;                     // largest pixel seen (bounds the neighbour search)
  uint64_t nextKey_ = 1;
  std::map<uint64_t, Cluster> clusters_;
  struct GridEntry {                         // position copied in so most candidates need no cluster lookup
    uint64_t cluster;
    uint32_t member;
    double lat, lon, sizeKm;
  };
  std::unordered_map<CellKey, std::vector<GridEntry>> grid_;  // cell -> members in it
  std::set<std::string> usedIds_;            // warning ids ever issued (bounded to 4 x maxClusters, oldest out)
  std::vector<std::string> usedIdOrder_;
  int64_t clockMs_ = 0;                      // latest tick nowMs
  std::string header_;                       // last FIRMS header seen (for provenance after restore)
  Stats stats_;
};

}  // namespace alertbus::fire
