// Routing benchmark: RuleSet::route() over 10,000 rules against a naive linear scan of the same rules in
// the same run. Rules and messages are generated deterministically for a province of coastal cities
// (GB/T 2260 codes 33xxxx, towns 33xxxx0NN000). Also checks that both give identical destinations;
// exits 1 on any mismatch. Usage: bench_rules [rules=10000] [messages=10000]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <sstream>
#include <string>
#include <vector>

// Boost 1.74: Boost.Math (pulled in by Boost.Geometry) includes a deprecated Boost header that prints a
// "#pragma message" note on every build; this only silences that note.
#define BOOST_ALLOW_DEPRECATED_HEADERS
#include <boost/geometry.hpp>
#include <boost/geometry/geometries/point_xy.hpp>
#include <boost/geometry/geometries/polygon.hpp>

#include "broker/rules.h"

using namespace alertbus;
namespace bg = boost::geometry;

namespace {

using Clock = std::chrono::steady_clock;
using BPoint = bg::model::d2::point_xy<double>;
using BPolygon = bg::model::polygon<BPoint>;

constexpr double kKmPerDegree = 111.195;
constexpr double kPi = 3.14159265358979323846;
constexpr int64_t kDayMs = 1719792000000LL;  // 2024-07-01T00:00Z

// The benchmark's own view of a rule: what the generator wrote, evaluated by the naive scan.
struct SpecRule {
  std::string name;
  std::vector<std::string> statuses, kinds, senders, events, codes, to;
  int minColour = 0, minLevel = 0;
  std::vector<GeoRing> polygons;
  std::vector<GeoCircle> circles;
  int startMin = -1, endMin = -1;
  bool cont = false;
};

const std::vector<std::string> kFamilies{
    "typhoon", "rainstorm",   "gale",  "storm-surge", "river-level",  "reservoir-level", "forest-fire",
    "fire",    "hazmat-leak", "heat",  "fog",         "thunderstorm", "landslide",       "11B01",
    "11B03",   "11B06",       "11B09", "11B14",       "11B17"};
const std::vector<std::string> kColours{"", "blue", "yellow", "orange", "red"};
const std::vector<std::string> kLevels{"", "IV", "III", "II", "I"};

std::string cityCode(int city) { return "33" + std::string(city < 10 ? "0" : "") + std::to_string(city) + "00"; }
std::string districtCode(int city, int d) {
  char b[8];
  std::snprintf(b, sizeof b, "33%02d%02d", city, d);
  return b;
}
std::string townCode(const std::string& district, int t) {
  char b[16];
  std::snprintf(b, sizeof b, "%s%03d000", district.c_str(), t);
  return b;
}

struct World {
  std::mt19937 rng{42};
  std::vector<std::string> districts;  // 11 cities x 8 districts
  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); }
  bool coin(double p) { return std::bernoulli_distribution(p)(rng); }
  template <typename T>
  const T& any(const std::vector<T>& v) {
    return v[pick(static_cast<int>(v.size()))];
  }
  World() {
    for (int c = 1; c <= 11; ++c)
      for (int d : {2, 3, 4, 5, 6, 11, 12, 81}) districts.push_back(districtCode(c, d));
  }
  std::string town() { return townCode(any(districts), 1 + pick(25)); }
  std::vector<std::string> someEvents(int maxN) {
    std::vector<std::string> e;
    for (int i = 1 + pick(maxN); i > 0; --i) e.push_back(any(kFamilies));
    return e;
  }
};

