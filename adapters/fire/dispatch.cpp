// 119 dispatch JSON -> warnings and sitreps; see dispatch.h for the format and the mapping. Records are cut out
// of the input by a byte scanner (bounded depth and size) before nlohmann parses each one; nlohmann exceptions
// are caught per record, so nothing throws past ingest().
#include "adapters/fire/dispatch.h"
#include "model/decode_util.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "model/validate.h"
#include "schemas/message.capnp.h"

namespace alertbus::fire {
namespace {

using json = nlohmann::json;
using L = adapter::InputProblem::Level;

capnp::Text::Reader txt(const std::string& s) { return capnp::Text::Reader(s.c_str(), s.size()); }

struct EventMap {
  const char* word;
  const char* code;
};
const EventMap kEvents[] = {
    {"building-fire", "fire"}, {"residential-fire", "fire"}, {"factory-fire", "fire"}, {"warehouse-fire", "fire"},
    {"vehicle-fire", "fire"},  {"ship-fire", "fire"},        {"grass-fire", "fire"},   {"fire", "fire"},
    {"other-fire", "fire"},    {"建筑火灾", "fire"},          {"火灾", "fire"},          {"车辆火灾", "fire"},
    {"forest-fire", "forest-fire"}, {"wildfire", "forest-fire"}, {"mountain-fire", "forest-fire"},
    {"森林火灾", "forest-fire"}, {"山火", "forest-fire"},
    {"hazmat", "hazmat"}, {"chemical-leak", "hazmat"}, {"gas-leak", "hazmat"}, {"explosion", "hazmat"},
    {"危化品泄漏", "hazmat"}, {"危险化学品", "hazmat"}, {"燃气泄漏", "hazmat"}, {"爆炸", "hazmat"},
    {"rescue", "rescue"}, {"traffic", "rescue"}, {"traffic-accident", "rescue"}, {"water-rescue", "rescue"},
    {"collapse", "rescue"}, {"elevator", "rescue"}, {"flood-rescue", "rescue"}, {"抢险救援", "rescue"},
    {"交通事故", "rescue"}, {"水域救援", "rescue"}, {"坍塌", "rescue"}};

const char* const kStatuses[] = {"reported", "dispatched", "on-scene", "controlled", "extinguished", "closed",
                                 "false-alarm"};
const char* const kStatusZh[] = {"接警", "已出动", "到场处置", "已控制", "已扑灭", "已结案", "误报"};
const char* const kLevelZh[] = {"一级", "二级", "三级", "四级", "五级"};
const char* const kKnownKeys[] = {"id", "updateNumber", "type", "position", "adminCode", "address", "alarmLevel",
                                  "reportedAt", "status", "statusAt", "resources", "casualties", "narrative"};
const char* const kCasualtyKeys[] = {"injured", "dead", "missing", "trapped", "rescued", "evacuated"};

bool isClosing(const std::string& s) { return s == "extinguished" || s == "closed" || s == "false-alarm"; }

std::string statusZh(const std::string& s) {
  for (size_t i = 0; i < std::size(kStatuses); ++i)
    if (s == kStatuses[i]) return kStatusZh[i];
  return s;
}

std::string eventZh(const std::string& code) {
  if (code == "fire") return "火灾";
  if (code == "forest-fire") return "森林火灾";
  if (code == "hazmat") return "危险化学品事故";
  return "抢险救援";
}

std::string valueText(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  return v.dump(-1, ' ', false, json::error_handler_t::replace);
}

// Text for a message: C0 controls (other than tab/newline) and DEL become '?', cut at a UTF-8 boundary.
std::string cleanText(const std::string& s, size_t maxBytes, bool* cut) {
  std::string r = s;
  for (auto& c : r)
    if ((static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) c = '?';
  *cut = false;
  if (r.size() > maxBytes) {
    size_t n = maxBytes;
    while (n > 0 && (static_cast<unsigned char>(r[n]) & 0xc0) == 0x80) --n;
    r.resize(n);
    *cut = true;
  }
  return r;
}

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  return h;
}

bool validId(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
          c == ':' || c == '-'))
      return false;
  return true;
}

bool validAdminCode(const std::string& s) {
  if (s.size() != 6 && s.size() != 12) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

bool asCount(const json& v, uint32_t& out) {
  if (v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0)) {
    uint64_t n = v.get<uint64_t>();
    if (n > 1000000) return false;
    out = uint32_t(n);
    return true;
  }
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (d >= 0 && d <= 1000000 && d == std::floor(d)) return out = uint32_t(d), true;
  }
  return false;
}

