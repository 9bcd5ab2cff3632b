// Gauge state machine; see gauge_monitor.h for the contract. Ids depend only on station, quantity and reading
// times, so a restart with restored state re-issues exactly the same ids for the same readings.
// Warning content choices are documented at GaugeMonitor::process in gauge_monitor.h.
#include "adapters/water/gauge_monitor.h"
#include "model/decode_util.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "model/validate.h"
#include "schemas/message.capnp.h"

namespace alertbus::water {
namespace {

using adapter::InputProblem;
using schema::Message;

constexpr double kMsPerHour = 3600.0 * 1000.0;

struct Civil {
  int y;
  unsigned mo, d;
  int h, mi, s;
};
Civil civil(int64_t ms) {
  int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
  int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
  int64_t rem = secs - days * 86400;
  Civil c{};
  civilFromDays(days, c.y, c.mo, c.d);
  c.h = static_cast<int>(rem / 3600);
  c.mi = static_cast<int>(rem % 3600 / 60);
  c.s = static_cast<int>(rem % 60);
  return c;
}

// "20260728T005320Z": the time part of message ids.
std::string compactTime(int64_t ms) {
  Civil c = civil(ms);
  char buf[40];
  snprintf(buf, sizeof buf, "%04d%02u%02uT%02d%02d%02dZ", c.y, c.mo, c.d, c.h, c.mi, c.s);
  return buf;
}

// "2026-07-28 08:53" in the given zone, for human-readable text.
std::string localTime(int64_t ms, int offsetMinutes) {
  Civil c = civil(ms + int64_t(offsetMinutes) * 60000);
  char buf[40];
  snprintf(buf, sizeof buf, "%04d-%02u-%02u %02d:%02d", c.y, c.mo, c.d, c.h, c.mi);
  return buf;
}

std::string isoTime(int64_t ms, int offsetMinutes) {
  Civil c = civil(ms + int64_t(offsetMinutes) * 60000);
  int off = std::abs(offsetMinutes);
  char buf[48];
  snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d%c%02d:%02d", c.y, c.mo, c.d, c.h, c.mi, c.s,
           offsetMinutes < 0 ? '-' : '+', off / 60, off % 60);
  return buf;
}

std::string fmt2(double v) {
  char buf[48];
  snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}
std::string fmtG(double v) {
  char buf[48];
  snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

struct LevelLook {
  const char* event;  // 超警戒水位
  const char* zh;     // 警戒水位
  schema::Severity severity;
  schema::Colour colour;
  schema::ResponseType response;
};
LevelLook lookOf(const std::string& name) {
  if (name == "FRZ")
    return {"超汛限水位", "汛限水位", schema::Severity::MINOR, schema::Colour::BLUE, schema::ResponseType::MONITOR};
  if (name == "WRZ")
    return {"超警戒水位", "警戒水位", schema::Severity::MODERATE, schema::Colour::YELLOW, schema::ResponseType::PREPARE};
  if (name == "GRZ")
    return {"超保证水位", "保证水位", schema::Severity::SEVERE, schema::Colour::ORANGE, schema::ResponseType::PREPARE};
  return {"严重超保证水位", "保证水位加安全裕度", schema::Severity::EXTREME, schema::Colour::RED,
          schema::ResponseType::PREPARE};
}

void setOriginal(schema::Provenance::Builder p, const Reading& r, std::string_view source, int64_t receivedMs) {
  p.setContentType(r.contentType.empty() ? std::string(kCsvContentType) : r.contentType);
  p.setOriginal(capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(r.original.data()), r.original.size()));
  p.setSource(std::string(source));
  p.setReceivedMs(receivedMs);
}

}  // namespace

GaugeMonitor::GaugeMonitor(const std::vector<Station>& stations, WaterOptions options) : options_(std::move(options)) {
  for (auto& s : stations) {
    if (stations_.count(s.code) || stations_.size() >= options_.maxStations) continue;
    StationInfo info{s, {}};
    if (std::isnan(info.station.maxRiseMPerH)) info.station.maxRiseMPerH = options_.defaultMaxRiseMPerH;
    if (!std::isnan(s.frzM)) info.levels.push_back({"FRZ", s.frzM});
    if (!std::isnan(s.wrzM)) info.levels.push_back({"WRZ", s.wrzM});
    if (!std::isnan(s.grzM)) info.levels.push_back({"GRZ", s.grzM});
    if (!std::isnan(s.grzM) && options_.redMarginAboveGrzM > 0)
      info.levels.push_back({"GRZ+" + fmtG(options_.redMarginAboveGrzM), s.grzM + options_.redMarginAboveGrzM});
    stations_.emplace(s.code, std::move(info));
  }
}

