// Vessels-at-risk monitor: see risk.h. Warning geometry is converted once, when a warning is taken; each
// evaluate is a bounding-box test then Boost.Geometry covered_by per vessel and area.
#include "adapters/maritime/risk.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>

#include <boost/geometry.hpp>
#include <boost/geometry/geometries/point_xy.hpp>
#include <boost/geometry/geometries/polygon.hpp>
#include <nlohmann/json.hpp>

#include "model/validate.h"

namespace alertbus::maritime {
namespace bg = boost::geometry;
using BgPoint = bg::model::d2::point_xy<double>;  // x = lon, y = lat
using BgPolygon = bg::model::polygon<BgPoint>;
using BgBox = bg::model::box<BgPoint>;

namespace {

constexpr size_t kMaxIdBytes = 200;
constexpr const char* kPrefix = "vessels-at-risk-";

uint32_t fnv1a(std::string_view s) {
  uint32_t h = 2166136261u;
  for (unsigned char c : s) h = (h ^ c) * 16777619u;
  return h;
}

std::string lower(std::string_view s) {
  std::string r(s);
  for (auto& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

bool eventMatches(const std::vector<std::string>& patterns, std::string_view code) {
  if (code.empty()) return false;
  std::string c = lower(code);
  for (const auto& p : patterns) {
    std::string lp = lower(p);
    if (!lp.empty() && lp.back() == '*') {
      if (c.compare(0, lp.size() - 1, lp, 0, lp.size() - 1) == 0) return true;
    } else if (lp == c) {
      return true;
    }
  }
  return false;
}

bool infoMatches(const std::vector<std::string>& patterns, schema::Info::Reader info) {
  if (eventMatches(patterns, {info.getEventCode().cStr(), info.getEventCode().size()})) return true;
  for (auto kv : info.getEventCodes())
    if (eventMatches(patterns, {kv.getValue().cStr(), kv.getValue().size()})) return true;
  return false;
}

// Event names for the narrative: Chinese, English.
std::pair<std::string, std::string> eventNames(std::string_view code) {
  std::string c = lower(code);
  if (c == "typhoon" || c == "11b01") return {"台风", "typhoon"};
  if (c == "gale" || c == "11b06") return {"大风", "gale"};
  if (c == "storm-surge") return {"风暴潮", "storm surge"};
  return {std::string(code), std::string(code)};
}

BgPolygon toPolygon(const std::vector<GeoPoint>& ring) {
  BgPolygon p;
  for (const auto& pt : ring) bg::append(p.outer(), BgPoint(pt.lon, pt.lat));
  bg::correct(p);  // closes the ring and fixes the orientation
  return p;
}

size_t distinctPoints(const std::vector<GeoPoint>& ring) {
  std::set<std::pair<double, double>> s;
  for (const auto& p : ring) s.emplace(p.lat, p.lon);
  return s.size();
}

std::string text(capnp::Text::Reader t) { return std::string(t.cStr(), t.size()); }

// The lanes a warning can be in: each gives reports of its own status, never mixed (system and draft are not
// warnings to act on).
bool trackedStatus(schema::Status s) {
  return s == schema::Status::ACTUAL || s == schema::Status::EXERCISE || s == schema::Status::TEST;
}

constexpr size_t kMaxChain = 32;  // identities kept per warning (alert + updates); the oldest go first

}  // namespace

std::string sanitiseIdPart(std::string_view in, size_t prefixBytes, size_t suffixBytes) {
  std::string s(in);
  for (auto& c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f || c == ',' || c == '<' || c == '&') c = '_';
  }
  size_t room = kMaxIdBytes > prefixBytes + suffixBytes ? kMaxIdBytes - prefixBytes - suffixBytes : 0;
  if (s.size() <= room) return s;
  char hash[16];
  std::snprintf(hash, sizeof hash, "~%08x", fnv1a(in));
  size_t cut = room > 9 ? room - 9 : 0;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xc0) == 0x80) --cut;  // not inside a UTF-8 sequence
  return s.substr(0, cut) + hash;
}

struct RiskMonitor::Shelter {
  std::vector<BgPolygon> polygons;
  std::vector<BgBox> boxes;
  std::vector<GeoArea::Circle> circles;
};