struct Slice {
  std::string_view bytes;
  size_t line;   // 1-based line of the record start
  bool tooDeep;
  bool unterminated;
};

// Splits the input into top-level records: each top-level object; each element of a top-level array.
// Garbage at the top level becomes a Slice starting at that byte up to the line end (parsed -> error).
std::vector<Slice> splitRecords(std::string_view s, int maxDepth) {
  std::vector<Slice> out;
  size_t i = 0, line = 1;
  auto skipWs = [&] {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n' || s[i] == ',')) {
      if (s[i] == '\n') ++line;
      ++i;
    }
  };
  // Scans one JSON value starting at i (object, array, string, scalar); returns end (exclusive).
  auto scanValue = [&](size_t& maxSeen, bool& unterminated) {
    int depth = 0;
    bool inStr = false, esc = false;
    size_t j = i;
    maxSeen = 0;
    unterminated = false;
    if (s[j] != '{' && s[j] != '[' && s[j] != '"') {  // scalar or garbage: up to , ] } or line end
      while (j < s.size() && s[j] != ',' && s[j] != ']' && s[j] != '}' && s[j] != '\n') ++j;
      return std::max(j, i + 1);
    }
    for (; j < s.size(); ++j) {
      char c = s[j];
      if (c == '\n') ++line;
      if (inStr) {
        if (esc) esc = false;
        else if (c == '\\') esc = true;
        else if (c == '"') {
          inStr = false;
          if (depth == 0) return j + 1;
        }
        continue;
      }
      if (c == '"') inStr = true;
      else if (c == '{' || c == '[') maxSeen = std::max<size_t>(maxSeen, size_t(++depth));
      else if (c == '}' || c == ']') {
        if (--depth <= 0) return j + 1;
      }
    }
    unterminated = true;
    return s.size();
  };
  // JSON Lines: the first value is an object on one line and more follows: every non-blank line is one record,
  // so a broken line cannot swallow the lines after it.
  skipWs();
  if (i < s.size() && s[i] == '{') {
    size_t save = i, saveLine = line, maxSeen;
    bool unterminated;
    size_t e = scanValue(maxSeen, unterminated);
    bool oneLine = s.substr(save, e - save).find('\n') == std::string_view::npos;
    i = e;
    skipWs();
    bool more = i < s.size();
    i = save;
    line = saveLine;
    if (oneLine && more && !unterminated) {
      size_t b = 0, n = 1;
      while (b < s.size()) {
        size_t nl = s.find('\n', b);
        if (nl == std::string_view::npos) nl = s.size();
        std::string_view ln = s.substr(b, nl - b);
        size_t f = ln.find_first_not_of(" \t\r");
        if (f != std::string_view::npos) {
          ln = ln.substr(f);
          while (!ln.empty() && (ln.back() == '\r' || ln.back() == ' ' || ln.back() == '\t')) ln.remove_suffix(1);
          out.push_back({ln, n, jsonDepth(ln) > maxDepth, false});
        }
        b = nl + 1;
        ++n;
      }
      return out;
    }
  }
  while (true) {
    skipWs();
    if (i >= s.size()) break;
    if (s[i] == '[') {  // array of records: split its elements
      ++i;
      while (true) {
        skipWs();
        if (i >= s.size()) {
          out.push_back({s.substr(s.size()), line, false, true});
          break;
        }
        if (s[i] == ']') {
          ++i;
          break;
        }
        size_t startLine = line, maxSeen;
        bool unterminated;
        size_t e = scanValue(maxSeen, unterminated);
        out.push_back({s.substr(i, e - i), startLine, int(maxSeen) + 1 > maxDepth, unterminated});
        i = e;
      }
      continue;
    }
    size_t startLine = line, maxSeen;
    bool unterminated;
    size_t e = scanValue(maxSeen, unterminated);
    out.push_back({s.substr(i, e - i), startLine, int(maxSeen) > maxDepth, unterminated});
    i = e;
  }
  return out;
}

struct Report {
  std::string id, type, eventCode, status, adminCode, address, narrative;
  int64_t updateNumber = -1;
  int alarmLevel = 0;
  int64_t reportedMs = 0, statusMs = 0;
  bool hasPosition = false;
  double lat = 0, lon = 0;
  std::vector<std::pair<std::string, uint32_t>> resources;
  uint32_t casualties[6] = {0, 0, 0, 0, 0, 0};  // as kCasualtyKeys
};

