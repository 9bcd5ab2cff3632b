// GB/T 35965-style warning XML -> CAP 1.2 rewrite -> parseCap; see gbt.h for the accepted shapes. The
// rewrite keeps values as received except where gbt.h says otherwise (times, colours, event codes).
#include "adapters/met/gbt.h"
#include "model/decode_util.h"

#include <algorithm>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include <pugixml.hpp>

#include "model/validate.h"
#include "schemas/message.capnp.h"

namespace alertbus::met {
namespace {

bool allDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

// First child element whose local name is one of `names` (in the order of `names`); `used` gets the name.
pugi::xml_node childAny(const pugi::xml_node& parent, std::initializer_list<const char*> names,
                        const char** used = nullptr) {
  for (auto name : names)
    for (auto c = parent.first_child(); c; c = c.next_sibling())
      if (c.type() == pugi::node_element && localName(c) == name) {
        if (used) *used = name;
        return c;
      }
  return {};
}
std::string_view textAny(const pugi::xml_node& parent, std::initializer_list<const char*> names,
                         const char** used = nullptr) {
  return trim(childAny(parent, names, used).text().get());
}
std::vector<pugi::xml_node> childrenNamed(const pugi::xml_node& parent, std::initializer_list<const char*> names) {
  std::vector<pugi::xml_node> r;
  for (auto c = parent.first_child(); c; c = c.next_sibling()) {
    if (c.type() != pugi::node_element) continue;
    for (auto name : names)
      if (localName(c) == name) r.push_back(c);
  }
  return r;
}

struct Family {
  const char* code;
  const char* name;
  const char* family;
};
const Family kFamilies[] = {
    {"11B01", "台风", "typhoon"},     {"11B03", "暴雨", "rainstorm"},     {"11B04", "暴雪", "snowstorm"},
    {"11B05", "寒潮", "cold-wave"},   {"11B06", "大风", "gale"},          {"11B07", "沙尘暴", "sandstorm"},
    {"11B09", "高温", "heat"},        {"11B14", "雷电", "thunderstorm"},  {"11B15", "冰雹", "hail"},
    {"11B16", "霜冻", "frost"},       {"11B17", "大雾", "fog"},           {"11B19", "霾", "haze"},
    {"11B20", "雷雨大风", "thunderstorm"}, {"11B21", "道路结冰", "road-icing"}, {"11B22", "干旱", "drought"},
    {"11B25", "森林火险", "fire-weather"},
};

// Colour word/level -> (CAP severity word, canonical colour word). nullptr if not a colour.
struct ColourWord {
  const char* severity;
  const char* colour;
};
bool colourOf(std::string_view v, ColourWord& out) {
  static const std::pair<const char*, ColourWord> kPrefix[] = {
      {"红", {"Extreme", "red"}}, {"橙", {"Severe", "orange"}}, {"黄", {"Moderate", "yellow"}},
      {"蓝", {"Minor", "blue"}},  {"Ⅰ", {"Extreme", "red"}},   {"Ⅱ", {"Severe", "orange"}},
      {"Ⅲ", {"Moderate", "yellow"}}, {"Ⅳ", {"Minor", "blue"}}};
  for (auto& [p, c] : kPrefix)
    if (v.substr(0, std::strlen(p)) == p) {
      out = c;
      return true;
    }
  std::string l = lowerAscii(v);
  if (l.size() > 3 && l.substr(l.size() - 3) == "级") l.resize(l.size() - 3);
  static const std::pair<const char*, ColourWord> kWords[] = {
      {"red", {"Extreme", "red"}},       {"orange", {"Severe", "orange"}}, {"yellow", {"Moderate", "yellow"}},
      {"blue", {"Minor", "blue"}},       {"1", {"Extreme", "red"}},        {"2", {"Severe", "orange"}},
      {"3", {"Moderate", "yellow"}},     {"4", {"Minor", "blue"}},         {"i", {"Extreme", "red"}},
      {"ii", {"Severe", "orange"}},      {"iii", {"Moderate", "yellow"}},  {"iv", {"Minor", "blue"}},
      {"extreme", {"Extreme", "red"}},   {"severe", {"Severe", "orange"}}, {"moderate", {"Moderate", "yellow"}},
      {"minor", {"Minor", "blue"}}};
  for (auto& [w, c] : kWords)
    if (l == w) {
      out = c;
      return true;
    }
  return false;
}

const std::pair<const char*, const char*> kStatusZh[] = {{"实际", "Actual"}, {"演练", "Exercise"}, {"演习", "Exercise"},
                                                         {"系统", "System"}, {"测试", "Test"}};
const std::pair<const char*, const char*> kMsgTypeZh[] = {{"首次", "Alert"}, {"发布", "Alert"}, {"更新", "Update"},
                                                          {"变更", "Update"}, {"撤销", "Cancel"}, {"解除", "Cancel"}};

template <size_t N>
std::string_view translateWord(std::string_view v, const std::pair<const char*, const char*> (&table)[N]) {
  for (auto& [zh, en] : table)
    if (v == zh) return en;
  return v;
}

// GB/T time -> CAP time. "" if unparsable. `assumedOffset` set when +08:00 was appended.
std::string gbtTime(std::string_view t, bool& assumedOffset) {
  assumedOffset = false;
  std::string s(trim(t));
  if (s.size() == 14 && allDigits(s))  // compact YYYYMMDDhhmmss
    s = s.substr(0, 4) + "-" + s.substr(4, 2) + "-" + s.substr(6, 2) + "T" + s.substr(8, 2) + ":" + s.substr(10, 2) +
        ":" + s.substr(12, 2);
  if (s.size() >= 19 && s[10] == ' ') s[10] = 'T';
  // "+0800" -> "+08:00"
  if (s.size() == 24 && (s[19] == '+' || s[19] == '-') && allDigits(s.substr(20))) s.insert(22, ":");
  int64_t ms;
  if (parseCapTime(s, ms)) return s;
  std::string withOffset = s + "+08:00";
  if (parseCapTime(withOffset, ms)) {
    assumedOffset = true;
    return withOffset;
  }
  return {};
}

std::string channelKey(std::string_view raw) {
  std::string c = lowerAscii(trim(raw));
  std::string out;
  for (char ch : c)
    if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-') out += ch;
  return out.empty() ? "other" : out;
}

void addText(pugi::xml_node to, const char* name, std::string_view value) {
  if (value.empty()) return;
  to.append_child(name).text().set(std::string(value).c_str());
}
void addPair(pugi::xml_node to, const char* name, std::string_view key, std::string_view value) {
  auto n = to.append_child(name);
  n.append_child("valueName").text().set(std::string(key).c_str());
  n.append_child("value").text().set(std::string(value).c_str());
}

class GbtRewriter {
 public:
  GbtRewriter(CapResult& r, std::string source) : r_(r), source_(std::move(source)) {}