std::vector<SpecRule> makeRules(World& w, int n) {
  std::vector<SpecRule> rules;
  SpecRule drill;
  drill.name = "drills";
  drill.statuses = {"exercise", "test"};
  drill.to = {"dashboard:training-desk"};
  rules.push_back(drill);
  for (int i = 0; (int)rules.size() < n; ++i) {
    SpecRule r;
    r.name = "rule-" + std::to_string(i);
    r.cont = !w.coin(0.03);
    int type = w.pick(100);
    if (type < 45) {  // town duty officers for one or two hazard families
      std::string t = w.town();
      r.events = w.someEvents(2);
      r.codes = {t};
      r.minColour = w.pick(4);
      r.to = {"sms:town-" + t + "-duty"};
    } else if (type < 65) {  // district desks
      std::string d = w.any(w.districts);
      r.events = w.someEvents(3);
      r.codes = {d};
      if (w.coin(0.5)) r.kinds = {"warning", "fused_alert"};
      r.to = {"dashboard:district-" + d, "sms:district-" + d + "-" + r.events[0]};
    } else if (type < 78) {  // agency feeds to city desks
      r.senders = {w.any(std::vector<std::string>{"met", "water", "fire", "maritime"})};
      r.kinds = {w.any(std::vector<std::string>{"warning", "observation", "sitrep"})};
      if (w.coin(0.5)) r.events = {w.any(std::vector<std::string>{"11B0*", "11B1*", "river*", "fire*"})};
      r.codes = {cityCode(1 + w.pick(11))};
      r.to = {"dashboard:city-" + r.codes[0]};
    } else if (type < 88) {  // city-wide groups by level
      r.events = w.someEvents(1);
      r.minColour = 2 + w.pick(3);
      r.codes = {cityCode(1 + w.pick(11))};
      r.to = {"sms:" + r.events[0] + "-leaders-" + r.codes[0]};
    } else if (type < 95) {  // fused alerts by response level
      r.kinds = {"fused_alert"};
      r.minLevel = 1 + w.pick(4);
      r.codes = {w.any(w.districts)};
      r.to = {"sms:response-" + r.codes[0]};
    } else if (type < 99) {  // night duty
      r.events = w.someEvents(2);
      r.codes = {w.any(w.districts)};
      r.startMin = 20 * 60;
      r.endMin = 8 * 60;
      r.to = {"sms:night-" + r.codes[0]};
    } else {  // geometry: a reservoir circle or a low-lying polygon
      r.events = w.someEvents(2);
      double lat = 28.0 + w.pick(300) / 100.0, lon = 119.0 + w.pick(300) / 100.0;
      if (w.coin(0.5))
        r.circles = {{{lat, lon}, 5.0 + w.pick(20)}};
      else
        r.polygons = {{{lat, lon}, {lat, lon + 0.1}, {lat - 0.1, lon + 0.1}, {lat - 0.1, lon}, {lat, lon}}};
      r.to = {"sms:geo-" + std::to_string(i)};
    }
    rules.push_back(std::move(r));
  }
  SpecRule last;
  last.name = "everything-else";
  last.to = {"dashboard:province-desk"};
  rules.push_back(last);
  return rules;
}

std::string quoteList(const std::vector<std::string>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", \"" : "\"") + v[i] + "\"";
  return s + "]";
}

std::string toToml(const std::vector<SpecRule>& rules) {
  std::ostringstream o;
  o << "timezone = \"+08:00\"\n[destinations.\"dashboard:training-desk\"]\n"
       "accept_status = [\"actual\", \"exercise\", \"test\"]\n";
  for (auto& r : rules) {
    o << "[[rule]]\nname = \"" << r.name << "\"\n";
    if (!r.statuses.empty()) o << "status = " << quoteList(r.statuses) << "\n";
    if (!r.kinds.empty()) o << "kind = " << quoteList(r.kinds) << "\n";
    if (!r.senders.empty()) o << "sender = " << quoteList(r.senders) << "\n";
    if (!r.events.empty()) o << "event = " << quoteList(r.events) << "\n";
    if (!r.codes.empty()) o << "area_codes = " << quoteList(r.codes) << "\n";
    if (r.minColour) o << "min_colour = \"" << kColours[r.minColour] << "\"\n";
    if (r.minLevel) o << "min_response_level = \"" << kLevels[r.minLevel] << "\"\n";
    for (auto& c : r.circles)
      o << "area_circles = [{lat = " << c.center.lat << ", lon = " << c.center.lon << ", radius_km = " << c.radiusKm
        << "}]\n";
    for (auto& p : r.polygons) {
      o << "area_polygons = [[";
      for (size_t i = 0; i < p.size(); ++i) o << (i ? ", [" : "[") << p[i].lat << ", " << p[i].lon << "]";
      o << "]]\n";
    }
    if (r.startMin >= 0) o << "hours = \"20:00-08:00\"\n";
    o << "to = " << quoteList(r.to) << "\ncontinue = " << (r.cont ? "true" : "false") << "\n";
  }
  return o.str();
}

