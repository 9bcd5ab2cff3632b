// Space-time clustering of FIRMS hotspots into forest-fire warnings; see hotspot_clusterer.h for the rules.
// Invariant: every kept member of a live cluster has exactly one grid entry (cluster key, member index).
#include "adapters/fire/hotspot_clusterer.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <boost/geometry.hpp>
#include <boost/geometry/geometries/multi_point.hpp>
#include <boost/geometry/geometries/point_xy.hpp>
#include <boost/geometry/geometries/polygon.hpp>
#include <nlohmann/json.hpp>

#include "model/validate.h"
#include "schemas/message.capnp.h"

namespace alertbus::fire {
namespace {

namespace bg = boost::geometry;
using BgPoint = bg::model::d2::point_xy<double>;  // x = lon, y = lat (degrees)
using BgPolygon = bg::model::polygon<BgPoint>;
constexpr double kKmPerDegLat = 111.195;
constexpr int64_t kRowBias = 1 << 20;

capnp::Text::Reader txt(const std::string& s) { return capnp::Text::Reader(s.c_str(), s.size()); }

std::string fmt(const char* f, double v) {
  char b[64];
  snprintf(b, sizeof b, f, v);
  return b;
}

std::string compactTime(int64_t ms) {  // "20220831T0003"
  std::string iso = formatIsoUtc(ms);   // 2022-08-31T00:03:00Z
  return iso.substr(0, 4) + iso.substr(5, 2) + iso.substr(8, 2) + "T" + iso.substr(11, 2) + iso.substr(14, 2);
}

double cosLat(double lat) { return std::max(std::cos(std::min(89.9, std::fabs(lat)) * M_PI / 180), 0.01); }

struct Geometry {
  bool circle = false;
  double cLat = 0, cLon = 0, radiusKm = 0;
  std::vector<std::pair<double, double>> ring;  // (lat, lon), closed
  double areaKm2 = 0;
};

template <typename M>
Geometry footprint(const std::vector<M>& members) {
  Geometry g;
  if (members.empty()) return g;
  if (members.size() <= 2) {
    g.circle = true;
    for (auto& m : members) g.cLat += m.lat, g.cLon += m.lon;
    g.cLat /= double(members.size()), g.cLon /= double(members.size());
    for (auto& m : members)
      g.radiusKm = std::max(g.radiusKm, distanceKm(g.cLat, g.cLon, m.lat, m.lon) +
                                            std::hypot(m.scanKm, m.trackKm) / 2);
    g.radiusKm = std::round(g.radiusKm * 1000) / 1000;
    g.areaKm2 = M_PI * g.radiusKm * g.radiusKm;
    return g;
  }
  bg::model::multi_point<BgPoint> pts;
  double latSum = 0;
  for (auto& m : members) {
    double dLat = m.trackKm / 2 / kKmPerDegLat, dLon = m.scanKm / 2 / (kKmPerDegLat * cosLat(m.lat));
    for (int sy : {-1, 1})
      for (int sx : {-1, 1})
        pts.push_back(BgPoint(std::clamp(m.lon + sx * dLon, -180.0, 180.0), std::clamp(m.lat + sy * dLat, -90.0, 90.0)));
    latSum += m.lat;
  }
  BgPolygon hull;
  bg::convex_hull(pts, hull);
  for (auto& p : hull.outer()) g.ring.emplace_back(p.y(), p.x());
  if (!g.ring.empty() && g.ring.front() != g.ring.back()) g.ring.push_back(g.ring.front());
  g.areaKm2 = std::fabs(bg::area(hull)) * kKmPerDegLat * kKmPerDegLat * cosLat(latSum / double(members.size()));
  return g;
}

}  // namespace

HotspotClusterer::HotspotClusterer(FireOptions options) : options_(std::move(options)) {
  // Options outside their domain would break invariants (a cluster always keeps its first member; the grid
  // needs a positive cell): clamp rather than fail, the runtime validates TOML before it gets here.
  if (!(options_.joinDistanceKm >= 0.1)) options_.joinDistanceKm = std::isfinite(options_.joinDistanceKm) ? 0.1 : 1.5;
  options_.joinDistanceKm = std::min(options_.joinDistanceKm, 100.0);
  options_.maxHotspotsPerCluster = std::max<size_t>(1, options_.maxHotspotsPerCluster);
  options_.maxClusters = std::max<size_t>(1, options_.maxClusters);
  if (!(options_.maxPixelKm > 0 && options_.maxPixelKm <= 50)) options_.maxPixelKm = 10;
  cellKm_ = options_.joinDistanceKm;
}

HotspotClusterer::CellKey HotspotClusterer::cellOf(double lat, double lon) const {
  double cellDeg = cellKm_ / kKmPerDegLat;
  int64_t row = int64_t(std::floor(lat / cellDeg));
  double edge = std::max(std::fabs(row * cellDeg), std::fabs((row + 1) * cellDeg));
  double lonCell = cellDeg / cosLat(edge);
  int64_t col = int64_t(std::floor((lon + 180) / lonCell));
  return (uint64_t(row + kRowBias) << 32) | uint64_t(col & 0xffffffff);
}

void HotspotClusterer::indexMember(uint64_t cluster, size_t member) {
  auto& m = clusters_[cluster].members[member];
  grid_[cellOf(m.lat, m.lon)].push_back(GridEntry{cluster, uint32_t(member), m.lat, m.lon, m.sizeKm});
}

void HotspotClusterer::unindexCluster(const Cluster& c) {
  for (auto& m : c.members) {
    auto it = grid_.find(cellOf(m.lat, m.lon));
    if (it == grid_.end()) continue;
    auto& v = it->second;
    v.erase(std::remove_if(v.begin(), v.end(), [&](auto& e) { return e.cluster == c.key; }), v.end());
    if (v.empty()) grid_.erase(it);
  }
}

void HotspotClusterer::rebuildIndex() {
  grid_.clear();
  maxSizeKm_ = 0;
  for (auto& [k, c] : clusters_)
    for (size_t i = 0; i < c.members.size(); ++i) {
      maxSizeKm_ = std::max(maxSizeKm_, c.members[i].sizeKm);
      indexMember(k, i);
    }
}

std::string HotspotClusterer::newWarningId(const Cluster& c) {
  const Member* first = &c.members.front();
  for (auto& m : c.members)
    if (std::tie(m.timeMs, m.lat, m.lon) < std::tie(first->timeMs, first->lat, first->lon)) first = &m;
  std::string base = "fire-hs-" + compactTime(first->timeMs) + "-" + fmt("%.4f", std::fabs(first->lat)) +
                     (first->lat < 0 ? "S" : "N") + "-" + fmt("%.4f", std::fabs(first->lon)) +
                     (first->lon < 0 ? "W" : "E");
  std::string id = base;
  for (int n = 2; usedIds_.count(id); ++n) id = base + "-" + std::to_string(n);
  usedIds_.insert(id);
  usedIdOrder_.push_back(id);
  size_t cap = std::max<size_t>(16, 4 * options_.maxClusters);
  if (usedIdOrder_.size() > cap) {
    size_t drop = usedIdOrder_.size() - cap;
    for (size_t i = 0; i < drop; ++i) usedIds_.erase(usedIdOrder_[i]);
    usedIdOrder_.erase(usedIdOrder_.begin(), usedIdOrder_.begin() + long(drop));
  }
  return id;
}

namespace {

struct MsgSpec {
  std::string id, incident;
  schema::MsgType type;
  int64_t sentMs;
  std::vector<std::pair<std::string, int64_t>> refs;
};

}  // namespace

void HotspotClusterer::publish(Cluster& c, std::string_view header, std::string_view source, int64_t receivedMs,
                               adapter::Output& out) {
  Geometry g = footprint(c.members);
  bool first = c.warningId.empty();
  MsgSpec spec;
  if (first) {
    c.warningId = newWarningId(c);
    c.warningSentMs = receivedMs;
    spec = {c.warningId, c.warningId, schema::MsgType::ALERT, receivedMs, {}};
  } else {
    ++c.updates;
    spec = {c.warningId + "-u" + std::to_string(c.updates), c.warningId, schema::MsgType::UPDATE, receivedMs,
            {{c.warningId, c.warningSentMs}}};
    for (auto& r : c.mergedRefs) spec.refs.push_back(r);
  }
  c.mergedRefs.clear();
  c.pubCount = c.count;
  c.pubAreaKm2 = g.areaKm2;
  c.pubLastMs = c.lastMs;

  auto mb = std::make_unique<capnp::MallocMessageBuilder>();
  auto m = mb->initRoot<schema::Message>();
  m.setId(txt(spec.id));
  m.setSentMs(spec.sentMs);
  m.setStatus(schema::Status::ACTUAL);
  m.setMsgType(spec.type);
  m.setIncident(txt(spec.incident));
  auto refs = m.initReferences(unsigned(spec.refs.size()));
  for (unsigned i = 0; i < spec.refs.size(); ++i) {
    refs[i].setSender(txt(options_.agency));
    refs[i].setId(txt(spec.refs[i].first));
    refs[i].setSentMs(spec.refs[i].second);
  }
  auto info = m.getPayload().initWarning(1)[0];
  info.setLanguage("zh-CN");
  info.initCategories(1).set(0, schema::Category::FIRE);
  info.setEvent("森林火灾（卫星热点）");
  info.setEventCode("forest-fire");
  auto rt = info.initResponseTypes(2);
  rt.set(0, schema::ResponseType::MONITOR);
  rt.set(1, schema::ResponseType::ASSESS);
  info.setUrgency(schema::Urgency::IMMEDIATE);
  info.setCertainty(schema::Certainty::LIKELY);
  bool orange = c.count >= 25 || c.maxFrp >= 200, yellow = c.count >= 5 || c.maxFrp >= 50;
  info.setSeverity(orange ? schema::Severity::SEVERE : yellow ? schema::Severity::MODERATE : schema::Severity::MINOR);
  info.setColour(orange ? schema::Colour::ORANGE : yellow ? schema::Colour::YELLOW : schema::Colour::BLUE);
  info.setEffectiveMs(c.firstMs);
  info.setOnsetMs(c.firstMs);
  info.setExpiresMs(std::max(spec.sentMs, c.firstMs) + options_.warningTtlMs);
  if (!options_.senderName.empty()) info.setSenderName(txt(options_.senderName));
  std::string frp = c.maxFrp >= 0 ? fmt("%.1f", c.maxFrp) : "";
  std::string where = fmt("%.4f", std::fabs(c.members.front().lat)) + (c.members.front().lat < 0 ? "S " : "N ") +
                      fmt("%.4f", std::fabs(c.members.front().lon)) + (c.members.front().lon < 0 ? "W" : "E");
  std::string sats;
  for (auto& s : c.satellites) sats += (sats.empty() ? "" : ",") + s;
  std::string headline = first ? "卫星监测到疑似林火热点" + std::to_string(c.count) + "个（" + where + "）"
                               : "卫星热点群更新：热点" + std::to_string(c.count) + "个，面积约" +
                                     fmt("%.2f", g.areaKm2) + "平方公里";
  info.setHeadline(txt(headline));
  std::string desc = "首次探测 " + formatIsoUtc(c.firstMs) + "，最近探测 " + formatIsoUtc(c.lastMs) + "，热点 " +
                     std::to_string(c.count) + " 个" + (frp.empty() ? "" : "，最大火辐射功率 " + frp + " MW") +
                     "，卫星 " + sats + "。";
  info.setDescription(txt(desc));
  info.setInstruction("请属地消防和林业部门核实火情。");
  std::vector<std::pair<std::string, std::string>> params = {{"hotspotCount", std::to_string(c.count)}};
  if (!frp.empty()) params.push_back({"maxFrpMW", frp});
  params.push_back({"firstDetection", formatIsoUtc(c.firstMs)});
  params.push_back({"lastDetection", formatIsoUtc(c.lastMs)});
  params.push_back({"areaKm2", fmt("%.3f", g.areaKm2)});
  params.push_back({"satellites", sats});
  auto pl = info.initParameters(unsigned(params.size()));
  for (unsigned i = 0; i < params.size(); ++i) {
    pl[i].setKey(txt(params[i].first));
    pl[i].setValue(txt(params[i].second));
  }
  auto area = info.initAreas(1)[0];
  area.setDescription(txt("卫星热点群 " + where));
  area.setAltitudeM(std::nan(""));
  area.setCeilingM(std::nan(""));
  if (g.circle) {
    auto ci = area.initCircles(1)[0];
    ci.initCenter().setLat(g.cLat);
    ci.getCenter().setLon(g.cLon);
    ci.setRadiusKm(g.radiusKm);
  } else {
    auto pts = area.initPolygons(1)[0].initPoints(unsigned(g.ring.size()));
    for (unsigned i = 0; i < g.ring.size(); ++i) {
      pts[i].setLat(g.ring[i].first);
      pts[i].setLon(g.ring[i].second);
    }
  }
  auto prov = m.initProvenance();
  prov.setContentType("text/csv");
  std::string original = std::string(header.empty() ? std::string_view(header_) : header);
  if (!original.empty()) original += "\n";
  original += c.original;
  if (original.size() > options_.maxOriginalBytes) original.resize(options_.maxOriginalBytes);
  prov.setOriginal(capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(original.data()), original.size()));
  prov.setSource(capnp::Text::Reader(std::string(source).c_str(), source.size()));
  prov.setReceivedMs(receivedMs);
  out.messages.push_back(std::move(mb));
}

