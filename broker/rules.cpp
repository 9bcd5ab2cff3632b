// Routing rules: TOML -> validated Rule list -> candidate index. Invariants: an Impl is never modified
// after parse() returns; route() (index + fast matcher) and explain() (naive scan with reasons) give the
// same destinations for every message (checked by tests/unit/broker/rules_test.cpp on random input).
#include "broker/rules.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <unordered_map>

// Boost 1.74: Boost.Math (pulled in by Boost.Geometry) includes a deprecated Boost header that prints a
// "#pragma message" note on every build; this only silences that note.
#define BOOST_ALLOW_DEPRECATED_HEADERS
#include <toml++/toml.h>

#include <boost/geometry.hpp>
#include <boost/geometry/geometries/point_xy.hpp>
#include <boost/geometry/geometries/polygon.hpp>

namespace alertbus {

namespace bg = boost::geometry;

namespace {

using BPoint = bg::model::d2::point_xy<double>;  // x = longitude, y = latitude (degrees), or km after projection
using BPolygon = bg::model::polygon<BPoint>;     // clockwise, closed

// Great-circle kilometres per degree of latitude (mean Earth radius 6371.0 km * pi / 180). Circles are
// evaluated on an equirectangular projection about the circle's centre (a degree of longitude is
// kKmPerDegree * cos(latitude)): within 1% for radii up to a few hundred km away from the poles, which
// is ample for city and county areas. Longitude wrap-around at +-180 is not handled.
constexpr double kKmPerDegree = 111.195;
constexpr double kPi = 3.14159265358979323846;
constexpr int kMinutesPerDay = 24 * 60;
constexpr int kDefaultTzMinutes = 8 * 60;  // "+08:00", China Standard Time

template <typename E>
uint32_t bit(E e) {
  auto v = static_cast<unsigned>(e);
  return v < 32 ? (1u << v) : 0u;
}

struct RulePolygon {
  GeoRing ring;   // as written: [lat, lon] points, closed
  BPolygon poly;  // the same ring in (lon, lat) degrees, orientation corrected
};

struct Rule {
  // Conditions: an empty list / zero mask / zero rank means "no condition". Fields route() reads come
  // first so that a candidate touches few cache lines; the as-written copies for explain() follow.
  uint32_t statusMask = 0, msgTypeMask = 0, kindMask = 0, categoryMask = 0;
  int minSeverity = 0, minColour = 0, minResponseLevel = 0;
  bool hasHours = false;
  bool cont = false;
  int startMinute = 0, endMinute = 0;      // local minutes since midnight; window [start, end), wraps if start > end
  std::vector<uint32_t> to;                // indices into Impl::dests, distinct, in file order
  std::vector<std::string> eventExact;     // codes without '*'
  std::vector<std::string> eventPrefixes;  // "11B0*" -> "11B0"
  std::vector<std::string> areaPrefixes;   // adminPrefix() of each area code
  std::vector<std::string> senders;
  std::vector<RulePolygon> polygons;
  std::vector<GeoCircle> circles;

  std::string name;
  int line = 0;
  std::vector<std::string> statuses, msgTypes, kinds, categories;  // as written
  std::vector<std::string> events;                                 // as written
  std::string minSeverityName, minColourName, minResponseLevelName;
  std::vector<std::string> areaCodes;  // as written
  std::string hours;                   // as written

  bool hasEvents() const { return !eventExact.empty() || !eventPrefixes.empty(); }
  bool hasArea() const { return !areaPrefixes.empty() || !polygons.empty() || !circles.empty(); }
  bool hasConditions() const {
    return statusMask || msgTypeMask || kindMask || categoryMask || !senders.empty() || hasEvents() || minSeverity ||
           minColour || minResponseLevel || hasArea() || hasHours;
  }
};

struct DestInfo {
  Destination dest;
  uint32_t acceptMask = 0;  // bit(schema::Status)
  bool declared = false;    // has a [destinations."..."] table
  int line = 0;
};

const char* typeName(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::array: return "an array";
    case toml::node_type::table: return "a table";
    case toml::node_type::date:
    case toml::node_type::time:
    case toml::node_type::date_time: return "a date/time";
    default: return "nothing";
  }
}

int lineOf(const toml::node& n) { return static_cast<int>(n.source().begin.line); }
int lineOf(const toml::key& k) { return static_cast<int>(k.source().begin.line); }

std::string joinList(const std::vector<std::string>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) s += ", ";
    s += v[i];
  }
  return s + "]";
}

bool isNameChar(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'; }

bool isAgencyName(std::string_view s) {
  if (s.empty() || s.size() > 32) return false;
  return std::all_of(s.begin(), s.end(), isNameChar);
}

// Event code or "prefix*": letters, digits, '_', '.', '-'; '*' only as the last character of a non-empty
// prefix.
bool isEventPattern(std::string_view s, std::string& why) {
  if (s.empty()) {
    why = "is empty";
    return false;
  }
  if (s == "*") {
    why = "matches every event: omit 'event' instead";
    return false;
  }
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '*' && i + 1 == s.size()) break;
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    if (!ok) {
      why = c == '*' ? "'*' is allowed only at the end (\"prefix*\")" : "has a character outside [A-Za-z0-9_.-]";
      return false;
    }
  }
  return true;
}

bool parseDestination(std::string_view s, Destination& d, std::string& why) {
  auto colon = s.find(':');
  if (colon == std::string_view::npos) {
    why = "expected \"outlet:target\", e.g. \"sms:flood-duty-officers\"";
    return false;
  }
  auto outlet = s.substr(0, colon);
  auto target = s.substr(colon + 1);
  if (outlet.empty() || !std::all_of(outlet.begin(), outlet.end(), isNameChar)) {
    why = "outlet '" + std::string(outlet) + "' must match [a-z0-9_-]+";
    return false;
  }
  if (target.empty()) {
    why = "target is empty (\"outlet:target\")";
    return false;
  }
  for (char c : target)
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) {
      why = "target contains whitespace or a control character";
      return false;
    }
  d.outlet = std::string(outlet);
  d.target = std::string(target);
  return true;
}

// "HH:MM" -> minutes; 24:00 only when allowEnd.
bool parseClock(std::string_view s, bool allowEnd, int& minutes) {
  if (s.size() != 5 || s[2] != ':') return false;
  for (int i : {0, 1, 3, 4})
    if (s[i] < '0' || s[i] > '9') return false;
  int h = (s[0] - '0') * 10 + (s[1] - '0');
  int m = (s[3] - '0') * 10 + (s[4] - '0');
  if (m > 59) return false;
  if (h > 23 && !(allowEnd && h == 24 && m == 0)) return false;
  minutes = h * 60 + m;
  return true;
}