struct Built {
  std::unique_ptr<capnp::MallocMessageBuilder> mb = std::make_unique<capnp::MallocMessageBuilder>();
  schema::Message::Builder m = mb->initRoot<schema::Message>();
};

void fillArea(schema::Area::Builder area, const Report& r, const FireOptions& o) {
  std::string desc = !r.address.empty() ? r.address : !r.adminCode.empty() ? r.adminCode : "";
  if (desc.empty()) {
    char b[64];
    snprintf(b, sizeof b, "%.5f,%.5f", r.lat, r.lon);
    desc = b;
  }
  area.setDescription(txt(desc));
  area.setAltitudeM(std::nan(""));
  area.setCeilingM(std::nan(""));
  if (r.hasPosition) {
    auto c = area.initCircles(1)[0];
    c.initCenter().setLat(r.lat);
    c.getCenter().setLon(r.lon);
    c.setRadiusKm(o.alarmRadiusKm[std::clamp(r.alarmLevel, 1, 5) - 1]);
  }
  if (!r.adminCode.empty()) area.initAdminCodes(1).set(0, txt(r.adminCode));
}

}  // namespace

DispatchTracker::DispatchTracker(FireOptions options) : options_(std::move(options)) {
  for (double& r : options_.alarmRadiusKm)  // validateMessage refuses radii outside 0..20000 km
    if (!(r >= 0 && r <= 20000)) r = 0;
  options_.maxIncidents = std::max<size_t>(1, options_.maxIncidents);
}

adapter::Output DispatchTracker::ingest(std::string_view input, std::string_view source, int64_t receivedMs) {
  adapter::Output out;
  auto err = [&](std::string pos, std::string field, std::string_view value, std::string reason) {
    out.problems.push_back({L::error, std::string(source), std::move(pos), std::move(field), clipValue(value),
                            std::move(reason)});
    ++out.rejected;
  };
  if (input.size() > options_.maxInputBytes) {
    err("input", "input", std::to_string(input.size()) + " bytes",
        "input larger than maxInputBytes " + std::to_string(options_.maxInputBytes));
    return out;
  }
  if (input.size() >= 3 && input.substr(0, 3) == "\xEF\xBB\xBF") input.remove_prefix(3);
  auto slices = splitRecords(input, options_.maxJsonDepth);
  if (slices.empty()) {
    err("input", "input", "", "empty input (no JSON record)");
    return out;
  }
  for (size_t k = 0; k < slices.size(); ++k) {
    const auto& sl = slices[k];
    std::string pos = "record " + std::to_string(k + 1) + " (line " + std::to_string(sl.line) + ")";
    if (k >= options_.maxRecords) {
      err(pos, "input", "", "more than maxRecords " + std::to_string(options_.maxRecords) +
                                " records; the rest of the input is rejected");
      out.rejected += slices.size() - k - 1;
      break;
    }
    if (sl.bytes.size() > options_.maxLineBytes) {
      err(pos, "record", sl.bytes.substr(0, 60),
          "record of " + std::to_string(sl.bytes.size()) + " bytes longer than maxLineBytes");
      continue;
    }
    if (sl.tooDeep) {
      err(pos, "record", sl.bytes.substr(0, 60),
          "JSON nested deeper than " + std::to_string(options_.maxJsonDepth) + " levels");
      continue;
    }
    if (sl.unterminated) {
      err(pos, "record", sl.bytes.substr(0, 60), "unterminated JSON value at end of input");
      continue;
    }
    out.append(applyRecord(sl.bytes, pos, source, receivedMs));
  }
  return out;
}

