// Fact extraction and the name tables for enums used in config files. See facts.h.
#include "model/facts.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace alertbus {
namespace {

template <typename E, size_t N>
bool lookup(const std::array<std::pair<std::string_view, E>, N>& table, std::string_view name, E& out) {
  for (auto& [n, v] : table)
    if (n == name) {
      out = v;
      return true;
    }
  return false;
}
template <typename E, size_t N>
std::string_view nameOf(const std::array<std::pair<std::string_view, E>, N>& table, E v) {
  for (auto& [n, e] : table)
    if (e == v) return n;
  return "unspecified";
}

const std::array<std::pair<std::string_view, Kind>, 7> kKinds{{{"warning", Kind::warning},
                                                               {"forecast", Kind::forecast},
                                                               {"observation", Kind::observation},
                                                               {"sitrep", Kind::sitrep},
                                                               {"instruction", Kind::instruction},
                                                               {"fused_alert", Kind::fusedAlert},
                                                               {"ack", Kind::ack}}};
using S = schema::Status;
const std::array<std::pair<std::string_view, S>, 5> kStatuses{
    {{"actual", S::ACTUAL}, {"exercise", S::EXERCISE}, {"system", S::SYSTEM}, {"test", S::TEST}, {"draft", S::DRAFT}}};
using T = schema::MsgType;
const std::array<std::pair<std::string_view, T>, 5> kMsgTypes{
    {{"alert", T::ALERT}, {"update", T::UPDATE}, {"cancel", T::CANCEL}, {"ack", T::ACK}, {"error", T::ERROR}}};
using C = schema::Category;
const std::array<std::pair<std::string_view, C>, 12> kCategories{{{"geo", C::GEO},
                                                                  {"met", C::MET},
                                                                  {"safety", C::SAFETY},
                                                                  {"security", C::SECURITY},
                                                                  {"rescue", C::RESCUE},
                                                                  {"fire", C::FIRE},
                                                                  {"health", C::HEALTH},
                                                                  {"env", C::ENV},
                                                                  {"transport", C::TRANSPORT},
                                                                  {"infra", C::INFRA},
                                                                  {"cbrne", C::CBRNE},
                                                                  {"other", C::OTHER}}};
const std::array<std::pair<std::string_view, int>, 4> kSeverities{
    {{"minor", 1}, {"moderate", 2}, {"severe", 3}, {"extreme", 4}}};
const std::array<std::pair<std::string_view, int>, 4> kColours{{{"blue", 1}, {"yellow", 2}, {"orange", 3}, {"red", 4}}};
const std::array<std::pair<std::string_view, int>, 4> kLevels{{{"IV", 1}, {"III", 2}, {"II", 3}, {"I", 4}}};

void addUnique(std::vector<std::string>& v, capnp::Text::Reader t) {
  if (t.size() == 0) return;
  std::string_view s(t.cStr(), t.size());
  for (auto& e : v)
    if (e == s) return;
  v.emplace_back(s);
}

void addAreas(MessageFacts& f, capnp::List<schema::Area>::Reader areas) {
  for (auto a : areas) {
    for (auto c : a.getAdminCodes()) addUnique(f.adminCodes, c);
    for (auto g : a.getGeocodes()) {
      // GB/T 2260 codes may also arrive as CAP geocodes.
      auto k = g.getKey();
      std::string_view key(k.cStr(), k.size());
      if (key == "GB2260" || key == "GB/T 2260" || key == "admincode") addUnique(f.adminCodes, g.getValue());
    }
    for (auto p : a.getPolygons()) {
      GeoRing ring;
      ring.reserve(p.getPoints().size());
      for (auto pt : p.getPoints()) ring.push_back({pt.getLat(), pt.getLon()});
      f.polygons.push_back(std::move(ring));
    }
    for (auto c : a.getCircles())
      f.circles.push_back({{c.getCenter().getLat(), c.getCenter().getLon()}, c.getRadiusKm()});
  }
}

void addInfos(MessageFacts& f, capnp::List<schema::Info>::Reader infos) {
  for (auto info : infos) {
    addUnique(f.events, info.getEventCode());
    for (auto c : info.getCategories())
      if (std::find(f.categories.begin(), f.categories.end(), c) == f.categories.end()) f.categories.push_back(c);
    int sev = severityRank(info.getSeverity());
    int col = colourRank(info.getColour());
    // Documented mapping: red=extreme, orange=severe, yellow=moderate, blue=minor.
    if (sev == 0) sev = col;
    if (col == 0) col = sev;
    f.severityRank = std::max(f.severityRank, sev);
    f.colourRank = std::max(f.colourRank, col);
    // Only the first language's areas: every info describes the same areas in another language.
    if (f.adminCodes.empty() && f.polygons.empty() && f.circles.empty()) addAreas(f, info.getAreas());
  }
}

}  // namespace