bool parseTimezone(std::string_view s, int& minutes) {
  if (s.size() != 6 || (s[0] != '+' && s[0] != '-')) return false;
  int m = 0;
  if (!parseClock(s.substr(1), false, m)) return false;
  if (m > 14 * 60) return false;
  minutes = s[0] == '-' ? -m : m;
  return true;
}

std::string num(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", x);
  return buf;
}

std::string clockText(int minutes) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%02d:%02d", minutes / 60, minutes % 60);
  return buf;
}

int localMinute(int64_t nowMs, int tzMinutes) {
  int64_t m = nowMs / 60000;
  if (nowMs % 60000 < 0) --m;  // floor for times before 1970
  m += tzMinutes;
  int64_t r = m % kMinutesPerDay;
  if (r < 0) r += kMinutesPerDay;
  return static_cast<int>(r);
}

bool inWindow(const Rule& r, int minute) {
  if (r.startMinute < r.endMinute) return minute >= r.startMinute && minute < r.endMinute;
  return minute >= r.startMinute || minute < r.endMinute;  // wraps midnight
}

bool startsWith(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.compare(0, p.size(), p) == 0;
}

// ---- geometry ----

bool toPolygon(const GeoRing& ring, BPolygon& out) {
  out.outer().clear();
  out.inners().clear();
  for (auto& p : ring) out.outer().emplace_back(p.lon, p.lat);
  if (out.outer().size() < 3) return false;
  bg::correct(out);  // closes and orients message rings, which arrive in either orientation
  return true;
}

bool circleTouchesRing(const GeoCircle& c, const GeoRing& ring) {
  thread_local BPolygon projected;
  projected.outer().clear();
  projected.inners().clear();
  const double kx = kKmPerDegree * std::cos(c.center.lat * kPi / 180.0);
  for (auto& p : ring)
    projected.outer().emplace_back((p.lon - c.center.lon) * kx, (p.lat - c.center.lat) * kKmPerDegree);
  if (projected.outer().size() < 3) return false;
  bg::correct(projected);
  return bg::distance(BPoint(0, 0), projected) <= c.radiusKm;  // 0 when the centre is inside
}

bool circlesTouch(const GeoCircle& a, const GeoCircle& b) {
  const double meanLat = (a.center.lat + b.center.lat) / 2 * kPi / 180.0;
  const double dx = (b.center.lon - a.center.lon) * kKmPerDegree * std::cos(meanLat);
  const double dy = (b.center.lat - a.center.lat) * kKmPerDegree;
  return std::sqrt(dx * dx + dy * dy) <= a.radiusKm + b.radiusKm;
}

bool polygonTouchesRing(const RulePolygon& rp, const GeoRing& ring) {
  thread_local BPolygon scratch;
  if (!toPolygon(ring, scratch)) return false;
  return bg::intersects(rp.poly, scratch);
}

// Which part of the area condition matched, for explain(); empty if none.
std::string areaMatch(const Rule& r, const MessageFacts& f, bool wantText) {
  if (!r.areaPrefixes.empty())
    for (auto& code : f.adminCodes) {
      std::string q = adminPrefix(code);
      if (q.empty()) continue;
      for (size_t i = 0; i < r.areaPrefixes.size(); ++i)
        if (startsWith(q, r.areaPrefixes[i]))
          return wantText ? "code " + code + " within " + r.areaCodes[i] : std::string("y");
    }
  for (size_t i = 0; i < r.polygons.size(); ++i) {
    for (size_t j = 0; j < f.polygons.size(); ++j)
      if (polygonTouchesRing(r.polygons[i], f.polygons[j]))
        return wantText ? "message polygon " + std::to_string(j) + " overlaps area_polygons[" + std::to_string(i) + "]"
                        : std::string("y");
    for (size_t j = 0; j < f.circles.size(); ++j)
      if (circleTouchesRing(f.circles[j], r.polygons[i].ring))
        return wantText ? "message circle " + std::to_string(j) + " overlaps area_polygons[" + std::to_string(i) + "]"
                        : std::string("y");
  }
  for (size_t i = 0; i < r.circles.size(); ++i) {
    for (size_t j = 0; j < f.polygons.size(); ++j)
      if (circleTouchesRing(r.circles[i], f.polygons[j]))
        return wantText ? "message polygon " + std::to_string(j) + " overlaps area_circles[" + std::to_string(i) + "]"
                        : std::string("y");
    for (size_t j = 0; j < f.circles.size(); ++j)
      if (circlesTouch(r.circles[i], f.circles[j]))
        return wantText ? "message circle " + std::to_string(j) + " overlaps area_circles[" + std::to_string(i) + "]"
                        : std::string("y");
  }
  return {};
}

// Hot-path area test; `prefixes` are adminPrefix() of the message codes, computed once per message.
bool areaMatches(const Rule& r, const MessageFacts& f, const std::vector<std::string>& prefixes) {
  for (auto& q : prefixes)
    for (auto& p : r.areaPrefixes)
      if (startsWith(q, p)) return true;
  if (r.polygons.empty() && r.circles.empty()) return false;
  return !areaMatch(r, f, false).empty();
}

bool eventMatches(const Rule& r, std::string_view e) {
  for (auto& x : r.eventExact)
    if (x == e) return true;
  for (auto& p : r.eventPrefixes)
    if (startsWith(e, p)) return true;
  return false;
}

// The fast matcher used by route(); explainRule() below is its independent, verbose twin.
bool matches(const Rule& r, const MessageFacts& f, int minute, const std::vector<std::string>& prefixes) {
  if (r.statusMask && !(r.statusMask & bit(f.status))) return false;
  if (r.msgTypeMask && !(r.msgTypeMask & bit(f.msgType))) return false;
  if (r.kindMask && !(r.kindMask & bit(f.kind))) return false;
  if (r.minSeverity && f.severityRank < r.minSeverity) return false;
  if (r.minColour && f.colourRank < r.minColour) return false;
  if (r.minResponseLevel && f.responseLevelRank < r.minResponseLevel) return false;
  if (r.hasHours && !inWindow(r, minute)) return false;
  if (!r.senders.empty() && std::find(r.senders.begin(), r.senders.end(), f.sender) == r.senders.end()) return false;
  if (r.categoryMask) {
    bool any = false;
    for (auto c : f.categories) any = any || (r.categoryMask & bit(c));
    if (!any) return false;
  }
  if (r.hasEvents()) {
    bool any = false;
    for (auto& e : f.events)
      if (eventMatches(r, e)) {
        any = true;
        break;
      }
    if (!any) return false;
  }
  if (r.hasArea() && !areaMatches(r, f, prefixes)) return false;
  return true;
}

