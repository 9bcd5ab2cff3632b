// FIRMS CSV parsing, format detection and shared helpers; see firms.h. Nothing here throws past the public
// functions: nlohmann exceptions are caught where parsing happens, numbers are read with from_chars.
#include "adapters/fire/firms.h"
#include "model/decode_util.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <map>

#include <nlohmann/json.hpp>

#include "model/validate.h"

namespace alertbus::fire {
namespace {

std::string lower(std::string_view s) {
  std::string r(s);
  for (auto& c : r)
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
  return r;
}

std::string_view stripBom(std::string_view s) {
  if (s.size() >= 3 && s.substr(0, 3) == "\xEF\xBB\xBF") s.remove_prefix(3);
  return s;
}

bool parseDouble(std::string_view s, double& out) {
  s = trim(s);
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size() && std::isfinite(out);
}

bool allDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}


bool leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }
int daysIn(int y, int m) {
  static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : d[m - 1];
}

int num(std::string_view s, size_t pos, size_t len) {  // -1 if not all digits
  if (pos + len > s.size()) return -1;
  int v = 0;
  for (size_t i = pos; i < pos + len; ++i) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

// "YYYY-MM-DD" -> days since the epoch.
bool parseDate(std::string_view s, int64_t& days) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  int y = num(s, 0, 4), m = num(s, 5, 2), d = num(s, 8, 2);
  if (y < 1970 || m < 1 || m > 12 || d < 1 || d > daysIn(y, m)) return false;
  days = daysFromCivil(y, unsigned(m), unsigned(d));
  return true;
}

std::vector<std::string_view> splitCsv(std::string_view line) {
  std::vector<std::string_view> r;
  size_t b = 0;
  for (size_t i = 0; i <= line.size(); ++i)
    if (i == line.size() || line[i] == ',') {
      auto f = trim(line.substr(b, i - b));
      if (f.size() >= 2 && f.front() == '"' && f.back() == '"') f = f.substr(1, f.size() - 2);
      r.push_back(f);
      b = i + 1;
    }
  return r;
}

bool looksLikeDispatch(const nlohmann::json& j) {
  if (!j.is_object()) return false;
  for (const char* k : {"id", "alarmLevel", "reportedAt", "adminCode", "updateNumber", "casualties"})
    if (j.contains(k)) return true;
  return false;
}

std::string keyList(const nlohmann::json& j) {
  std::string s;
  size_t n = 0;
  for (auto it = j.begin(); it != j.end() && n < 8; ++it, ++n) s += (s.empty() ? "" : ", ") + clipValue(it.key());
  if (j.size() > 8) s += ", ...";
  return s;
}

}  // namespace

bool parseIsoTime(std::string_view t, int64_t& ms) {
  t = trim(t);
  int64_t days;
  if (t.size() < 17 || !parseDate(t.substr(0, 10), days)) return false;
  if (t[10] != 'T' && t[10] != 't' && t[10] != ' ') return false;
  int hh = num(t, 11, 2), mi = num(t, 14, 2);
  if (t[13] != ':' || hh < 0 || hh > 23 || mi < 0 || mi > 59) return false;
  size_t i = 16;
  int ss = 0, frac = 0;
  if (i < t.size() && t[i] == ':') {
    ss = num(t, 17, 2);
    if (ss < 0 || ss > 60) return false;
    i = 19;
    if (i < t.size() && (t[i] == '.' || t[i] == ',')) {
      size_t b = ++i;
      int digits = 0;
      while (i < t.size() && t[i] >= '0' && t[i] <= '9') {
        if (digits < 3) frac = frac * 10 + (t[i] - '0'), ++digits;
        ++i;
      }
      if (i == b) return false;
      while (digits < 3) frac *= 10, ++digits;
    }
  }
  int64_t offsetMin = 0;
  std::string_view z = t.substr(std::min(i, t.size()));
  if (z == "Z" || z == "z") offsetMin = 0;
  else if (z.size() == 6 && (z[0] == '+' || z[0] == '-') && z[3] == ':' && num(z, 1, 2) >= 0 && num(z, 4, 2) >= 0)
    offsetMin = num(z, 1, 2) * 60 + num(z, 4, 2), offsetMin = z[0] == '-' ? -offsetMin : offsetMin;
  else if (z.size() == 5 && (z[0] == '+' || z[0] == '-') && num(z, 1, 4) >= 0)
    offsetMin = num(z, 1, 2) * 60 + num(z, 3, 2), offsetMin = z[0] == '-' ? -offsetMin : offsetMin;
  else return false;
  if (offsetMin > 14 * 60 || offsetMin < -14 * 60) return false;
  ms = ((days * 24 + hh) * 60 + mi - offsetMin) * 60000 + int64_t(ss) * 1000 + frac;
  return true;
}