void HotspotClusterer::cancel(const Cluster& c, std::string_view reason, int64_t nowMs, std::string_view source,
                              adapter::Output& out) {
  auto mb = std::make_unique<capnp::MallocMessageBuilder>();
  auto m = mb->initRoot<schema::Message>();
  std::string id = c.warningId + "-c";
  m.setId(txt(id));
  m.setSentMs(nowMs);
  m.setStatus(schema::Status::ACTUAL);
  m.setMsgType(schema::MsgType::CANCEL);
  m.setIncident(txt(c.warningId));
  auto refs = m.initReferences(1);
  refs[0].setSender(txt(options_.agency));
  refs[0].setId(txt(c.warningId));
  refs[0].setSentMs(c.warningSentMs);
  auto info = m.getPayload().initWarning(1)[0];
  info.setLanguage("zh-CN");
  info.initCategories(1).set(0, schema::Category::FIRE);
  info.setEvent("森林火灾（卫星热点）");
  info.setEventCode("forest-fire");
  info.initResponseTypes(1).set(0, schema::ResponseType::ALL_CLEAR);
  info.setUrgency(schema::Urgency::PAST);
  info.setSeverity(schema::Severity::MINOR);
  info.setCertainty(schema::Certainty::OBSERVED);
  info.setColour(schema::Colour::BLUE);
  if (!options_.senderName.empty()) info.setSenderName(txt(options_.senderName));
  std::string headline = "解除卫星热点群预警 " + c.warningId;
  info.setHeadline(txt(headline));
  info.setDescription(txt(std::string(reason)));
  auto pl = info.initParameters(2);
  pl[0].setKey("hotspotCount");
  pl[0].setValue(txt(std::to_string(c.count)));
  pl[1].setKey("lastDetection");
  pl[1].setValue(txt(formatIsoUtc(c.lastMs)));
  Geometry g = footprint(c.members);
  auto area = info.initAreas(1)[0];
  area.setDescription(txt("卫星热点群 " + c.warningId));
  area.setAltitudeM(std::nan(""));
  area.setCeilingM(std::nan(""));
  if (g.circle) {
    auto ci = area.initCircles(1)[0];
    ci.initCenter().setLat(g.cLat);
    ci.getCenter().setLon(g.cLon);
    ci.setRadiusKm(g.radiusKm);
  } else if (!g.ring.empty()) {
    auto pts = area.initPolygons(1)[0].initPoints(unsigned(g.ring.size()));
    for (unsigned i = 0; i < g.ring.size(); ++i) pts[i].setLat(g.ring[i].first), pts[i].setLon(g.ring[i].second);
  }
  auto prov = m.initProvenance();
  prov.setContentType("text/csv");
  // A cancel is caused by the clock or a merge; its original is the cluster's lines, as on the warning.
  std::string original = header_.empty() ? c.original : header_ + "\n" + c.original;
  if (original.size() > options_.maxOriginalBytes) original.resize(options_.maxOriginalBytes);
  prov.setOriginal(capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(original.data()), original.size()));
  prov.setSource(capnp::Text::Reader(std::string(source).c_str(), source.size()));
  prov.setReceivedMs(nowMs);
  out.messages.push_back(std::move(mb));
}