std::string yesNo(bool b) { return b ? ": yes" : ": no"; }

// Evaluates every condition of `r` (not stopping at the first failure) and records one reason each.
bool explainRule(const Rule& r, const MessageFacts& f, int minute, std::vector<std::string>& reasons) {
  bool all = true;
  auto note = [&](std::string text, bool ok) {
    reasons.push_back(std::move(text) + yesNo(ok));
    all = all && ok;
  };
  auto inList = [](const std::vector<std::string>& v, std::string_view x) {
    return std::find(v.begin(), v.end(), x) != v.end();
  };
  if (!r.statuses.empty()) {
    auto s = statusName(f.status);
    note("status " + std::string(s) + " in " + joinList(r.statuses), inList(r.statuses, s));
  }
  if (!r.msgTypes.empty()) {
    auto s = msgTypeName(f.msgType);
    note("msg_type " + std::string(s) + " in " + joinList(r.msgTypes), inList(r.msgTypes, s));
  }
  if (!r.kinds.empty()) {
    auto s = kindName(f.kind);
    note("kind " + std::string(s) + " in " + joinList(r.kinds), inList(r.kinds, s));
  }
  if (!r.senders.empty()) note("sender " + f.sender + " in " + joinList(r.senders), inList(r.senders, f.sender));
  if (!r.events.empty()) {
    const std::string* hit = nullptr;
    for (auto& e : f.events) {
      bool ok = false;
      for (auto& pat : r.events)
        ok = ok || (pat.back() == '*' ? startsWith(e, std::string_view(pat).substr(0, pat.size() - 1)) : e == pat);
      if (ok) {
        hit = &e;
        break;
      }
    }
    std::string shown = hit                    ? *hit
                        : f.events.empty()     ? "(none)"
                        : f.events.size() == 1 ? f.events[0]
                                               : joinList(f.events);
    note("event " + shown + " in " + joinList(r.events), hit != nullptr);
  }
  if (!r.categories.empty()) {
    std::vector<std::string> names;
    bool ok = false;
    for (auto c : f.categories) {
      names.emplace_back(categoryName(c));
      ok = ok || inList(r.categories, names.back());
    }
    note("category " + (names.empty() ? std::string("(none)") : joinList(names)) + " in " + joinList(r.categories), ok);
  }
  auto rankName = [](int rank, const std::array<const char*, 5>& names) {
    return rank >= 1 && rank <= 4 ? std::string(names[rank]) : std::string("(none)");
  };
  static const std::array<const char*, 5> kSev{"", "minor", "moderate", "severe", "extreme"};
  static const std::array<const char*, 5> kCol{"", "blue", "yellow", "orange", "red"};
  static const std::array<const char*, 5> kLvl{"", "IV", "III", "II", "I"};
  if (r.minSeverity)
    note("min_severity " + r.minSeverityName + ": message " + rankName(f.severityRank, kSev),
         f.severityRank >= r.minSeverity);
  if (r.minColour)
    note("min_colour " + r.minColourName + ": message " + rankName(f.colourRank, kCol), f.colourRank >= r.minColour);
  if (r.minResponseLevel)
    note("min_response_level " + r.minResponseLevelName + ": message " + rankName(f.responseLevelRank, kLvl),
         f.responseLevelRank >= r.minResponseLevel);
  if (r.hasArea()) {
    std::string hit = areaMatch(r, f, true);
    std::string text = "area";
    if (!r.areaCodes.empty()) text += " codes " + joinList(r.areaCodes);
    if (!r.polygons.empty()) text += " polygons " + std::to_string(r.polygons.size());
    if (!r.circles.empty()) text += " circles " + std::to_string(r.circles.size());
    if (hit.empty())
      text += " vs message codes " + joinList(f.adminCodes) + ", " + std::to_string(f.polygons.size()) +
              " polygon(s), " + std::to_string(f.circles.size()) + " circle(s)";
    else
      text += ": " + hit;
    note(std::move(text), !hit.empty());
  }
  if (r.hasHours) note("hours " + r.hours + ": local " + clockText(minute), inWindow(r, minute));
  if (reasons.empty()) reasons.push_back("no conditions: matches every message");
  return all;
}

// ---- parsing ----

class Errors {
 public:
  explicit Errors(std::string_view file) : file_(file) {}
  void add(int line, std::string reason) { list_.push_back({file_, line, std::move(reason)}); }
  bool any() const { return !list_.empty(); }
  size_t count() const { return list_.size(); }
  // Appends to `out` ordered by line (toml++ tables iterate keys alphabetically, not in file order).
  void flushTo(std::vector<RuleError>& out) {
    std::stable_sort(list_.begin(), list_.end(),
                     [](const RuleError& a, const RuleError& b) { return a.line < b.line; });
    out.insert(out.end(), list_.begin(), list_.end());
  }

 private:
  std::string file_;
  std::vector<RuleError> list_;
};

struct Str {
  std::string value;
  int line;
};

// An array of strings. Reports a wrong type, a non-string element, or (unless allowEmpty) an empty array.
bool readStrings(const toml::node& n, const std::string& what, Errors& errs, std::vector<Str>& out,
                 const char* emptyHint) {
  auto* arr = n.as_array();
  if (!arr) {
    errs.add(lineOf(n), what + " must be an array of strings, got " + typeName(n));
    return false;
  }
  if (arr->empty() && emptyHint) {
    errs.add(lineOf(n), what + " must not be empty (" + emptyHint + ")");
    return false;
  }
  bool ok = true;
  for (auto& e : *arr) {
    if (auto* s = e.as_string())
      out.push_back({s->get(), lineOf(e)});
    else {
      errs.add(lineOf(e), what + ": element must be a string, got " + typeName(e));
      ok = false;
    }
  }
  return ok;
}

const char* kStatusNames = "actual, exercise, system, test, draft";
const char* kMsgTypeNames = "alert, update, cancel, ack, error";
const char* kKindNames = "warning, forecast, observation, sitrep, instruction, fused_alert, ack";
const char* kCategoryNames = "geo, met, safety, security, rescue, fire, health, env, transport, infra, cbrne, other";

bool readNumber(const toml::node& n, double& v) {
  if (!n.is_number()) return false;
  v = *n.value<double>();
  return true;
}