MonitorResult GaugeMonitor::processBytes(std::string_view bytes, std::string_view source, int64_t receivedMs) {
  auto parsed = parseReadings(bytes, source, options_);
  MonitorResult r = process(std::move(parsed.readings), source, receivedMs);
  std::vector<InputProblem> problems = std::move(parsed.problems);
  for (auto& p : r.output.problems) problems.push_back(std::move(p));
  r.output.problems = std::move(problems);
  r.output.rejected += parsed.rejected;
  return r;
}

MonitorResult GaugeMonitor::process(std::vector<Reading> readings, std::string_view source, int64_t receivedMs) {
  MonitorResult out;
  std::stable_sort(readings.begin(), readings.end(),
                   [](const Reading& a, const Reading& b) { return a.timeMs < b.timeMs; });
  std::vector<std::pair<size_t, InputProblem>> problems;
  size_t suppressed = 0;
  for (auto& r : readings) {
    size_t before = problems.size();
    processOne(r, source, receivedMs, out, problems);
    if (problems.size() > before && before >= std::max<size_t>(options_.maxProblemsPerInput, 1)) {
      problems.pop_back();  // counted in rejected, not listed
      ++suppressed;
    }
  }
  std::stable_sort(problems.begin(), problems.end(), [](auto& a, auto& b) { return a.first < b.first; });
  for (auto& p : problems) out.output.problems.push_back(std::move(p.second));
  if (suppressed > 0)
    out.output.problems.push_back(InputProblem{InputProblem::Level::error, std::string(source), "document", "problems",
                                               std::to_string(suppressed) + " more",
                                               std::to_string(suppressed) +
                                                   " further problems not listed (max_problems_per_input)"});
  return out;
}