adapter::Output DispatchTracker::applyRecord(std::string_view bytes, const std::string& pos, std::string_view source,
                                             int64_t receivedMs) {
  adapter::Output out;
  bool failed = false;
  auto err = [&](std::string field, std::string_view value, std::string reason) {
    out.problems.push_back({L::error, std::string(source), pos, std::move(field), clipValue(value), std::move(reason)});
    out.rejected = 1;
    failed = true;
  };
  auto fail = [&](std::string field, std::string_view value, std::string reason) -> adapter::Output {
    err(std::move(field), value, std::move(reason));
    return std::move(out);
  };
  auto warn = [&](std::string field, std::string_view value, std::string reason) {
    out.problems.push_back(
        {L::warning, std::string(source), pos, std::move(field), clipValue(value), std::move(reason)});
  };
  json j;
  try {
    j = json::parse(bytes.begin(), bytes.end());
  } catch (const json::exception& e) {
    err("record", bytes.substr(0, 60), std::string("malformed JSON: ") + clipValue(e.what()));
    return out;
  }
  if (!j.is_object()) {
    err("record", bytes.substr(0, 60), std::string("a dispatch report must be a JSON object, not ") + j.type_name());
    return out;
  }
  {
    auto t = j.find("type");
    if (t != j.end() && t->is_string() && (*t == "FeatureCollection" || *t == "Feature")) {
      err("type", t->get<std::string>(), "unsupported format (GeoJSON " + t->get<std::string>() + ")");
      return out;
    }
    bool any = false;
    for (const char* k : kKnownKeys) any = any || j.contains(k);
    if (!any) {
      std::string keys;
      size_t n = 0;
      for (auto it = j.begin(); it != j.end() && n < 8; ++it, ++n) keys += (keys.empty() ? "" : ", ") + it.key();
      err("record", bytes.substr(0, 60),
          "unsupported format (JSON object with keys " + clipValue(keys) + "; not a 119 dispatch report)");
      return out;
    }
  }
  Report r;
  auto need = [&](const char* key) -> const json* {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) {
      err(key, "", std::string(key) + " is required");
      return nullptr;
    }
    return &*it;
  };
  auto timeField = [&](const char* key, const json& v, int64_t& ms) {
    if (!v.is_string() || !parseIsoTime(v.get<std::string>(), ms)) {
      err(key, valueText(v), std::string(key) + " '" + clipValue(valueText(v)) +
                                 "' is not ISO 8601 with a UTC offset (e.g. 2026-07-28T09:15:00+08:00)");
      return false;
    }
    if (ms > receivedMs + options_.maxFutureMs) {
      err(key, v.get<std::string>(), std::string(key) + " " + formatIsoUtc(ms) + " is in the future (received " +
                                         formatIsoUtc(receivedMs) + ")");
      return false;
    }
    return true;
  };
  // id
  if (auto v = need("id")) {
    if (v->is_string()) r.id = v->get<std::string>();
    else if (v->is_number_unsigned()) r.id = std::to_string(v->get<uint64_t>());
    if (!validId(r.id)) err("id", valueText(*v), "id '" + clipValue(valueText(*v)) + "' is not [A-Za-z0-9._:-]{1,64}");
  }
  if (failed) return out;
  if (auto it = j.find("updateNumber"); it != j.end() && !it->is_null()) {
    uint32_t n;
    if (!asCount(*it, n)) return fail("updateNumber", valueText(*it), "updateNumber '" + clipValue(valueText(*it)) +
                                                                         "' is not an integer 0..1000000");
    r.updateNumber = n;
  }
  if (auto v = need("type")) {
    std::string t = v->is_string() ? v->get<std::string>() : "";
    for (auto& e : kEvents)
      if (t == e.word) r.eventCode = e.code;
    if (r.eventCode.empty())
      err("type", valueText(*v), "type '" + clipValue(valueText(*v)) +
                                     "' is not a known incident type (fire, forest-fire, hazmat or rescue kinds)");
    r.type = t;
  }
  if (failed) return out;
  if (auto v = need("alarmLevel")) {
    int lv = 0;
    if (v->is_number_integer()) lv = int(std::clamp<int64_t>(v->get<int64_t>(), -1, 99));
    else if (v->is_string()) {
      std::string s = v->get<std::string>();
      for (int i = 0; i < 5; ++i)
        if (s == std::to_string(i + 1) || s == kLevelZh[i] || s == std::string(kLevelZh[i]) + "火警") lv = i + 1;
    }
    if (lv < 1 || lv > 5)
      err("alarmLevel", valueText(*v), "alarmLevel '" + clipValue(valueText(*v)) + "' is not 1..5 (一级..五级)");
    r.alarmLevel = lv;
  }
  if (failed) return out;
  if (auto v = need("reportedAt")) timeField("reportedAt", *v, r.reportedMs);
  if (failed) return out;
  if (auto v = need("status")) {
    std::string s = v->is_string() ? v->get<std::string>() : "";
    for (auto& c : s) {
      if (c == '_' || c == ' ') c = '-';
      if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
    }
    if (std::find(std::begin(kStatuses), std::end(kStatuses), s) == std::end(kStatuses))
      err("status", valueText(*v), "status '" + clipValue(valueText(*v)) +
                                       "' is not reported/dispatched/on-scene/controlled/extinguished/closed/false-alarm");
    r.status = s;
  }
  if (failed) return out;
  r.statusMs = r.reportedMs;
  if (auto it = j.find("statusAt"); it != j.end() && !it->is_null())
    if (!timeField("statusAt", *it, r.statusMs)) return out;
  if (auto it = j.find("position"); it != j.end() && !it->is_null()) {
    const json& p = *it;
    auto lat = p.is_object() ? p.find("lat") : p.end(), lon = p.is_object() ? p.find("lon") : p.end();
    if (!p.is_object() || lat == p.end() || lon == p.end() || !lat->is_number() || !lon->is_number())
      return fail("position", valueText(p), "position must be {\"lat\": degrees, \"lon\": degrees}");
    r.lat = lat->get<double>();
    r.lon = lon->get<double>();
    if (!(r.lat >= -90 && r.lat <= 90))
      return fail("position.lat", valueText(*lat), "latitude " + valueText(*lat) + " out of range -90..90");
    if (!(r.lon >= -180 && r.lon <= 180))
      return fail("position.lon", valueText(*lon), "longitude " + valueText(*lon) + " out of range -180..180");
    r.hasPosition = true;
    for (auto pi = p.begin(); pi != p.end(); ++pi)
      if (pi.key() != "lat" && pi.key() != "lon")
        warn("position." + clipValue(pi.key()), valueText(pi.value()), "unknown field ignored (kept in provenance)");
  }
  if (auto it = j.find("adminCode"); it != j.end() && !it->is_null()) {
    std::string c = it->is_string() ? it->get<std::string>()
                    : it->is_number_unsigned() ? std::to_string(it->get<uint64_t>()) : "";
    if (!validAdminCode(c))
      return fail("adminCode", valueText(*it), "adminCode '" + clipValue(valueText(*it)) + "' is not 6 or 12 digits");
    r.adminCode = c;
  }
  if (!r.hasPosition && r.adminCode.empty())
    return fail("position", "", "position or adminCode is required (where is the incident?)");
  for (auto [key, dst] : {std::pair{"address", &r.address}, std::pair{"narrative", &r.narrative}}) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) continue;
    if (!it->is_string()) return fail(key, valueText(*it), std::string(key) + " must be a string");
    bool cut;
    *dst = cleanText(it->get<std::string>(), options_.maxTextBytes, &cut);
    if (cut)
      warn(key, *dst, std::string(key) + " longer than " + std::to_string(options_.maxTextBytes) + " bytes cut");
  }
  if (auto it = j.find("resources"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) return fail("resources", valueText(*it), "resources must be an object kind -> count");
    if (it->size() > 64) return fail("resources", valueText(*it), "more than 64 resource kinds");
    for (auto ri = it->begin(); ri != it->end(); ++ri) {
      uint32_t n;
      std::string k = ri.key();
      bool okKey = !k.empty() && k.size() <= 32;
      for (char c : k) okKey = okKey && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                                         c == '_' || c == '-');
      if (!okKey) return fail("resources", k, "resource kind '" + clipValue(k) + "' is not [A-Za-z0-9_-]{1,32}");
      if (!asCount(ri.value(), n))
        return fail("resources." + k, valueText(ri.value()),
                   "resources." + k + " '" + clipValue(valueText(ri.value())) + "' is not an integer 0..1000000");
      r.resources.emplace_back(k, n);
    }
  }
  if (auto it = j.find("casualties"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) return fail("casualties", valueText(*it), "casualties must be an object");
    for (auto ci = it->begin(); ci != it->end(); ++ci) {
      auto known = std::find(std::begin(kCasualtyKeys), std::end(kCasualtyKeys), ci.key());
      if (known == std::end(kCasualtyKeys)) {
        warn("casualties." + clipValue(ci.key()), valueText(ci.value()), "unknown field ignored (kept in provenance)");
        continue;
      }
      uint32_t n;
      if (!asCount(ci.value(), n))
        return fail("casualties." + ci.key(), valueText(ci.value()),
                   "casualties." + ci.key() + " '" + clipValue(valueText(ci.value())) +
                       "' is not an integer 0..1000000");
      r.casualties[known - std::begin(kCasualtyKeys)] = n;
    }
  }
  for (auto it = j.begin(); it != j.end(); ++it)
    if (std::find(std::begin(kKnownKeys), std::end(kKnownKeys), it.key()) == std::end(kKnownKeys))
      warn(clipValue(it.key()), valueText(it.value()), "unknown field ignored (kept in provenance)");

  // ---- the record is valid: follow the incident ----
  out.accepted = 1;
  json canon = j;
  canon.erase("updateNumber");
  uint64_t hash = fnv1a(canon.dump(-1, ' ', false, json::error_handler_t::replace));
  auto found = incidents_.find(r.id);
  if (found != incidents_.end()) {
    Incident& inc = found->second;
    if (r.updateNumber >= 0 && r.updateNumber == inc.highestUpdate) {
      ++stats_.duplicates;
      return out;
    }
    if (std::find(inc.contentHashes.begin(), inc.contentHashes.end(), hash) != inc.contentHashes.end()) {
      ++stats_.duplicates;
      return out;
    }
    if (r.updateNumber >= 0 && r.updateNumber < inc.highestUpdate) {
      ++stats_.stale;
      warn("updateNumber", std::to_string(r.updateNumber),
           "update " + std::to_string(r.updateNumber) + " is older than update " + std::to_string(inc.highestUpdate) +
               " already applied; ignored");
      return out;
    }
  }
  bool isNew = found == incidents_.end();
  Incident& inc = incidents_[r.id];
  const std::string incidentId = "fire-" + r.id;
  const std::string base = incidentId;
  std::string levelZh = kLevelZh[r.alarmLevel - 1];
  std::string where = !r.address.empty() ? r.address : !r.adminCode.empty() ? "行政区划 " + r.adminCode : "报警地点";

  auto provenance = [&](schema::Message::Builder m) {
    auto p = m.initProvenance();
    p.setContentType("application/json");
    p.setOriginal(capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(bytes.data()), bytes.size()));
    p.setSource(txt(std::string(source)));
    p.setReceivedMs(receivedMs);
  };
  auto header = [&](schema::Message::Builder m, const std::string& id, schema::MsgType type, bool withRef) {
    m.setId(txt(id));
    m.setSentMs(receivedMs);
    m.setStatus(schema::Status::ACTUAL);
    m.setMsgType(type);
    m.setIncident(txt(incidentId));
    if (withRef) {
      auto ref = m.initReferences(1)[0];
      ref.setSender(txt(options_.agency));
      ref.setId(txt(inc.warningId));
      ref.setSentMs(inc.warningSentMs);
    }
    provenance(m);
  };
  auto warning = [&](const std::string& id, schema::MsgType type) {
    Built b;
    header(b.m, id, type, type != schema::MsgType::ALERT);
    auto info = b.m.getPayload().initWarning(1)[0];
    bool cancel = type == schema::MsgType::CANCEL;
    info.setLanguage("zh-CN");
    info.initCategories(1).set(0, r.eventCode == "hazmat"   ? schema::Category::CBRNE
                                  : r.eventCode == "rescue" ? schema::Category::RESCUE
                                                            : schema::Category::FIRE);
    info.setEvent(txt(eventZh(r.eventCode)));
    info.setEventCode(txt(r.eventCode));
    if (cancel) info.initResponseTypes(1).set(0, schema::ResponseType::ALL_CLEAR);
    else {
      auto rt = info.initResponseTypes(2);
      rt.set(0, schema::ResponseType::AVOID);
      rt.set(1, r.eventCode == "hazmat" ? schema::ResponseType::SHELTER : schema::ResponseType::MONITOR);
    }
    info.setUrgency(cancel ? schema::Urgency::PAST : schema::Urgency::IMMEDIATE);
    static const schema::Severity sev[] = {schema::Severity::MINOR, schema::Severity::MODERATE,
                                           schema::Severity::SEVERE, schema::Severity::EXTREME,
                                           schema::Severity::EXTREME};
    static const schema::Colour col[] = {schema::Colour::BLUE, schema::Colour::YELLOW, schema::Colour::ORANGE,
                                         schema::Colour::RED, schema::Colour::RED};
    info.setSeverity(sev[r.alarmLevel - 1]);
    info.setColour(col[r.alarmLevel - 1]);
    info.setCertainty(schema::Certainty::OBSERVED);
    info.setEffectiveMs(r.reportedMs);
    info.setOnsetMs(r.reportedMs);
    if (!cancel) info.setExpiresMs(std::max(receivedMs, r.reportedMs) + options_.warningTtlMs);
    if (!options_.senderName.empty()) info.setSenderName(txt(options_.senderName));
    std::string headline =
        type == schema::MsgType::ALERT ? where + "发生" + eventZh(r.eventCode) + "（" + levelZh + "火警）"
        : cancel ? where + eventZh(r.eventCode) + statusZh(r.status) + "，解除预警"
                 : where + eventZh(r.eventCode) + "更新：" + levelZh + "火警，" + statusZh(r.status);
    info.setHeadline(txt(headline));
    info.setDescription(txt(r.narrative.empty() ? headline : r.narrative));
    if (!cancel) info.setInstruction(txt(std::string("请周边群众远离现场，服从现场指挥，给消防车辆让行。")));
    std::vector<std::pair<std::string, std::string>> params = {{"alarmLevel", std::to_string(r.alarmLevel)},
                                                               {"alarmLevelName", levelZh + "火警"}};
    if (!r.address.empty()) params.push_back({"address", r.address});
    params.push_back({"incidentType", r.type});
    params.push_back({"dispatchStatus", r.status});
    params.push_back({"reportedAt", formatIsoUtc(r.reportedMs)});
    if (r.updateNumber >= 0) params.push_back({"updateNumber", std::to_string(r.updateNumber)});
    auto pl = info.initParameters(unsigned(params.size()));
    for (unsigned i = 0; i < params.size(); ++i) pl[i].setKey(txt(params[i].first)), pl[i].setValue(txt(params[i].second));
    fillArea(info.initAreas(1)[0], r, options_);
    out.messages.push_back(std::move(b.mb));
  };
  auto sitrep = [&] {
    Built b;
    ++inc.sitreps;
    // Sitrep 1 is an alert; later ones update it (reference "-r1"), as EDXL-SitRep numbers its reports.
    header(b.m, base + "-r" + std::to_string(inc.sitreps), inc.sitreps == 1 ? schema::MsgType::ALERT : schema::MsgType::UPDATE,
           false);
    if (inc.sitreps == 1) inc.firstSitrepMs = receivedMs;
    else {
      auto ref = b.m.initReferences(1)[0];
      ref.setSender(txt(options_.agency));
      ref.setId(txt(base + "-r1"));
      ref.setSentMs(inc.firstSitrepMs);
    }
    auto s = b.m.getPayload().initSitrep();
    s.setReportNumber(uint32_t(inc.sitreps));
    s.setVersion(r.updateNumber >= 0 ? uint32_t(r.updateNumber) : 0);
    s.setPeriodStartMs(r.reportedMs);
    s.setPeriodEndMs(std::max(r.statusMs, r.reportedMs));
    s.setInjured(r.casualties[0]);
    s.setDead(r.casualties[1]);
    s.setMissing(r.casualties[2]);
    s.setRescued(r.casualties[4]);
    s.setEvacuated(r.casualties[5]);
    auto rl = s.initResources(unsigned(r.resources.size()));
    for (unsigned i = 0; i < r.resources.size(); ++i)
      rl[i].setKind(txt(r.resources[i].first)), rl[i].setCount(r.resources[i].second);
    std::string narrative = r.narrative.empty() ? where + eventZh(r.eventCode) + "，" + levelZh + "火警，" +
                                                      statusZh(r.status)
                                                : r.narrative;
    if (r.casualties[3]) narrative += "（被困 " + std::to_string(r.casualties[3]) + " 人）";
    s.setNarrative(txt(narrative));
    s.setEvent(txt(r.eventCode));
    fillArea(s.initAreas(1)[0], r, options_);
    out.messages.push_back(std::move(b.mb));
  };

  bool closing = isClosing(r.status);
  if (isNew) {
    if (!closing) {
      inc.warningId = base + "-w0";
      inc.warningSentMs = receivedMs;
      warning(inc.warningId, schema::MsgType::ALERT);
    }
    sitrep();
    inc.closed = closing;
  } else {
    sitrep();
    if (!inc.closed && !inc.warningId.empty()) {
      if (closing) {
        warning(base + "-cancel", schema::MsgType::CANCEL);
      } else {
        bool moved = r.hasPosition != inc.hasPosition ||
                     (r.hasPosition && distanceKm(r.lat, r.lon, inc.lat, inc.lon) >= options_.materialMoveKm);
        bool material = r.alarmLevel != inc.alarmLevel || r.eventCode != inc.eventCode ||
                        (r.status == "controlled" && inc.status != "controlled") || r.adminCode != inc.adminCode ||
                        moved;
        if (material) warning(base + "-w" + std::to_string(++inc.warningUpdates), schema::MsgType::UPDATE);
      }
    }
    if (closing) inc.closed = true;
  }
  // Remember what was applied. The reference state (position, level...) follows the latest report.
  if (r.updateNumber >= 0) inc.highestUpdate = std::max(inc.highestUpdate, r.updateNumber);
  inc.contentHashes.push_back(hash);
  if (inc.contentHashes.size() > 64) inc.contentHashes.erase(inc.contentHashes.begin());
  inc.alarmLevel = r.alarmLevel;
  inc.eventCode = r.eventCode;
  inc.status = r.status;
  inc.adminCode = r.adminCode;
  inc.hasPosition = r.hasPosition;
  inc.lat = r.lat;
  inc.lon = r.lon;
  inc.lastAppliedMs = receivedMs;
  evictIfNeeded();
  return out;
}