uint64_t HotspotClusterer::mergeClusters(uint64_t a, uint64_t b, adapter::Output& out, std::string_view source,
                                         int64_t receivedMs) {
  if (a == b) return a;
  Cluster* ca = &clusters_[a];
  Cluster* cb = &clusters_[b];
  auto rank = [](const Cluster& c) {
    return std::make_tuple(c.warningId.empty() ? 1 : 0, c.warningId.empty() ? c.firstMs : c.warningSentMs, c.key);
  };
  if (rank(*cb) < rank(*ca)) std::swap(ca, cb);
  Cluster& keep = *ca;
  Cluster& gone = *cb;
  ++stats_.merges;
  if (!gone.warningId.empty()) {
    keep.mergedRefs.push_back({gone.warningId, gone.warningSentMs});
    cancel(gone, "热点群已并入 " + (keep.warningId.empty() ? std::string("相邻热点群") : keep.warningId), receivedMs,
           source, out);
  }
  for (auto& r : gone.mergedRefs) keep.mergedRefs.push_back(r);
  unindexCluster(gone);
  for (auto& mem : gone.members) {
    if (keep.members.size() >= options_.maxHotspotsPerCluster) break;
    keep.members.push_back(std::move(mem));
    indexMember(keep.key, keep.members.size() - 1);
  }
  keep.count += gone.count;
  keep.maxFrp = std::max(keep.maxFrp, gone.maxFrp);
  keep.firstMs = std::min(keep.firstMs, gone.firstMs);
  keep.lastMs = std::max(keep.lastMs, gone.lastMs);
  keep.satellites.insert(gone.satellites.begin(), gone.satellites.end());
  if (keep.original.size() < options_.maxOriginalBytes)
    keep.original += gone.original.substr(0, options_.maxOriginalBytes - keep.original.size());
  keep.touched = true;
  uint64_t keepKey = keep.key, goneKey = gone.key;
  clusters_.erase(goneKey);
  return keepKey;
}