FormatGuess detectFireFormat(std::string_view input, const FireOptions& options) {
  FormatGuess g;
  std::string_view s = trim(stripBom(input));
  if (s.empty()) return {FireFormat::unknown, "unsupported format (empty input)"};
  if (input.size() > options.maxInputBytes)
    return {FireFormat::unknown, "unsupported format (input of " + std::to_string(input.size()) +
                                     " bytes exceeds maxInputBytes " + std::to_string(options.maxInputBytes) + ")"};
  if (s[0] == '{' || s[0] == '[') {
    if (jsonDepth(s) > options.maxJsonDepth)
      return {FireFormat::unknown, "unsupported format (JSON nested deeper than " +
                                       std::to_string(options.maxJsonDepth) + " levels)"};
    nlohmann::json j = nlohmann::json::parse(s.begin(), s.end(), nullptr, false);
    if (j.is_discarded()) {
      // JSON Lines: judge by the first line.
      auto first = trim(s.substr(0, s.find('\n')));
      j = nlohmann::json::parse(first.begin(), first.end(), nullptr, false);
      if (j.is_discarded()) return {FireFormat::unknown, "unsupported format (malformed JSON)"};
    }
    const nlohmann::json* probe = &j;
    if (j.is_array()) {
      if (j.empty()) return {FireFormat::dispatchJson, "dispatch JSON (empty array)"};
      probe = &j[0];
    }
    if (probe->is_object()) {
      auto t = probe->find("type");
      if (t != probe->end() && t->is_string() && (*t == "FeatureCollection" || *t == "Feature"))
        return {FireFormat::unknown, "unsupported format (GeoJSON " + t->get<std::string>() + ")"};
      if (looksLikeDispatch(*probe)) return {FireFormat::dispatchJson, "dispatch JSON"};
      return {FireFormat::unknown, "unsupported format (JSON object with keys " + keyList(*probe) +
                                       "; not a 119 dispatch report or GeoJSON)"};
    }
    return {FireFormat::unknown, "unsupported format (JSON " + std::string(probe->type_name()) + ")"};
  }
  std::string_view first = s.substr(0, std::min(s.find('\n'), size_t(4096)));
  std::string h = lower(first);
  bool hasLatLon = h.find("latitude") != std::string::npos && h.find("longitude") != std::string::npos;
  if (hasLatLon && h.find("acq_date") != std::string::npos) {
    for (auto f : splitCsv(h)) {
      if (f == "bright_ti4") return {FireFormat::firmsViirs, "FIRMS VIIRS CSV"};
      if (f == "brightness") return {FireFormat::firmsModis, "FIRMS MODIS CSV"};
    }
    return {FireFormat::unknown, "unsupported format (CSV with latitude/longitude/acq_date but neither "
                                 "brightness nor bright_ti4)"};
  }
  if (s[0] == '<') return {FireFormat::unknown, "unsupported format (XML or HTML)"};
  return {FireFormat::unknown, "unsupported format (first line '" + clipValue(first.substr(0, 60)) + "')"};
}