void GaugeMonitor::processOne(const Reading& r, std::string_view source, int64_t receivedMs, MonitorResult& out,
                              std::vector<std::pair<size_t, InputProblem>>& problems) {
  auto reject = [&](const std::string& field, std::string_view value, std::string reason) {
    problems.push_back({r.index, InputProblem{InputProblem::Level::error, std::string(source), r.position, field,
                                              clipValue(value), std::move(reason)}});
    ++out.output.rejected;
  };
  auto it = stations_.find(r.station);
  if (it == stations_.end()) {
    reject(r.contentType == kWaterMl2ContentType ? "featureOfInterest" : "STCD", r.station, "unknown station");
    return;
  }
  const StationInfo& si = it->second;
  const Station& st = si.station;
  if (r.quantity != "waterLevel" && r.quantity != "discharge") {
    reject(r.valueField, r.quantity, "unknown quantity (waterLevel or discharge)");
    return;
  }
  if (!std::isfinite(r.value)) {
    reject(r.valueField, r.rawValue, "not a finite number");
    return;
  }
  double raw = NAN;
  detail::parseNumber(r.rawValue, raw);
  for (double marker : options_.noDataValues)
    if (r.value == marker || raw == marker) {
      reject(r.valueField, r.rawValue, "no-data marker");
      return;
    }
  if (r.timeMs > receivedMs + options_.maxFutureMs) {
    reject(r.timeField, r.rawTime,
           "more than " + std::to_string(options_.maxFutureMs / 1000) + " s ahead of the receive clock (" +
               isoTime(receivedMs, 0) + ")");
    return;
  }
  Series& s = series_[r.station + "|" + r.quantity];
  if (s.lastTimeMs != 0 && r.timeMs <= s.lastTimeMs) {
    ++out.duplicates;  // a re-sent or out-of-order reading: taken, not republished
    ++out.output.accepted;
    return;
  }
  const bool levelM = r.quantity == "waterLevel" && r.unit == "m";
  if (levelM && s.lastTimeMs != 0) {
    double dtH = double(r.timeMs - s.lastTimeMs) / kMsPerHour;
    double rate = (r.value - s.lastValue) / dtH;
    if (std::fabs(rate) > st.maxRiseMPerH) {
      reject(r.valueField, r.rawValue,
             "spike: " + fmt2(r.value - s.lastValue) + " m in " + fmtG(dtH * 60) + " min since " +
                 fmt2(s.lastValue) + " m is " + fmt2(rate) + " m/h, beyond the max rise " + fmt2(st.maxRiseMPerH) +
                 " m/h of station " + st.code);
      return;
    }
  }
  // Accepted.
  ++out.output.accepted;
  const double prevValue = s.lastValue;
  const int64_t prevTimeMs = s.lastTimeMs;
  s.lastTimeMs = r.timeMs;
  s.lastValue = r.value;
  s.history.emplace_back(r.timeMs, r.value);
  // Keep the points inside the rate window plus the newest one at or before its start (the anchor).
  const int64_t windowStart = r.timeMs - options_.rateWindowMs;
  size_t anchor = s.history.size();
  for (size_t i = 0; i < s.history.size(); ++i)
    if (s.history[i].first <= windowStart) anchor = i;
  if (anchor != s.history.size() && anchor > 0) s.history.erase(s.history.begin(), s.history.begin() + long(anchor));
  if (s.history.size() > std::max<size_t>(options_.maxHistoryPoints, 2))
    s.history.erase(s.history.begin(), s.history.end() - long(std::max<size_t>(options_.maxHistoryPoints, 2)));
  double windowRate = NAN;  // m/h over at least the window; NaN when the history is shorter
  if (!s.history.empty() && s.history.front().first <= windowStart && s.history.front().first < r.timeMs)
    windowRate = (r.value - s.history.front().second) / (double(r.timeMs - s.history.front().first) / kMsPerHour);
  double rate = windowRate;
  if (std::isnan(rate) && prevTimeMs != 0) rate = (r.value - prevValue) / (double(r.timeMs - prevTimeMs) / kMsPerHour);

  // Gauge CSV and WaterML carry no drill marker: actual here; an adapter set to [publish] status = "exercise"
  // publishes them as exercise (adapters/common/publish_status.h).
  const schema::Status status = schema::Status::ACTUAL;
  const char* zq = r.quantity == "waterLevel" ? "Z" : "Q";

  // Observation.
  {
    auto b = std::make_unique<capnp::MallocMessageBuilder>();
    auto m = b->initRoot<Message>();
    m.setId("water-obs-" + st.code + "-" + zq + "-" + compactTime(r.timeMs));
    m.setSentMs(receivedMs);
    m.setStatus(status);
    m.setMsgType(schema::MsgType::ALERT);
    auto o = m.getPayload().initObservation();
    o.setStation(st.code);
    o.setStationName(st.name);
    o.setQuantity(r.quantity);
    o.setValue(r.value);
    o.setUnit(r.unit);
    o.setTimeMs(r.timeMs);
    if (levelM) {
      std::vector<std::pair<const char*, double>> th;
      for (auto [n, v] : {std::pair{"FRZ", st.frzM}, std::pair{"WRZ", st.wrzM}, std::pair{"GRZ", st.grzM}})
        if (!std::isnan(v)) th.emplace_back(n, v);
      auto tl = o.initThresholds(static_cast<unsigned>(th.size()));
      for (size_t i = 0; i < th.size(); ++i) {
        tl[unsigned(i)].setName(th[i].first);
        tl[unsigned(i)].setValue(th[i].second);
      }
    }
    o.getPosition().setLat(st.lat);
    o.getPosition().setLon(st.lon);
    o.setAdminCode(st.adminCode);
    o.setEvent(st.event());
    setOriginal(m.initProvenance(), r, source, receivedMs);
    out.output.messages.push_back(std::move(b));
  }
  if (!levelM) return;

  // One warning message (alert, update or cancel) for `w`; updates `w`.
  auto issue = [&](ActiveWarning& w, const char* prefix, schema::MsgType type, const std::string& event,
                   const std::string& headline, const std::string& description, schema::Severity severity,
                   schema::Colour colour, schema::ResponseType response,
                   const std::vector<std::pair<std::string, std::string>>& params) {
    auto b = std::make_unique<capnp::MallocMessageBuilder>();
    auto m = b->initRoot<Message>();
    std::string id;
    if (type == schema::MsgType::ALERT) id = std::string(prefix) + "-" + st.code + "-" + compactTime(r.timeMs);
    else id = w.alertId + (type == schema::MsgType::UPDATE ? "-upd-" : "-cancel-") + compactTime(r.timeMs);
    m.setId(id);
    m.setSentMs(receivedMs);
    m.setStatus(status);
    m.setMsgType(type);
    if (type != schema::MsgType::ALERT) {
      bool two = !w.lastId.empty() && w.lastId != w.alertId;
      auto refs = m.initReferences(two ? 2 : 1);
      refs[0].setSender(options_.agency);
      refs[0].setId(w.alertId);
      refs[0].setSentMs(w.alertSentMs);
      if (two) {
        refs[1].setSender(options_.agency);
        refs[1].setId(w.lastId);
        refs[1].setSentMs(w.lastSentMs);
      }
    }
    m.setIncident(type == schema::MsgType::ALERT ? id : w.alertId);
    auto info = m.getPayload().initWarning(1)[0];
    info.setLanguage("zh-CN");
    info.initCategories(1).set(0, schema::Category::GEO);
    info.setEvent(event);
    info.setEventCode(st.event());
    auto codes = info.initEventCodes(1);
    codes[0].setKey("alertbus");
    codes[0].setValue(st.event());
    info.initResponseTypes(1).set(0, response);
    info.setUrgency(type == schema::MsgType::CANCEL ? schema::Urgency::PAST : schema::Urgency::IMMEDIATE);
    info.setSeverity(severity);
    info.setCertainty(schema::Certainty::OBSERVED);
    info.setColour(colour);
    info.setEffectiveMs(r.timeMs);
    info.setOnsetMs(r.timeMs);
    info.setExpiresMs(std::max(receivedMs + options_.warningTtlMs, r.timeMs + 1));
    info.setHeadline(headline);
    info.setDescription(description);
    auto pl = info.initParameters(static_cast<unsigned>(params.size()));
    for (size_t i = 0; i < params.size(); ++i) {
      pl[unsigned(i)].setKey(params[i].first);
      pl[unsigned(i)].setValue(params[i].second);
    }
    auto area = info.initAreas(1)[0];
    area.setDescription(st.name);
    auto c = area.initCircles(1)[0];
    c.getCenter().setLat(st.lat);
    c.getCenter().setLon(st.lon);
    c.setRadiusKm(options_.areaRadiusKm);
    if (!st.adminCode.empty()) area.initAdminCodes(1).set(0, st.adminCode);
    area.setAltitudeM(NAN);
    area.setCeilingM(NAN);
    setOriginal(m.initProvenance(), r, source, receivedMs);
    out.output.messages.push_back(std::move(b));
    if (type == schema::MsgType::ALERT) {
      w.alertId = id;
      w.alertSentMs = receivedMs;
    }
    if (type == schema::MsgType::CANCEL) {
      w = ActiveWarning{};
    } else {
      w.lastId = id;
      w.lastSentMs = receivedMs;
      w.lastIssueTimeMs = r.timeMs;
    }
  };
  auto renewDue = [&](const ActiveWarning& w) {
    return options_.warningRenewMs > 0 && r.timeMs - w.lastIssueTimeMs >= options_.warningRenewMs;
  };
  const std::string when = localTime(r.timeMs, options_.defaultUtcOffsetMinutes);
  const std::string rateText = std::isnan(rate) ? std::string() : fmt2(rate);

  // Threshold warning: up = highest level reached; held = highest level not yet fallen below by the
  // hysteresis margin. Escalate on up, de-escalate/cancel on held, so oscillation inside the margin is quiet.
  {
    ActiveWarning& w = s.level;
    const auto& levels = si.levels;
    int up = -1, held = -1;
    for (size_t i = 0; i < levels.size(); ++i) {
      if (r.value >= levels[i].valueM) up = int(i);
      if (r.value >= levels[i].valueM - options_.hysteresisM) held = int(i);
    }
    if (!w.alertId.empty() && !levels.empty())  // restored state may predate a stations-file change
      w.level = std::clamp(w.level, 0, int(levels.size()) - 1);
    auto params = [&](int lv) {
      std::vector<std::pair<std::string, std::string>> p = {{"station", st.code}, {"waterLevelM", fmt2(r.value)},
                                                             {"observedAt", isoTime(r.timeMs, options_.defaultUtcOffsetMinutes)}};
      if (lv >= 0) {
        p.push_back({"thresholdName", levels[size_t(lv)].name});
        p.push_back({"thresholdM", fmt2(levels[size_t(lv)].valueM)});
      }
      if (!rateText.empty()) p.push_back({"riseRateMPerH", rateText});
      return p;
    };
    auto describe = [&](int lv) {
      const Level& L = levels[size_t(lv)];
      std::string d = st.name + "站（" + st.code + "）" + when + " 水位 " + fmt2(r.value) + " 米，" + lookOf(L.name).zh +
                      " " + fmt2(L.valueM) + " 米，超出 " + fmt2(r.value - L.valueM) + " 米";
      if (!rateText.empty()) d += "，涨率 " + rateText + " 米/小时";
      return d + "。";
    };
    if (w.alertId.empty()) {
      if (up >= 0) {
        auto look = lookOf(levels[size_t(up)].name);
        w.level = up;
        issue(w, "water-warn", schema::MsgType::ALERT, st.name + look.event, st.name + "站" + look.event,
              describe(up), look.severity, look.colour, look.response, params(up));
      }
    } else if (levels.empty() || held < 0) {
      int lv = std::max(w.level, 0);
      auto look = levels.empty() ? lookOf("WRZ") : lookOf(levels[size_t(lv)].name);
      std::string d = st.name + "站（" + st.code + "）" + when + " 水位 " + fmt2(r.value) + " 米，已回落至" + look.zh +
                      "以下，预警解除。";
      issue(w, "water-warn", schema::MsgType::CANCEL, st.name + look.event + "解除",
            st.name + "站水位回落至" + look.zh + "以下", d, look.severity, look.colour, schema::ResponseType::ALL_CLEAR,
            params(levels.empty() ? -1 : lv));
    } else if (up > w.level || held < w.level || renewDue(w)) {
      int lv = up > w.level ? up : held < w.level ? held : w.level;
      std::string change = up > w.level ? "升级" : held < w.level ? "降级" : "持续";
      w.level = lv;
      auto look = lookOf(levels[size_t(lv)].name);
      issue(w, "water-warn", schema::MsgType::UPDATE, st.name + look.event, st.name + "站" + look.event + "（" + change + "）",
            describe(lv), look.severity, look.colour, look.response, params(lv));
    }
  }

  // Rate-of-rise warning, measured over at least the window.
  if (!std::isnan(windowRate)) {
    ActiveWarning& w = s.rise;
    std::vector<std::pair<std::string, std::string>> p = {
        {"station", st.code},
        {"waterLevelM", fmt2(r.value)},
        {"riseRateMPerH", fmt2(windowRate)},
        {"windowMinutes", std::to_string(options_.rateWindowMs / 60000)},
        {"observedAt", isoTime(r.timeMs, options_.defaultUtcOffsetMinutes)}};
    std::string d = st.name + "站（" + st.code + "）" + when + " 水位 " + fmt2(r.value) + " 米，近 " +
                    std::to_string(options_.rateWindowMs / 60000) + " 分钟涨率 " + fmt2(windowRate) + " 米/小时";
    if (w.alertId.empty()) {
      if (windowRate >= options_.rateOfRiseWarnMPerH)
        issue(w, "water-rise", schema::MsgType::ALERT, st.name + "水位快速上涨", st.name + "站水位快速上涨",
              d + "，超过 " + fmt2(options_.rateOfRiseWarnMPerH) + " 米/小时。", schema::Severity::MINOR,
              schema::Colour::BLUE, schema::ResponseType::MONITOR, p);
    } else if (windowRate < options_.rateOfRiseClearMPerH) {
      issue(w, "water-rise", schema::MsgType::CANCEL, st.name + "水位快速上涨解除", st.name + "站水位上涨趋缓",
            d + "，上涨趋缓，解除。", schema::Severity::MINOR, schema::Colour::BLUE, schema::ResponseType::ALL_CLEAR, p);
    } else if (renewDue(w)) {
      issue(w, "water-rise", schema::MsgType::UPDATE, st.name + "水位快速上涨", st.name + "站水位快速上涨（持续）", d + "。",
            schema::Severity::MINOR, schema::Colour::BLUE, schema::ResponseType::MONITOR, p);
    }
  }
}