std::vector<MessageFacts> makeMessages(World& w, int n) {
  std::vector<MessageFacts> out;
  for (int i = 0; i < n; ++i) {
    MessageFacts f;
    f.id = "m" + std::to_string(i);
    f.status = w.coin(0.95) ? schema::Status::ACTUAL : schema::Status::EXERCISE;
    f.msgType = schema::MsgType::ALERT;
    int k = w.pick(100);
    f.kind = k < 50   ? Kind::warning
             : k < 75 ? Kind::observation
             : k < 85 ? Kind::fusedAlert
             : k < 95 ? Kind::sitrep
                      : Kind::instruction;
    f.sender =
        f.kind == Kind::fusedAlert ? "fusion" : w.any(std::vector<std::string>{"met", "water", "fire", "maritime"});
    f.events = {w.any(kFamilies)};
    f.colourRank = f.severityRank = w.pick(5);
    if (f.kind == Kind::fusedAlert || f.kind == Kind::instruction) f.responseLevelRank = 1 + w.pick(4);
    std::string d = w.any(w.districts);
    f.adminCodes.push_back(d);
    for (int t = w.pick(4); t > 0; --t) f.adminCodes.push_back(townCode(d, 1 + w.pick(25)));
    if (w.coin(0.05)) {
      double lat = 28.0 + w.pick(300) / 100.0, lon = 119.0 + w.pick(300) / 100.0;
      f.polygons.push_back({{lat, lon}, {lat, lon + 0.2}, {lat + 0.2, lon + 0.2}, {lat + 0.2, lon}, {lat, lon}});
    }
    if (w.coin(0.05)) f.circles.push_back({{28.0 + w.pick(300) / 100.0, 119.0 + w.pick(300) / 100.0}, 10.0});
    out.push_back(std::move(f));
  }
  return out;
}

// ---- the naive matcher: every rule, every condition, no index ----

std::string prefixOf(const std::string& code) { return adminPrefix(code); }

bool circleNearRing(const GeoCircle& c, const GeoRing& ring) {
  BPolygon p;
  double kx = kKmPerDegree * std::cos(c.center.lat * kPi / 180);
  for (auto& q : ring) p.outer().emplace_back((q.lon - c.center.lon) * kx, (q.lat - c.center.lat) * kKmPerDegree);
  bg::correct(p);
  return bg::distance(BPoint(0, 0), p) <= c.radiusKm;
}
BPolygon degrees(const GeoRing& ring) {
  BPolygon p;
  for (auto& q : ring) p.outer().emplace_back(q.lon, q.lat);
  bg::correct(p);
  return p;
}

bool naiveMatch(const SpecRule& r, const MessageFacts& f, int localMin) {
  auto in = [](const std::vector<std::string>& v, std::string_view x) {
    return std::find(v.begin(), v.end(), x) != v.end();
  };
  if (!r.statuses.empty() && !in(r.statuses, statusName(f.status))) return false;
  if (!r.kinds.empty() && !in(r.kinds, kindName(f.kind))) return false;
  if (!r.senders.empty() && !in(r.senders, f.sender)) return false;
  if (!r.events.empty()) {
    bool any = false;
    for (auto& e : f.events)
      for (auto& p : r.events)
        any = any || (p.back() == '*' ? e.compare(0, p.size() - 1, p, 0, p.size() - 1) == 0 && e.size() >= p.size() - 1
                                      : e == p);
    if (!any) return false;
  }
  if (r.minColour && f.colourRank < r.minColour) return false;
  if (r.minLevel && f.responseLevelRank < r.minLevel) return false;
  if (r.startMin >= 0 && !(localMin >= r.startMin || localMin < r.endMin)) return false;
  if (!r.codes.empty() || !r.polygons.empty() || !r.circles.empty()) {
    bool any = false;
    for (auto& c : f.adminCodes)
      for (auto& rc : r.codes) any = any || prefixOf(c).rfind(prefixOf(rc), 0) == 0;
    for (auto& rp : r.polygons) {
      for (auto& mp : f.polygons) any = any || bg::intersects(degrees(rp), degrees(mp));
      for (auto& mc : f.circles) any = any || circleNearRing(mc, rp);
    }
    for (auto& rc : r.circles) {
      for (auto& mp : f.polygons) any = any || circleNearRing(rc, mp);
      for (auto& mc : f.circles) {
        double dx =
            (mc.center.lon - rc.center.lon) * kKmPerDegree * std::cos((mc.center.lat + rc.center.lat) / 2 * kPi / 180);
        double dy = (mc.center.lat - rc.center.lat) * kKmPerDegree;
        any = any || std::sqrt(dx * dx + dy * dy) <= rc.radiusKm + mc.radiusKm;
      }
    }
    if (!any) return false;
  }
  return true;
}