struct RiskMonitor::Warning {
  struct AreaGeo {
    std::string description;                // "area[i]" when the warning gave none
    std::vector<BgPolygon> polygons;
    std::vector<BgBox> boxes;
    std::vector<GeoArea::Circle> circles;
  };
  // Every message of the warning's chain (the alert and its updates, at most kMaxChain, oldest first), by
  // which a later update or cancel may name it: the bus agency that published it, or its origin (the CAP
  // sender as written), and its id.
  struct Identity {
    std::string sender, origin, id;
  };
  std::vector<Identity> chain;
  schema::Status status = schema::Status::ACTUAL;  // the lane: its reports have it; references match only in it
  // The warning message in force (the alert, or the latest update of it).
  std::string sender, id, event, incident;
  int64_t sentMs = 0;
  int64_t expiresMs = 0;                    // 0 = none given
  int64_t takenMs = 0;                      // receivedMs of the message in force
  uint32_t version = 1;
  std::string seriesId;                     // id of the warning that started the report series
  std::unique_ptr<capnp::MallocMessageBuilder> areasCopy;  // root Sitrep used only as a holder of areas
  std::vector<AreaGeo> areas;
  // State of the report series.
  bool changed = true;                      // warning changed since the last report
  std::string changeReason = "new warning";
  bool ended = false;
  std::string endReason;                    // "cancelled by met/x", "expired at ..."
  std::string endSender, endId;             // the cancel message, if any
  int64_t endSentMs = 0;
  uint32_t reports = 0;
  std::string lastReportId;
  int64_t lastReportMs = 0;
  std::set<uint32_t> lastSet;
};

RiskMonitor::~RiskMonitor() = default;
size_t RiskMonitor::activeWarnings() const { return warnings_.size(); }
RiskMonitor::RiskMonitor(RiskMonitor&&) noexcept = default;
RiskMonitor& RiskMonitor::operator=(RiskMonitor&&) noexcept = default;

std::vector<std::string> checkRiskOptions(const RiskOptions& o) {
  std::vector<std::string> errs;
  if (o.events.empty()) errs.push_back("events: at least one event code is required");
  if (o.maxWarnings == 0) errs.push_back("max_warnings: must be at least 1");
  if (o.maxVesselsPerReport == 0) errs.push_back("max_vessels_per_report: must be at least 1");
  if (o.reportIntervalMs < 0) errs.push_back("report_interval_ms: must not be negative");
  if (o.warningTtlMs < 0) errs.push_back("warning_ttl_ms: must not be negative");
  if (o.sender.empty()) errs.push_back("sender: required (this adapter's agency)");
  for (size_t i = 0; i < o.shelters.size(); ++i) {
    const auto& s = o.shelters[i];
    std::string at = "shelters[" + std::to_string(i) + "] (" + s.name + "): ";
    if (s.polygons.empty() && s.circles.empty()) errs.push_back(at + "no polygon or circle");
    for (size_t j = 0; j < s.polygons.size(); ++j) {
      size_t n = distinctPoints(s.polygons[j]);
      if (n < 3) errs.push_back(at + "polygon[" + std::to_string(j) + "]: " + std::to_string(n) +
                                " distinct points, needs 3");
      for (const auto& p : s.polygons[j])
        if (!(std::fabs(p.lat) <= 90 && std::fabs(p.lon) <= 180)) {
          errs.push_back(at + "polygon[" + std::to_string(j) + "]: point outside -90..90/-180..180");
          break;
        }
    }
    for (size_t j = 0; j < s.circles.size(); ++j) {
      const auto& c = s.circles[j];
      if (!(std::fabs(c.center.lat) <= 90 && std::fabs(c.center.lon) <= 180 && c.radiusKm >= 0 &&
            c.radiusKm <= 20000))
        errs.push_back(at + "circle[" + std::to_string(j) + "]: centre or radius out of range");
    }
  }
  return errs;
}