// [lat, lon] with range checks.
bool readPoint(const toml::node& n, const std::string& what, Errors& errs, GeoPoint& p) {
  auto* arr = n.as_array();
  double lat = 0, lon = 0;
  if (!arr || arr->size() != 2 || !readNumber(*arr->get(0), lat) || !readNumber(*arr->get(1), lon)) {
    errs.add(lineOf(n), what + " must be a [lat, lon] pair of numbers");
    return false;
  }
  bool ok = true;
  if (!(lat >= -90 && lat <= 90)) {
    errs.add(lineOf(n), what + ": latitude " + num(lat) + " out of range -90..90");
    ok = false;
  }
  if (!(lon >= -180 && lon <= 180)) {
    errs.add(lineOf(n), what + ": longitude " + num(lon) + " out of range -180..180");
    ok = false;
  }
  p = {lat, lon};
  return ok;
}

// ---- candidate index ----
//
// Every rule is filed under one "signature": one indexed dimension (event, area code, sender, kind) or a
// pair of them, e.g. (area, event). Its bucket keys are 64-bit hashes of the signature and of every
// combination of its values in those dimensions ("330212" x "typhoon", "330212" x "11B0*", ...). For a
// message, route() hashes the message's values the same way (every event, every prefix of every event at
// a length some rule uses, every prefix of every area code at a length some rule uses, the sender, the
// kind) and looks up each combination for each signature in use. A rule can only match a message that
// shares a value with it in every dimension of its signature, so the hit buckets hold a superset of the
// matching rules (a hash collision only adds a candidate); the full matcher then decides, in file order.

enum Dim : unsigned { kEventDim, kAreaDim, kSenderDim, kKindDim, kDimCount };

uint64_t mix(uint64_t x) {  // splitmix64 finaliser
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}
uint64_t atomOf(char tag, std::string_view s) {
  return mix(std::hash<std::string_view>{}(s) ^ (static_cast<uint64_t>(static_cast<unsigned char>(tag)) << 56));
}
uint64_t kindAtom(unsigned k) { return mix(0x4b00000000000000ull | k); }
// Signature: d1 == d2 for a single dimension, d1 < d2 for a pair; `b` is 0 for a single dimension.
unsigned signature(unsigned d1, unsigned d2) { return d1 * kDimCount + d2; }
uint64_t bucketKey(unsigned sig, uint64_t a, uint64_t b) {
  return mix(mix(a ^ (0x9e3779b97f4a7c15ull * (sig + 1))) + b);
}

// Prior probability that a message carries a given value, used only to choose a rule's signature:
// exact event codes are specific, event prefixes name families, an area prefix is as likely as its
// level is coarse (province 1, city 1/8, county 1/64, town 1/512, village 1/4096).
double areaPrior(size_t prefixLength) {
  switch (prefixLength) {
    case 4: return 1.0 / 8;
    case 6: return 1.0 / 64;
    case 9: return 1.0 / 512;
    case 12: return 1.0 / 4096;
    default: return 1.0;
  }
}

}  // namespace

std::string RuleError::str() const {
  if (line <= 0) return file + ": " + reason;
  return file + ":" + std::to_string(line) + ": " + reason;
}

struct RuleSet::Impl {
  std::string file;        // as given to parse(), for warnings()
  int tzMinutes = kDefaultTzMinutes;
  std::vector<Rule> rules;
  // The cheap conditions of rules[i], packed so that rejecting a candidate touches 24 bytes instead of a
  // Rule and its heap strings (10,000 Rules do not fit in L2; 10,000 heads do).
  struct Head {
    uint32_t statusMask, msgTypeMask, kindMask, categoryMask;
    uint8_t minSeverity, minColour, minResponseLevel;
    bool hasHours;
    int16_t startMinute, endMinute;
  };
  std::vector<Head> heads;
  std::vector<DestInfo> dests;
  std::vector<std::string> outlets;

  // bucketKey -> rule indices: an open-addressing table (linear probing, power-of-two size, at most half
  // full) over one flat array of indices, so a lookup is one or two cache misses. Key 0 marks a free
  // slot; a real key of 0 is stored as 1 (a collision only adds candidates).
  struct Slot {
    uint64_t key = 0;
    uint32_t begin = 0, count = 0;
  };
  std::vector<Slot> slots;
  std::vector<uint32_t> bucketRules;
  uint32_t signatures = 0;                 // bit signature(d1, d2) set if some rule uses it
  std::vector<size_t> eventPrefixLengths;  // distinct lengths of rules' event prefixes, ascending
  std::vector<size_t> areaPrefixLengths;   // distinct lengths of rules' area-code prefixes, ascending
  std::vector<uint32_t> residual;          // rules with no indexable condition

  // Per-thread scratch for one route() call: no allocation per message once warm.
  struct Scratch {
    std::array<std::vector<uint64_t>, kDimCount> atoms;
    std::vector<std::string> areaPrefixes;  // adminPrefix() of each message code (<= 12 chars: no heap)
    std::vector<uint32_t> candidates;
    std::vector<uint32_t> seen;
  };

  static uint64_t storedKey(uint64_t key) { return key ? key : 1; }
  // The slot holding `key`, or the free slot where it would go.
  size_t slotFor(uint64_t key) const {
    const uint64_t k = storedKey(key);
    const size_t mask = slots.size() - 1;
    size_t at = static_cast<size_t>(k) & mask;
    while (slots[at].key != 0 && slots[at].key != k) at = (at + 1) & mask;
    return at;
  }
  void compile();
  void gather(const MessageFacts& f, Scratch& s) const;
};