  void problem(CapProblem::Level level, std::string pos, std::string field, std::string_view value, std::string reason) {
    r_.problems.push_back(CapProblem{level, source_, std::move(pos), std::move(field), clipValue(value), std::move(reason)});
  }

  // Returns the CAP document text; problems found on the way are recorded.
  std::string rewrite(const pugi::xml_node& in) {
    pugi::xml_document doc;
    auto a = doc.append_child("alert");
    a.append_attribute("xmlns").set_value("urn:oasis:names:tc:emergency:cap:1.2");
    addText(a, "identifier", textAny(in, {"identifier", "msgId"}));
    addText(a, "sender", textAny(in, {"sender", "senderName"}));
    const char* sentName = "sendTime";
    auto sent = textAny(in, {"sendTime", "sent"}, &sentName);
    sentName_ = sentName;
    if (!sent.empty()) {
      bool assumed;
      std::string t = gbtTime(sent, assumed);
      if (t.empty()) problem(CapProblem::Level::error, std::string("alert/") + sentName, sentName, sent,
                             "not a date-time (\"2019-08-09 20:00:00+08:00\" or ISO 8601)");
      else if (assumed)
        problem(CapProblem::Level::warning, std::string("alert/") + sentName, sentName, sent,
                "no UTC offset; Beijing time (+08:00) assumed");
      addText(a, "sent", t.empty() ? std::string_view("invalid") : std::string_view(t));
      if (t.empty()) sentInvalid_ = true;
    }
    addText(a, "status", translateWord(textAny(in, {"status"}), kStatusZh));
    addText(a, "msgType", translateWord(textAny(in, {"msgType"}), kMsgTypeZh));
    auto scope = textAny(in, {"scope"});
    addText(a, "scope", scope.empty() ? std::string_view("Public") : scope);
    auto refs = textAny(in, {"references"});
    if (!refs.empty()) a.append_child("references").text().set(rewriteReferences(refs).c_str());
    else if (childAny(in, {"references"})) a.append_child("references");
    addText(a, "note", textAny(in, {"note"}));
    auto senderCode = textAny(in, {"senderCode", "senderId"});
    if (!senderCode.empty() && !(senderCode.size() == 12 && allDigits(senderCode)))
      problem(CapProblem::Level::warning, "alert/senderCode", "senderCode", senderCode,
              "not a 12-digit organisation/area code; kept as received");

    auto infos = childrenNamed(in, {"info"});
    for (size_t i = 0; i < infos.size(); ++i)
      rewriteInfo(infos[i], "alert/info[" + std::to_string(i + 1) + "]", a.append_child("info"), senderCode);
    std::ostringstream os;
    doc.save(os, "", pugi::format_raw | pugi::format_no_declaration, pugi::encoding_utf8);
    return os.str();
  }