// ---------------------------------------------------------------------------------------------- state

namespace {

nlohmann::json warningToJson(const GaugeMonitor::ActiveWarning& w) {
  if (w.alertId.empty()) return nullptr;
  return {{"alertId", w.alertId},     {"alertSentMs", w.alertSentMs}, {"lastId", w.lastId},
          {"lastSentMs", w.lastSentMs}, {"lastIssueTimeMs", w.lastIssueTimeMs}, {"level", w.level}};
}

void warningFromJson(const nlohmann::json& j, GaugeMonitor::ActiveWarning& w) {
  w = GaugeMonitor::ActiveWarning{};
  if (j.is_null()) return;
  w.alertId = j.at("alertId").get<std::string>();
  w.alertSentMs = j.at("alertSentMs").get<int64_t>();
  w.lastId = j.at("lastId").get<std::string>();
  w.lastSentMs = j.at("lastSentMs").get<int64_t>();
  w.lastIssueTimeMs = j.at("lastIssueTimeMs").get<int64_t>();
  w.level = j.at("level").get<int>();
  if (w.alertId.empty() || w.alertId.size() > 200) throw std::runtime_error("bad alertId");
  if (w.level < -1 || w.level > 8) throw std::runtime_error("bad warning level " + std::to_string(w.level));
}

}  // namespace