RiskMonitor::RiskMonitor(RiskOptions options) : options_(std::move(options)) {
  if (options_.maxWarnings == 0) options_.maxWarnings = 1;
  if (options_.maxVesselsPerReport == 0) options_.maxVesselsPerReport = 1;
  for (const auto& s : options_.shelters) {
    auto sh = std::make_unique<Shelter>();
    for (const auto& ring : s.polygons) {
      if (distinctPoints(ring) < 3) continue;
      sh->polygons.push_back(toPolygon(ring));
      sh->boxes.push_back(bg::return_envelope<BgBox>(sh->polygons.back()));
    }
    for (const auto& c : s.circles)
      if (c.radiusKm >= 0 && std::isfinite(c.radiusKm)) sh->circles.push_back(c);
    if (!sh->polygons.empty() || !sh->circles.empty()) shelters_.push_back(std::move(sh));
  }
}

RiskMonitor::Warning* RiskMonitor::findRef(schema::Status status, std::string_view sender, std::string_view id) {
  auto it = std::find_if(warnings_.begin(), warnings_.end(), [&](const Warning& w) {
    if (w.ended || w.status != status) return false;
    for (const auto& c : w.chain)
      if (c.id == id && (sender.empty() || c.sender.empty() || c.sender == sender || c.origin == sender)) return true;
    return false;
  });
  return it == warnings_.end() ? nullptr : &*it;
}

bool RiskMonitor::insideArea(const Warning& w, size_t area, double lat, double lon) const {
  const auto& a = w.areas[area];
  BgPoint p(lon, lat);
  for (size_t i = 0; i < a.polygons.size(); ++i)
    if (bg::covered_by(p, a.boxes[i]) && bg::covered_by(p, a.polygons[i])) return true;
  for (const auto& c : a.circles)
    if (haversineM(lat, lon, c.center.lat, c.center.lon) <= c.radiusKm * 1000.0) return true;
  return false;
}

bool RiskMonitor::inShelter(double lat, double lon) const {
  BgPoint p(lon, lat);
  for (const auto& s : shelters_) {
    for (size_t i = 0; i < s->polygons.size(); ++i)
      if (bg::covered_by(p, s->boxes[i]) && bg::covered_by(p, s->polygons[i])) return true;
    for (const auto& c : s->circles)
      if (haversineM(lat, lon, c.center.lat, c.center.lon) <= c.radiusKm * 1000.0) return true;
  }
  return false;
}