void RuleSet::Impl::compile() {
  heads.reserve(rules.size());
  for (auto& r : rules)
    heads.push_back({r.statusMask, r.msgTypeMask, r.kindMask, r.categoryMask, static_cast<uint8_t>(r.minSeverity),
                     static_cast<uint8_t>(r.minColour), static_cast<uint8_t>(r.minResponseLevel), r.hasHours,
                     static_cast<int16_t>(r.startMinute), static_cast<int16_t>(r.endMinute)});
  auto addLength = [](std::vector<size_t>& v, size_t n) {
    if (std::find(v.begin(), v.end(), n) == v.end()) v.push_back(n);
  };
  for (auto& r : rules) {
    for (auto& p : r.eventPrefixes) addLength(eventPrefixLengths, p.size());
    for (auto& p : r.areaPrefixes) addLength(areaPrefixLengths, p.size());
  }
  std::sort(eventPrefixLengths.begin(), eventPrefixLengths.end());
  std::sort(areaPrefixLengths.begin(), areaPrefixLengths.end());

  std::array<std::vector<uint64_t>, kDimCount> atoms;
  std::array<double, kDimCount> prior{};
  std::unordered_map<uint64_t, std::vector<uint32_t>> buckets;
  for (uint32_t i = 0; i < rules.size(); ++i) {
    const Rule& r = rules[i];
    for (auto& a : atoms) a.clear();
    prior.fill(0);
    for (auto& e : r.eventExact) atoms[kEventDim].push_back(atomOf('E', e)), prior[kEventDim] += 1.0 / 16;
    for (auto& p : r.eventPrefixes) atoms[kEventDim].push_back(atomOf('P', p)), prior[kEventDim] += 1.0 / 4;
    // Codes alone only: with polygons or circles a message can match without any code.
    if (r.polygons.empty() && r.circles.empty())
      for (auto& p : r.areaPrefixes) atoms[kAreaDim].push_back(atomOf('A', p)), prior[kAreaDim] += areaPrior(p.size());
    for (auto& s : r.senders) atoms[kSenderDim].push_back(atomOf('S', s)), prior[kSenderDim] += 1.0 / 4;
    for (unsigned k = 0; k < 8; ++k)
      if (r.kindMask & (1u << k)) atoms[kKindDim].push_back(kindAtom(k)), prior[kKindDim] += 1.0 / 4;

    // The cheapest signature by expected hit rate; ties prefer a single dimension (fewer keys).
    double best = 2.0;
    unsigned bestD1 = kDimCount, bestD2 = kDimCount;
    for (unsigned d1 = 0; d1 < kDimCount; ++d1) {
      if (atoms[d1].empty()) continue;
      double p1 = std::min(1.0, prior[d1]);
      if (p1 < best) best = p1, bestD1 = bestD2 = d1;
      for (unsigned d2 = d1 + 1; d2 < kDimCount; ++d2) {
        if (atoms[d2].empty()) continue;
        double p = p1 * std::min(1.0, prior[d2]);
        if (p < best) best = p, bestD1 = d1, bestD2 = d2;
      }
    }
    if (bestD1 == kDimCount) {
      residual.push_back(i);
      continue;
    }
    unsigned sig = signature(bestD1, bestD2);
    signatures |= 1u << sig;
    for (uint64_t a : atoms[bestD1]) {
      if (bestD1 == bestD2) {
        buckets[storedKey(bucketKey(sig, a, 0))].push_back(i);
        continue;
      }
      for (uint64_t b : atoms[bestD2]) buckets[storedKey(bucketKey(sig, a, b))].push_back(i);
    }
  }
  size_t capacity = 16;
  while (capacity < 2 * buckets.size()) capacity *= 2;
  slots.assign(capacity, Slot{});
  for (auto& [key, list] : buckets) {
    size_t at = slotFor(key);
    slots[at] = {storedKey(key), static_cast<uint32_t>(bucketRules.size()), static_cast<uint32_t>(list.size())};
    bucketRules.insert(bucketRules.end(), list.begin(), list.end());
  }
  // Rule indices went in ascending; a rule listed twice under one key (two colliding values) is harmless:
  // gather() de-duplicates.
}

void RuleSet::Impl::gather(const MessageFacts& f, Scratch& s) const {
  for (auto& a : s.atoms) a.clear();
  auto& ev = s.atoms[kEventDim];
  for (auto& e : f.events) {
    ev.push_back(atomOf('E', e));
    for (size_t len : eventPrefixLengths) {
      if (len > e.size()) break;
      ev.push_back(atomOf('P', std::string_view(e).substr(0, len)));
    }
  }
  auto& ar = s.atoms[kAreaDim];
  for (auto& q : s.areaPrefixes)
    for (size_t len : areaPrefixLengths) {
      if (len > q.size()) break;
      ar.push_back(atomOf('A', std::string_view(q).substr(0, len)));
    }
  std::sort(ar.begin(), ar.end());  // a district and its towns share the city prefix
  ar.erase(std::unique(ar.begin(), ar.end()), ar.end());
  s.atoms[kSenderDim].push_back(atomOf('S', f.sender));
  s.atoms[kKindDim].push_back(kindAtom(static_cast<unsigned>(f.kind)));

  auto& cand = s.candidates;
  cand.assign(residual.begin(), residual.end());
  auto add = [&](uint64_t key) {
    const Slot& slot = slots[slotFor(key)];
    if (slot.key == 0) return;
    auto first = bucketRules.begin() + slot.begin;
    cand.insert(cand.end(), first, first + slot.count);
  };
  for (unsigned d1 = 0; d1 < kDimCount; ++d1)
    for (unsigned d2 = d1; d2 < kDimCount; ++d2) {
      unsigned sig = signature(d1, d2);
      if (!(signatures & (1u << sig))) continue;
      for (uint64_t a : s.atoms[d1]) {
        if (d1 == d2) {
          add(bucketKey(sig, a, 0));
          continue;
        }
        for (uint64_t b : s.atoms[d2]) add(bucketKey(sig, a, b));
      }
    }
  std::sort(cand.begin(), cand.end());
  cand.erase(std::unique(cand.begin(), cand.end()), cand.end());
}

