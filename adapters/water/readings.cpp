// Readings parsers (CSV, WaterML 2.0) and format detection; see readings.h for the contract. Every refused
// piece of input becomes one InputProblem naming source, position, field, value and reason; nothing throws.
#include "adapters/water/readings.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <sstream>

#include <pugixml.hpp>

#include "adapters/water/gauge_monitor.h"
#include "model/decode_util.h"
#include "model/validate.h"

namespace alertbus::water {

namespace detail {


bool parseNumber(std::string_view s, double& v) {
  s = trim(s);
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && p == s.data() + s.size();
}


LineReader::LineReader(std::string_view bytes, size_t maxLineBytes) : bytes_(bytes), maxLineBytes_(maxLineBytes) {
  if (bytes_.substr(0, 3) == "\xEF\xBB\xBF") bytes_.remove_prefix(3);
  gb18030_ = !isValidUtf8(bytes_);
}

LineReader::~LineReader() = default;

bool LineReader::next(CsvLine& l) {
  while (pos_ < bytes_.size()) {
    size_t e = bytes_.find_first_of("\r\n", pos_);
    if (e == std::string_view::npos) e = bytes_.size();
    std::string_view raw = bytes_.substr(pos_, e - pos_);
    ++number_;
    pos_ = e;
    if (pos_ < bytes_.size())
      pos_ += (bytes_[pos_] == '\r' && pos_ + 1 < bytes_.size() && bytes_[pos_ + 1] == '\n') ? 2 : 1;
    if (trim(raw).empty()) continue;
    l.number = number_;
    l.raw = raw;
    l.ok = true;
    l.reason.clear();
    l.text.clear();
    if (raw.size() > maxLineBytes_) {
      l.ok = false;
      l.reason = "line longer than " + std::to_string(maxLineBytes_) + " bytes (" + std::to_string(raw.size()) + ")";
    } else if (!gb18030_) {
      l.text.assign(raw.data(), raw.size());
    } else if (size_t badAt = 0; !gb18030ToUtf8(raw, l.text, badAt) || !isValidUtf8(l.text)) {
      l.ok = false;
      l.reason = "neither valid UTF-8 nor GB18030/GBK text";
    }
    return true;
  }
  return false;
}

bool splitCsv(std::string_view line, char sep, std::vector<std::string>& cells) {
  cells.clear();
  size_t i = 0;
  while (true) {
    std::string cell;
    while (i < line.size() && (line[i] == ' ' || (line[i] == '\t' && sep != '\t'))) ++i;
    if (i < line.size() && line[i] == '"') {
      ++i;
      bool closed = false;
      while (i < line.size()) {
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            cell += '"';
            i += 2;
            continue;
          }
          ++i;
          closed = true;
          break;
        }
        cell += line[i++];
      }
      if (!closed) return false;
      while (i < line.size() && line[i] != sep) ++i;  // anything between the closing quote and sep is dropped
    } else {
      size_t e = line.find(sep, i);
      if (e == std::string_view::npos) e = line.size();
      cell = std::string(trim(line.substr(i, e - i)));
      i = e;
    }
    cells.push_back(std::move(cell));
    if (i >= line.size()) break;
    ++i;  // the separator
    if (i == line.size()) {
      cells.emplace_back();
      break;
    }
  }
  return true;
}

}  // namespace detail

