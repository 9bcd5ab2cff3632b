// alertbus-water: the hydrology bureau's adapter. Gauge readings (Chinese hydrology CSV with STCD/TM/Z/Q,
// or WaterML 2.0) from a watched directory, feeds or stdin become observations, and threshold (FRZ/WRZ/
// GRZ) and rate-of-rise warnings with their updates and cancels. The logic is adapters/water/ (pure);
// the stations file is read once at start; the monitor's state persists in the adapter's state file.
#include <memory>

#include "adapters/common/runtime.h"
#include "adapters/common/watch_dir.h"
#include "adapters/water/gauge_monitor.h"

using namespace alertbus;

namespace {

// [water] keys, each a member of WaterOptions (gauge_monitor.h documents units and defaults).
void readOptions(TomlReader& r, const toml::table& t, water::WaterOptions& o, std::string& stationsFile) {
  const std::string s = "water";
  r.checkKeys(t, s,
              {"stations_file", "max_file_bytes", "max_line_bytes", "max_stations", "max_readings_per_input",
               "max_problems_per_input", "default_utc_offset_minutes", "no_data_values", "default_max_rise_m_per_h",
               "max_future_ms", "hysteresis_m", "red_margin_above_grz_m", "warning_ttl_ms", "warning_renew_ms",
               "area_radius_km", "rate_of_rise_warn_m_per_h", "rate_of_rise_clear_m_per_h", "rate_window_ms",
               "max_history_points", "status"});
  r.getPath(t, "stations_file", stationsFile, s);
  r.getInt(t, "max_file_bytes", o.maxFileBytes, 1024, int64_t(1) << 30, s);
  r.getInt(t, "max_line_bytes", o.maxLineBytes, 256, 1 << 24, s);
  r.getInt(t, "max_stations", o.maxStations, 1, 1000000, s);
  r.getInt(t, "max_readings_per_input", o.maxReadingsPerInput, 1, 10000000, s);
  r.getInt(t, "max_problems_per_input", o.maxProblemsPerInput, 1, 1000000, s);
  r.getInt(t, "default_utc_offset_minutes", o.defaultUtcOffsetMinutes, -14 * 60, 14 * 60, s);
  if (auto* n = t.get("no_data_values")) {
    std::vector<double> v;
    if (auto* a = n->as_array()) {
      for (auto& e : *a) {
        if (!e.is_number()) {
          r.err(&e, "water.no_data_values: every element must be a number");
          continue;
        }
        v.push_back(e.is_integer() ? static_cast<double>(**e.as_integer()) : **e.as_floating_point());
      }
      o.noDataValues = v;
    } else {
      r.err(n, "water.no_data_values: expected a list of numbers");
    }
  }
  r.getDouble(t, "default_max_rise_m_per_h", o.defaultMaxRiseMPerH, 0.001, 100, s);
  r.getInt(t, "max_future_ms", o.maxFutureMs, 0, int64_t(7) * 86400000, s);
  r.getDouble(t, "hysteresis_m", o.hysteresisM, 0, 10, s);
  r.getDouble(t, "red_margin_above_grz_m", o.redMarginAboveGrzM, 0, 100, s);
  r.getInt(t, "warning_ttl_ms", o.warningTtlMs, 60000, int64_t(30) * 86400000, s);
  r.getInt(t, "warning_renew_ms", o.warningRenewMs, 0, int64_t(30) * 86400000, s);
  r.getDouble(t, "area_radius_km", o.areaRadiusKm, 0, 500, s);
  r.getDouble(t, "rate_of_rise_warn_m_per_h", o.rateOfRiseWarnMPerH, 0.001, 100, s);
  r.getDouble(t, "rate_of_rise_clear_m_per_h", o.rateOfRiseClearMPerH, 0, 100, s);
  r.getInt(t, "rate_window_ms", o.rateWindowMs, 60000, int64_t(7) * 86400000, s);
  r.getInt(t, "max_history_points", o.maxHistoryPoints, 2, 100000, s);
  // The status lane is the same key in every adapter now; an old file is told where it went, not ignored.
  if (auto* n = t.get("status"))
    r.err(n, "water.status has moved: set status in [publish] (one key for every adapter, see config/met.toml)");
  if (o.rateOfRiseClearMPerH >= o.rateOfRiseWarnMPerH)
    r.err(t.get("rate_of_rise_clear_m_per_h"), "water.rate_of_rise_clear_m_per_h must be below rate_of_rise_warn_m_per_h");
}

}  // namespace

int main(int argc, char** argv) {
  water::WaterOptions options;
  std::unique_ptr<water::GaugeMonitor> monitor;

  adapter::AdapterSpec spec;
  spec.name = "water";
  spec.summary = "publishes gauge observations and threshold / rate-of-rise warnings (CSV STCD/TM/Z/Q, WaterML 2.0)";
  spec.configure = [&](TomlReader& r, const toml::table* t) {
    std::string stationsFile;
    if (t) readOptions(r, *t, options, stationsFile);
    if (stationsFile.empty()) {
      r.err(t, "water.stations_file is required (STCD, STNM, ADDVCD, LGTD, LTTD, STTP, FRZ, WRZ, GRZ)");
      return;
    }
    std::string bytes, err;
    if (!adapter::readFileBounded(stationsFile, options.maxFileBytes, bytes, &err)) {
      r.err(t->get("stations_file"), "water.stations_file " + stationsFile + ": " + err);
      return;
    }
    water::StationsResult st = water::parseStations(bytes, stationsFile, options);
    // A stations file with a bad row is a config error: thresholds decide who is warned.
    for (auto& p : st.problems)
      if (p.level == adapter::InputProblem::Level::error) r.err(t->get("stations_file"), p.str());
    if (st.stations.empty() && !st.fileRejected) r.err(t->get("stations_file"), stationsFile + ": no stations");
    monitor = std::make_unique<water::GaugeMonitor>(st.stations, options);
  };
  spec.parseDocument = [&](std::string_view bytes, const std::string& source, int64_t receivedMs) {
    return std::move(monitor->processBytes(bytes, source, receivedMs).output);
  };
  spec.saveState = [&] { return monitor->saveState(); };
  spec.loadState = [&](const std::string& state, std::string* error) { return monitor->loadState(state, *error); };
  return adapter::runAdapter(spec, argc, argv);
}
