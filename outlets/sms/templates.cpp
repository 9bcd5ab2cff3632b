// See templates.h. Loading validates everything once; rendering extracts bounded values from the message,
// selects a template and fills it. Nothing here throws for message content.
#include "outlets/sms/templates.h"
#include "model/decode_util.h"

#include <algorithm>
#include <cassert>
#include <cctype>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>

#include "model/facts.h"

namespace alertbus::sms {

namespace {

constexpr int kMaxEventChars = 16;       // {event} bound (a name, e.g. "台风", "Reservoir level")
constexpr int kHeadlineWindowChars = 20; // {headline} must start within this many characters

// ---------------------------------------------------------------------------------------------------
// Names.

constexpr std::string_view kKindNames[kTemplateKindCount] = {
    "warning", "update", "cancel", "fused_alert", "instruction", "observation", "reminder"};
constexpr std::string_view kPlaceholderNames[kPlaceholderCount] = {
    "headline", "event", "colour", "level", "areas", "expires", "instruction", "sender", "answer_code", "deadline"};

std::string knownPlaceholders() {
  std::string s;
  for (auto n : kPlaceholderNames) s += (s.empty() ? "{" : ", {") + std::string(n) + "}";
  return s;
}

// ---------------------------------------------------------------------------------------------------
// UTF-8 helpers (code point counting and cutting; invalid input is repaired, never trusted).

std::u32string toCps(std::string_view s) {
  std::u32string cps;
  decodeUtf8(s, cps);
  return cps;
}

std::string fromCps(const std::u32string& cps, size_t n) {
  std::string out;
  out.reserve(n * 3);
  for (size_t i = 0; i < n && i < cps.size(); ++i) appendUtf8(out, cps[i]);
  return out;
}

size_t charCount(std::string_view s) {
  size_t n = 0;
  for (char c : s)
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  return n;
}

// Repairs invalid UTF-8 and collapses whitespace runs (including newlines: an SMS is one paragraph) to
// one space, trimmed.
std::string clean(std::string_view s) {
  std::u32string cps = toCps(s);
  std::u32string out;
  out.reserve(cps.size());
  bool space = false;
  for (char32_t c : cps) {
    bool ws = c == U' ' || c == U'\t' || c == U'\n' || c == U'\r' || c == U'\f' || c == U'\v' || c == 0x3000;
    if (ws) {
      space = !out.empty();
      continue;
    }
    if (c < 0x20 || c == 0x7F) continue;  // other control characters never reach a phone
    if (space) out.push_back(U' ');
    space = false;
    out.push_back(c);
  }
  return fromCps(out, out.size());
}

// At most `maxChars` characters; a longer text is cut and ends with "…" (within the bound), or with "..."
// when what is kept is GSM-7, so that cutting never turns a GSM-7 text into UCS-2. Sets `cut`.
std::string bound(const std::string& s, int maxChars, bool& cut) {
  cut = false;
  if (maxChars <= 0) {
    cut = !s.empty();
    return "";
  }
  if (charCount(s) <= static_cast<size_t>(maxChars)) return s;
  std::u32string cps = toCps(s);
  cut = true;
  bool gsm = maxChars >= 4;
  for (size_t i = 0; gsm && i < static_cast<size_t>(maxChars - 3); ++i) gsm = gsm7Septets(cps[i]) > 0;
  size_t keep = static_cast<size_t>(maxChars - (gsm ? 3 : 1));
  while (keep > 0 && cps[keep - 1] == U' ') --keep;
  return fromCps(cps, keep) + (gsm ? "..." : "\u2026");
}

// ---------------------------------------------------------------------------------------------------
// Languages.

std::string lower(std::string_view s) {
  std::string r(s);
  for (auto& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}
std::string primaryTag(std::string_view lang) {
  std::string l = lower(lang);
  auto dash = l.find_first_of("-_");
  return dash == std::string::npos ? l : l.substr(0, dash);
}
bool isZh(std::string_view lang) { return primaryTag(lang) == "zh"; }
// 2 = same tag, 1 = same primary subtag, 0 = different.
int languageMatch(std::string_view a, std::string_view b) {
  if (lower(a) == lower(b)) return 2;
  return primaryTag(a) == primaryTag(b) ? 1 : 0;
}
bool validLanguageTag(std::string_view t) {
  // RFC 5646-ish: 2-3 letters, then "-" subtags of 2-8 letters/digits.
  size_t i = 0;
  while (i < t.size() && std::isalpha(static_cast<unsigned char>(t[i]))) ++i;
  if (i < 2 || i > 3) return false;
  while (i < t.size()) {
    if (t[i] != '-') return false;
    size_t j = ++i;
    while (j < t.size() && std::isalnum(static_cast<unsigned char>(t[j]))) ++j;
    if (j - i < 2 || j - i > 8) return false;
    i = j;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------------
// Display names.

struct EventName {
  const char* code;
  const char* zh;
  const char* en;
};
// Families from config/rules.toml and the national warning-signal codes (GB/T 11B..).
constexpr EventName kEventNames[] = {
    {"typhoon", "台风", "Typhoon"},           {"rainstorm", "暴雨", "Rainstorm"},
    {"gale", "大风", "Gale"},                 {"storm-surge", "风暴潮", "Storm surge"},
    {"river-level", "江河水位", "River level"}, {"reservoir-level", "水库水位", "Reservoir level"},
    {"forest-fire", "森林火险", "Forest fire"}, {"fire", "火灾", "Fire"},
    {"11B01", "台风", "Typhoon"},             {"11B03", "暴雨", "Rainstorm"},
    {"11B06", "大风", "Gale"},
};

std::string eventDisplayName(std::string_view code, bool zh) {
  for (auto& e : kEventNames)
    if (code == e.code) return zh ? e.zh : e.en;
  return std::string(code);
}

std::string colourName(int rank, bool zh) {
  static const char* kZh[] = {"", "蓝色", "黄色", "橙色", "红色"};
  static const char* kEn[] = {"", "Blue", "Yellow", "Orange", "Red"};
  if (rank < 0 || rank > 4) return "";
  return zh ? kZh[rank] : kEn[rank];
}

std::string levelName(int rank, bool zh) {
  static const char* kZh[] = {"", "Ⅳ级", "Ⅲ级", "Ⅱ级", "Ⅰ级"};
  static const char* kEn[] = {"", "Level IV", "Level III", "Level II", "Level I"};
  if (rank < 0 || rank > 4) return "";
  return zh ? kZh[rank] : kEn[rank];
}

std::string quantityName(std::string_view q, bool zh) {
  if (q == "waterLevel") return zh ? "水位" : "water level";
  if (q == "discharge") return zh ? "流量" : "discharge";
  if (q == "rainfall1h") return zh ? "1小时雨量" : "1-hour rainfall";
  return std::string(q);
}

std::string thresholdName(std::string_view t, bool zh) {
  if (t == "WRZ") return zh ? "警戒水位" : "warning level";
  if (t == "GRZ") return zh ? "保证水位" : "guaranteed level";
  if (t == "FRZ") return zh ? "汛限水位" : "flood-season limit";
  return std::string(t);
}

std::string formatNumber(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  std::string s(buf);
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

// Joins area descriptions (deduplicated, empty ones skipped) with "、" (zh) or ", " within maxChars: when
// not all fit, as many as fit followed by "等N地" (N = all areas) / " and M more".
std::string joinAreas(const std::vector<std::string>& raw, int maxChars, bool zh, bool& cut) {
  cut = false;
  std::vector<std::string> areas;
  std::set<std::string> seen;  // O(n log n) however many areas a hostile message lists
  for (auto& a : raw) {
    std::string c = clean(a);
    if (!c.empty() && seen.insert(c).second) areas.push_back(std::move(c));
  }
  if (areas.empty()) return "";
  const std::string sep = zh ? "、" : ", ";
  const size_t sepChars = zh ? 1 : 2;
  std::string all;
  for (auto& a : areas) all += (all.empty() ? "" : sep) + a;
  if (charCount(all) <= static_cast<size_t>(std::max(maxChars, 0))) return all;
  cut = true;
  auto suffix = [&](size_t shown) {
    return zh ? "等" + std::to_string(areas.size()) + "地" : " and " + std::to_string(areas.size() - shown) + " more";
  };
  std::string best;
  size_t len = 0;
  std::string joined;
  for (size_t k = 1; k < areas.size(); ++k) {
    len += (k > 1 ? sepChars : 0) + charCount(areas[k - 1]);
    joined += (k > 1 ? sep : "") + areas[k - 1];
    std::string sfx = suffix(k);
    if (len + charCount(sfx) > static_cast<size_t>(maxChars)) break;
    best = joined + sfx;
  }
  if (!best.empty()) return best;
  bool ignored = false;
  return bound(all, maxChars, ignored);
}

// ---------------------------------------------------------------------------------------------------
// Template text: compile and fill.

int separatorStrength(char32_t c) {
  switch (c) {
    case U'。': case U'！': case U'？': case U'.': case U'!': case U'?': return 3;
    case U'；': case U';': return 2;
    case U'，': case U'、': case U'：': case U',': case U':': return 1;
    default: return 0;
  }
}

// Start byte of the last code point of s (s non-empty).
size_t lastCpStart(std::string_view s) {
  size_t i = s.size() - 1;
  while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
  return i;
}
char32_t cpAt(std::string_view s, size_t i, size_t& len) {
  std::u32string one;
  unsigned char b = static_cast<unsigned char>(s[i]);
  len = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
  len = std::min(len, s.size() - i);
  decodeUtf8(s.substr(i, len), one);
  return one.empty() ? 0 : one[0];
}

void trimTrailingSpaces(std::string& s) {
  while (!s.empty() && s.back() == ' ') s.pop_back();
}

// Appends literal `chunk` after a placeholder or a dropped group (see fillTemplate): no doubled spaces,
// no separator at the start, and of two separators that meet only the stronger (the later if equal).
void appendAfterSeam(std::string& out, std::string_view chunk) {
  size_t i = 0;
  if (out.empty() || out.back() == ' ')
    while (i < chunk.size() && chunk[i] == ' ') ++i;
  if (i < chunk.size()) {
    size_t len = 0;
    char32_t c2 = cpAt(chunk, i, len);
    int s2 = separatorStrength(c2);
    if (s2 > 0) {
      size_t end = out.size();  // out without its trailing spaces
      while (end > 0 && out[end - 1] == ' ') --end;
      if (end == 0) {
        i += len;  // a separator at the very start of the text
        while (i < chunk.size() && chunk[i] == ' ') ++i;
      } else {
        size_t at = lastCpStart(std::string_view(out.data(), end));
        size_t l1 = 0;
        int s1 = separatorStrength(cpAt(out, at, l1));
        if (s1 > 0) {
          if (s2 >= s1) {
            out.resize(at);  // keep the stronger (later) separator
          } else {
            i += len;
            while (i < chunk.size() && chunk[i] == ' ') ++i;
          }
        }
      }
    }
  }
  out.append(chunk.substr(i));
}

// ---------------------------------------------------------------------------------------------------
// Time.

// "+HH:MM" / "-HH:MM", at most 14:00 -> minutes.
bool parseUtcOffset(std::string_view s, int& minutes) {
  if (s.size() != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':') return false;
  for (size_t i : {1, 2, 4, 5})
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  int h = (s[1] - '0') * 10 + (s[2] - '0');
  int m = (s[4] - '0') * 10 + (s[5] - '0');
  if (m > 59 || h * 60 + m > 14 * 60) return false;
  minutes = (s[0] == '-' ? -1 : 1) * (h * 60 + m);
  return true;
}

// ---------------------------------------------------------------------------------------------------
// Built-in defaults, used when no configured template matches. Chinese and English.

const char* builtinText(TemplateKind k, bool zh) {
  switch (k) {
    case TemplateKind::warning:
      return zh ? "{headline}。[影响区域：{areas}。][有效期至{expires}。][{instruction}。][请于{deadline}前][回复{answer_code}确认收到。]"
                : "{headline}. [Areas: {areas}. ][Until {expires}. ][{instruction}. ][Reply {answer_code} to confirm][ by {deadline}].";
    case TemplateKind::update:
      return zh ? "【更新】{headline}。[影响区域：{areas}。][有效期至{expires}。][{instruction}。][请于{deadline}前][回复{answer_code}确认收到。]"
                : "UPDATE: {headline}. [Areas: {areas}. ][Until {expires}. ][{instruction}. ][Reply {answer_code} to confirm][ by {deadline}].";
    case TemplateKind::cancel:
      return zh ? "【解除】{headline}。[{instruction}。][回复{answer_code}确认收到。]"
                : "CANCELLED: {headline}. [{instruction}. ][Reply {answer_code} to confirm].";
    case TemplateKind::fusedAlert:
      return zh ? "{headline}。[响应级别：{level}。][涉及区域：{areas}。][{instruction}。][请于{deadline}前][回复{answer_code}确认收到。]"
                : "{headline}. [Response {level}. ][Areas: {areas}. ][{instruction}. ][Reply {answer_code} to confirm][ by {deadline}].";
    case TemplateKind::instruction:
      return zh ? "{headline}。[{level}。][涉及区域：{areas}。][{instruction}。][有效期至{expires}。][请于{deadline}前][回复{answer_code}确认收到。]"
                : "{headline}. [{level}. ][Areas: {areas}. ][{instruction}. ][Until {expires}. ][Reply {answer_code} to confirm][ by {deadline}].";
    case TemplateKind::observation:
      return zh ? "{headline}。[{instruction}。][回复{answer_code}确认收到。]"
                : "{headline}. [{instruction}. ][Reply {answer_code} to confirm].";
    case TemplateKind::reminder:
      return zh ? "【未回复提醒】{headline}。[请于{deadline}前][回复{answer_code}确认收到。]"
                : "REMINDER: {headline}. Not yet confirmed. [Reply {answer_code} to confirm][ by {deadline}].";
  }
  return "{headline}";
}

// ---------------------------------------------------------------------------------------------------
// Message extraction.

struct Extracted {
  bool kindOk = false;
  TemplateKind kind = TemplateKind::warning;
  std::vector<std::string> events;
  int colourRank = 0;
  int levelRank = 0;
};

int infoColourRank(schema::Info::Reader info) {
  int c = colourRank(info.getColour());
  return c != 0 ? c : severityRank(info.getSeverity());  // red=extreme .. blue=minor (protocol.md 7)
}

capnp::List<schema::Info>::Reader infos(schema::Message::Reader m) {
  auto p = m.getPayload();
  if (p.isWarning()) return p.getWarning();
  if (p.isForecast()) return p.getForecast();
  return {};
}

// Distinct event codes, at most kMaxEvents (a message has one per language; more is noise, and the cap
// keeps selection linear in the number of templates).
constexpr size_t kMaxEvents = 16;
void addEvent(std::vector<std::string>& ev, std::string_view code) {
  if (code.empty() || ev.size() >= kMaxEvents) return;
  if (std::find(ev.begin(), ev.end(), code) == ev.end()) ev.emplace_back(code);
}

Extracted extract(schema::Message::Reader m) {
  Extracted x;
  x.kindOk = messageTemplateKind(m, x.kind);
  auto p = m.getPayload();
  for (auto info : infos(m)) {
    addEvent(x.events, info.getEventCode().cStr());
    x.colourRank = std::max(x.colourRank, infoColourRank(info));
  }
  if (p.isFusedAlert()) {
    addEvent(x.events, p.getFusedAlert().getEvent().cStr());
    x.levelRank = responseLevelRank(p.getFusedAlert().getLevel());
  } else if (p.isInstruction()) {
    addEvent(x.events, p.getInstruction().getEvent().cStr());
    x.levelRank = responseLevelRank(p.getInstruction().getLevel());
  } else if (p.isObservation()) {
    addEvent(x.events, p.getObservation().getEvent().cStr());
  } else if (p.isSitrep()) {
    addEvent(x.events, p.getSitrep().getEvent().cStr());
  }
  return x;
}

// The values of every placeholder for `m`, in language `lang`, bounded by the settings.
struct RenderInputs {
  const TemplateSettings& s;
  int tzOffsetMinutes;
  int maxAreasChars;
  const RenderContext& ctx;
};

PlaceholderValues values(schema::Message::Reader m, const Extracted& x, std::string_view lang,
                         const RenderInputs& in, std::vector<std::string>& problems) {
  const bool zh = isZh(lang);
  PlaceholderValues v;
  std::string headline, eventName, instruction, sender;
  std::vector<std::string> areaNames;
  int64_t expiresMs = 0, deadlineMs = in.ctx.deadlineMs;
  auto collectAreas = [&](capnp::List<schema::Area>::Reader areas) {
    for (auto a : areas) areaNames.emplace_back(a.getDescription().cStr());
  };
  std::string code = x.events.empty() ? "" : x.events.front();
  auto p = m.getPayload();
  auto list = infos(m);
  if (list.size() > 0) {
    // The info in the rendering language (exact tag, then primary subtag), else the first.
    unsigned pick = 0;
    int best = -1;
    for (unsigned i = 0; i < list.size(); ++i) {
      int q = languageMatch(list[i].getLanguage().cStr(), lang);
      if (q > best) best = q, pick = i;
    }
    auto info = list[pick];
    code = info.getEventCode().cStr();
    headline = info.getHeadline().cStr();
    eventName = best > 0 ? std::string(info.getEvent().cStr()) : "";
    instruction = info.getInstruction().cStr();
    sender = info.getSenderName().cStr();
    expiresMs = info.getExpiresMs();
    collectAreas(info.getAreas());
    // Areas: the first info that has any (every info describes the same areas in another language).
    if (areaNames.empty())
      for (auto other : list)
        if (other.getAreas().size() > 0) {
          collectAreas(other.getAreas());
          break;
        }
  } else if (p.isFusedAlert()) {
    auto f = p.getFusedAlert();
    headline = f.getHeadline().cStr();
    for (auto a : f.getRecommendedActions()) {
      std::string c = clean(a.cStr());
      if (!c.empty()) instruction += (instruction.empty() ? "" : (zh ? "；" : "; ")) + c;
    }
    if (instruction.empty()) instruction = f.getSummary().cStr();
    collectAreas(f.getAreas());
    if (deadlineMs == 0) deadlineMs = f.getAckDeadlineMs();
  } else if (p.isInstruction()) {
    auto ins = p.getInstruction();
    headline = ins.getHeadline().cStr();
    instruction = ins.getText().cStr();
    expiresMs = ins.getExpiresMs();
    collectAreas(ins.getAreas());
  } else if (p.isObservation()) {
    auto o = p.getObservation();
    // No headline in an observation: "余姚站水位3.52m（超警戒水位3.2m）".
    std::string unit = o.getUnit().cStr();
    std::string exceeded;
    double top = 0;
    bool any = false;
    for (auto t : o.getThresholds())
      if (o.getValue() >= t.getValue() && (!any || t.getValue() >= top)) {
        any = true;
        top = t.getValue();
        exceeded = thresholdName(t.getName().cStr(), zh) + (zh ? "" : " ") + formatNumber(t.getValue()) + unit;
      }
    std::string station = o.getStationName().size() > 0 ? o.getStationName().cStr() : o.getStation().cStr();
    if (zh) {
      headline = station + "站" + quantityName(o.getQuantity().cStr(), true) + formatNumber(o.getValue()) + unit;
      if (any) headline += "（超" + exceeded + "）";
    } else {
      headline = station + " " + quantityName(o.getQuantity().cStr(), false) + " " + formatNumber(o.getValue()) + unit;
      if (any) headline += " (above " + exceeded + ")";
    }
  }
  if (sender.empty()) sender = m.getSender().cStr();
  if (eventName.empty() && !code.empty()) eventName = eventDisplayName(code, zh);

  bool cut = false;
  v[size_t(Placeholder::event)] = bound(clean(eventName), kMaxEventChars, cut);
  v[size_t(Placeholder::colour)] = colourName(x.colourRank, zh);
  v[size_t(Placeholder::level)] = levelName(x.levelRank, zh);
  headline = clean(headline);
  if (headline.empty()) {
    // Headline first is a rule, so a message without one gets one made from its facts.
    const std::string& ev = v[size_t(Placeholder::event)];
    if (x.levelRank > 0 && (p.isFusedAlert() || p.isInstruction()))
      headline = zh ? ev + (p.isInstruction() ? "防御指令（" + v[size_t(Placeholder::level)] + "）"
                                               : v[size_t(Placeholder::level)] + "应急响应")
                    : ev + (p.isInstruction() ? " defence order (" : " emergency response ") +
                          v[size_t(Placeholder::level)] + (p.isInstruction() ? ")" : "");
    else if (zh)
      headline = ev + v[size_t(Placeholder::colour)] + "预警";
    else
      headline = (x.colourRank > 0 ? v[size_t(Placeholder::colour)] + " " : "") + (ev.empty() ? "" : ev + " ") + "warning";
    headline = clean(headline);
    problems.push_back("message has no headline: made one from its event and level: \"" + headline + "\"");
  }
  v[size_t(Placeholder::headline)] = bound(headline, in.s.maxHeadlineChars, cut);
  if (cut) problems.push_back("headline cut to " + std::to_string(in.s.maxHeadlineChars) + " characters");
  v[size_t(Placeholder::areas)] = joinAreas(areaNames, in.maxAreasChars, zh, cut);
  if (cut) problems.push_back("areas cut to " + std::to_string(in.maxAreasChars) + " characters");
  v[size_t(Placeholder::expires)] = formatLocalTime(expiresMs, in.tzOffsetMinutes, lang);
  v[size_t(Placeholder::instruction)] = bound(clean(instruction), in.s.maxInstructionChars, cut);
  if (cut) problems.push_back("instruction cut to " + std::to_string(in.s.maxInstructionChars) + " characters");
  v[size_t(Placeholder::sender)] = bound(clean(sender), in.s.maxSenderChars, cut);
  v[size_t(Placeholder::answerCode)] = clean(in.ctx.answerCode);
  if (charCount(v[size_t(Placeholder::answerCode)]) > static_cast<size_t>(in.s.maxAnswerCodeChars))
    problems.push_back("answer code '" + v[size_t(Placeholder::answerCode)] + "' is longer than " +
                       std::to_string(in.s.maxAnswerCodeChars) + " characters: the text may not fit max_parts");
  v[size_t(Placeholder::deadline)] = formatLocalTime(deadlineMs, in.tzOffsetMinutes, lang);
  return v;
}

// A drill or test must never read like the real thing: "【演练】" / "[EXERCISE] " before the text.
std::string statusMarker(schema::Status st, bool zh) {
  switch (st) {
    case schema::Status::EXERCISE: return zh ? "【演练】" : "[EXERCISE] ";
    case schema::Status::TEST: return zh ? "【测试】" : "[TEST] ";
    case schema::Status::DRAFT: return zh ? "【草稿】" : "[DRAFT] ";
    default: return "";
  }
}

// `text` with the status marker in front unless its first 30 characters already say so in either
// language (a headline like "【演练】宁波市气象台发布...").
std::string withStatusMarker(const std::string& text, schema::Status st, bool zh) {
  std::string marker = statusMarker(st, zh);
  if (marker.empty()) return text;
  std::string zhMarker = statusMarker(st, true), enMarker = statusMarker(st, false);
  std::string zhWord = zhMarker.substr(3, zhMarker.size() - 6);  // between 【 and 】 (3 bytes each)
  std::string enWord = enMarker.substr(1, enMarker.size() - 3);   // between [ and "] "
  std::u32string head = toCps(text);
  head.resize(std::min<size_t>(head.size(), 30));
  std::string start = fromCps(head, head.size());
  for (auto& c : start) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));  // ASCII only
  if (start.find(zhWord) != std::string::npos || start.find(enWord) != std::string::npos) return text;
  return marker + text;
}

TemplateQuery queryOf(const Extracted& x, const RenderContext& ctx) {
  TemplateQuery q;
  q.kind = ctx.reminder ? TemplateKind::reminder : x.kind;
  q.events = x.events;
  q.colourRank = x.colourRank;
  q.levelRank = x.levelRank;
  q.language = ctx.language;
  return q;
}

bool usesPlaceholder(const std::vector<TemplateToken>& tokens, Placeholder p) {
  for (auto& t : tokens)
    if (t.type == TemplateToken::Type::placeholder && t.placeholder == p) return true;
  return false;
}

// ---------------------------------------------------------------------------------------------------
// Selection.

// Specificity of the best entry of `patterns` matching any of `events`: exact 1'000'000, prefix 1000 +
// length, "*" 1; -1 if none matches.
int eventSpecificity(const std::vector<std::string>& patterns, const std::vector<std::string>& events) {
  int best = -1;
  for (auto& pat : patterns) {
    if (pat == "*") {
      best = std::max(best, 1);
      continue;
    }
    bool prefix = pat.back() == '*';
    std::string_view stem(pat.data(), prefix ? pat.size() - 1 : pat.size());
    for (auto& e : events) {
      if (!prefix && e == stem) best = std::max(best, 1000000);
      if (prefix && e.size() >= stem.size() && std::string_view(e).substr(0, stem.size()) == stem)
        best = std::max(best, 1000 + static_cast<int>(stem.size()));
    }
  }
  return best;
}

const SmsTemplate* selectIn(const TemplateSet& set, const TemplateQuery& q, std::string_view lang) {
  const SmsTemplate* best = nullptr;
  long bestScore = -1;
  for (auto& t : set.templates) {
    if (t.kind != q.kind || languageMatch(t.language, lang) == 0) continue;
    if (t.minColourRank > 0 && q.colourRank < t.minColourRank) continue;
    if (t.minLevelRank > 0 && q.levelRank < t.minLevelRank) continue;
    int spec = eventSpecificity(t.events, q.events);
    if (spec < 0) continue;
    // Exact language tag beats same primary subtag only after event and minimum.
    long score = (static_cast<long>(spec) * 10 + std::max(t.minColourRank, t.minLevelRank)) * 3 +
                 languageMatch(t.language, lang);
    if (score > bestScore) best = &t, bestScore = score;  // strict: the earlier template wins ties
  }
  return best;
}

// ---------------------------------------------------------------------------------------------------
// Loading.

struct Loader {
  TomlReader& r;
  TemplateSet& out;
  std::vector<ConfigError>& errors;
  size_t errorsBefore_;

  // An error at a line that has no single node (cross-field checks name the [[template]] line).
  void errorAt(int line, std::string reason) { errors.push_back({r.file(), line, std::move(reason)}); }

  void settings(const toml::table& root) {
    const toml::table* s = r.table(root, "sms", "");
    if (!s) return;
    auto& st = out.settings;
    r.checkKeys(*s, "sms",
                {"max_parts", "timezone", "default_language", "max_headline_chars", "max_areas_chars",
                 "max_instruction_chars", "max_sender_chars", "max_answer_code_chars"});
    r.getInt(*s, "max_parts", st.maxParts, 1, 10, "sms");
    if (auto* n = s->get("max_parts")) maxPartsLine_ = static_cast<int>(n->source().begin.line);
    r.getInt(*s, "max_headline_chars", st.maxHeadlineChars, 10, 200, "sms");
    r.getInt(*s, "max_areas_chars", st.maxAreasChars, 4, 200, "sms");
    r.getInt(*s, "max_instruction_chars", st.maxInstructionChars, 0, 500, "sms");
    r.getInt(*s, "max_sender_chars", st.maxSenderChars, 0, 100, "sms");
    r.getInt(*s, "max_answer_code_chars", st.maxAnswerCodeChars, 1, 32, "sms");
    std::string tz;
    r.getString(*s, "timezone", tz, "sms");
    if (!tz.empty() && !parseUtcOffset(tz, st.tzOffsetMinutes))
      r.err(s->get("timezone"), "sms.timezone = \"" + tz + "\": expected \"+HH:MM\" or \"-HH:MM\", at most 14:00");
    std::string lang = st.defaultLanguage;
    r.getString(*s, "default_language", lang, "sms");
    if (!validLanguageTag(lang))
      r.err(s->get("default_language"), "sms.default_language = \"" + lang + "\": not a language tag like \"zh-CN\"");
    else
      st.defaultLanguage = lang;
  }

  void oneTemplate(const toml::table& t, size_t index) {
    const std::string sect = "template[" + std::to_string(index) + "]";
    const size_t errorsBefore = r.errorCount();
    SmsTemplate tp;
    tp.line = static_cast<int>(t.source().begin.line);
    r.checkKeys(t, sect, {"name", "kind", "event", "min_colour", "min_level", "language", "text"});
    r.getString(t, "name", tp.name, sect);
    if (tp.name.empty()) r.err(&t, sect + ": name is required (a unique, non-empty string)");
    const std::string who = tp.name.empty() ? sect : "template '" + tp.name + "'";

    std::string kind = "warning";
    r.getString(t, "kind", kind, sect);
    if (!parseTemplateKind(kind, tp.kind)) {
      std::string known;
      for (auto n : kKindNames) known += (known.empty() ? "" : ", ") + std::string(n);
      r.err(t.get("kind"), who + ": kind = \"" + kind + "\": unknown (known: " + known + ")");
    }

    if (!t.get("event")) r.err(&t, who + ": event is required (a list of event codes, \"11B0*\" prefixes or \"*\")");
    r.getStrings(t, "event", tp.events, sect);
    if (t.get("event") && t.get("event")->is_array() && tp.events.empty())
      r.err(t.get("event"), who + ": event must not be empty (use [\"*\"] for any event)");
    for (auto& e : tp.events) {
      bool ok = !e.empty();
      for (size_t i = 0; i < e.size() && ok; ++i) {
        char c = e[i];
        ok = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
             (c == '*' && i + 1 == e.size());
      }
      if (!ok)
        r.err(t.get("event"), who + ": event \"" + e +
                                  "\": expected a code (letters, digits, - _ .), a prefix ending in '*', or \"*\"");
    }

    std::string colour, level;
    r.getString(t, "min_colour", colour, sect);
    r.getString(t, "min_level", level, sect);
    if (t.get("min_colour") && t.get("min_colour")->is_string() && !parseColourRank(colour, tp.minColourRank))
      r.err(t.get("min_colour"), who + ": min_colour = \"" + colour + "\": expected blue, yellow, orange or red");
    if (t.get("min_level") && t.get("min_level")->is_string() && !parseResponseLevelRank(level, tp.minLevelRank))
      r.err(t.get("min_level"), who + ": min_level = \"" + level + "\": expected IV, III, II or I");
    if (t.get("min_colour") && t.get("min_level"))
      r.err(t.get("min_level"), who + ": give min_colour (warnings) or min_level (fused alerts, instructions), not both");
    if (t.get("min_colour") && (tp.kind == TemplateKind::fusedAlert || tp.kind == TemplateKind::instruction))
      r.err(t.get("min_colour"), who + ": min_colour: a " + kind + " has a response level, not a colour; use min_level");
    if (t.get("min_level") && (tp.kind == TemplateKind::warning || tp.kind == TemplateKind::update ||
                               tp.kind == TemplateKind::observation))
      r.err(t.get("min_level"), who + ": min_level: a " + kind + " has a colour, not a response level; use min_colour");

    r.getString(t, "language", tp.language, sect);
    if (!validLanguageTag(tp.language))
      r.err(t.get("language"), who + ": language = \"" + tp.language + "\": not a language tag like \"zh-CN\" or \"en\"");

    const toml::node* textNode = t.get("text");
    r.getString(t, "text", tp.text, sect);
    if (!textNode) {
      r.err(&t, who + ": text is required");
    } else if (textNode->is_string()) {
      std::string why = compileTemplateText(tp.text, tp.tokens);
      if (!why.empty()) {
        r.err(textNode, who + ": text: " + why);
      } else {
        size_t at = tp.text.find("{headline}");
        if (at == std::string::npos)
          r.err(textNode, who + ": text: {headline} is missing; the headline must come first");
        else if (charCount(std::string_view(tp.text).substr(0, at)) >= static_cast<size_t>(kHeadlineWindowChars))
          r.err(textNode, who + ": text: {headline} must start within the first " +
                              std::to_string(kHeadlineWindowChars) + " characters (headline first)");
      }
    }
    if (r.errorCount() == errorsBefore) out.templates.push_back(std::move(tp));
  }

  // Cross-field pass over the templates that loaded.
  void crossCheck() {
    std::map<std::string, const SmsTemplate*> byName;
    for (auto& t : out.templates) {
      auto [it, fresh] = byName.emplace(t.name, &t);
      if (!fresh)
        errorAt(t.line, "template '" + t.name + "': duplicate name (first at line " +
                                                std::to_string(it->second->line) + ")");
    }
    for (size_t i = 0; i < out.templates.size(); ++i)
      for (size_t j = 0; j < i; ++j) {
        auto& a = out.templates[j];
        auto& b = out.templates[i];
        auto ea = a.events, eb = b.events;
        std::sort(ea.begin(), ea.end());
        std::sort(eb.begin(), eb.end());
        if (a.kind == b.kind && lower(a.language) == lower(b.language) && ea == eb &&
            a.minColourRank == b.minColourRank && a.minLevelRank == b.minLevelRank && a.name != b.name) {
          errorAt(b.line, "template '" + b.name + "': never used: template '" + a.name +
                                               "' (line " + std::to_string(a.line) +
                                               ") has the same kind, language, events and minimum");
          break;
        }
      }
    for (auto& t : out.templates) checkSize(t);
    if (r.errorCount() == errorsBefore_) checkBuiltins();
  }

  // The segmentation of `tokens` filled with worst-case values (each at its bound) in `language`.
  Segmentation worstCase(const std::vector<TemplateToken>& tokens, const std::string& language) const {
    const auto& s = out.settings;
    const bool zh = isZh(language);
    auto fill = [](const char* unit, int n) {
      std::string r;
      for (int i = 0; i < n; ++i) r += unit;
      return r;
    };
    PlaceholderValues v;
    v[size_t(Placeholder::headline)] = fill(zh ? "警" : "W", s.maxHeadlineChars);
    v[size_t(Placeholder::event)] = fill(zh ? "事" : "E", kMaxEventChars);
    v[size_t(Placeholder::colour)] = colourName(3, zh);
    v[size_t(Placeholder::level)] = levelName(2, zh);
    static const std::vector<std::string> kZhAreas = {"海曙区", "江北区", "北仑区", "镇海区", "鄞州区",
                                                      "奉化区", "余姚市", "慈溪市", "宁海县", "象山县"};
    static const std::vector<std::string> kEnAreas = {"Haishu", "Jiangbei", "Beilun", "Zhenhai", "Yinzhou",
                                                      "Fenghua", "Yuyao", "Cixi", "Ninghai", "Xiangshan"};
    bool cut = false;
    v[size_t(Placeholder::areas)] = joinAreas(zh ? kZhAreas : kEnAreas, s.maxAreasChars, zh, cut);
    // 2026-12-31 23:59 local: the longest date in both styles.
    const int64_t lateMs = 1798761540000LL - int64_t(s.tzOffsetMinutes) * 60000;
    v[size_t(Placeholder::expires)] = formatLocalTime(lateMs, s.tzOffsetMinutes, language);
    v[size_t(Placeholder::deadline)] = v[size_t(Placeholder::expires)];
    v[size_t(Placeholder::instruction)] = fill(zh ? "防" : "i", s.maxInstructionChars);
    v[size_t(Placeholder::sender)] = fill(zh ? "台" : "S", s.maxSenderChars);
    v[size_t(Placeholder::answerCode)] = fill("8", s.maxAnswerCodeChars);
    std::string marker = statusMarker(schema::Status::EXERCISE, zh);  // the longest status marker
    return segment(marker + fillTemplate(tokens, v), kMaxPartsLimit);
  }

  std::string sizeReason(const Segmentation& seg) const {
    const auto& s = out.settings;
    std::ostringstream os;
    os << "with worst-case values (headline " << s.maxHeadlineChars << " characters, 10 areas in "
       << s.maxAreasChars << " characters, instruction " << s.maxInstructionChars << " characters) it needs "
       << seg.parts.size() << " SMS parts (" << seg.units << " " << encodingName(seg.encoding)
       << " units), more than sms.max_parts = " << s.maxParts;
    return os.str();
  }

  // Rejects a template that would not fit max_parts with worst-case values.
  void checkSize(const SmsTemplate& t) {
    Segmentation seg = worstCase(t.tokens, t.language);
    if (static_cast<int>(seg.parts.size()) > out.settings.maxParts)
      errorAt(t.line, "template '" + t.name + "': oversized template: " + sizeReason(seg) +
                          "; shorten the text or lower the max_*_chars bounds");
  }

  // The built-in text of a kind is used when no template of that kind matches; that can happen unless a
  // template of the kind in the default language takes any event without a minimum. Then the built-in
  // texts (default language and English) must fit too.
  void checkBuiltins() {
    for (int k = 0; k < kTemplateKindCount; ++k) {
      const auto kind = static_cast<TemplateKind>(k);
      bool covered = false;
      for (auto& t : out.templates)
        covered = covered || (t.kind == kind && t.minColourRank == 0 && t.minLevelRank == 0 &&
                              languageMatch(t.language, out.settings.defaultLanguage) > 0 &&
                              std::find(t.events.begin(), t.events.end(), "*") != t.events.end());
      if (covered) continue;
      for (bool zh : {true, false}) {
        std::vector<TemplateToken> tokens;
        [[maybe_unused]] std::string why = compileTemplateText(builtinText(kind, zh), tokens);
        assert(why.empty());
        Segmentation seg = worstCase(tokens, zh ? "zh-CN" : "en");
        if (static_cast<int>(seg.parts.size()) > out.settings.maxParts) {
          errorAt(maxPartsLine_, std::string("the built-in ") + (zh ? "Chinese" : "English") + " " +
                                     std::string(templateKindName(kind)) + " text is used when no template matches, and " +
                                     sizeReason(seg) + "; add a [[template]] with kind = \"" +
                                     std::string(templateKindName(kind)) + "\" and event = [\"*\"] that fits");
          break;
        }
      }
    }
  }

  int maxPartsLine_ = 0;
};

}  // namespace

// ---------------------------------------------------------------------------------------------------
// Public functions.

std::string_view templateKindName(TemplateKind k) { return kKindNames[static_cast<size_t>(k)]; }

bool parseTemplateKind(std::string_view name, TemplateKind& out) {
  for (int i = 0; i < kTemplateKindCount; ++i)
    if (kKindNames[i] == name) {
      out = static_cast<TemplateKind>(i);
      return true;
    }
  return false;
}

std::string_view placeholderName(Placeholder p) { return kPlaceholderNames[static_cast<size_t>(p)]; }

std::string compileTemplateText(std::string_view text, std::vector<TemplateToken>& out) {
  out.clear();
  std::string lit;
  auto flush = [&] {
    if (!lit.empty()) out.push_back({TemplateToken::Type::literal, std::move(lit), Placeholder::headline, 0});
    lit.clear();
  };
  std::optional<size_t> open;  // index of the open group's token
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    char next = i + 1 < text.size() ? text[i + 1] : '\0';
    if ((c == '{' || c == '}' || c == '[' || c == ']') && next == c) {
      lit.push_back(c);
      ++i;
      continue;
    }
    if (c == '{') {
      size_t close = text.find('}', i + 1);
      size_t nested = text.find('{', i + 1);
      if (close == std::string_view::npos || (nested != std::string_view::npos && nested < close))
        return "'{' at byte " + std::to_string(i) + " is not closed by '}' (write '{{' for a literal brace)";
      std::string_view name = text.substr(i + 1, close - i - 1);
      bool found = false;
      for (int p = 0; p < kPlaceholderCount; ++p)
        if (kPlaceholderNames[p] == name) {
          flush();
          out.push_back({TemplateToken::Type::placeholder, "", static_cast<Placeholder>(p), 0});
          found = true;
        }
      if (!found) return "unknown placeholder {" + std::string(name) + "} (known: " + knownPlaceholders() + ")";
      i = close;
    } else if (c == '}') {
      return "'}' at byte " + std::to_string(i) + " without '{' (write '}}' for a literal brace)";
    } else if (c == '[') {
      if (open) return "'[' at byte " + std::to_string(i) + ": optional groups cannot nest (write '[[' for a literal '[')";
      flush();
      open = out.size();
      out.push_back({TemplateToken::Type::groupOpen, "", Placeholder::headline, 0});
    } else if (c == ']') {
      if (!open) return "']' at byte " + std::to_string(i) + " without '[' (write ']]' for a literal ']')";
      flush();
      out[*open].groupClose = out.size();
      out.push_back({TemplateToken::Type::groupClose, "", Placeholder::headline, 0});
      open.reset();
    } else {
      lit.push_back(c);
    }
  }
  if (open) return "'[' is never closed by ']'";
  flush();
  return "";
}

std::string fillTemplate(const std::vector<TemplateToken>& tokens, const PlaceholderValues& values) {
  std::string out;
  bool seam = false;  // the last thing was a placeholder or a dropped group
  bool gap = false;   // ... and it left nothing (a missing value or a dropped group)
  for (size_t i = 0; i < tokens.size(); ++i) {
    const auto& t = tokens[i];
    switch (t.type) {
      case TemplateToken::Type::groupOpen: {
        bool complete = true;
        for (size_t j = i + 1; j < t.groupClose; ++j)
          if (tokens[j].type == TemplateToken::Type::placeholder && values[size_t(tokens[j].placeholder)].empty())
            complete = false;
        if (!complete) {
          i = t.groupClose;
          seam = gap = true;
        }
        break;
      }
      case TemplateToken::Type::groupClose:
        break;
      case TemplateToken::Type::placeholder: {
        const std::string& v = values[size_t(t.placeholder)];
        if (v.empty()) {
          gap = true;
        } else {
          out += v;  // a value's own final "。" merges with the template's next one
          gap = false;
        }
        seam = true;
        break;
      }
      case TemplateToken::Type::literal:
        if (seam) appendAfterSeam(out, t.text);
        else out += t.text;
        seam = gap = false;
        break;
    }
  }
  // Leading spaces, and what a missing value at the end left dangling.
  size_t lead = out.find_first_not_of(' ');
  out.erase(0, lead == std::string::npos ? out.size() : lead);
  trimTrailingSpaces(out);
  if (gap && !out.empty()) {
    size_t at = lastCpStart(out), len = 0;
    int s = separatorStrength(cpAt(out, at, len));
    if (s == 1 || s == 2) {
      out.resize(at);
      trimTrailingSpaces(out);
    }
  }
  return out;
}

std::string formatLocalTime(int64_t utcMs, int tzOffsetMinutes, std::string_view language) {
  if (utcMs == 0) return "";
  int64_t t = utcMs / 1000 - (utcMs % 1000 < 0 ? 1 : 0) + int64_t(tzOffsetMinutes) * 60;
  int64_t days = t / 86400 - (t % 86400 < 0 ? 1 : 0);
  int64_t secs = t - days * 86400;
  int y = 0;
  unsigned mo = 0, d = 0;
  civilFromDays(days, y, mo, d);
  int hh = static_cast<int>(secs / 3600), mm = static_cast<int>(secs / 60 % 60);
  char buf[64];
  if (isZh(language)) {
    if (mm != 0)
      std::snprintf(buf, sizeof buf, "%u月%u日%02d时%02d分", mo, d, hh, mm);
    else
      std::snprintf(buf, sizeof buf, "%u月%u日%02d时", mo, d, hh);
  } else {
    static const char* kMon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    std::snprintf(buf, sizeof buf, "%u %s %02d:%02d", d, kMon[(mo - 1) % 12], hh, mm);
  }
  return buf;
}

bool messageTemplateKind(schema::Message::Reader m, TemplateKind& out) {
  auto p = m.getPayload();
  const auto type = m.getMsgType();
  if (type == schema::MsgType::CANCEL && !p.isAck()) {
    out = TemplateKind::cancel;
    return true;
  }
  switch (p.which()) {
    case schema::Message::Payload::WARNING:
    case schema::Message::Payload::FORECAST:
      out = type == schema::MsgType::UPDATE ? TemplateKind::update : TemplateKind::warning;
      return true;
    case schema::Message::Payload::INSTRUCTION:
      out = type == schema::MsgType::UPDATE ? TemplateKind::update : TemplateKind::instruction;
      return true;
    case schema::Message::Payload::FUSED_ALERT:
      out = p.getFusedAlert().getState() == schema::IncidentState::CLOSED ? TemplateKind::cancel
                                                                         : TemplateKind::fusedAlert;
      return true;
    case schema::Message::Payload::OBSERVATION:
      out = TemplateKind::observation;
      return true;
    default:
      out = TemplateKind::warning;
      return false;
  }
}

TemplateQuery templateQuery(schema::Message::Reader m, const RenderContext& ctx) { return queryOf(extract(m), ctx); }

const SmsTemplate* selectTemplate(const TemplateSet& set, const TemplateQuery& q) {
  const std::string& lang = q.language.empty() ? set.settings.defaultLanguage : q.language;
  if (const SmsTemplate* t = selectIn(set, q, lang)) return t;
  if (languageMatch(lang, set.settings.defaultLanguage) == 2) return nullptr;
  return selectIn(set, q, set.settings.defaultLanguage);
}

RenderResult render(const TemplateSet& set, schema::Message::Reader m, const RenderContext& ctx) {
  RenderResult r;
  Extracted x = extract(m);
  if (!x.kindOk)
    r.problems.push_back("a " + std::string(m.getPayload().isAck() ? "ack" : m.getPayload().isSitrep() ? "sitrep" : "message without payload") +
                         " has no SMS template kind: rendered as a warning");
  TemplateQuery q = queryOf(x, ctx);
  const std::string wanted = ctx.language.empty() ? set.settings.defaultLanguage : ctx.language;

  std::vector<TemplateToken> builtin;
  const std::vector<TemplateToken>* tokens = nullptr;
  std::string lang;
  if (const SmsTemplate* t = selectTemplate(set, q)) {
    tokens = &t->tokens;
    lang = t->language;
    r.templateName = t->name;
    if (languageMatch(t->language, wanted) == 0)
      r.problems.push_back("no " + std::string(templateKindName(q.kind)) + " template in language '" + wanted +
                           "': used '" + t->name + "' (" + t->language + ")");
  } else {
    lang = isZh(wanted) || primaryTag(wanted) == "en" ? wanted : set.settings.defaultLanguage;
    if (!isZh(lang) && primaryTag(lang) != "en") lang = "zh-CN";
    [[maybe_unused]] std::string why = compileTemplateText(builtinText(q.kind, isZh(lang)), builtin);
    assert(why.empty());
    tokens = &builtin;
    r.templateName = "builtin:" + std::string(templateKindName(q.kind)) + ":" + lang;
    std::string ev;
    for (auto& e : q.events) ev += (ev.empty() ? "" : ",") + e;
    r.problems.push_back("no configured " + std::string(templateKindName(q.kind)) + " template matches event '" +
                         ev + "' in language '" + wanted + "': built-in default used");
  }
  RenderInputs in{set.settings, ctx.tzOffsetMinutes.value_or(set.settings.tzOffsetMinutes),
                  ctx.maxAreasChars.value_or(set.settings.maxAreasChars), ctx};
  PlaceholderValues v = values(m, x, lang, in, r.problems);
  if (v[size_t(Placeholder::answerCode)].empty() && usesPlaceholder(*tokens, Placeholder::answerCode))
    r.problems.push_back("no answer code: the text asks for none");
  r.text = withStatusMarker(fillTemplate(*tokens, v), m.getStatus(), isZh(lang));
  return r;
}

std::string preview(const TemplateSet& set, schema::Message::Reader m, const RenderContext& ctx) {
  RenderResult r = render(set, m, ctx);
  Segmentation seg = segment(r.text, set.settings.maxParts);
  std::ostringstream os;
  os << "template: " << r.templateName;
  for (auto& t : set.templates)
    if (t.name == r.templateName) os << " (" << set.file << ":" << t.line << ")";
  os << "\n";
  os << "text: " << r.text << "\n";
  os << "length: " << charCount(r.text) << " characters\n";
  os << "encoding: " << encodingName(seg.encoding) << ", " << seg.units << " units in " << seg.parts.size()
     << (seg.parts.size() == 1 ? " SMS" : " SMS parts") << " (max_parts " << set.settings.maxParts << ")\n";
  for (size_t i = 0; i < seg.parts.size(); ++i)
    os << "part " << i + 1 << "/" << seg.parts.size() << " (" << seg.partUnits[i] << " "
       << encodingName(seg.encoding) << " units): " << seg.parts[i] << "\n";
  if (seg.truncated)
    os << "WARNING: truncated: the text needs " << seg.unitsNeeded << " " << encodingName(seg.encoding)
       << " units, more than " << set.settings.maxParts << " parts hold; the end is cut\n";
  if (seg.invalidUtf8) os << "WARNING: invalid UTF-8 replaced with U+FFFD\n";
  for (auto& p : r.problems) os << "note: " << p << "\n";
  return os.str();
}

// Loading entry points (after the anonymous namespace so Loader can use the public helpers).

namespace {
bool loadRoot(TomlReader& r, const toml::table& root, TemplateSet& out, std::vector<ConfigError>& errors,
              size_t errorsBefore) {
  Loader l{r, out, errors, errorsBefore};
  r.checkKeys(root, "", {"sms", "template"});
  l.settings(root);
  if (auto* node = root.get("template")) {
    if (!node->is_array_of_tables()) {
      r.err(node, "template: expected [[template]] tables");
    } else {
      size_t i = 0;
      for (auto& e : *node->as_array()) l.oneTemplate(*e.as_table(), i++);
    }
  }
  l.crossCheck();
  return r.errorCount() == errorsBefore;
}
}  // namespace

bool loadTemplateSet(const std::string& file, TemplateSet& out, std::vector<ConfigError>& errors) {
  out = TemplateSet{};
  out.file = file;
  size_t before = errors.size();
  TomlReader r(file, errors);
  toml::table root;
  if (!r.parse(root)) return false;
  return loadRoot(r, root, out, errors, before);
}

bool loadTemplateSetText(std::string_view toml, const std::string& file, TemplateSet& out,
                         std::vector<ConfigError>& errors) {
  out = TemplateSet{};
  out.file = file;
  size_t before = errors.size();
  TomlReader r(file, errors);
  toml::table root;
  if (!r.parseText(toml, root)) return false;
  return loadRoot(r, root, out, errors, before);
}

}  // namespace alertbus::sms