namespace {

using adapter::InputProblem;
using namespace detail;

constexpr std::string_view kWaterMl2Ns = "http://www.opengis.net/waterml/2.0";
constexpr double kMetresPerFoot = 0.3048;
constexpr double kCubicMetresPerCubicFoot = 0.028316846592;


struct Reporter {
  ReadingsResult& result;
  std::string source;
  size_t maxProblems;
  size_t suppressed = 0;  // problems beyond maxProblems: counted, not listed
  void error(std::string position, std::string field, std::string_view value, std::string reason) {
    if (result.problems.size() >= maxProblems) {
      ++suppressed;
      return;
    }
    result.problems.push_back(InputProblem{InputProblem::Level::error, source, std::move(position), std::move(field),
                                           clipValue(value), std::move(reason)});
  }
  void warn(std::string position, std::string field, std::string_view value, std::string reason) {
    if (result.problems.size() >= maxProblems) {
      ++suppressed;
      return;
    }
    result.problems.push_back(InputProblem{InputProblem::Level::warning, source, std::move(position),
                                           std::move(field), clipValue(value), std::move(reason)});
  }
  void reject(std::string position, std::string field, std::string_view value, std::string reason) {
    error(std::move(position), std::move(field), value, std::move(reason));
    ++result.rejected;
  }
};

bool contains(std::string_view hay, std::string_view needle) { return hay.find(needle) != std::string_view::npos; }

// ---------------------------------------------------------------------------------------------- detection

// Names a format we know but do not read, or "" when the input may be CSV.
std::string unsupportedTextFormat(std::string_view text) {
  std::string_view head = text.substr(0, 64 * 1024);
  std::string_view t = trim(head);
  if (!t.empty() && (t[0] == '{' || t[0] == '[')) {
    if (contains(head, "timeSeriesResponseType") || contains(head, "org.cuahsi.waterml") ||
        contains(head, "waterservices.usgs.gov"))
      return "USGS NWIS WaterML-JSON";
    if (contains(head, "rloi_id") || contains(head, "environment.data.gov.uk") || contains(head, "telemetry_id"))
      return "UK Environment Agency flood-monitoring JSON";
    return "JSON";
  }
  if (!t.empty() && t[0] == '#') {
    // USGS RDB: '#' comment block, then a tab-separated header and a column-format line ("5s\t15s...").
    if (contains(head, "USGS") || contains(head, "U.S. Geological Survey") || contains(head, "UNITED STATES GEOLOGICAL") ||
        contains(head, "US Geological Survey") || contains(head, "agency_cd"))
      return "USGS RDB";
    size_t p = 0;
    while (p < t.size() && t[p] == '#') {
      size_t e = t.find('\n', p);
      if (e == std::string_view::npos) return "a comment-only text file";
      p = e + 1;
    }
    std::string_view next = t.substr(p, t.find('\n', p) - p);
    if (contains(next, "\t")) return "USGS RDB (tab-separated with '#' comments)";
  }
  return "";
}

bool looksBinary(std::string_view bytes) {
  std::string_view head = bytes.substr(0, 4096);
  size_t ctl = 0;
  for (unsigned char c : head) {
    if (c == 0) return true;
    if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') ++ctl;
  }
  return ctl * 20 > head.size();  // more than 5 % control bytes
}

// ---------------------------------------------------------------------------------------------- CSV

void parseCsv(std::string_view bytes, const WaterOptions& options, Reporter& rep) {
  LineReader reader(bytes, options.maxLineBytes);
  auto& result = rep.result;
  CsvLine header, line;
  if (!reader.next(header)) {
    rep.error("document", "format", "", "empty input (no CSV header)");
    return;
  }
  std::string headPos = "line " + std::to_string(header.number);
  if (!header.ok) {
    rep.error(headPos, "header", header.raw.substr(0, 80), header.reason);
    return;
  }
  char sep = (contains(header.text, "\t") && !contains(header.text, ",")) ? '\t' : ',';
  std::vector<std::string> cells;
  if (!splitCsv(header.text, sep, cells)) {
    rep.error(headPos, "header", header.text, "unterminated quote in the header");
    return;
  }
  int cStcd = -1, cStnm = -1, cTm = -1, cZ = -1, cQ = -1;
  std::vector<std::string> ignored;
  for (size_t i = 0; i < cells.size(); ++i) {
    std::string name = upperAscii(trim(cells[i]));
    int* slot = name == "STCD" ? &cStcd : name == "STNM" ? &cStnm : name == "TM" ? &cTm : name == "Z" ? &cZ
              : name == "Q"    ? &cQ
                               : nullptr;
    if (!slot) {
      if (!name.empty()) ignored.push_back(cells[i]);
      continue;
    }
    if (*slot >= 0) {
      rep.error(headPos, "header", cells[i], "column named twice");
      return;
    }
    *slot = static_cast<int>(i);
  }
  if (cStcd < 0 || cTm < 0 || (cZ < 0 && cQ < 0)) {
    rep.error(headPos, "header", header.text, "unsupported format (CSV header must name STCD, TM and Z and/or Q)");
    return;
  }
  result.format = "csv";
  if (!ignored.empty()) {
    std::string names;
    for (auto& n : ignored) names += (names.empty() ? "" : ",") + n;
    rep.warn(headPos, "header", names, "unknown columns ignored");
  }
  const size_t headerCells = cells.size();
  while (reader.next(line)) {
    std::string pos = "line " + std::to_string(line.number);
    if (!line.ok) {
      rep.reject(pos, "line", line.raw.substr(0, 80), line.reason);
      continue;
    }
    if (!splitCsv(line.text, sep, cells)) {
      rep.reject(pos, "line", line.text, "unterminated quote");
      continue;
    }
    if (cells.size() > headerCells) {
      bool extraEmpty = true;
      for (size_t i = headerCells; i < cells.size(); ++i) extraEmpty = extraEmpty && cells[i].empty();
      if (!extraEmpty) {
        rep.reject(pos, "line", line.text,
                   std::to_string(cells.size()) + " cells but the header has " + std::to_string(headerCells));
        continue;
      }
    }
    cells.resize(std::max(cells.size(), headerCells));
    const std::string& stcd = cells[cStcd];
    if (stcd.empty()) {
      rep.reject(pos, "STCD", "", "station code missing");
      continue;
    }
    const std::string& tm = cells[cTm];
    int64_t timeMs = 0;
    if (!parseWaterTime(tm, options.defaultUtcOffsetMinutes, timeMs)) {
      rep.reject(pos, "TM", tm, "not a time \"YYYY-MM-DD hh:mm[:ss]\" or ISO 8601");
      continue;
    }
    bool any = false;
    struct Column {
      int col;
      const char* field;
      const char* quantity;
      const char* unit;
    };
    for (const Column& c : {Column{cZ, "Z", "waterLevel", "m"}, Column{cQ, "Q", "discharge", "m3/s"}}) {
      auto [col, field, quantity, unit] = c;
      if (col < 0 || cells[col].empty()) continue;
      any = true;
      double v = 0;
      if (!parseNumber(cells[col], v)) {
        rep.reject(pos, field, cells[col], "not a number");
        continue;
      }
      if (result.readings.size() >= options.maxReadingsPerInput) {
        rep.reject(pos, field, cells[col], "more than " + std::to_string(options.maxReadingsPerInput) + " readings in one input");
        continue;
      }
      Reading r;
      r.station = stcd;
      if (cStnm >= 0) r.stationName = cells[cStnm];
      r.quantity = quantity;
      r.value = v;
      r.unit = unit;
      r.timeMs = timeMs;
      r.position = pos;
      r.valueField = field;
      r.timeField = "TM";
      r.rawValue = cells[col];
      r.rawTime = tm;
      r.original = std::string(line.raw);
      r.contentType = kCsvContentType;
      r.index = result.readings.size();
      result.readings.push_back(std::move(r));
    }
    if (!any) rep.reject(pos, cZ >= 0 ? "Z" : "Q", "", "neither Z nor Q given");
  }
}

// ---------------------------------------------------------------------------------------------- WaterML 2.0

std::string_view prefixOf(std::string_view name) {
  size_t c = name.find(':');
  return c == std::string_view::npos ? std::string_view() : name.substr(0, c);
}
std::string_view localName(const pugi::xml_node& n) {
  std::string_view name = n.name();
  size_t colon = name.find(':');
  return colon == std::string_view::npos ? name : name.substr(colon + 1);
}
pugi::xml_node child(const pugi::xml_node& parent, std::string_view name) {
  for (auto c = parent.first_child(); c; c = c.next_sibling())
    if (c.type() == pugi::node_element && localName(c) == name) return c;
  return {};
}
// First descendant element with local name `name` (iterative: no recursion on hostile depth).
pugi::xml_node descendant(const pugi::xml_node& root, std::string_view name) {
  for (auto n = root.first_child(); n;) {
    if (n.type() == pugi::node_element && localName(n) == name) return n;
    if (n.first_child()) {
      n = n.first_child();
      continue;
    }
    while (n && n != root && !n.next_sibling()) n = n.parent();
    if (!n || n == root) break;
    n = n.next_sibling();
  }
  return {};
}
// Attribute by local name (any prefix), e.g. "title" matches xlink:title.
std::string_view attr(const pugi::xml_node& n, std::string_view local) {
  for (auto a = n.first_attribute(); a; a = a.next_attribute()) {
    std::string_view name = a.name();
    size_t c = name.find(':');
    std::string_view ln = c == std::string_view::npos ? name : name.substr(c + 1);
    if (ln == local) return trim(a.value());
  }
  return {};
}
std::string_view textOf(const pugi::xml_node& n) { return trim(n.text().get()); }

// The uom element of a (Default)TVPMeasurementMetadata, as a unit string.
std::string uomOf(const pugi::xml_node& meta) {
  auto u = descendant(meta, "uom");
  if (!u) return "";
  for (auto name : {"code", "title"}) {
    auto v = attr(u, name);
    if (!v.empty()) return std::string(v);
  }
  auto href = attr(u, "href");
  size_t slash = href.find_last_of("/#=");
  return std::string(slash == std::string_view::npos ? href : href.substr(slash + 1));
}

// Converts to the canonical unit; returns the factor and sets `unit` (unknown units are kept, factor 1).
double unitFactor(std::string& unit, const std::string& quantity) {
  std::string u = lowerAscii(trim(unit));
  u.erase(std::remove(u.begin(), u.end(), ' '), u.end());
  if (u.empty()) {
    unit = quantity == "discharge" ? "m3/s" : "m";
    return 1;
  }
  if (u == "m" || u == "meter" || u == "meters" || u == "metre" || u == "metres") return unit = "m", 1;
  if (u == "cm") return unit = "m", 0.01;
  if (u == "ft" || u == "[ft_i]" || u == "feet" || u == "foot" || u == "[ft_us]") return unit = "m", kMetresPerFoot;
  if (u == "m3/s" || u == "m^3/s" || u == "m3s-1" || u == "m3.s-1" || u == "cumec" || u == "cumecs")
    return unit = "m3/s", 1;
  if (u == "ft3/s" || u == "ft^3/s" || u == "cfs" || u == "[ft_i]3/s" || u == "[cft_i]/s" || u == "ft3s-1")
    return unit = "m3/s", kCubicMetresPerCubicFoot;
  return 1;  // kept as received
}

std::string quantityOf(const pugi::xml_node& obs) {
  auto op = child(obs, "observedProperty");
  std::string s = lowerAscii(std::string(attr(op, "title")) + " " + std::string(attr(op, "href")) + " " +
                             std::string(textOf(op)));
  if (contains(s, "discharge") || contains(s, "flow") || contains(s, "00060") || contains(s, "00061"))
    return "discharge";
  if (contains(s, "stage") || contains(s, "gage height") || contains(s, "gauge height") || contains(s, "level") ||
      contains(s, "00065") || contains(s, "height"))
    return "waterLevel";
  return "";
}

std::string stationOf(const pugi::xml_node& obs, const pugi::xml_node& docRoot, std::string& name) {
  auto foi = obs ? child(obs, "featureOfInterest") : pugi::xml_node();
  auto mp = foi ? descendant(foi, "MonitoringPoint") : pugi::xml_node();
  name = std::string(attr(foi, "title"));
  if (name.empty() && mp) name = std::string(textOf(child(mp, "name")));
  if (mp) {
    auto id = textOf(child(mp, "identifier"));
    if (!id.empty()) return std::string(id);
  }
  auto docId = textOf(child(docRoot, "identifier"));
  if (!docId.empty()) return std::string(docId);
  auto href = attr(foi, "href");
  if (!href.empty()) return std::string(href);
  if (mp) return std::string(attr(mp, "id"));
  return "";
}

std::string printNode(const pugi::xml_node& n) {
  std::ostringstream s;
  n.print(s, "", pugi::format_raw);
  return s.str();
}

void parseWaterMl(std::string_view bytes, const WaterOptions& options, Reporter& rep) {
  auto& result = rep.result;
  if (contains(bytes, "<!DOCTYPE") || contains(bytes, "<!ENTITY")) {
    rep.error("document", "DOCTYPE", "", "DOCTYPE/ENTITY declarations are refused");
    return;
  }
  pugi::xml_document doc;
  auto pr = doc.load_buffer(bytes.data(), bytes.size(), pugi::parse_default | pugi::parse_doctype, pugi::encoding_auto);
  if (!pr) {
    size_t at = std::min(static_cast<size_t>(pr.offset < 0 ? 0 : pr.offset), bytes.size());
    rep.error("offset " + std::to_string(pr.offset), "xml", bytes.substr(at, 40),
              std::string("malformed XML: ") + pr.description());
    return;
  }
  for (auto n = doc.first_child(); n; n = n.next_sibling())
    if (n.type() == pugi::node_doctype) {
      rep.error("document", "DOCTYPE", n.value(), "DOCTYPE/ENTITY declarations are refused");
      return;
    }
  auto root = doc.document_element();
  // Prefixes bound to the WaterML 2.0 namespace on the root ("" for a default namespace).
  std::vector<std::string> prefixes;
  std::string otherNs;
  for (auto a = root.first_attribute(); a; a = a.next_attribute()) {
    std::string_view name = a.name();
    if (name != "xmlns" && name.substr(0, 6) != "xmlns:") continue;
    std::string_view v = trim(a.value());
    if (v == kWaterMl2Ns) prefixes.emplace_back(name == "xmlns" ? std::string_view() : name.substr(6));
    else if (contains(v, "cuahsi.org/waterML")) otherNs = "WaterML 1.x (CUAHSI)";
  }
  if (prefixes.empty()) {
    std::string what = !otherNs.empty() ? "looks like " + otherNs : "XML root <" + std::string(root.name()) + "> is not WaterML 2.0";
    rep.error(root.name(), "format", root.name(), "unsupported format (" + what + ")");
    return;
  }
  auto isWml = [&](const pugi::xml_node& n, std::string_view local) {
    if (localName(n) != local) return false;
    auto p = prefixOf(n.name());
    for (auto& q : prefixes)
      if (p == q) return true;
    return false;
  };
  result.format = "waterml2";
  // Every MeasurementTimeseries, depth-first.
  std::vector<pugi::xml_node> series;
  for (auto n = doc.first_child(); n;) {
    if (n.type() == pugi::node_element && isWml(n, "MeasurementTimeseries")) series.push_back(n);
    if (n.first_child()) {
      n = n.first_child();
      continue;
    }
    while (n && !n.next_sibling()) n = n.parent();
    if (n) n = n.next_sibling();
  }
  if (series.empty()) {
    rep.error(root.name(), "MeasurementTimeseries", "", "no wml2:MeasurementTimeseries in the document");
    return;
  }
  for (size_t si = 0; si < series.size(); ++si) {
    auto ts = series[si];
    pugi::xml_node obs;
    for (auto p = ts.parent(); p; p = p.parent())
      if (p.type() == pugi::node_element && localName(p) == "OM_Observation") {
        obs = p;
        break;
      }
    std::string base = series.size() > 1 ? "series[" + std::to_string(si + 1) + "]/" : "";
    std::string stationName;
    std::string station = stationOf(obs, root, stationName);
    std::string quantity = obs ? quantityOf(obs) : "";
    std::string observedProperty;
    if (obs) {
      auto op = child(obs, "observedProperty");
      observedProperty = std::string(attr(op, "title"));
      if (observedProperty.empty()) observedProperty = std::string(attr(op, "href"));
    }
    std::string defaultUom;
    if (auto dpm = child(ts, "defaultPointMetadata")) defaultUom = uomOf(dpm);
    size_t pi = 0;
    for (auto pt = ts.first_child(); pt; pt = pt.next_sibling()) {
      if (pt.type() != pugi::node_element || localName(pt) != "point") continue;
      ++pi;
      std::string pos = base + "point[" + std::to_string(pi) + "]";
      auto tvp = child(pt, "MeasurementTVP");
      if (!tvp) {
        rep.reject(pos, "MeasurementTVP", "", "point without a wml2:MeasurementTVP");
        continue;
      }
      auto timeNode = child(tvp, "time");
      auto valueNode = child(tvp, "value");
      auto meta = child(tvp, "metadata");
      std::string_view timeText = textOf(timeNode);
      if (quantity.empty()) {
        rep.reject(pos, "observedProperty", observedProperty, "observed property is not water level or discharge");
        continue;
      }
      if (station.empty()) {
        rep.reject(pos, "featureOfInterest", "", "no monitoring point identifier");
        continue;
      }
      int64_t timeMs = 0;
      if (timeText.empty()) {
        rep.reject(pos, "time", "", "time missing");
        continue;
      }
      if (!parseWaterTime(timeText, options.defaultUtcOffsetMinutes, timeMs)) {
        rep.reject(pos, "time", timeText, "not an ISO 8601 date-time");
        continue;
      }
      std::string nilReason;
      if (meta) {
        if (auto nr = descendant(meta, "nilReason")) {
          nilReason = std::string(attr(nr, "title"));
          if (nilReason.empty()) nilReason = std::string(attr(nr, "href"));
          if (nilReason.empty()) nilReason = std::string(textOf(nr));
          if (nilReason.empty()) nilReason = "nilReason";
        }
      }
      std::string_view valueText = textOf(valueNode);
      bool xsiNil = valueNode && (attr(valueNode, "nil") == "true" || attr(valueNode, "nil") == "1");
      if (xsiNil || !nilReason.empty()) {
        rep.reject(pos, "value", valueText, "nil value" + (nilReason.empty() ? std::string() : " (" + nilReason + ")"));
        continue;
      }
      if (valueText.empty()) {
        rep.reject(pos, "value", "", "nil value (missing or empty)");
        continue;
      }
      double v = 0;
      if (!parseNumber(valueText, v)) {
        rep.reject(pos, "value", valueText, "not a number");
        continue;
      }
      if (result.readings.size() >= options.maxReadingsPerInput) {
        rep.reject(pos, "value", valueText, "more than " + std::to_string(options.maxReadingsPerInput) + " readings in one input");
        continue;
      }
      std::string unit = meta ? uomOf(meta) : "";
      if (unit.empty()) unit = defaultUom;
      double factor = unitFactor(unit, quantity);
      Reading r;
      r.station = station;
      r.stationName = stationName;
      r.quantity = quantity;
      r.value = v * factor;
      r.unit = unit;
      r.timeMs = timeMs;
      r.position = pos;
      r.valueField = "value";
      r.timeField = "time";
      r.rawValue = std::string(valueText);
      r.rawTime = std::string(timeText);
      r.original = printNode(pt);
      r.contentType = kWaterMl2ContentType;
      r.index = result.readings.size();
      result.readings.push_back(std::move(r));
    }
  }
}

}  // namespace