RuleSet::RuleSet(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RuleSet::~RuleSet() = default;
size_t RuleSet::size() const { return impl_->rules.size(); }
std::vector<std::string> RuleSet::outlets() const { return impl_->outlets; }

std::vector<RuleError> RuleSet::warnings() const {
  const Impl& im = *impl_;
  auto lets = [](const Rule& r, schema::MsgType t) { return r.msgTypeMask == 0 || (r.msgTypeMask & bit(t)) != 0; };
  // Destinations some rule lets a cancel through to (whatever its other conditions: this is advice).
  std::vector<bool> getsCancels(im.dests.size(), false);
  for (auto& r : im.rules)
    if (lets(r, schema::MsgType::CANCEL))
      for (uint32_t d : r.to) getsCancels[d] = true;
  std::vector<RuleError> out;
  for (auto& r : im.rules) {
    if (!lets(r, schema::MsgType::ALERT) || lets(r, schema::MsgType::CANCEL)) continue;
    std::string stranded;
    for (uint32_t d : r.to)
      if (!getsCancels[d]) stranded += (stranded.empty() ? "" : ", ") + im.dests[d].dest.str();
    if (stranded.empty()) continue;
    out.push_back({im.file, r.line,
                   "rule '" + r.name + "' lets alerts through to " + stranded +
                       " but no rule lets their cancels through (msg_type " + joinList(r.msgTypes) +
                       "): a cancel reaches them only by following an original this broker journaled; add "
                       "\"cancel\" to msg_type"});
  }
  return out;
}

void RuleSet::route(const MessageFacts& facts, int64_t nowMs, std::vector<Destination>& out) const {
  thread_local Impl::Scratch s;
  const Impl& im = *impl_;
  s.areaPrefixes.clear();
  for (auto& code : facts.adminCodes) {
    std::string q = adminPrefix(code);
    if (!q.empty()) s.areaPrefixes.push_back(std::move(q));
  }
  im.gather(facts, s);
  s.seen.clear();
  const int minute = localMinute(nowMs, im.tzMinutes);
  const uint32_t status = bit(facts.status);
  size_t n = 0;
  uint32_t categories = 0;
  for (auto c : facts.categories) categories |= bit(c);
  const uint32_t msgType = bit(facts.msgType), kind = bit(facts.kind);
  for (uint32_t idx : s.candidates) {
    const Impl::Head& h = im.heads[idx];
    if ((h.statusMask && !(h.statusMask & status)) || (h.msgTypeMask && !(h.msgTypeMask & msgType)) ||
        (h.kindMask && !(h.kindMask & kind)) || (h.categoryMask && !(h.categoryMask & categories)) ||
        facts.severityRank < h.minSeverity || facts.colourRank < h.minColour ||
        facts.responseLevelRank < h.minResponseLevel)
      continue;
    if (h.hasHours) {
      bool in = h.startMinute < h.endMinute ? minute >= h.startMinute && minute < h.endMinute
                                            : minute >= h.startMinute || minute < h.endMinute;
      if (!in) continue;
    }
    const Rule& r = im.rules[idx];
    if (!matches(r, facts, minute, s.areaPrefixes)) continue;
    for (uint32_t d : r.to) {
      if (!(im.dests[d].acceptMask & status)) continue;
      if (std::find(s.seen.begin(), s.seen.end(), d) != s.seen.end()) continue;
      s.seen.push_back(d);
      // Assign into existing elements so a reused `out` keeps its string buffers.
      if (n < out.size())
        out[n] = im.dests[d].dest;
      else
        out.push_back(im.dests[d].dest);
      ++n;
    }
    if (!r.cont) break;
  }
  out.resize(n);
}

std::vector<RuleVerdict> RuleSet::explain(const MessageFacts& facts, int64_t nowMs,
                                          std::vector<Destination>& out) const {
  const Impl& im = *impl_;
  out.clear();
  std::vector<RuleVerdict> verdicts;
  verdicts.reserve(im.rules.size());
  const int minute = localMinute(nowMs, im.tzMinutes);
  bool stopped = false;
  for (auto& r : im.rules) {
    RuleVerdict v;
    v.name = r.name;
    v.line = r.line;
    if (stopped) {
      v.evaluated = false;
      verdicts.push_back(std::move(v));
      continue;
    }
    v.matched = explainRule(r, facts, minute, v.reasons);
    if (v.matched) {
      for (uint32_t d : r.to) {
        const DestInfo& di = im.dests[d];
        if (!(di.acceptMask & bit(facts.status))) {
          v.refused.push_back(di.dest.str());
          continue;
        }
        if (std::find(out.begin(), out.end(), di.dest) == out.end()) out.push_back(di.dest);
      }
      if (!r.cont) stopped = true;
    }
    verdicts.push_back(std::move(v));
  }
  return verdicts;
}

namespace {

struct Parser {
  Errors& errs;
  RuleSet::Impl& im;
  std::map<std::string, uint32_t, std::less<>> destIndex;

  uint32_t destination(const Destination& d, int line) {
    std::string key = d.str();
    auto it = destIndex.find(key);
    if (it != destIndex.end()) return it->second;
    DestInfo di;
    di.dest = d;
    di.acceptMask = bit(schema::Status::ACTUAL);  // default: live traffic only
    di.line = line;
    im.dests.push_back(std::move(di));
    return destIndex[key] = static_cast<uint32_t>(im.dests.size() - 1);
  }

  void parseDestinations(const toml::node& n) {
    auto* tbl = n.as_table();
    if (!tbl) {
      errs.add(lineOf(n),
               "destinations must be a table ([destinations.\"outlet:target\"]), got " + std::string(typeName(n)));
      return;
    }
    for (auto&& [k, v] : *tbl) {
      std::string name(k.str());
      std::string why;
      Destination d;
      if (!parseDestination(name, d, why)) {
        errs.add(lineOf(k), "destinations.\"" + name + "\": " + why);
        continue;
      }
      auto* dt = v.as_table();
      if (!dt) {
        errs.add(lineOf(v), "destinations.\"" + name + "\" must be a table, got " + typeName(v));
        continue;
      }
      uint32_t idx = destination(d, lineOf(k));
      im.dests[idx].declared = true;
      for (auto&& [dk, dv] : *dt) {
        if (dk.str() != "accept_status") {
          errs.add(lineOf(dk), "destinations.\"" + name + "\": unknown key '" + std::string(dk.str()) +
                                   "' (allowed: accept_status)");
          continue;
        }
        std::vector<Str> list;
        if (!readStrings(dv, "destinations.\"" + name + "\": accept_status", errs, list,
                         "omit it to accept actual traffic only"))
          continue;
        uint32_t mask = 0;
        for (auto& s : list) {
          schema::Status st;
          if (!parseStatus(s.value, st))
            errs.add(s.line, "destinations.\"" + name + "\": accept_status: unknown status '" + s.value +
                                 "' (allowed: " + kStatusNames + ")");
          else
            mask |= bit(st);
        }
        im.dests[idx].acceptMask = mask;
      }
    }
  }

  // Enum list condition: names parsed by `parse` into a mask.
  template <typename E, typename F>
  void enumList(const toml::node& v, const std::string& what, const char* allowed, F parse,
                std::vector<std::string>& names, uint32_t& mask) {
    std::vector<Str> list;
    if (!readStrings(v, what, errs, list, "omit the key to match any")) return;
    for (auto& s : list) {
      E e;
      if (!parse(s.value, e)) {
        errs.add(s.line, what + ": unknown value '" + s.value + "' (allowed: " + allowed + ")");
        continue;
      }
      names.push_back(s.value);
      mask |= bit(e);
    }
  }

  void rank(const toml::node& v, const std::string& what, const char* allowed, bool (*parse)(std::string_view, int&),
            int& out, std::string& name) {
    auto* s = v.as_string();
    if (!s) {
      errs.add(lineOf(v), what + " must be a string, got " + typeName(v));
      return;
    }
    if (!parse(s->get(), out)) {
      errs.add(lineOf(v), what + ": unknown value '" + s->get() + "' (allowed: " + allowed + ")");
      return;
    }
    name = s->get();
  }

  void polygons(const toml::node& v, const std::string& what, Rule& r) {
    auto* arr = v.as_array();
    if (!arr || arr->empty()) {
      errs.add(lineOf(v), what + " must be a non-empty array of rings, each an array of [lat, lon] points");
      return;
    }
    for (size_t i = 0; i < arr->size(); ++i) {
      const toml::node& rn = *arr->get(i);
      std::string rw = what + "[" + std::to_string(i) + "]";
      auto* ring = rn.as_array();
      if (!ring) {
        errs.add(lineOf(rn), rw + " must be an array of [lat, lon] points, got " + typeName(rn));
        continue;
      }
      RulePolygon rp;
      bool ok = true;
      for (size_t j = 0; j < ring->size(); ++j) {
        GeoPoint p;
        if (readPoint(*ring->get(j), rw + "[" + std::to_string(j) + "]", errs, p))
          rp.ring.push_back(p);
        else
          ok = false;
      }
      if (!ok) continue;
      if (rp.ring.size() < 4) {
        errs.add(lineOf(rn),
                 rw + ": a ring needs at least 4 points (a closed triangle), got " + std::to_string(rp.ring.size()));
        continue;
      }
      if (rp.ring.front().lat != rp.ring.back().lat || rp.ring.front().lon != rp.ring.back().lon) {
        errs.add(lineOf(rn), rw + ": ring not closed (first point != last point)");
        continue;
      }
      toPolygon(rp.ring, rp.poly);
      r.polygons.push_back(std::move(rp));
    }
  }

  void circles(const toml::node& v, const std::string& what, Rule& r) {
    auto* arr = v.as_array();
    if (!arr || arr->empty()) {
      errs.add(lineOf(v), what + " must be a non-empty array of {lat, lon, radius_km} tables");
      return;
    }
    for (size_t i = 0; i < arr->size(); ++i) {
      const toml::node& cn = *arr->get(i);
      std::string cw = what + "[" + std::to_string(i) + "]";
      auto* ct = cn.as_table();
      if (!ct) {
        errs.add(lineOf(cn), cw + " must be a table {lat = .., lon = .., radius_km = ..}, got " + typeName(cn));
        continue;
      }
      GeoCircle c;
      bool ok = true, hasLat = false, hasLon = false, hasRadius = false;
      for (auto&& [k, cv] : *ct) {
        double x = 0;
        std::string key(k.str());
        if (key != "lat" && key != "lon" && key != "radius_km") {
          errs.add(lineOf(k), cw + ": unknown key '" + key + "' (allowed: lat, lon, radius_km)");
          ok = false;
          continue;
        }
        if (!readNumber(cv, x)) {
          errs.add(lineOf(cv), cw + ": " + key + " must be a number, got " + typeName(cv));
          ok = false;
          continue;
        }
        if (key == "lat") {
          hasLat = true;
          c.center.lat = x;
          if (!(x >= -90 && x <= 90)) {
            errs.add(lineOf(cv), cw + ": latitude " + num(x) + " out of range -90..90");
            ok = false;
          }
        } else if (key == "lon") {
          hasLon = true;
          c.center.lon = x;
          if (!(x >= -180 && x <= 180)) {
            errs.add(lineOf(cv), cw + ": longitude " + num(x) + " out of range -180..180");
            ok = false;
          }
        } else {
          hasRadius = true;
          c.radiusKm = x;
          if (!(x >= 0) || std::isinf(x)) {
            errs.add(lineOf(cv), cw + ": radius_km " + num(x) + " must be a finite number >= 0");
            ok = false;
          }
        }
      }
      for (auto [has, key] : {std::pair{hasLat, "lat"}, {hasLon, "lon"}, {hasRadius, "radius_km"}})
        if (!has) {
          errs.add(lineOf(cn), cw + ": missing key '" + std::string(key) + "'");
          ok = false;
        }
      if (ok) r.circles.push_back(c);
    }
  }

  // Parses one [[rule]] table into `r`; records whether `name` and `to` were present for the cross-field pass.
  void parseRule(const toml::table& t, size_t index, Rule& r, bool& hasTo, bool& hasName) {
    r.line = lineOf(t);
    std::string label = "rule[" + std::to_string(index) + "]";
    if (auto* nn = t.get("name"); nn && nn->is_string()) label = "rule '" + nn->as_string()->get() + "'";
    for (auto&& [k, v] : t) {
      std::string key(k.str());
      std::string what = label + ": " + key;
      if (key == "name") {
        hasName = true;
        auto* s = v.as_string();
        if (!s || s->get().empty())
          errs.add(lineOf(v), what + " must be a non-empty string, got " +
                                  (s ? std::string("an empty string") : std::string(typeName(v))));
        else
          r.name = s->get();
      } else if (key == "status") {
        enumList<schema::Status>(v, what, kStatusNames, parseStatus, r.statuses, r.statusMask);
      } else if (key == "msg_type") {
        enumList<schema::MsgType>(v, what, kMsgTypeNames, parseMsgType, r.msgTypes, r.msgTypeMask);
      } else if (key == "kind") {
        enumList<Kind>(v, what, kKindNames, parseKind, r.kinds, r.kindMask);
      } else if (key == "category") {
        enumList<schema::Category>(v, what, kCategoryNames, parseCategory, r.categories, r.categoryMask);
      } else if (key == "sender") {
        std::vector<Str> list;
        if (readStrings(v, what, errs, list, "omit the key to match any"))
          for (auto& s : list) {
            if (!isAgencyName(s.value))
              errs.add(s.line, what + ": agency name '" + s.value + "' must match [a-z0-9_-]{1,32}");
            else
              r.senders.push_back(s.value);
          }
      } else if (key == "event") {
        std::vector<Str> list;
        if (readStrings(v, what, errs, list, "omit the key to match any"))
          for (auto& s : list) {
            std::string why;
            if (!isEventPattern(s.value, why)) {
              errs.add(s.line, what + ": event '" + s.value + "' " + why);
              continue;
            }
            r.events.push_back(s.value);
            if (s.value.back() == '*')
              r.eventPrefixes.push_back(s.value.substr(0, s.value.size() - 1));
            else
              r.eventExact.push_back(s.value);
          }
      } else if (key == "min_severity") {
        rank(v, what, "minor, moderate, severe, extreme", parseSeverityRank, r.minSeverity, r.minSeverityName);
      } else if (key == "min_colour") {
        rank(v, what, "blue, yellow, orange, red", parseColourRank, r.minColour, r.minColourName);
      } else if (key == "min_response_level") {
        rank(v, what, "IV, III, II, I", parseResponseLevelRank, r.minResponseLevel, r.minResponseLevelName);
      } else if (key == "area_codes") {
        std::vector<Str> list;
        if (readStrings(v, what, errs, list, "omit the key to match any area"))
          for (auto& s : list) {
            std::string p = adminPrefix(s.value);
            if (p.empty()) {
              errs.add(s.line, what + ": '" + s.value + "' is not a 6- or 12-digit GB/T 2260 code");
              continue;
            }
            r.areaCodes.push_back(s.value);
            r.areaPrefixes.push_back(std::move(p));
          }
      } else if (key == "area_polygons") {
        polygons(v, what, r);
      } else if (key == "area_circles") {
        circles(v, what, r);
      } else if (key == "hours") {
        auto* s = v.as_string();
        if (!s) {
          errs.add(lineOf(v), what + " must be a string \"HH:MM-HH:MM\", got " + typeName(v));
          continue;
        }
        const std::string& h = s->get();
        int a = 0, b = 0;
        if (h.size() != 11 || h[5] != '-' || !parseClock(std::string_view(h).substr(0, 5), false, a) ||
            !parseClock(std::string_view(h).substr(6), true, b)) {
          errs.add(lineOf(v), what + ": '" + h + "' is not \"HH:MM-HH:MM\" (00:00..23:59, end may be 24:00)");
          continue;
        }
        if (a == b % kMinutesPerDay) {
          errs.add(lineOf(v), what + ": '" + h + "' is an empty window (start == end); omit 'hours' for all day");
          continue;
        }
        r.hasHours = true;
        r.startMinute = a;
        r.endMinute = b;
        r.hours = h;
      } else if (key == "to") {
        hasTo = true;
        std::vector<Str> list;
        if (!readStrings(v, what, errs, list, "a rule must route somewhere")) continue;
        for (auto& s : list) {
          Destination d;
          std::string why;
          if (!parseDestination(s.value, d, why)) {
            errs.add(s.line, what + ": '" + s.value + "': " + why);
            continue;
          }
          uint32_t idx = destination(d, s.line);
          if (std::find(r.to.begin(), r.to.end(), idx) == r.to.end()) r.to.push_back(idx);
        }
      } else if (key == "continue") {
        auto* b = v.as_boolean();
        if (!b)
          errs.add(lineOf(v), what + " must be true or false, got " + typeName(v));
        else
          r.cont = b->get();
      } else {
        errs.add(lineOf(k), label + ": unknown key '" + key +
                                "' (allowed: name, status, msg_type, kind, sender, event, category, min_severity, "
                                "min_colour, min_response_level, area_codes, area_polygons, area_circles, hours, "
                                "to, continue)");
      }
    }
  }
};

}  // namespace

std::shared_ptr<const RuleSet> RuleSet::parse(std::string_view tomlText, std::string_view fileName,
                                              std::vector<RuleError>& errors) {
  Errors errs(fileName);
  toml::table root;
  try {
    root = toml::parse(tomlText, fileName);
  } catch (const toml::parse_error& e) {
    errs.add(static_cast<int>(e.source().begin.line), "TOML syntax error: " + std::string(e.description()));
    errs.flushTo(errors);
    return nullptr;
  }
  auto im = std::make_unique<Impl>();
  im->file = std::string(fileName);
  Parser p{errs, *im, {}};

  // Destinations first, so their accept_status is known whatever the key order.
  if (auto* d = root.get("destinations")) p.parseDestinations(*d);
  for (auto&& [k, v] : root) {
    std::string key(k.str());
    if (key == "timezone") {
      auto* s = v.as_string();
      if (!s)
        errs.add(lineOf(v), "timezone must be a string like \"+08:00\", got " + std::string(typeName(v)));
      else if (!parseTimezone(s->get(), im->tzMinutes))
        errs.add(lineOf(v), "timezone '" + s->get() + "' is not a UTC offset \"+HH:MM\" or \"-HH:MM\" (at most 14:00)");
    } else if (key != "destinations" && key != "rule") {
      errs.add(lineOf(k), "unknown key '" + key + "' (allowed at top level: timezone, destinations, rule)");
    }
  }

  struct Seen {
    bool hasTo = false, hasName = false;
    bool clean = true;  // no error inside the rule: cross-field checks on its conditions would only cascade
  };
  std::vector<Seen> seen;
  if (auto* rn = root.get("rule")) {
    auto* arr = rn->as_array();
    if (!arr || (!arr->empty() && !arr->is_array_of_tables())) {
      errs.add(lineOf(*rn), "rule must be an array of tables: write each rule as [[rule]]");
    } else {
      im->rules.reserve(arr->size());
      seen.resize(arr->size());
      for (size_t i = 0; i < arr->size(); ++i) {
        im->rules.emplace_back();
        size_t before = errs.count();
        p.parseRule(*arr->get(i)->as_table(), i, im->rules.back(), seen[i].hasTo, seen[i].hasName);
        seen[i].clean = errs.count() == before;
      }
    }
  }

  // Cross-field pass.
  std::map<std::string, int, std::less<>> names;
  for (size_t i = 0; i < im->rules.size(); ++i) {
    Rule& r = im->rules[i];
    std::string label = r.name.empty() ? "rule[" + std::to_string(i) + "]" : "rule '" + r.name + "'";
    if (!seen[i].hasName) errs.add(r.line, label + ": missing required key 'name'");
    if (!r.name.empty()) {
      auto [it, fresh] = names.emplace(r.name, r.line);
      if (!fresh)
        errs.add(r.line, label + ": duplicate rule name (first defined at line " + std::to_string(it->second) + ")");
    }
    if (!seen[i].hasTo) errs.add(r.line, label + ": missing required key 'to' (\"outlet:target\" destinations)");
    if (!seen[i].clean) continue;
    if (r.statusMask && !r.to.empty()) {
      uint32_t accepted = 0;
      for (uint32_t d : r.to) accepted |= im->dests[d].acceptMask;
      for (auto& s : r.statuses) {
        schema::Status st;
        if (parseStatus(s, st) && !(accepted & bit(st)))
          errs.add(r.line, label + ": status " + s + " is accepted by none of its destinations " +
                               "(set accept_status under [destinations.\"outlet:target\"])");
      }
    }
    if (!r.hasConditions() && !r.cont && i + 1 < im->rules.size())
      errs.add(r.line, label + ": has no conditions and continue = false, so every rule after it (from line " +
                           std::to_string(im->rules[i + 1].line) + ") is unreachable");
  }

  if (errs.any()) {
    errs.flushTo(errors);
    return nullptr;
  }
  for (auto& d : im->dests)
    if (std::find(im->outlets.begin(), im->outlets.end(), d.dest.outlet) == im->outlets.end())
      im->outlets.push_back(d.dest.outlet);
  std::sort(im->outlets.begin(), im->outlets.end());
  im->compile();
  return std::make_shared<const RuleSet>(std::move(im));
}

std::shared_ptr<const RuleSet> RuleSet::parseFile(const std::string& path, std::vector<RuleError>& errors) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    errors.push_back({path, 0, std::string("cannot open: ") + std::strerror(errno)});
    return nullptr;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) {
    errors.push_back({path, 0, "read error"});
    return nullptr;
  }
  return parse(ss.str(), path, errors);
}

}  // namespace alertbus