  const char* sentName() const { return sentName_; }
  bool sentInvalid() const { return sentInvalid_; }

 private:
  std::string rewriteReferences(std::string_view refs) {
    // Tokens on whitespace; a triple whose time was written "YYYY-MM-DD hh:mm:ss" spans two tokens.
    std::vector<std::string> tokens;
    size_t i = 0;
    while (i < refs.size()) {
      while (i < refs.size() && std::strchr(" \t\r\n", refs[i])) ++i;
      size_t b = i;
      while (i < refs.size() && !std::strchr(" \t\r\n", refs[i])) ++i;
      if (i > b) tokens.emplace_back(refs.substr(b, i - b));
    }
    std::string out;
    for (size_t k = 0; k < tokens.size(); ++k) {
      std::string tok = tokens[k];
      size_t c2 = tok.rfind(',');
      if (c2 != std::string::npos && tok.size() - c2 - 1 == 10 && k + 1 < tokens.size() &&
          tokens[k + 1].size() >= 8 && tokens[k + 1][2] == ':' && tokens[k + 1].find(',') == std::string::npos) {
        tok += " " + tokens[++k];
      }
      c2 = tok.rfind(',');
      if (c2 != std::string::npos) {
        bool assumed;
        std::string t = gbtTime(tok.substr(c2 + 1), assumed);
        if (!t.empty()) tok = tok.substr(0, c2 + 1) + t;
        else std::replace(tok.begin(), tok.end(), ' ', 'T');  // stays one token; parseCap warns on the time
      }
      if (!out.empty()) out += ' ';
      out += tok;
    }
    return out;
  }