bool parseWaterTime(std::string_view t, int defaultOffsetMinutes, int64_t& ms) {
  t = trim(t);
  auto digits = [&](size_t pos, size_t n, int& v) {
    if (pos + n > t.size()) return false;
    v = 0;
    for (size_t i = pos; i < pos + n; ++i) {
      if (t[i] < '0' || t[i] > '9') return false;
      v = v * 10 + (t[i] - '0');
    }
    return true;
  };
  int y, mo, d, h = 0, mi = 0, s = 0;
  if (t.size() < 10 || !digits(0, 4, y) || (t[4] != '-' && t[4] != '/') || t[7] != t[4] || !digits(5, 2, mo) ||
      !digits(8, 2, d))
    return false;
  static const int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 1900 || y > 2200 || mo < 1 || mo > 12 || d < 1 || d > kDays[mo - 1]) return false;
  if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return false;
  size_t p = 10;
  int frac = 0;
  if (p < t.size() && (t[p] == ' ' || t[p] == 'T' || t[p] == 't')) {
    ++p;
    while (p < t.size() && t[p] == ' ') ++p;
    if (!digits(p, 2, h) || p + 2 >= t.size() || t[p + 2] != ':' || !digits(p + 3, 2, mi)) return false;
    p += 5;
    if (p < t.size() && t[p] == ':') {
      if (!digits(p + 1, 2, s)) return false;
      p += 3;
      if (p < t.size() && t[p] == '.' && !parseSecondFraction(t, ++p, frac)) return false;
    }
    if (h > 24 || mi > 59 || s > 60 || (h == 24 && (mi != 0 || s != 0))) return false;
  }
  int offsetMin = defaultOffsetMinutes;
  while (p < t.size() && t[p] == ' ') ++p;
  if (p < t.size() && (t[p] == 'Z' || t[p] == 'z')) {
    offsetMin = 0;
    ++p;
  } else if (p < t.size() && (t[p] == '+' || t[p] == '-')) {
    int oh, om;
    if (!digits(p + 1, 2, oh)) return false;
    size_t q = p + 3;
    if (q < t.size() && t[q] == ':') ++q;
    if (!digits(q, 2, om) || oh > 23 || om > 59) return false;
    offsetMin = (oh * 60 + om) * (t[p] == '-' ? -1 : 1);
    p = q + 2;
  }
  if (p != t.size()) return false;
  int64_t days = daysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  int64_t secs = days * 86400 + int64_t(h) * 3600 + mi * 60 + s - int64_t(offsetMin) * 60;
  ms = secs * 1000 + frac;
  return true;
}