WarningIntake RiskMonitor::onMessage(schema::Message::Reader m, int64_t receivedMs) {
  WarningIntake r;
  std::string sender = text(m.getSender()), id = text(m.getId());
  std::string where = "message " + (sender.empty() ? std::string() : sender + "/") + clipValue(id);
  auto reject = [&](std::string field, std::string value, std::string reason) {
    r.outcome = WarningOutcome::Rejected;
    r.reason = reason;
    r.problems.push_back({adapter::InputProblem::Level::error, "broker", where, std::move(field), clipValue(value),
                          std::move(reason)});
    return r;
  };
  auto ignore = [&](std::string reason) {
    r.outcome = WarningOutcome::Ignored;
    r.reason = std::move(reason);
    return r;
  };
  const schema::Status status = m.getStatus();
  if (!trackedStatus(status)) return ignore("status is not actual, exercise or test");
  auto type = m.getMsgType();
  if (type != schema::MsgType::ALERT && type != schema::MsgType::UPDATE && type != schema::MsgType::CANCEL)
    return ignore("msgType is not alert, update or cancel");
  if (auto p = validateMessage(m, receivedMs)) {
    // An invalid message about nothing we track is not our business; one that would be tracked is refused.
    bool relevant = type != schema::MsgType::ALERT;
    if (m.getPayload().isWarning())
      for (auto info : m.getPayload().getWarning()) relevant = relevant || infoMatches(options_.events, info);
    if (!relevant) return ignore("not a warning of interest");
    return reject(p->field, p->value, p->code + ": " + p->reason);
  }

  if (type == schema::MsgType::CANCEL) {
    size_t n = 0;
    for (auto ref : m.getReferences()) {
      auto it = findRef(status, text(ref.getSender()), text(ref.getId()));
      if (!it) continue;
      it->ended = true;
      it->endReason = "cancelled";
      it->endSender = sender;
      it->endId = id;
      it->endSentMs = m.getSentMs();
      ++n;
    }
    if (n == 0) return ignore("cancel of no active warning");
    r.outcome = WarningOutcome::Taken;
    r.reason = "cancelled " + std::to_string(n) + " warning(s)";
    return r;
  }

  if (!m.getPayload().isWarning()) return ignore("payload is not a warning");
  auto infos = m.getPayload().getWarning();
  int first = -1, withAreas = -1;
  int64_t expires = 0;
  bool anyOpenEnded = false;
  for (unsigned i = 0; i < infos.size(); ++i) {
    if (!infoMatches(options_.events, infos[i])) continue;
    if (first < 0) first = static_cast<int>(i);
    if (withAreas < 0 && infos[i].getAreas().size() > 0) withAreas = static_cast<int>(i);
    if (infos[i].getExpiresMs() == 0) anyOpenEnded = true;
    expires = std::max(expires, infos[i].getExpiresMs());
  }
  if (anyOpenEnded) expires = 0;

  auto fill = [&](Warning& w) {
    w.status = status;
    w.sender = sender;
    w.id = id;
    if (w.chain.size() >= kMaxChain) w.chain.erase(w.chain.begin());
    w.chain.push_back({sender, text(m.getOrigin()), id});
    w.sentMs = m.getSentMs();
    w.incident = text(m.getIncident());
    w.event = text(infos[first].getEventCode());
    w.expiresMs = expires;
    w.takenMs = receivedMs;
    w.areas.clear();
    w.areasCopy = std::make_unique<capnp::MallocMessageBuilder>();
    auto holder = w.areasCopy->initRoot<schema::Sitrep>();
    if (withAreas < 0) {
      holder.initAreas(0);
      return;
    }
    auto src = infos[withAreas].getAreas();
    unsigned n = std::min<size_t>(src.size(), options_.maxAreasPerWarning);
    if (n < src.size())
      r.problems.push_back({adapter::InputProblem::Level::warning, "broker", where, "areas",
                            std::to_string(src.size()),
                            "only the first " + std::to_string(n) + " areas are used (max_areas_per_warning)"});
    auto dst = holder.initAreas(n);
    for (unsigned i = 0; i < n; ++i) {
      dst.setWithCaveats(i, src[i]);
      Warning::AreaGeo g;
      g.description = text(src[i].getDescription());
      if (g.description.empty()) g.description = "area[" + std::to_string(i) + "]";
      for (auto poly : src[i].getPolygons()) {
        std::vector<GeoPoint> ring;
        for (auto pt : poly.getPoints()) ring.push_back({pt.getLat(), pt.getLon()});
        g.polygons.push_back(toPolygon(ring));
        g.boxes.push_back(bg::return_envelope<BgBox>(g.polygons.back()));
      }
      for (auto c : src[i].getCircles())
        g.circles.push_back({{c.getCenter().getLat(), c.getCenter().getLon()}, c.getRadiusKm()});
      w.areas.push_back(std::move(g));
    }
  };

  if (type == schema::MsgType::UPDATE) {
    // The same update again (another route, a replay): its references would resolve through the chain and
    // count it twice.
    if (findRef(status, sender, id)) return ignore("duplicate of an update already taken");
    Warning* replaced = nullptr;
    for (auto ref : m.getReferences()) {
      auto it = findRef(status, text(ref.getSender()), text(ref.getId()));
      if (!it) continue;
      if (first < 0 || replaced) {  // superseded by an update without our events, or merged into the first one
        it->ended = true;
        it->endReason = first < 0 ? "superseded by an update without a warning of interest" : "superseded";
        it->endSender = sender;
        it->endId = id;
        it->endSentMs = m.getSentMs();
        continue;
      }
      replaced = it;
    }
    if (replaced) {
      fill(*replaced);
      replaced->version++;
      replaced->changed = true;
      replaced->changeReason = "warning updated";
      r.outcome = WarningOutcome::Taken;
      r.reason = "updated warning " + replaced->seriesId;
      return r;
    }
    if (first < 0) return ignore(m.getReferences().size() ? "update of no active warning, not of interest"
                                                          : "not a warning of interest");
    // An update of a warning we never saw: take it as a new one.
  }

  if (first < 0) return ignore("no info with an event of interest");
  if (findRef(status, sender, id)) return ignore("duplicate of an active warning");
  size_t active = std::count_if(warnings_.begin(), warnings_.end(), [](const Warning& w) { return !w.ended; });
  if (active >= options_.maxWarnings)
    return reject("id", id, "warning table full (" + std::to_string(active) + " active, max_warnings)");
  Warning w;
  w.seriesId = id;
  fill(w);
  warnings_.push_back(std::move(w));
  r.outcome = WarningOutcome::Taken;
  r.reason = "new warning " + id;
  return r;
}

