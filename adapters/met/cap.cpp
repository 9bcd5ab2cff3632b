// CAP -> Message mapping; see cap.h for the contract. Every problem is recorded with the element path; nothing
// here throws past parseCap (pugixml does not throw, Cap'n Proto builders are given only valid sizes and text).
#include "adapters/met/cap.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>

#include <pugixml.hpp>

#include "model/validate.h"
#include "schemas/message.capnp.h"

namespace alertbus::met {
namespace {

using schema::Message;
constexpr size_t kMaxEventCodeBytes = 64;
constexpr double kMetresPerFoot = 0.3048;


std::string_view trim(std::string_view s) {
  const char* ws = " \t\r\n";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

std::string lowerAscii(std::string_view s) {
  std::string r(s);
  for (auto& c : r)
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
  return r;
}

bool iequals(std::string_view a, std::string_view b) { return lowerAscii(a) == lowerAscii(b); }

// Local name of an element, without its namespace prefix.
std::string_view localName(const pugi::xml_node& n) {
  std::string_view name = n.name();
  size_t colon = name.find(':');
  return colon == std::string_view::npos ? name : name.substr(colon + 1);
}

std::string_view textOf(const pugi::xml_node& n) { return trim(n.text().get()); }

// Element children with local name `name`, in document order.
std::vector<pugi::xml_node> children(const pugi::xml_node& parent, std::string_view name) {
  std::vector<pugi::xml_node> r;
  for (auto c = parent.first_child(); c; c = c.next_sibling())
    if (c.type() == pugi::node_element && localName(c) == name) r.push_back(c);
  return r;
}
pugi::xml_node child(const pugi::xml_node& parent, std::string_view name) {
  for (auto c = parent.first_child(); c; c = c.next_sibling())
    if (c.type() == pugi::node_element && localName(c) == name) return c;
  return {};
}
std::string_view childText(const pugi::xml_node& parent, std::string_view name) { return textOf(child(parent, name)); }

bool parseDouble(std::string_view s, double& out) {
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size() && std::isfinite(out);
}

std::vector<std::string_view> splitWs(std::string_view s) {
  std::vector<std::string_view> r;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
    size_t b = i;
    while (i < s.size() && !(s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
    if (i > b) r.push_back(s.substr(b, i - b));
  }
  return r;
}


bool parseLatLon(std::string_view pair, double& lat, double& lon) {
  size_t comma = pair.find(',');
  if (comma == std::string_view::npos) return false;
  return parseDouble(trim(pair.substr(0, comma)), lat) && parseDouble(trim(pair.substr(comma + 1)), lon);
}
bool inRange(double lat, double lon) { return lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180; }

int64_t daysFromCivil(int64_t y, unsigned m, unsigned d) {  // Howard Hinnant's algorithm
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

// Collects problems with their element paths.
struct Reporter {
  CapResult& result;
  std::string source;
  void add(CapProblem::Level level, std::string position, std::string field, std::string_view value,
           std::string reason) {
    result.problems.push_back(
        CapProblem{level, source, std::move(position), std::move(field), clipValue(value), std::move(reason)});
  }
  void error(std::string pos, std::string field, std::string_view value, std::string reason) {
    add(CapProblem::Level::error, std::move(pos), std::move(field), value, std::move(reason));
  }
  void warn(std::string pos, std::string field, std::string_view value, std::string reason) {
    add(CapProblem::Level::warning, std::move(pos), std::move(field), value, std::move(reason));
  }
};

std::string indexed(const std::string& base, std::string_view name, size_t i) {
  return base + "/" + std::string(name) + "[" + std::to_string(i + 1) + "]";
}

template <typename E>
struct Word {
  const char* word;
  E value;
};

template <typename E, size_t N>
std::optional<E> lookup(const Word<E> (&table)[N], std::string_view w) {
  for (const auto& e : table)
    if (iequals(w, e.word)) return e.value;
  return std::nullopt;
}

const Word<schema::Status> kStatus[] = {{"Actual", schema::Status::ACTUAL},
                                        {"Exercise", schema::Status::EXERCISE},
                                        {"System", schema::Status::SYSTEM},
                                        {"Test", schema::Status::TEST},
                                        {"Draft", schema::Status::DRAFT}};
const Word<schema::MsgType> kMsgType[] = {{"Alert", schema::MsgType::ALERT},
                                          {"Update", schema::MsgType::UPDATE},
                                          {"Cancel", schema::MsgType::CANCEL},
                                          {"Ack", schema::MsgType::ACK},
                                          {"Error", schema::MsgType::ERROR}};
const Word<schema::Category> kCategory[] = {
    {"Geo", schema::Category::GEO},       {"Met", schema::Category::MET},         {"Safety", schema::Category::SAFETY},
    {"Security", schema::Category::SECURITY}, {"Rescue", schema::Category::RESCUE}, {"Fire", schema::Category::FIRE},
    {"Health", schema::Category::HEALTH}, {"Env", schema::Category::ENV},         {"Transport", schema::Category::TRANSPORT},
    {"Infra", schema::Category::INFRA},   {"CBRNE", schema::Category::CBRNE},     {"Other", schema::Category::OTHER}};
const Word<schema::Urgency> kUrgency[] = {{"Immediate", schema::Urgency::IMMEDIATE},
                                          {"Expected", schema::Urgency::EXPECTED},
                                          {"Future", schema::Urgency::FUTURE},
                                          {"Past", schema::Urgency::PAST},
                                          {"Unknown", schema::Urgency::UNKNOWN}};
const Word<schema::Severity> kSeverity[] = {{"Extreme", schema::Severity::EXTREME},
                                            {"Severe", schema::Severity::SEVERE},
                                            {"Moderate", schema::Severity::MODERATE},
                                            {"Minor", schema::Severity::MINOR},
                                            {"Unknown", schema::Severity::UNKNOWN}};
const Word<schema::Certainty> kCertainty[] = {{"Observed", schema::Certainty::OBSERVED},
                                              {"Likely", schema::Certainty::LIKELY},
                                              {"Possible", schema::Certainty::POSSIBLE},
                                              {"Unlikely", schema::Certainty::UNLIKELY},
                                              {"Unknown", schema::Certainty::UNKNOWN},
                                              {"Very Likely", schema::Certainty::LIKELY}};  // CAP 1.0 word
const Word<schema::ResponseType> kResponse[] = {
    {"Shelter", schema::ResponseType::SHELTER}, {"Evacuate", schema::ResponseType::EVACUATE},
    {"Prepare", schema::ResponseType::PREPARE}, {"Execute", schema::ResponseType::EXECUTE},
    {"Avoid", schema::ResponseType::AVOID},     {"Monitor", schema::ResponseType::MONITOR},
    {"Assess", schema::ResponseType::ASSESS},   {"AllClear", schema::ResponseType::ALL_CLEAR},
    {"None", schema::ResponseType::NONE}};

const char* const kAdminCodeNames[] = {"gb2260", "gb/t 2260", "gbt2260", "gb_t_2260", "adcode", "行政区划代码"};
const char* const kColourParamNames[] = {"colour", "color", "level", "awareness_level", "预警级别", "预警颜色"};
const char* const kEventCodePreference[] = {"alertbus", "cma", "gb/t 35965"};
// eventCode entries that describe the document, not the event (DWD profile): never the normative code.
const char* const kEventCodeMetadata[] = {"profile_version", "license", "area_color"};

bool isAdminCode(std::string_view v) {
  if (v.size() != 6 && v.size() != 12) return false;
  for (char c : v)
    if (c < '0' || c > '9') return false;
  return true;
}

schema::Colour colourFromParam(std::string_view value) {
  static const std::pair<const char*, schema::Colour> zh[] = {{"红", schema::Colour::RED},
                                                              {"橙", schema::Colour::ORANGE},
                                                              {"黄", schema::Colour::YELLOW},
                                                              {"蓝", schema::Colour::BLUE}};
  for (auto& [p, c] : zh)
    if (value.substr(0, std::strlen(p)) == p) return c;
  std::string v = lowerAscii(value);
  size_t i = 0;
  while (i < v.size()) {
    while (i < v.size() && !(v[i] >= 'a' && v[i] <= 'z')) ++i;
    size_t b = i;
    while (i < v.size() && v[i] >= 'a' && v[i] <= 'z') ++i;
    std::string_view tok(v.data() + b, i - b);
    if (tok == "red") return schema::Colour::RED;
    if (tok == "orange") return schema::Colour::ORANGE;
    if (tok == "yellow") return schema::Colour::YELLOW;
    if (tok == "blue") return schema::Colour::BLUE;
  }
  return schema::Colour::UNSPECIFIED;
}

schema::Colour colourFromSeverity(schema::Severity s) {
  switch (s) {
    case schema::Severity::EXTREME: return schema::Colour::RED;
    case schema::Severity::SEVERE: return schema::Colour::ORANGE;
    case schema::Severity::MODERATE: return schema::Colour::YELLOW;
    case schema::Severity::MINOR: return schema::Colour::BLUE;
    default: return schema::Colour::UNSPECIFIED;
  }
}

// Cuts to at most n bytes without splitting a UTF-8 sequence.
std::string cutUtf8(std::string s, size_t n) {
  if (s.size() <= n) return s;
  size_t e = n;
  while (e > 0 && (static_cast<unsigned char>(s[e]) & 0xc0) == 0x80) --e;
  s.resize(e);
  return s;
}

struct KV {
  std::string key, value;
};
std::vector<KV> valuePairs(const pugi::xml_node& parent, std::string_view name) {
  std::vector<KV> r;
  for (auto& n : children(parent, name))
    r.push_back({std::string(childText(n, "valueName")), std::string(childText(n, "value"))});
  return r;
}
void setPairs(capnp::List<schema::KeyValue>::Builder list, const std::vector<KV>& kvs) {
  for (size_t i = 0; i < kvs.size(); ++i) {
    list[i].setKey(kvs[i].key);
    list[i].setValue(kvs[i].value);
  }
}

class CapMapper {
 public:
  CapMapper(Reporter& rep) : rep_(rep) {}

  void mapAlert(const pugi::xml_node& alert, Message::Builder m) {
    const std::string base = "alert";
    auto required = [&](std::string_view name) -> std::string_view {
      auto v = childText(alert, name);
      if (v.empty()) rep_.error(base + "/" + std::string(name), std::string(name), "", "required element missing or empty");
      return v;
    };
    auto id = required("identifier");
    if (!id.empty()) m.setId(std::string(id));
    auto sender = required("sender");
    rep_.result.capSender = std::string(sender);
    auto sent = required("sent");
    int64_t sentMs = 0;
    if (!sent.empty()) {
      if (parseCapTime(sent, sentMs)) m.setSentMs(sentMs);
      else rep_.error(base + "/sent", "sent", sent, "not an ISO 8601 date-time with offset");
    }
    auto status = required("status");
    if (!status.empty()) {
      if (auto s = lookup(kStatus, status)) m.setStatus(*s);
      else rep_.error(base + "/status", "status", status, "not Actual, Exercise, System, Test or Draft");
    }
    auto type = required("msgType");
    if (!type.empty()) {
      if (auto t = lookup(kMsgType, type)) m.setMsgType(*t);
      else rep_.error(base + "/msgType", "msgType", type, "not Alert, Update, Cancel, Ack or Error");
    }
    mapReferences(alert, m);
    auto incidents = childText(alert, "incidents");
    if (!incidents.empty()) m.setIncident(std::string(incidents));

    auto infos = children(alert, "info");
    if (infos.empty()) rep_.error(base + "/info", "info", "", "no <info>: alertbus needs at least one info per warning");
    auto list = m.getPayload().initWarning(static_cast<unsigned>(infos.size()));
    for (size_t i = 0; i < infos.size(); ++i) mapInfo(infos[i], indexed(base, "info", i), list[i]);
  }

 private:
  void mapReferences(const pugi::xml_node& alert, Message::Builder m) {
    auto refsNode = child(alert, "references");
    if (!refsNode) return;
    struct Ref {
      std::string sender, id;
      int64_t sentMs;
    };
    std::vector<Ref> refs;
    for (auto tok : splitWs(textOf(refsNode))) {
      size_t c1 = tok.find(','), c2 = c1 == std::string_view::npos ? c1 : tok.find(',', c1 + 1);
      if (c2 == std::string_view::npos || tok.find(',', c2 + 1) != std::string_view::npos) {
        rep_.warn("alert/references", "references", tok, "entry is not a sender,identifier,sent triple; dropped");
        continue;
      }
      Ref r{std::string(tok.substr(0, c1)), std::string(tok.substr(c1 + 1, c2 - c1 - 1)), 0};
      if (r.id.empty()) {
        rep_.warn("alert/references", "references", tok, "entry without an identifier; dropped");
        continue;
      }
      if (!parseCapTime(tok.substr(c2 + 1), r.sentMs)) {
        rep_.warn("alert/references", "references", tok, "sent time unparsable; kept with sentMs 0");
        r.sentMs = 0;
      }
      refs.push_back(std::move(r));
    }
    if (refs.empty() && !textOf(refsNode).empty()) {  // an empty <references/> is common and harmless
      rep_.warn("alert/references", "references", textOf(refsNode), "no usable reference");
    }
    if (refs.empty()) return;
    auto list = m.initReferences(static_cast<unsigned>(refs.size()));
    for (size_t i = 0; i < refs.size(); ++i) {
      list[i].setSender(refs[i].sender);
      list[i].setId(refs[i].id);
      list[i].setSentMs(refs[i].sentMs);
    }
  }

  template <typename E, size_t N>
  E enumField(const pugi::xml_node& info, const std::string& pos, const char* name, const Word<E> (&table)[N]) {
    auto v = childText(info, name);
    if (v.empty()) {
      rep_.warn(pos + "/" + name, name, "", "missing; left unspecified");
      return E{};
    }
    if (auto e = lookup(table, v)) return *e;
    rep_.warn(pos + "/" + name, name, v, "unknown value; left unspecified");
    return E{};
  }

  int64_t timeField(const pugi::xml_node& info, const std::string& pos, const char* name) {
    auto v = childText(info, name);
    if (v.empty()) return 0;
    int64_t ms = 0;
    if (parseCapTime(v, ms)) return ms;
    rep_.warn(pos + "/" + name, name, v, "not an ISO 8601 date-time with offset; left absent");
    return 0;
  }

  void mapInfo(const pugi::xml_node& info, const std::string& pos, schema::Info::Builder out) {
    auto lang = childText(info, "language");
    out.setLanguage(lang.empty() ? "en-US" : std::string(lang));

    std::vector<schema::Category> cats;
    auto catNodes = children(info, "category");
    for (size_t i = 0; i < catNodes.size(); ++i) {
      if (auto c = lookup(kCategory, textOf(catNodes[i]))) cats.push_back(*c);
      else rep_.warn(indexed(pos, "category", i), "category", textOf(catNodes[i]), "unknown category; dropped");
    }
    auto catList = out.initCategories(static_cast<unsigned>(cats.size()));
    for (size_t i = 0; i < cats.size(); ++i) catList.set(static_cast<unsigned>(i), cats[i]);

    auto event = childText(info, "event");
    out.setEvent(std::string(event));
    auto codes = valuePairs(info, "eventCode");
    setPairs(out.initEventCodes(static_cast<unsigned>(codes.size())), codes);
    std::string code;
    for (auto pref : kEventCodePreference) {
      for (auto& kv : codes)
        if (code.empty() && lowerAscii(kv.key) == pref && !trim(kv.value).empty()) code = std::string(trim(kv.value));
    }
    for (auto& kv : codes) {
      bool metadata = false;
      for (auto name : kEventCodeMetadata) metadata = metadata || lowerAscii(trim(kv.key)) == name;
      if (code.empty() && !metadata && !trim(kv.value).empty()) code = std::string(trim(kv.value));
    }
    if (code.empty()) code = lowerAscii(event);
    if (code.size() > kMaxEventCodeBytes) {
      rep_.warn(pos + "/eventCode", "eventCode", code, "normative event code cut to 64 bytes");
      code = cutUtf8(std::move(code), kMaxEventCodeBytes);
    }
    if (code.empty()) rep_.error(pos + "/event", "event", "", "no eventCode and no event text: cannot route");
    out.setEventCode(code);

    std::vector<schema::ResponseType> rts;
    auto rtNodes = children(info, "responseType");
    for (size_t i = 0; i < rtNodes.size(); ++i) {
      if (auto r = lookup(kResponse, textOf(rtNodes[i]))) rts.push_back(*r);
      else rep_.warn(indexed(pos, "responseType", i), "responseType", textOf(rtNodes[i]), "unknown responseType; dropped");
    }
    auto rtList = out.initResponseTypes(static_cast<unsigned>(rts.size()));
    for (size_t i = 0; i < rts.size(); ++i) rtList.set(static_cast<unsigned>(i), rts[i]);

    out.setUrgency(enumField(info, pos, "urgency", kUrgency));
    auto severity = enumField(info, pos, "severity", kSeverity);
    out.setSeverity(severity);
    out.setCertainty(enumField(info, pos, "certainty", kCertainty));
    out.setAudience(std::string(childText(info, "audience")));
    out.setEffectiveMs(timeField(info, pos, "effective"));
    out.setOnsetMs(timeField(info, pos, "onset"));
    out.setExpiresMs(timeField(info, pos, "expires"));
    out.setSenderName(std::string(childText(info, "senderName")));
    out.setHeadline(std::string(childText(info, "headline")));
    out.setDescription(std::string(childText(info, "description")));
    out.setInstruction(std::string(childText(info, "instruction")));
    out.setWeb(std::string(childText(info, "web")));
    out.setContact(std::string(childText(info, "contact")));

    auto params = valuePairs(info, "parameter");
    setPairs(out.initParameters(static_cast<unsigned>(params.size())), params);
    schema::Colour colour = schema::Colour::UNSPECIFIED;
    for (auto& kv : params) {
      if (colour != schema::Colour::UNSPECIFIED) break;
      std::string key = lowerAscii(trim(kv.key));
      for (auto name : kColourParamNames)
        if (key == name) colour = colourFromParam(trim(kv.value));
    }
    if (colour == schema::Colour::UNSPECIFIED) colour = colourFromSeverity(severity);
    out.setColour(colour);

    auto resNodes = children(info, "resource");
    auto resList = out.initResources(static_cast<unsigned>(resNodes.size()));
    for (size_t i = 0; i < resNodes.size(); ++i) {
      auto r = resNodes[i];
      auto o = resList[static_cast<unsigned>(i)];
      o.setDescription(std::string(childText(r, "resourceDesc")));
      o.setMimeType(std::string(childText(r, "mimeType")));
      auto size = childText(r, "size");
      if (!size.empty()) {
        uint64_t n = 0;
        auto [p, ec] = std::from_chars(size.data(), size.data() + size.size(), n);
        if (ec == std::errc() && p == size.data() + size.size()) o.setSizeBytes(n);
        else rep_.warn(indexed(pos, "resource", i) + "/size", "size", size, "not a byte count; left 0");
      }
      o.setUri(std::string(childText(r, "uri")));
      o.setDigest(std::string(childText(r, "digest")));
    }

    auto areaNodes = children(info, "area");
    auto areaList = out.initAreas(static_cast<unsigned>(areaNodes.size()));
    for (size_t i = 0; i < areaNodes.size(); ++i)
      mapArea(areaNodes[i], indexed(pos, "area", i), areaList[static_cast<unsigned>(i)]);
  }

  struct Pt {
    double lat, lon;
  };

  // Returns the ring, or nullopt (with a warning) when the polygon is unusable.
  std::optional<std::vector<Pt>> parsePolygon(std::string_view text, const std::string& pos) {
    if (text.empty()) {
      rep_.warn(pos, "polygon", "", "empty polygon; dropped");
      return std::nullopt;
    }
    std::vector<Pt> ring;
    for (auto pair : splitWs(text)) {
      Pt p{};
      if (!parseLatLon(pair, p.lat, p.lon)) {
        rep_.warn(pos, "polygon", pair, "not a lat,lon pair; polygon dropped");
        return std::nullopt;
      }
      if (!inRange(p.lat, p.lon)) {
        rep_.warn(pos, "polygon", pair, "coordinate outside -90..90, -180..180; polygon dropped");
        return std::nullopt;
      }
      ring.push_back(p);
    }
    if (ring.size() < 4) {
      rep_.warn(pos, "polygon", text, "fewer than 4 points; polygon dropped");
      return std::nullopt;
    }
    if (ring.front().lat != ring.back().lat || ring.front().lon != ring.back().lon) {
      rep_.warn(pos, "polygon", text, "ring not closed (first != last); polygon dropped");
      return std::nullopt;
    }
    return ring;
  }

  struct Circ {
    Pt c;
    double r;
  };
  std::optional<Circ> parseCircle(std::string_view text, const std::string& pos) {
    auto parts = splitWs(text);
    Circ c{};
    if (parts.size() != 2 || !parseLatLon(parts[0], c.c.lat, c.c.lon) || !parseDouble(parts[1], c.r)) {
      rep_.warn(pos, "circle", text, "not \"lat,lon radius_km\"; circle dropped");
      return std::nullopt;
    }
    if (!inRange(c.c.lat, c.c.lon) || c.r < 0 || c.r > 20000) {
      rep_.warn(pos, "circle", text, "centre or radius out of range; circle dropped");
      return std::nullopt;
    }
    return c;
  }

  double feetField(const pugi::xml_node& area, const std::string& pos, const char* name) {
    auto v = childText(area, name);
    double ft = 0;
    if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
    if (parseDouble(v, ft)) return ft * kMetresPerFoot;
    rep_.warn(pos + "/" + name, name, v, "not a number of feet; left absent");
    return std::numeric_limits<double>::quiet_NaN();
  }

  void mapArea(const pugi::xml_node& area, const std::string& pos, schema::Area::Builder out) {
    out.setDescription(std::string(childText(area, "areaDesc")));
    std::vector<std::vector<Pt>> polys;
    auto polyNodes = children(area, "polygon");
    for (size_t i = 0; i < polyNodes.size(); ++i)
      if (auto r = parsePolygon(textOf(polyNodes[i]), indexed(pos, "polygon", i))) polys.push_back(std::move(*r));
    auto pl = out.initPolygons(static_cast<unsigned>(polys.size()));
    for (size_t i = 0; i < polys.size(); ++i) {
      auto pts = pl[static_cast<unsigned>(i)].initPoints(static_cast<unsigned>(polys[i].size()));
      for (size_t k = 0; k < polys[i].size(); ++k) {
        pts[static_cast<unsigned>(k)].setLat(polys[i][k].lat);
        pts[static_cast<unsigned>(k)].setLon(polys[i][k].lon);
      }
    }
    std::vector<Circ> circles;
    auto circNodes = children(area, "circle");
    for (size_t i = 0; i < circNodes.size(); ++i)
      if (auto c = parseCircle(textOf(circNodes[i]), indexed(pos, "circle", i))) circles.push_back(*c);
    auto cl = out.initCircles(static_cast<unsigned>(circles.size()));
    for (size_t i = 0; i < circles.size(); ++i) {
      auto c = cl[static_cast<unsigned>(i)];
      c.getCenter().setLat(circles[i].c.lat);
      c.getCenter().setLon(circles[i].c.lon);
      c.setRadiusKm(circles[i].r);
    }
    auto geocodes = valuePairs(area, "geocode");
    setPairs(out.initGeocodes(static_cast<unsigned>(geocodes.size())), geocodes);
    std::vector<std::string> admin;
    for (size_t i = 0; i < geocodes.size(); ++i) {
      std::string key = lowerAscii(trim(geocodes[i].key));
      bool named = false;
      for (auto n : kAdminCodeNames) named = named || key == n;
      if (!named) continue;
      auto v = trim(geocodes[i].value);
      if (isAdminCode(v)) admin.emplace_back(v);
      else rep_.warn(indexed(pos, "geocode", i), "geocode", v, "GB/T 2260 code must be 6 or 12 digits; not an adminCode");
    }
    auto al = out.initAdminCodes(static_cast<unsigned>(admin.size()));
    for (size_t i = 0; i < admin.size(); ++i) al.set(static_cast<unsigned>(i), admin[i]);
    out.setAltitudeM(feetField(area, pos, "altitude"));
    out.setCeilingM(feetField(area, pos, "ceiling"));
  }

  Reporter& rep_;
};

bool hasDeclaration(std::string_view xml, std::string_view what) {
  // Markup declarations are ASCII in every ASCII-compatible encoding; UTF-16/32 documents are checked on the
  // parsed tree instead (parse_doctype).
  return xml.find(what) != std::string_view::npos;
}

}  // namespace

std::string CapProblem::str() const {
  std::string s = source + ": ";
  if (level == Level::warning) s += "warning: ";
  s += position + ": " + field;
  if (!value.empty()) s += "=\"" + value + "\"";
  s += ": " + reason;
  return s;
}

size_t CapResult::errorCount() const {
  size_t n = 0;
  for (auto& p : problems) n += p.level == CapProblem::Level::error;
  return n;
}

bool parseCapTime(std::string_view t, int64_t& ms) {
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
  int y, mo, d, h, mi, s;
  if (!digits(0, 4, y) || t.size() < 19 || t[4] != '-' || !digits(5, 2, mo) || t[7] != '-' || !digits(8, 2, d) ||
      t[10] != 'T' || !digits(11, 2, h) || t[13] != ':' || !digits(14, 2, mi) || t[16] != ':' || !digits(17, 2, s))
    return false;
  static const int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (mo < 1 || mo > 12 || d < 1 || d > kDays[mo - 1] || h > 23 || mi > 59 || s > 60) return false;
  size_t p = 19;
  int frac = 0;
  if (p < t.size() && t[p] == '.') {
    ++p;
    size_t b = p;
    int scale = 100;
    while (p < t.size() && t[p] >= '0' && t[p] <= '9') {
      frac += (t[p] - '0') * scale;
      scale /= 10;
      ++p;
    }
    if (p == b) return false;
  }
  int offsetMin = 0;
  if (p < t.size() && (t[p] == 'Z' || t[p] == 'z')) {
    ++p;
  } else if (p < t.size() && (t[p] == '+' || t[p] == '-')) {
    int oh, om;
    if (!digits(p + 1, 2, oh) || p + 3 >= t.size() || t[p + 3] != ':' || !digits(p + 4, 2, om) || oh > 23 || om > 59)
      return false;
    offsetMin = (oh * 60 + om) * (t[p] == '-' ? -1 : 1);
    p += 6;
  } else {
    return false;
  }
  if (p != t.size()) return false;
  int64_t days = daysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  int64_t secs = days * 86400 + h * 3600 + mi * 60 + s - offsetMin * 60;
  ms = secs * 1000 + frac;
  return true;
}

CapResult parseCap(std::string_view xml, std::string_view source, int64_t receivedMs, capnp::MessageBuilder& out) {
  CapResult result;
  Reporter rep{result, std::string(source)};
  auto m = out.initRoot<Message>();
  auto prov = m.initProvenance();
  prov.setContentType("application/cap+xml");
  prov.setSource(std::string(source));
  prov.setReceivedMs(receivedMs);

  if (xml.size() > kMaxCapBytes) {
    rep.error("document", "size", std::to_string(xml.size()) + " bytes",
              "larger than " + std::to_string(kMaxCapBytes) + " bytes; not parsed");
    return result;
  }
  prov.setOriginal(capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(xml.data()), xml.size()));

  if (hasDeclaration(xml, "<!DOCTYPE") || hasDeclaration(xml, "<!ENTITY")) {
    rep.error("document", "DOCTYPE", "", "DTDs and entity declarations are refused (XXE); not parsed");
    return result;
  }

  const unsigned opts = pugi::parse_default | pugi::parse_doctype;
  pugi::xml_document doc;
  auto pr = doc.load_buffer(xml.data(), xml.size(), opts, pugi::encoding_auto);
  if (pr && pr.encoding == pugi::encoding_utf8) {
    // Claims (or defaults to) UTF-8 but is not: Latin-1 mislabelled as UTF-8 is common in the wild.
    bool clean = true;
    for (auto n = doc.first_child(); n && clean;) {  // check all text, depth-first
      if (n.type() == pugi::node_pcdata || n.type() == pugi::node_cdata) clean = isCleanUtf8(n.value(), std::strlen(n.value()));
      for (auto a = n.first_attribute(); a && clean; a = a.next_attribute())
        clean = isCleanUtf8(a.value(), std::strlen(a.value()));
      if (n.first_child()) n = n.first_child();
      else {
        while (n && !n.next_sibling()) n = n.parent();
        if (n) n = n.next_sibling();
      }
    }
    if (!clean) {
      rep.warn("document", "encoding", "UTF-8", "not valid UTF-8 text; decoded as ISO-8859-1");
      pr = doc.load_buffer(xml.data(), xml.size(), opts, pugi::encoding_latin1);
    }
  }
  if (!pr) {
    // pugixml's offset counts in its converted (UTF-8) buffer, which can be longer than the input.
    size_t at = std::min(static_cast<size_t>(pr.offset < 0 ? 0 : pr.offset), xml.size());
    rep.error("offset " + std::to_string(pr.offset), "xml", xml.substr(at, 40),
              std::string("malformed XML: ") + pr.description());
    return result;
  }
  for (auto n = doc.first_child(); n; n = n.next_sibling())
    if (n.type() == pugi::node_doctype) {
      rep.error("document", "DOCTYPE", n.value(), "DTDs and entity declarations are refused (XXE)");
      return result;
    }

  auto root = doc.document_element();
  if (localName(root) != "alert") {
    rep.error(root.name(), "alert", root.name(), "root element is not a CAP <alert>");
    return result;
  }
  std::string_view rootName = root.name();
  size_t colon = rootName.find(':');
  std::string nsAttr = colon == std::string_view::npos ? "xmlns" : "xmlns:" + std::string(rootName.substr(0, colon));
  std::string_view ns = root.attribute(nsAttr.c_str()).value();
  constexpr std::string_view kNsPrefix = "urn:oasis:names:tc:emergency:cap:";
  if (ns.substr(0, kNsPrefix.size()) == kNsPrefix && (ns.substr(kNsPrefix.size()) == "1.0" ||
                                                     ns.substr(kNsPrefix.size()) == "1.1" ||
                                                     ns.substr(kNsPrefix.size()) == "1.2")) {
    result.capVersion = std::string(ns.substr(kNsPrefix.size()));
  } else {
    rep.error("alert", nsAttr, ns, "not a CAP 1.0, 1.1 or 1.2 namespace");
    return result;
  }

  CapMapper mapper(rep);
  mapper.mapAlert(root, m);
  result.accepted = result.errorCount() == 0;
  return result;
}

}  // namespace alertbus::met