std::string_view kindName(Kind k) {
  for (auto& [n, v] : kKinds)
    if (v == k) return n;
  return "unspecified";
}
bool parseKind(std::string_view name, Kind& out) { return lookup(kKinds, name, out); }
std::string_view statusName(schema::Status s) { return nameOf(kStatuses, s); }
bool parseStatus(std::string_view name, schema::Status& out) { return lookup(kStatuses, name, out); }
std::string_view msgTypeName(schema::MsgType t) { return nameOf(kMsgTypes, t); }
bool parseMsgType(std::string_view name, schema::MsgType& out) { return lookup(kMsgTypes, name, out); }
std::string_view categoryName(schema::Category c) { return nameOf(kCategories, c); }
bool parseCategory(std::string_view name, schema::Category& out) { return lookup(kCategories, name, out); }
bool parseSeverityRank(std::string_view name, int& rank) { return lookup(kSeverities, name, rank); }
bool parseColourRank(std::string_view name, int& rank) { return lookup(kColours, name, rank); }
bool parseResponseLevelRank(std::string_view name, int& rank) { return lookup(kLevels, name, rank); }

int severityRank(schema::Severity s) {
  switch (s) {
    case schema::Severity::MINOR: return 1;
    case schema::Severity::MODERATE: return 2;
    case schema::Severity::SEVERE: return 3;
    case schema::Severity::EXTREME: return 4;
    default: return 0;
  }
}
int colourRank(schema::Colour c) {
  switch (c) {
    case schema::Colour::BLUE: return 1;
    case schema::Colour::YELLOW: return 2;
    case schema::Colour::ORANGE: return 3;
    case schema::Colour::RED: return 4;
    default: return 0;
  }
}
int responseLevelRank(schema::ResponseLevel l) {
  switch (l) {
    case schema::ResponseLevel::LEVEL_I_V: return 1;
    case schema::ResponseLevel::LEVEL_I_I_I: return 2;
    case schema::ResponseLevel::LEVEL_I_I: return 3;
    case schema::ResponseLevel::LEVEL_I: return 4;
    default: return 0;
  }
}

MessageFacts extractFacts(schema::Message::Reader m, std::string_view sender) {
  MessageFacts f;
  extractFacts(m, sender, f);
  return f;
}

void extractFacts(schema::Message::Reader m, std::string_view sender, MessageFacts& f) {
  f.events.clear();
  f.categories.clear();
  f.adminCodes.clear();
  f.polygons.clear();
  f.circles.clear();
  f.severityRank = f.colourRank = f.responseLevelRank = 0;
  f.kind = Kind::unspecified;
  f.sender = sender;
  f.id = m.getId();
  f.status = m.getStatus();
  f.msgType = m.getMsgType();
  f.sentMs = m.getSentMs();
  auto p = m.getPayload();
  switch (p.which()) {
    case schema::Message::Payload::WARNING:
      f.kind = Kind::warning;
      addInfos(f, p.getWarning());
      break;
    case schema::Message::Payload::FORECAST:
      f.kind = Kind::forecast;
      addInfos(f, p.getForecast());
      break;
    case schema::Message::Payload::OBSERVATION: {
      f.kind = Kind::observation;
      auto o = p.getObservation();
      addUnique(f.events, o.getEvent());
      addUnique(f.adminCodes, o.getAdminCode());
      break;
    }
    case schema::Message::Payload::SITREP: {
      f.kind = Kind::sitrep;
      auto s = p.getSitrep();
      addUnique(f.events, s.getEvent());
      addAreas(f, s.getAreas());
      break;
    }
    case schema::Message::Payload::INSTRUCTION: {
      f.kind = Kind::instruction;
      auto i = p.getInstruction();
      addUnique(f.events, i.getEvent());
      f.responseLevelRank = responseLevelRank(i.getLevel());
      addAreas(f, i.getAreas());
      break;
    }
    case schema::Message::Payload::FUSED_ALERT: {
      f.kind = Kind::fusedAlert;
      auto a = p.getFusedAlert();
      addUnique(f.events, a.getEvent());
      f.responseLevelRank = responseLevelRank(a.getLevel());
      addAreas(f, a.getAreas());
      break;
    }
    case schema::Message::Payload::ACK:
      f.kind = Kind::ack;
      break;
    default:
      break;
  }
}

std::string adminPrefix(std::string_view code) {
  if (code.size() != 6 && code.size() != 12) return {};
  for (char c : code)
    if (c < '0' || c > '9') return {};
  // Levels: province 2, city 4, county 6, township 9, village 12 digits.
  static constexpr size_t kCuts[] = {12, 9, 6, 4, 2};
  for (size_t cut : kCuts) {
    if (cut > code.size()) continue;
    size_t next = 0;
    for (size_t c : kCuts)
      if (c < cut) {
        next = c;
        break;
      }
    bool zeros = true;
    for (size_t i = next; i < cut; ++i)
      if (code[i] != '0') zeros = false;
    if (!zeros || next == 0) return std::string(code.substr(0, cut));
  }
  return std::string(code.substr(0, 2));
}

}  // namespace alertbus