FirmsResult parseFirmsCsv(std::string_view csv, std::string_view source, int64_t receivedMs,
                          const FireOptions& options) {
  FirmsResult r;
  auto problem = [&](adapter::InputProblem::Level level, size_t lineNo, std::string field, std::string_view value,
                     std::string reason) {
    r.problems.push_back(adapter::InputProblem{level, std::string(source),
                                               lineNo ? "line " + std::to_string(lineNo) : "input", std::move(field),
                                               clipValue(value), std::move(reason)});
  };
  using L = adapter::InputProblem::Level;
  if (csv.size() > options.maxInputBytes) {
    problem(L::error, 0, "input", std::to_string(csv.size()) + " bytes",
            "input larger than maxInputBytes " + std::to_string(options.maxInputBytes));
    r.rejected = 1;
    return r;
  }
  csv = stripBom(csv);
  // Split into lines (LF, CRLF or CR).
  size_t pos = 0, lineNo = 0;
  auto nextLine = [&](std::string_view& line) {
    if (pos >= csv.size()) return false;
    size_t e = csv.find_first_of("\r\n", pos);
    if (e == std::string_view::npos) e = csv.size();
    line = csv.substr(pos, e - pos);
    pos = e < csv.size() && csv[e] == '\r' && e + 1 < csv.size() && csv[e + 1] == '\n' ? e + 2 : e + 1;
    ++lineNo;
    return true;
  };
  std::string_view line;
  while (nextLine(line) && trim(line).empty()) {
  }
  if (trim(line).empty()) {
    problem(L::error, 0, "input", "", "empty input (no header line)");
    r.rejected = 1;
    return r;
  }
  size_t headerLineNo = lineNo;
  if (line.size() > options.maxLineBytes) {
    problem(L::error, lineNo, "header", line.substr(0, 60), "header line longer than maxLineBytes");
    r.rejected = 1;
    return r;
  }
  r.header = std::string(line);
  auto cols = splitCsv(line);
  std::map<std::string, size_t> idx;
  std::vector<std::string> extra;
  static const char* const kKnown[] = {"latitude", "longitude", "brightness", "bright_ti4", "scan", "track",
                                       "acq_date", "acq_time", "satellite", "confidence", "version", "bright_t31",
                                       "bright_ti5", "frp", "daynight", "instrument", "type"};
  for (size_t i = 0; i < cols.size(); ++i) {
    std::string n = lower(cols[i]);
    if (std::find(std::begin(kKnown), std::end(kKnown), n) == std::end(kKnown)) {
      extra.push_back(clipValue(cols[i]));
      continue;
    }
    if (!idx.count(n)) idx[n] = i;
  }
  bool viirs = idx.count("bright_ti4") > 0, modis = idx.count("brightness") > 0;
  std::string missing;
  for (const char* req : {"latitude", "longitude", "acq_date", "acq_time", "confidence"})
    if (!idx.count(req)) missing += (missing.empty() ? "" : ", ") + std::string(req);
  if (!viirs && !modis) missing += (missing.empty() ? "" : ", ") + std::string("brightness or bright_ti4");
  if (!missing.empty()) {
    problem(L::error, headerLineNo, "header", line, "not a FIRMS header: missing column(s) " + missing);
    r.rejected = 1;
    return r;
  }
  r.layout = viirs ? FireFormat::firmsViirs : FireFormat::firmsModis;
  if (!extra.empty()) {
    std::string names;
    for (auto& e : extra) names += (names.empty() ? "" : ",") + e;
    problem(L::warning, headerLineNo, "header", names, "unknown column(s) ignored: " + names);
  }
  auto col = [&](const char* name) -> long { auto it = idx.find(name); return it == idx.end() ? -1 : long(it->second); };
  const long cLat = col("latitude"), cLon = col("longitude"), cDate = col("acq_date"), cTime = col("acq_time"),
             cConf = col("confidence"), cScan = col("scan"), cTrack = col("track"), cSat = col("satellite"),
             cFrp = col("frp"), cBright = viirs ? col("bright_ti4") : col("brightness"), cDn = col("daynight");
  const double defaultPixel = viirs ? 0.375 : 1.0;
  size_t records = 0;
  bool overLimit = false;
  while (nextLine(line)) {
    if (trim(line).empty()) continue;
    if (++records > options.maxRecords) {
      if (!overLimit)
        problem(L::error, lineNo, "input", "", "more than maxRecords " + std::to_string(options.maxRecords) +
                                                   " lines; the rest of the input is rejected");
      overLimit = true;
      ++r.rejected;
      continue;
    }
    auto reject = [&](std::string field, std::string_view value, std::string reason) {
      problem(L::error, lineNo, std::move(field), value, std::move(reason));
      ++r.rejected;
    };
    if (line.size() > options.maxLineBytes) {
      reject("line", line.substr(0, 60), "line of " + std::to_string(line.size()) + " bytes longer than maxLineBytes");
      continue;
    }
    auto f = splitCsv(line);
    if (f.size() != cols.size()) {
      reject("line", line, "expected " + std::to_string(cols.size()) + " columns, got " + std::to_string(f.size()));
      continue;
    }
    Hotspot h;
    std::string_view v = f[cLat];
    if (!parseDouble(v, h.lat)) { reject("latitude", v, "latitude '" + clipValue(v) + "' is not a number"); continue; }
    if (h.lat < -90 || h.lat > 90) { reject("latitude", v, "latitude " + clipValue(v) + " out of range -90..90"); continue; }
    v = f[cLon];
    if (!parseDouble(v, h.lon)) { reject("longitude", v, "longitude '" + clipValue(v) + "' is not a number"); continue; }
    if (h.lon < -180 || h.lon > 180) {
      reject("longitude", v, "longitude " + clipValue(v) + " out of range -180..180");
      continue;
    }
    bool bad = false;
    for (auto [c, name, out] : {std::tuple{cScan, "scan", &h.scanKm}, std::tuple{cTrack, "track", &h.trackKm}}) {
      *out = defaultPixel;
      if (c < 0 || f[c].empty()) continue;
      if (!parseDouble(f[c], *out) || *out <= 0 || *out > options.maxPixelKm) {
        reject(name, f[c], std::string(name) + " '" + clipValue(f[c]) + "' is not a pixel size in (0, " +
                               std::to_string(int(options.maxPixelKm)) + "] km");
        bad = true;
        break;
      }
    }
    if (bad) continue;
    int64_t days;
    v = f[cDate];
    if (!parseDate(v, days)) { reject("acq_date", v, "acq_date '" + clipValue(v) + "' is not YYYY-MM-DD"); continue; }
    v = f[cTime];
    int hhmm = v.size() >= 1 && v.size() <= 4 && allDigits(v) ? num(v, 0, v.size()) : -1;
    if (hhmm < 0 || hhmm / 100 > 23 || hhmm % 100 > 59) {
      reject("acq_time", v, "acq_time " + clipValue(v) + " is not hhmm");
      continue;
    }
    h.timeMs = (days * 1440 + (hhmm / 100) * 60 + hhmm % 100) * 60000;
    if (h.timeMs > receivedMs + options.maxFutureMs) {
      reject("acq_date", std::string(f[cDate]) + " " + std::string(f[cTime]),
             "acquisition time " + formatIsoUtc(h.timeMs) + " is in the future (received " + formatIsoUtc(receivedMs) +
                 ")");
      continue;
    }
    v = f[cConf];
    std::string lc = lower(v);
    int level = -1;  // 0 low, 1 nominal, 2 high, for letters; numeric compared separately
    double pct = -1;
    if (lc == "l" || lc == "low") level = 0;
    else if (lc == "n" || lc == "nominal") level = 1;
    else if (lc == "h" || lc == "high") level = 2;
    else if (!parseDouble(v, pct) || pct < 0 || pct > 100) {
      reject("confidence", v, "confidence '" + clipValue(v) + "' is not l/n/h or 0-100");
      continue;
    }
    if (cBright >= 0 && !f[cBright].empty() && (!parseDouble(f[cBright], h.brightnessK) || h.brightnessK < 0)) {
      reject(lower(cols[cBright]), f[cBright],
             "brightness '" + clipValue(f[cBright]) + "' is not a temperature in kelvin");
      continue;
    }
    if (cFrp >= 0 && !f[cFrp].empty() && (!parseDouble(f[cFrp], h.frpMw) || h.frpMw < 0)) {
      reject("frp", f[cFrp], "frp '" + clipValue(f[cFrp]) + "' is not a non-negative number (MW)");
      continue;
    }
    if (cDn >= 0 && !f[cDn].empty() && f[cDn] != "D" && f[cDn] != "N") {
      reject("daynight", f[cDn], "daynight '" + clipValue(f[cDn]) + "' is not D or N");
      continue;
    }
    if (cSat >= 0) {
      // The satellite goes into warning text (description, "satellites" parameter), which validateMessage
      // requires to be clean UTF-8: refuse a field that is not (clipValue only masks control characters), and
      // cut at a character boundary (a blind cut at 16 bytes can split a multi-byte character).
      std::string_view sat = f[cSat];
      if (!isCleanUtf8(sat.data(), sat.size())) {
        reject("satellite", sat, "satellite '" + clipValue(sat) + "' is not UTF-8 text");
        continue;
      }
      size_t n = std::min<size_t>(sat.size(), 16);
      while (n > 0 && n < sat.size() && (static_cast<unsigned char>(sat[n]) & 0xC0) == 0x80) --n;
      h.satellite = std::string(sat.substr(0, n));
    }
    h.confidence = clipValue(v);
    h.line = std::string(line);
    h.lineNo = lineNo;
    ++r.accepted;
    char minV = options.viirsMinConfidence;
    int minLevel = minV == 'l' ? 0 : minV == 'h' ? 2 : 1;
    bool pass = level >= 0 ? level >= minLevel : pct >= options.modisMinConfidence;
    if (!pass) {
      ++r.filtered;
      continue;
    }
    r.hotspots.push_back(std::move(h));
  }
  if (r.filtered)
    problem(L::warning, 0, "confidence", std::to_string(r.filtered) + " lines",
            std::to_string(r.filtered) + " hotspot(s) below the confidence threshold filtered (MODIS < " +
                std::to_string(options.modisMinConfidence) + ", VIIRS below '" +
                std::string(1, options.viirsMinConfidence) + "')");
  return r;
}

}  // namespace alertbus::fire