void HotspotClusterer::evictIfNeeded(adapter::Output& out, int64_t nowMs) {
  if (clusters_.size() <= options_.maxClusters) return;
  std::vector<std::pair<int64_t, uint64_t>> byQuiet;
  for (auto& [k, c] : clusters_) byQuiet.emplace_back(c.lastMs, k);
  std::sort(byQuiet.begin(), byQuiet.end());
  size_t excess = clusters_.size() - options_.maxClusters;
  for (size_t i = 0; i < excess; ++i) {
    auto it = clusters_.find(byQuiet[i].second);
    if (!it->second.warningId.empty())
      cancel(it->second, "热点群跟踪数量超过上限，停止跟踪（最久无新增者先停）", nowMs, "clusterer", out);
    unindexCluster(it->second);
    clusters_.erase(it);
    ++stats_.evicted;
  }
}

adapter::Output HotspotClusterer::add(const std::vector<Hotspot>& hotspots, std::string_view header,
                                      std::string_view source, int64_t receivedMs) {
  adapter::Output out;
  if (!header.empty()) header_ = std::string(header);
  uint64_t dups = 0, stale = 0, invalid = 0;
  std::vector<uint64_t> near;
  for (const auto& h : hotspots) {
    if (!(h.lat >= -90 && h.lat <= 90 && h.lon >= -180 && h.lon <= 180 && h.scanKm > 0 && h.trackKm > 0 &&
          h.scanKm <= options_.maxPixelKm && h.trackKm <= options_.maxPixelKm)) {
      ++invalid;  // only direct callers can get here: parseFirmsCsv already rejects such lines
      continue;
    }
    if (clockMs_ != 0 && h.timeMs < clockMs_ - options_.quietMs) {
      ++stale;
      continue;
    }
    double size = std::max(h.scanKm, h.trackKm);
    double reach = std::max(options_.joinDistanceKm, 1.05 * (size + std::max(maxSizeKm_, size)) / 2);
    double cellDeg = cellKm_ / kKmPerDegLat;
    int64_t row0 = int64_t(std::floor(h.lat / cellDeg));
    int64_t dRows = int64_t(std::ceil(reach / cellKm_));
    double dLon = reach / (kKmPerDegLat * cosLat(std::min(89.9, std::fabs(h.lat) + reach / kKmPerDegLat)));
    near.clear();
    bool dup = false;
    for (int64_t row = row0 - dRows; row <= row0 + dRows && !dup; ++row) {
      double edge = std::max(std::fabs(row * cellDeg), std::fabs((row + 1) * cellDeg));
      double lonCell = cellDeg / cosLat(edge);
      int64_t c0 = int64_t(std::floor((h.lon - dLon + 180) / lonCell)),
              c1 = int64_t(std::floor((h.lon + dLon + 180) / lonCell));
      for (int64_t col = c0; col <= c1 && !dup; ++col) {
        auto it = grid_.find((uint64_t(row + kRowBias) << 32) | uint64_t(col & 0xffffffff));
        if (it == grid_.end()) continue;
        for (const GridEntry& e : it->second) {
          double limit = std::max(options_.joinDistanceKm, 1.05 * (size + e.sizeKm) / 2);
          // cheap reject first: the latitude difference alone is a lower bound of the distance
          if (std::fabs(e.lat - h.lat) * kKmPerDegLat > limit * 1.01) continue;
          if (distanceKm(h.lat, h.lon, e.lat, e.lon) > limit) continue;
          const Cluster& c = clusters_.at(e.cluster);
          const Member& m = c.members[e.member];
          if (m.timeMs == h.timeMs && std::fabs(m.lat - h.lat) < 1e-5 && std::fabs(m.lon - h.lon) < 1e-5 &&
              m.satellite == h.satellite) {
            dup = true;
            break;
          }
          if (h.timeMs < c.firstMs - options_.joinWindowMs || h.timeMs > c.lastMs + options_.joinWindowMs) continue;
          if (std::find(near.begin(), near.end(), e.cluster) == near.end()) near.push_back(e.cluster);
        }
      }
    }
    if (dup) {
      ++dups;
      continue;
    }
    uint64_t target;
    if (near.empty()) {
      target = nextKey_++;
      Cluster& c = clusters_[target];
      c.key = target;
      c.firstMs = c.lastMs = h.timeMs;
    } else {
      std::sort(near.begin(), near.end());
      target = near[0];
      for (size_t i = 1; i < near.size(); ++i) target = mergeClusters(target, near[i], out, source, receivedMs);
    }
    Cluster& c = clusters_[target];
    if (c.members.size() < options_.maxHotspotsPerCluster) {
      c.members.push_back(Member{h.lat, h.lon, size, h.scanKm, h.trackKm, h.timeMs, h.frpMw, h.satellite});
      indexMember(target, c.members.size() - 1);
      maxSizeKm_ = std::max(maxSizeKm_, size);
    }
    ++c.count;
    c.maxFrp = std::max(c.maxFrp, h.frpMw);
    c.firstMs = std::min(c.firstMs, h.timeMs);
    c.lastMs = std::max(c.lastMs, h.timeMs);
    if (!h.satellite.empty()) c.satellites.insert(h.satellite);
    if (!h.line.empty() && c.original.size() + h.line.size() + 1 <= options_.maxOriginalBytes)
      c.original += h.line + "\n";
    c.touched = true;
  }
  stats_.duplicates += dups;
  stats_.stale += stale;
  using L = adapter::InputProblem::Level;
  if (dups)
    out.problems.push_back({L::warning, std::string(source), "input", "hotspot", std::to_string(dups) + " hotspots",
                            std::to_string(dups) + " hotspot(s) already known (same time, satellite, position) skipped"});
  if (invalid)
    out.problems.push_back({L::error, std::string(source), "input", "hotspot", std::to_string(invalid) + " hotspots",
                            std::to_string(invalid) + " hotspot(s) with position or pixel size out of range skipped"});
  if (stale)
    out.problems.push_back({L::warning, std::string(source), "input", "acq_date", std::to_string(stale) + " hotspots",
                            std::to_string(stale) + " hotspot(s) older than the quiet horizon (" +
                                formatIsoUtc(clockMs_ - options_.quietMs) + ") skipped"});
  evictIfNeeded(out, receivedMs);
  for (auto& [k, c] : clusters_) {
    if (!c.touched) continue;
    c.touched = false;
    if (c.warningId.empty()) {
      size_t need = c.maxFrp < options_.lowFrpMw ? std::max(options_.minHotspots, options_.minHotspotsLowFrp)
                                                  : options_.minHotspots;
      if (c.count >= std::max<size_t>(1, need)) publish(c, header, source, receivedMs, out);
      continue;
    }
    bool grow = double(c.count) >= options_.growthFactor * double(c.pubCount) ||
                (!c.mergedRefs.empty()) ||
                (c.lastMs - c.pubLastMs >= options_.updateMinIntervalMs);
    if (!grow && c.pubAreaKm2 > 0 && c.count > c.pubCount)
      grow = footprint(c.members).areaKm2 >= options_.growthFactor * c.pubAreaKm2;
    if (grow && (c.count > c.pubCount || !c.mergedRefs.empty())) publish(c, header, source, receivedMs, out);
  }
  return out;
}