adapter::Output RiskMonitor::evaluate(const VesselRegistry& registry, int64_t nowMs) {
  adapter::Output out;
  struct Hit {
    const VesselState* v;
    std::vector<size_t> areas;
  };
  for (auto it = warnings_.begin(); it != warnings_.end();) {
    Warning& w = *it;
    if (!w.ended && w.expiresMs != 0 && w.expiresMs <= nowMs) {
      w.ended = true;
      w.endReason = "expired";
    } else if (!w.ended && w.expiresMs == 0 && options_.warningTtlMs > 0 && nowMs - w.takenMs >= options_.warningTtlMs) {
      w.ended = true;
      w.endReason = "expired (no expiry given; warning_ttl_ms passed)";
    }
    std::vector<Hit> hits;
    std::set<uint32_t> set;
    std::string reason;
    if (w.ended) {
      if (w.reports == 0) {  // never reported: nothing to close
        it = warnings_.erase(it);
        continue;
      }
      reason = w.endReason;
    } else {
      for (const auto& [mmsi, v] : registry.vessels()) {
        if (!v.hasPosition) continue;
        Hit h{&v, {}};
        for (size_t a = 0; a < w.areas.size(); ++a)
          if (insideArea(w, a, v.latDeg, v.lonDeg)) h.areas.push_back(a);
        if (h.areas.empty() || inShelter(v.latDeg, v.lonDeg)) continue;
        hits.push_back(std::move(h));
        set.insert(mmsi);
      }
      if (w.reports == 0) {
        reason = "first report";
      } else if (w.changed) {
        reason = w.changeReason;
      } else if (set != w.lastSet) {
        size_t in = 0, out_ = 0;
        for (auto m : set) in += !w.lastSet.count(m);
        for (auto m : w.lastSet) out_ += !set.count(m);
        reason = std::to_string(in) + " vessel(s) entered, " + std::to_string(out_) + " left";
      } else if (options_.reportIntervalMs > 0 && nowMs - w.lastReportMs >= options_.reportIntervalMs) {
        reason = "periodic report";
      } else {
        ++it;
        continue;
      }
    }
    std::sort(hits.begin(), hits.end(), [](const Hit& a, const Hit& b) { return a.v->mmsi < b.v->mmsi; });

    uint32_t n = w.reports + 1;
    std::string suffix = (options_.runId.empty() ? "-" : "-" + options_.runId + "-") + std::to_string(n);
    std::string reportId = kPrefix + sanitiseIdPart(w.seriesId, std::strlen(kPrefix), suffix.size()) + suffix;
    auto msg = std::make_unique<capnp::MallocMessageBuilder>();
    auto root = msg->initRoot<schema::Message>();
    root.setId(reportId);
    root.setSentMs(nowMs);
    root.setStatus(w.status);  // an exercise warning gives exercise reports, never actual ones
    root.setMsgType(n == 1 ? schema::MsgType::ALERT : schema::MsgType::UPDATE);
    bool cancelRef = w.ended && !w.endId.empty();
    auto refs = root.initReferences(1 + (cancelRef ? 1 : 0) + (n > 1 ? 1 : 0));
    unsigned ri = 0;
    refs[ri].setSender(w.sender);
    refs[ri].setId(w.id);
    refs[ri++].setSentMs(w.sentMs);
    if (cancelRef) {
      refs[ri].setSender(w.endSender);
      refs[ri].setId(w.endId);
      refs[ri++].setSentMs(w.endSentMs);
    }
    if (n > 1) {
      refs[ri].setSender(options_.sender);
      refs[ri].setId(w.lastReportId);
      refs[ri++].setSentMs(w.lastReportMs);
    }
    if (!w.incident.empty()) root.setIncident(w.incident);

    auto sr = root.initPayload().initSitrep();
    sr.setReportNumber(n);
    sr.setVersion(w.version);
    sr.setPeriodStartMs(w.reports ? w.lastReportMs : w.takenMs);
    sr.setPeriodEndMs(nowMs);
    sr.setEvent(w.event);
    sr.setAreas(w.areasCopy->getRoot<schema::Sitrep>().asReader().getAreas());
    size_t total = hits.size();
    size_t listed = std::min(total, options_.maxVesselsPerReport);
    auto vs = sr.initVessels(static_cast<unsigned>(listed));
    for (size_t i = 0; i < listed; ++i) {
      const VesselState& v = *hits[i].v;
      auto o = vs[static_cast<unsigned>(i)];
      o.setMmsi(v.mmsi);
      o.setName(v.name);
      o.setCallsign(v.callsign);
      o.setShipType(static_cast<uint8_t>(v.shipType >= 0 && v.shipType <= 99 ? v.shipType : 0));
      o.initPosition().setLat(v.latDeg);
      o.getPosition().setLon(v.lonDeg);
      o.setSogKnots(v.sogKnots ? *v.sogKnots : NAN);
      o.setCogDeg(v.cogDeg ? *v.cogDeg : NAN);
      o.setLastSeenMs(v.positionMs);
      o.setImo(v.imo);
      auto as = o.initAreas(static_cast<unsigned>(hits[i].areas.size()));
      for (size_t k = 0; k < hits[i].areas.size(); ++k)
        as.set(static_cast<unsigned>(k), w.areas[hits[i].areas[k]].description);
    }
    auto res = sr.initResources(1);
    res[0].setKind("vessels-at-risk");
    res[0].setCount(static_cast<uint32_t>(total));

    auto [zh, en] = eventNames(w.event);
    std::string narrative;
    if (w.ended) {
      bool cancelled = w.endReason.rfind("cancelled", 0) == 0;
      bool superseded = w.endReason.rfind("superseded", 0) == 0;
      narrative = zh + "预警" + (cancelled ? "已取消" : superseded ? "已被更新取代" : "已过期") +
                  "，不再报告风险船舶。" + en + " warning " + w.endReason + " (" + w.sender +
                  (w.sender.empty() ? "" : "/") + w.id + "): 0 vessels reported at risk; final report.";
    } else {
      std::string cnt = std::to_string(total);
      narrative = cnt + " 艘船舶位于" + zh + "预警区域内，不在避风港内。" + cnt + " vessel" + (total == 1 ? "" : "s") +
                  " inside " + en + " warning area, not in shelter (warning " + w.sender + (w.sender.empty() ? "" : "/") +
                  w.id + "; " + reason + ").";
      if (listed < total)
        narrative += " 仅列出前 " + std::to_string(listed) + " 艘（按 MMSI）。Only the first " + std::to_string(listed) +
                     " by MMSI are listed; " + std::to_string(total - listed) + " more not listed.";
    }
    sr.setNarrative(narrative);

    // provenance.original: what this report was computed from, as a bounded JSON summary.
    nlohmann::json j;
    j["warning"] = {{"sender", w.sender}, {"id", w.id}, {"sentMs", w.sentMs}, {"event", w.event}};
    j["report"] = n;
    j["reason"] = reason;
    j["nowMs"] = nowMs;
    j["vesselsAtRisk"] = total;
    j["registryVessels"] = registry.size();
    size_t room = options_.maxOriginalBytes > 600 ? (options_.maxOriginalBytes - 600) / 11 : 0;
    auto mm = nlohmann::json::array();
    for (size_t i = 0; i < hits.size() && i < room; ++i) mm.push_back(hits[i].v->mmsi);
    if (room < hits.size()) j["mmsisTruncated"] = true;
    j["mmsis"] = std::move(mm);
    std::string original = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (original.size() > options_.maxOriginalBytes) {
      j.erase("mmsis");
      j["mmsisTruncated"] = true;
      original = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    auto prov = root.initProvenance();
    prov.setContentType("application/json");
    prov.setOriginal(capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(original.data()), original.size()));
    prov.setSource(options_.source);
    prov.setReceivedMs(nowMs);
    out.messages.push_back(std::move(msg));
    ++out.accepted;

    w.reports = n;
    w.lastReportId = reportId;
    w.lastReportMs = nowMs;
    w.lastSet = std::move(set);
    w.changed = false;
    if (w.ended)
      it = warnings_.erase(it);
    else
      ++it;
  }
  return out;
}

}  // namespace alertbus::maritime