void DispatchTracker::evictIfNeeded() {
  while (incidents_.size() > options_.maxIncidents && !incidents_.empty()) {
    auto victim = incidents_.end();
    for (auto it = incidents_.begin(); it != incidents_.end(); ++it) {
      if (victim == incidents_.end()) victim = it;
      else if (std::make_pair(!it->second.closed, it->second.lastAppliedMs) <
               std::make_pair(!victim->second.closed, victim->second.lastAppliedMs))
        victim = it;
    }
    incidents_.erase(victim);
    ++stats_.evicted;
  }
}

DispatchTracker::Stats DispatchTracker::stats() const {
  Stats s = stats_;
  s.incidents = incidents_.size();
  return s;
}

std::string DispatchTracker::saveState() const {
  json j;
  j["version"] = 1;
  auto& arr = j["incidents"] = json::object();
  for (auto& [id, inc] : incidents_) {
    arr[id] = {{"warningId", inc.warningId},     {"warningSentMs", inc.warningSentMs},
               {"warningUpdates", inc.warningUpdates}, {"sitreps", inc.sitreps}, {"firstSitrepMs", inc.firstSitrepMs},
               {"closed", inc.closed},           {"highestUpdate", inc.highestUpdate},
               {"contentHashes", inc.contentHashes}, {"alarmLevel", inc.alarmLevel},
               {"eventCode", inc.eventCode},     {"status", inc.status},
               {"adminCode", inc.adminCode},     {"lat", inc.lat},
               {"lon", inc.lon},                 {"hasPosition", inc.hasPosition},
               {"lastAppliedMs", inc.lastAppliedMs}};
  }
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

bool DispatchTracker::loadState(std::string_view text, std::string* error) {
  try {
    json j = json::parse(text.begin(), text.end());
    if (j.at("version").get<int>() != 1) throw std::runtime_error("unsupported state version");
    std::map<std::string, Incident> incidents;
    for (auto it = j.at("incidents").begin(); it != j.at("incidents").end(); ++it) {
      const json& o = it.value();
      Incident inc;
      inc.warningId = o.at("warningId").get<std::string>();
      inc.warningSentMs = o.at("warningSentMs").get<int64_t>();
      inc.warningUpdates = o.at("warningUpdates").get<int>();
      inc.sitreps = o.at("sitreps").get<int>();
      inc.firstSitrepMs = o.at("firstSitrepMs").get<int64_t>();
      inc.closed = o.at("closed").get<bool>();
      inc.highestUpdate = o.at("highestUpdate").get<int64_t>();
      inc.contentHashes = o.at("contentHashes").get<std::vector<uint64_t>>();
      inc.alarmLevel = o.at("alarmLevel").get<int>();
      if (inc.alarmLevel < 1 || inc.alarmLevel > 5) throw std::runtime_error("alarmLevel out of range");
      inc.eventCode = o.at("eventCode").get<std::string>();
      inc.status = o.at("status").get<std::string>();
      inc.adminCode = o.at("adminCode").get<std::string>();
      inc.lat = o.at("lat").get<double>();
      inc.lon = o.at("lon").get<double>();
      inc.hasPosition = o.at("hasPosition").get<bool>();
      inc.lastAppliedMs = o.at("lastAppliedMs").get<int64_t>();
      if (!validId(it.key())) throw std::runtime_error("bad incident id " + clipValue(it.key()));
      incidents[it.key()] = std::move(inc);
    }
    incidents_ = std::move(incidents);
    return true;
  } catch (const std::exception& e) {
    if (error) *error = std::string("fire dispatch state: ") + e.what();
    return false;
  }
}

}  // namespace alertbus::fire