adapter::Output HotspotClusterer::ingestCsv(std::string_view csv, std::string_view source, int64_t receivedMs) {
  FirmsResult r = parseFirmsCsv(csv, source, receivedMs, options_);
  adapter::Output out;
  out.problems = std::move(r.problems);
  out.accepted = r.accepted;
  out.rejected = r.rejected;
  if (r.layout == FireFormat::unknown) return out;
  out.append(add(r.hotspots, r.header, source, receivedMs));
  return out;
}

adapter::Output HotspotClusterer::tick(int64_t nowMs) {
  adapter::Output out;
  clockMs_ = std::max(clockMs_, nowMs);
  for (auto it = clusters_.begin(); it != clusters_.end();) {
    if (it->second.lastMs + options_.quietMs <= nowMs) {
      if (!it->second.warningId.empty())
        cancel(it->second, "热点群已连续 " + std::to_string(options_.quietMs / 3600000) + " 小时无新增热点，解除",
               nowMs, "clock", out);
      unindexCluster(it->second);
      it = clusters_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

HotspotClusterer::Stats HotspotClusterer::stats() const {
  Stats s = stats_;
  s.liveClusters = clusters_.size();
  s.publishedClusters = 0;
  for (auto& [k, c] : clusters_) s.publishedClusters += !c.warningId.empty();
  return s;
}

std::string HotspotClusterer::saveState() const {
  nlohmann::json j;
  j["version"] = 1;
  j["clockMs"] = clockMs_;
  j["nextKey"] = nextKey_;
  j["header"] = header_;
  j["usedIds"] = usedIdOrder_;
  auto& cl = j["clusters"] = nlohmann::json::array();
  for (auto& [k, c] : clusters_) {
    nlohmann::json o;
    o["key"] = c.key;
    o["count"] = c.count;
    o["maxFrp"] = c.maxFrp;
    o["firstMs"] = c.firstMs;
    o["lastMs"] = c.lastMs;
    o["satellites"] = c.satellites;
    o["original"] = c.original;
    o["warningId"] = c.warningId;
    o["warningSentMs"] = c.warningSentMs;
    o["updates"] = c.updates;
    o["pubCount"] = c.pubCount;
    o["pubAreaKm2"] = c.pubAreaKm2;
    o["pubLastMs"] = c.pubLastMs;
    o["mergedRefs"] = c.mergedRefs;
    auto& ms = o["members"] = nlohmann::json::array();
    for (auto& m : c.members) ms.push_back({m.lat, m.lon, m.scanKm, m.trackKm, m.timeMs, m.frpMw, m.satellite});
    cl.push_back(std::move(o));
  }
  // Invalid UTF-8 cannot reach here (lines come from clipValue-clean or parsed CSV); replace to be safe.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool HotspotClusterer::loadState(std::string_view text, std::string* error) {
  try {
    auto j = nlohmann::json::parse(text.begin(), text.end());
    if (j.at("version").get<int>() != 1) throw std::runtime_error("unsupported state version");
    std::map<uint64_t, Cluster> clusters;
    for (auto& o : j.at("clusters")) {
      Cluster c;
      c.key = o.at("key").get<uint64_t>();
      c.count = o.at("count").get<size_t>();
      c.maxFrp = o.at("maxFrp").get<double>();
      c.firstMs = o.at("firstMs").get<int64_t>();
      c.lastMs = o.at("lastMs").get<int64_t>();
      c.satellites = o.at("satellites").get<std::set<std::string>>();
      c.original = o.at("original").get<std::string>();
      c.warningId = o.at("warningId").get<std::string>();
      c.warningSentMs = o.at("warningSentMs").get<int64_t>();
      c.updates = o.at("updates").get<int>();
      c.pubCount = o.at("pubCount").get<size_t>();
      c.pubAreaKm2 = o.at("pubAreaKm2").get<double>();
      c.pubLastMs = o.at("pubLastMs").get<int64_t>();
      c.mergedRefs = o.at("mergedRefs").get<std::vector<std::pair<std::string, int64_t>>>();
      for (auto& m : o.at("members")) {
        Member mm{m.at(0).get<double>(), m.at(1).get<double>(), 0, m.at(2).get<double>(), m.at(3).get<double>(),
                  m.at(4).get<int64_t>(), m.at(5).get<double>(), m.at(6).get<std::string>()};
        if (!(mm.lat >= -90 && mm.lat <= 90 && mm.lon >= -180 && mm.lon <= 180 && mm.scanKm > 0 && mm.trackKm > 0 &&
              mm.scanKm <= options_.maxPixelKm && mm.trackKm <= options_.maxPixelKm))
          throw std::runtime_error("member out of range in cluster " + std::to_string(c.key));
        mm.sizeKm = std::max(mm.scanKm, mm.trackKm);
        c.members.push_back(std::move(mm));
      }
      if (c.members.empty()) throw std::runtime_error("cluster " + std::to_string(c.key) + " without members");
      clusters[c.key] = std::move(c);
    }
    auto clockMs = j.at("clockMs").get<int64_t>();
    auto nextKey = j.at("nextKey").get<uint64_t>();
    auto header = j.at("header").get<std::string>();
    auto usedIds = j.at("usedIds").get<std::vector<std::string>>();
    clusters_ = std::move(clusters);
    clockMs_ = clockMs;
    nextKey_ = nextKey;
    header_ = std::move(header);
    usedIdOrder_ = std::move(usedIds);
    usedIds_ = std::set<std::string>(usedIdOrder_.begin(), usedIdOrder_.end());
    for (auto& [k, c] : clusters_) nextKey_ = std::max(nextKey_, k + 1);
    rebuildIndex();
    return true;
  } catch (const std::exception& e) {
    if (error) *error = std::string("fire cluster state: ") + e.what();
    return false;
  }
}

}  // namespace alertbus::fire