namespace {
void parseReadingsImpl(std::string_view bytes, const WaterOptions& options, Reporter& rep) {
  if (bytes.size() > options.maxFileBytes) {
    rep.error("document", "size", std::to_string(bytes.size()) + " bytes",
              "larger than " + std::to_string(options.maxFileBytes) + " bytes; not parsed");
    return;
  }
  std::string_view body = bytes;
  if (body.substr(0, 3) == "\xEF\xBB\xBF") body.remove_prefix(3);
  if (trim(body).empty()) {
    rep.error("document", "format", "", "empty input");
    return;
  }
  if (body.substr(0, 2) == "\xFF\xFE" || body.substr(0, 2) == "\xFE\xFF") {
    rep.error("document", "encoding", "UTF-16", "unsupported format (UTF-16 text; send UTF-8 or GB18030)");
    return;
  }
  std::string_view t = trim(body);
  if (t[0] == '<') {
    parseWaterMl(bytes, options, rep);
    return;
  }
  if (looksBinary(body)) {
    rep.error("document", "format", body.substr(0, 16), "unsupported format (binary data)");
    return;
  }
  std::string other = unsupportedTextFormat(body);
  if (!other.empty()) {
    rep.error("document", "format", t.substr(0, 40), "unsupported format (looks like " + other + ")");
    return;
  }
  parseCsv(bytes, options, rep);
}
}  // namespace

ReadingsResult parseReadings(std::string_view bytes, std::string_view source, const WaterOptions& options) {
  ReadingsResult result;
  Reporter rep{result, std::string(source), std::max<size_t>(options.maxProblemsPerInput, 1)};
  parseReadingsImpl(bytes, options, rep);
  if (rep.suppressed > 0)
    result.problems.push_back(InputProblem{InputProblem::Level::error, std::string(source), "document", "problems",
                                           std::to_string(rep.suppressed) + " more",
                                           std::to_string(rep.suppressed) +
                                               " further problems not listed (max_problems_per_input)"});
  // A refused document (unsupported, malformed, too large) counts as one rejected input.
  if (result.readings.empty() && result.rejected == 0)
    for (auto& p : result.problems)
      if (p.level == InputProblem::Level::error) {
        result.rejected = 1;
        break;
      }
  return result;
}

}  // namespace alertbus::water