void naiveRoute(const std::vector<SpecRule>& rules, const MessageFacts& f, int64_t nowMs,
                std::vector<std::string>& out) {
  out.clear();
  int localMin = static_cast<int>(((nowMs / 60000 + 8 * 60) % 1440 + 1440) % 1440);
  for (auto& r : rules) {
    if (!naiveMatch(r, f, localMin)) continue;
    for (auto& d : r.to) {
      bool accepts = d == "dashboard:training-desk"
                         ? f.status != schema::Status::DRAFT && f.status != schema::Status::SYSTEM
                         : f.status == schema::Status::ACTUAL;
      if (accepts && std::find(out.begin(), out.end(), d) == out.end()) out.push_back(d);
    }
    if (!r.cont) break;
  }
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5))];
}

}  // namespace

int main(int argc, char** argv) {
  int nRules = argc > 1 ? std::atoi(argv[1]) : 10000;
  int nMessages = argc > 2 ? std::atoi(argv[2]) : 10000;
  World world;
  auto spec = makeRules(world, nRules);
  std::string text = toToml(spec);
  std::vector<RuleError> errors;
  auto t0 = Clock::now();
  auto rs = RuleSet::parse(text, "bench.toml", errors);
  double parseMs = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  if (!rs) {
    for (auto& e : errors) std::fprintf(stderr, "%s\n", e.str().c_str());
    return 1;
  }
  auto messages = makeMessages(world, nMessages);
  std::vector<int64_t> times;
  for (int i = 0; i < nMessages; ++i) times.push_back(kDayMs + world.pick(24 * 60) * 60000LL);

  // Correctness first: route() must equal the naive scan for every message.
  std::vector<Destination> out;
  std::vector<std::string> naive;
  size_t mismatches = 0, delivered = 0;
  for (int i = 0; i < nMessages; ++i) {
    rs->route(messages[i], times[i], out);
    naiveRoute(spec, messages[i], times[i], naive);
    std::vector<std::string> got;
    for (auto& d : out) got.push_back(d.str());
    if (got != naive) ++mismatches;
    delivered += got.size();
  }

  // route(): three timed passes over all messages, one sample per call.
  std::vector<double> ns;
  ns.reserve(3 * nMessages);
  for (int pass = 0; pass < 3; ++pass)
    for (int i = 0; i < nMessages; ++i) {
      auto a = Clock::now();
      rs->route(messages[i], times[i], out);
      ns.push_back(std::chrono::duration<double, std::nano>(Clock::now() - a).count());
    }
  // Naive scan baseline: a subset of messages (each call walks every rule).
  int nNaive = std::min(nMessages, 1000);
  std::vector<double> naiveNs;
  for (int i = 0; i < nNaive; ++i) {
    auto a = Clock::now();
    naiveRoute(spec, messages[i], times[i], naive);
    naiveNs.push_back(std::chrono::duration<double, std::nano>(Clock::now() - a).count());
  }
  // explain(): the same naive scan plus a reason string per condition, as `alertbus rules test` runs it.
  int nExplain = std::min(nMessages, 200);
  std::vector<double> explainNs;
  for (int i = 0; i < nExplain; ++i) {
    auto a = Clock::now();
    auto v = rs->explain(messages[i], times[i], out);
    explainNs.push_back(std::chrono::duration<double, std::nano>(Clock::now() - a).count());
  }

  double med = percentile(ns, 0.5), p99 = percentile(ns, 0.99);
  double naiveMed = percentile(naiveNs, 0.5);
  std::printf("rules_bench: parsed+compiled %d rules in %.0f ms; %.1f destinations/msg; %zu mismatches vs naive\n",
              static_cast<int>(rs->size()), parseMs, double(delivered) / nMessages, mismatches);
  std::printf(
      "rules_bench: route %d rules: median %.2f us/msg (p99 %.2f us); naive scan baseline: %.0f us/msg; ratio %.4f\n",
      static_cast<int>(rs->size()), med / 1000, p99 / 1000, naiveMed / 1000, med / naiveMed);
  std::printf("rules_bench: explain() (naive scan with reasons): median %.0f us/msg\n",
              percentile(explainNs, 0.5) / 1000);
  return mismatches == 0 ? 0 : 1;
}
