// alertbus-fire: the fire and rescue service's adapter. 119 dispatch incident reports (JSON) become
// warnings and situation reports that follow each incident through its updates; NASA FIRMS hotspots
// (MODIS / VIIRS CSV) are clustered in space and time into forest-fire warnings that grow rather than
// multiply. The logic is adapters/fire/ (pure); both trackers' state persists in the adapter's state file.
#include <nlohmann/json.hpp>

#include "adapters/common/runtime.h"
#include "adapters/fire/dispatch.h"
#include "adapters/fire/firms.h"
#include "adapters/fire/hotspot_clusterer.h"
#include "model/validate.h"

using namespace alertbus;

namespace {

// [fire] keys, each a member of FireOptions (firms.h documents units and defaults).
void readOptions(TomlReader& r, const toml::table& t, fire::FireOptions& o) {
  const std::string s = "fire";
  r.checkKeys(t, s,
              {"sender_name", "max_input_bytes", "max_line_bytes", "max_records", "max_json_depth", "max_future_ms",
               "warning_ttl_ms", "alarm_radius_km", "material_move_km", "max_incidents", "max_text_bytes",
               "modis_min_confidence", "viirs_min_confidence", "max_pixel_km", "join_distance_km", "join_window_ms",
               "min_hotspots", "min_hotspots_low_frp", "low_frp_mw", "growth_factor", "update_min_interval_ms",
               "quiet_ms", "max_clusters", "max_hotspots_per_cluster", "max_original_bytes"});
  r.getString(t, "sender_name", o.senderName, s);
  r.getInt(t, "max_input_bytes", o.maxInputBytes, 1024, int64_t(1) << 30, s);
  r.getInt(t, "max_line_bytes", o.maxLineBytes, 256, 1 << 24, s);
  r.getInt(t, "max_records", o.maxRecords, 1, 100000000, s);
  r.getInt(t, "max_json_depth", o.maxJsonDepth, 4, 1000, s);
  r.getInt(t, "max_future_ms", o.maxFutureMs, 0, int64_t(7) * 86400000, s);
  r.getInt(t, "warning_ttl_ms", o.warningTtlMs, 60000, int64_t(30) * 86400000, s);
  if (auto* n = t.get("alarm_radius_km")) {
    auto* a = n->as_array();
    if (!a || a->size() != 5) {
      r.err(n, "fire.alarm_radius_km: expected 5 numbers (km for alarm levels 1..5)");
    } else {
      for (size_t i = 0; i < 5; ++i) {
        auto& e = *a->get(i);
        double v = e.is_integer() ? static_cast<double>(**e.as_integer()) : e.is_floating_point() ? **e.as_floating_point() : -1;
        if (v <= 0 || v > 500)
          r.err(&e, "fire.alarm_radius_km[" + std::to_string(i) + "]: expected a number of km in (0, 500]");
        else
          o.alarmRadiusKm[i] = v;
      }
    }
  }
  r.getDouble(t, "material_move_km", o.materialMoveKm, 0.01, 1000, s);
  r.getInt(t, "max_incidents", o.maxIncidents, 1, 10000000, s);
  r.getInt(t, "max_text_bytes", o.maxTextBytes, 64, 1 << 20, s);
  r.getInt(t, "modis_min_confidence", o.modisMinConfidence, 0, 100, s);
  std::string viirs(1, o.viirsMinConfidence);
  r.getString(t, "viirs_min_confidence", viirs, s);
  if (viirs == "l" || viirs == "n" || viirs == "h")
    o.viirsMinConfidence = viirs[0];
  else
    r.err(t.get("viirs_min_confidence"), "fire.viirs_min_confidence = '" + viirs + "': expected l, n or h");
  r.getDouble(t, "max_pixel_km", o.maxPixelKm, 0.1, 100, s);
  r.getDouble(t, "join_distance_km", o.joinDistanceKm, 0.01, 100, s);
  r.getInt(t, "join_window_ms", o.joinWindowMs, 60000, int64_t(30) * 86400000, s);
  r.getInt(t, "min_hotspots", o.minHotspots, 1, 100000, s);
  r.getInt(t, "min_hotspots_low_frp", o.minHotspotsLowFrp, 1, 100000, s);
  r.getDouble(t, "low_frp_mw", o.lowFrpMw, 0, 100000, s);
  r.getDouble(t, "growth_factor", o.growthFactor, 1.01, 100, s);
  r.getInt(t, "update_min_interval_ms", o.updateMinIntervalMs, 60000, int64_t(30) * 86400000, s);
  r.getInt(t, "quiet_ms", o.quietMs, 60000, int64_t(30) * 86400000, s);
  r.getInt(t, "max_clusters", o.maxClusters, 1, 10000000, s);
  r.getInt(t, "max_hotspots_per_cluster", o.maxHotspotsPerCluster, 1, 10000000, s);
  r.getInt(t, "max_original_bytes", o.maxOriginalBytes, 1024, 1 << 26, s);
}

}  // namespace

int main(int argc, char** argv) {
  fire::FireOptions options;
  std::unique_ptr<fire::DispatchTracker> dispatch;
  std::unique_ptr<fire::HotspotClusterer> clusters;

  adapter::AdapterSpec spec;
  spec.name = "fire";
  spec.summary = "publishes 119 dispatch incidents and clustered FIRMS hotspots as warnings and situation reports";
  spec.configure = [&](TomlReader& r, const toml::table* t) {
    if (t) readOptions(r, *t, options);
    dispatch = std::make_unique<fire::DispatchTracker>(options);
    clusters = std::make_unique<fire::HotspotClusterer>(options);
  };
  spec.parseDocument = [&](std::string_view bytes, const std::string& source, int64_t receivedMs) {
    fire::FormatGuess g = fire::detectFireFormat(bytes, options);
    switch (g.format) {
      case fire::FireFormat::dispatchJson: return dispatch->ingest(bytes, source, receivedMs);
      case fire::FireFormat::firmsModis:
      case fire::FireFormat::firmsViirs: return clusters->ingestCsv(bytes, source, receivedMs);
      case fire::FireFormat::unknown: break;
    }
    adapter::Output out;
    out.rejected = 1;
    out.problems.push_back({adapter::InputProblem::Level::error, source, "document", "format",
                            clipValue(bytes.substr(0, 40)), g.description});
    return out;
  };
  // Quiet clusters (no detection for quiet_ms) are cancelled on the clock, not only when a file arrives.
  spec.tick = [&](int64_t nowMs) { return clusters->tick(nowMs); };
  spec.tickMs = 60000;
  spec.saveState = [&] {
    return nlohmann::json{{"dispatch", dispatch->saveState()}, {"clusters", clusters->saveState()}}.dump();
  };
  spec.loadState = [&](const std::string& state, std::string* error) {
    auto j = nlohmann::json::parse(state, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("dispatch") || !j.contains("clusters") ||
        !j["dispatch"].is_string() || !j["clusters"].is_string()) {
      *error = "not a fire adapter state (expected {dispatch, clusters})";
      return false;
    }
    return dispatch->loadState(j["dispatch"].get<std::string>(), error) &&
           clusters->loadState(j["clusters"].get<std::string>(), error);
  };
  return adapter::runAdapter(spec, argc, argv);
}