std::string GaugeMonitor::saveState() const {
  nlohmann::json series = nlohmann::json::array();
  for (auto& [key, s] : series_) {
    if (s.lastTimeMs == 0 && s.level.alertId.empty() && s.rise.alertId.empty()) continue;
    nlohmann::json h = nlohmann::json::array();
    for (auto& [t, v] : s.history) h.push_back({t, v});
    series.push_back({{"key", key},
                      {"lastTimeMs", s.lastTimeMs},
                      {"lastValue", s.lastValue},
                      {"history", h},
                      {"level", warningToJson(s.level)},
                      {"rise", warningToJson(s.rise)}});
  }
  return nlohmann::json{{"version", 1}, {"series", series}}.dump();
}

bool GaugeMonitor::loadState(std::string_view text, std::string& error) {
  if (text.size() > options_.maxFileBytes) {
    error = "state larger than " + std::to_string(options_.maxFileBytes) + " bytes";
    return false;
  }
  auto j = nlohmann::json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded()) {
    error = "state is not valid JSON";
    return false;
  }
  std::map<std::string, Series> loaded;
  try {
    if (!j.is_object() || j.at("version").get<int>() != 1) throw std::runtime_error("unknown state version");
    const auto& arr = j.at("series");
    if (!arr.is_array()) throw std::runtime_error("series is not an array");
    if (arr.size() > options_.maxStations * 2) throw std::runtime_error("more series than max_stations x 2");
    for (const auto& e : arr) {
      std::string key = e.at("key").get<std::string>();
      size_t bar = key.find('|');
      if (bar == std::string::npos) throw std::runtime_error("bad key " + clipValue(key));
      std::string q = key.substr(bar + 1);
      if (q != "waterLevel" && q != "discharge") throw std::runtime_error("bad quantity in key " + clipValue(key));
      if (!stations_.count(key.substr(0, bar))) continue;  // station no longer configured
      Series s;
      s.lastTimeMs = e.at("lastTimeMs").get<int64_t>();
      s.lastValue = e.at("lastValue").get<double>();
      const auto& h = e.at("history");
      if (!h.is_array()) throw std::runtime_error("history is not an array");
      size_t skip = h.size() > options_.maxHistoryPoints ? h.size() - options_.maxHistoryPoints : 0;
      for (size_t i = skip; i < h.size(); ++i)
        s.history.emplace_back(h[i].at(0).get<int64_t>(), h[i].at(1).get<double>());
      warningFromJson(e.at("level"), s.level);
      warningFromJson(e.at("rise"), s.rise);
      loaded[key] = std::move(s);
    }
  } catch (const std::exception& ex) {
    error = std::string("state has the wrong shape: ") + ex.what();
    return false;
  }
  series_ = std::move(loaded);
  return true;
}

}  // namespace alertbus::water