  void rewriteInfo(const pugi::xml_node& in, const std::string& pos, pugi::xml_node o, std::string_view senderCode) {
    auto lang = textAny(in, {"language"});
    addText(o, "language", lang.empty() ? std::string_view("zh-CN") : lang);
    for (auto& c : childrenNamed(in, {"category"})) addText(o, "category", trim(c.text().get()));
    std::string code;
    if (auto n = childAny(in, {"eventType", "eventCode"})) {
      auto v = child(n, "value");
      code = std::string(trim(v ? v.text().get() : n.text().get()));
    }
    std::string name(textAny(in, {"event", "eventName", "eventTypeName"}));
    std::string family(gbtEventFamily(code));
    if (family.empty() && code.empty()) family = gbtEventFamily(name);
    if (name.empty() && !code.empty()) {
      for (auto& f : kFamilies)
        if (code == f.code) name = f.name;
    }
    if (name.empty()) name = code;
    addText(o, "event", name);
    addText(o, "urgency", textAny(in, {"urgency"}));
    const char* sevName = "severity";
    auto sevNode = childAny(in, {"severity", "severityLevel", "color", "colour", "level"}, &sevName);
    std::string_view sev = trim(sevNode.text().get());
    ColourWord cw{};
    if (colourOf(sev, cw)) {
      addText(o, "severity", cw.severity);
    } else if (lowerAscii(sev) == "unknown") {
      addText(o, "severity", "Unknown");
    } else {
      problem(CapProblem::Level::error, pos + "/" + sevName, sevName, sev,
              sev.empty() ? "no severity colour (Red/Orange/Yellow/Blue, 红色/橙色/黄色/蓝色)"
                          : "not a warning colour (Red/Orange/Yellow/Blue, 红色/橙色/黄色/蓝色) or level 1..4");
    }
    addText(o, "certainty", textAny(in, {"certainty"}));
    if (!family.empty()) addPair(o, "eventCode", "alertbus", family);
    if (!code.empty()) addPair(o, "eventCode", "GB/T 35965", code);
    struct TimeField {
      const char* cap;
      std::initializer_list<const char*> names;
    };
    static const TimeField kTimes[] = {{"effective", {"effective", "effectiveTime"}},
                                       {"onset", {"onset", "onsetTime"}},
                                       {"expires", {"expires", "expireTime", "expiredTime"}}};
    for (auto& [cap, names] : kTimes) {
      const char* used = cap;
      auto v = textAny(in, names, &used);
      if (v.empty()) continue;
      bool assumed;
      std::string t = gbtTime(v, assumed);
      if (t.empty()) {
        problem(CapProblem::Level::warning, pos + "/" + used, used, v, "not a date-time; left absent");
        continue;
      }
      if (assumed)
        problem(CapProblem::Level::warning, pos + "/" + used, used, v, "no UTC offset; Beijing time (+08:00) assumed");
      addText(o, cap, t);
    }
    addText(o, "senderName", textAny(in, {"senderName"}));
    addText(o, "headline", textAny(in, {"headline", "title"}));
    std::string description(textAny(in, {"description", "content"}));
    // Per-channel texts.
    std::vector<std::pair<std::string, std::string>> texts;
    for (auto& m : childrenNamed(in, {"msgContent"})) {
      std::string_view ch = m.attribute("channel").value();
      if (!ch.empty()) {
        texts.emplace_back(channelKey(ch), trim(m.text().get()));
      } else if (auto c = childAny(m, {"channel"})) {
        texts.emplace_back(channelKey(c.text().get()), trim(textAny(m, {"content", "text"})));
      } else if (description.empty()) {
        description = trim(m.text().get());
      }
    }
    for (auto& c : childrenNamed(in, {"channel"})) {
      std::string_view ch = c.attribute("name").value();
      if (ch.empty()) ch = c.attribute("type").value();
      texts.emplace_back(channelKey(ch), trim(c.text().get()));
    }
    addText(o, "description", description);
    addText(o, "instruction", textAny(in, {"instruction", "guide", "defenseGuide"}));
    addText(o, "web", textAny(in, {"web"}));
    addText(o, "contact", textAny(in, {"contact"}));
    if (!sev.empty() && cw.colour) addPair(o, "parameter", "colour", sev);
    if (!senderCode.empty()) addPair(o, "parameter", "senderCode", senderCode);
    for (auto& [ch, text] : texts) addPair(o, "parameter", ("text." + ch).c_str(), text);
    for (auto& p : childrenNamed(in, {"parameter"}))
      addPair(o, "parameter", trim(child(p, "valueName").text().get()), trim(child(p, "value").text().get()));

    auto areas = childrenNamed(in, {"area"});
    for (size_t i = 0; i < areas.size(); ++i) rewriteArea(areas[i], o.append_child("area"));
  }

  static pugi::xml_node child(const pugi::xml_node& parent, const char* name) { return childAny(parent, {name}); }

  void rewriteArea(const pugi::xml_node& in, pugi::xml_node o) {
    addText(o, "areaDesc", textAny(in, {"areaDesc", "areaName"}));
    for (auto& p : childrenNamed(in, {"polygon"})) o.append_child("polygon").text().set(p.text().get());
    for (auto& c : childrenNamed(in, {"circle"})) o.append_child("circle").text().set(c.text().get());
    for (auto& g : childrenNamed(in, {"geocode", "areaCode", "adminCode"})) {
      auto vn = child(g, "valueName");
      auto v = child(g, "value");
      if (v) {
        std::string_view key = trim(vn.text().get()), value = trim(v.text().get());
        if (allDigits(value) && (value.size() == 6 || value.size() == 12) && !iequalsAdminName(key))
          addPair(o, "geocode", "GB/T 2260", value);
        addPair(o, "geocode", key, value);
        continue;
      }
      // Plain text: one or more codes separated by whitespace or commas.
      std::string text(g.text().get());
      for (auto& ch : text)
        if (ch == ',' || ch == ';') ch = ' ';
      std::istringstream is(text);
      std::string code;
      while (is >> code) addPair(o, "geocode", "GB/T 2260", code);
    }
  }

  static bool iequalsAdminName(std::string_view key) {
    std::string k = lowerAscii(key);
    return k == "gb2260" || k == "gb/t 2260" || k == "gbt2260" || k == "gb_t_2260" || k == "adcode" ||
           key == "行政区划代码";
  }

  CapResult& r_;
  std::string source_;
  const char* sentName_ = "sendTime";
  bool sentInvalid_ = false;
};

}  // namespace

std::string_view gbtEventFamily(std::string_view v) {
  v = trim(v);
  if (v.empty()) return {};
  for (auto& f : kFamilies)
    if (v == f.code || v == f.name) return f.family;
  return {};
}

CapResult parseGbt(std::string_view bytes, std::string_view source, int64_t receivedMs, capnp::MessageBuilder& out) {
  CapResult result;
  const std::string src(source);
  auto finishProvenance = [&] {
    auto prov = out.getRoot<schema::Message>().getProvenance();
    prov.setContentType(std::string(kGbtContentType));
    if (bytes.size() <= kMaxCapBytes)
      prov.setOriginal(capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(bytes.data()), bytes.size()));
    prov.setSource(src);
    prov.setReceivedMs(receivedMs);
  };
  auto fail = [&](std::string pos, std::string field, std::string_view value, std::string reason) {
    result.problems.push_back(CapProblem{CapProblem::Level::error, src, std::move(pos), std::move(field),
                                         clipValue(value), std::move(reason)});
    out.initRoot<schema::Message>();
    finishProvenance();
    return result;
  };
  pugi::xml_document doc;
  if (!loadXml(bytes, source, kMaxCapBytes, doc, result.problems)) {
    out.initRoot<schema::Message>();
    finishProvenance();
    return result;
  }
  auto root = doc.document_element();
  if (localName(root) != "alert") return fail(root.name(), "alert", root.name(), "root element is not a GB/T <alert>");
  std::string ns = namespaceOf(root);
  if (ns.rfind("urn:oasis:names:tc:emergency:cap:", 0) == 0)
    return fail("alert", "xmlns", ns, "a CAP alert, not GB/T 35965 (use the CAP parser)");

  GbtRewriter rw(result, src);
  std::string cap = rw.rewrite(root);
  std::vector<CapProblem> own = std::move(result.problems);
  CapResult capResult = parseCap(cap, source, receivedMs, out);
  // Name GB/T elements where they differ from CAP, drop parseCap's duplicate of an invalid sendTime and
  // its "missing urgency/certainty" warnings (optional in GB/T).
  result.problems = std::move(own);
  for (auto& p : capResult.problems) {
    if (p.position == "alert/sent") {
      if (rw.sentInvalid()) continue;
      p.position = std::string("alert/") + rw.sentName();
      p.field = rw.sentName();
    }
    if ((p.field == "urgency" || p.field == "certainty") && p.reason.rfind("missing", 0) == 0) continue;
    result.problems.push_back(std::move(p));
  }
  result.capSender = capResult.capSender;
  result.capVersion = "GB/T 35965";
  result.accepted = result.errorCount() == 0;
  finishProvenance();
  return result;
}

}  // namespace alertbus::met
