// CAP -> Message mapping and the hardened XML loading shared by the met parsers; see cap.h for the contract.
// Every problem is recorded with the element path; nothing here throws past parseCap (pugixml does not throw,
// Cap'n Proto builders are given only valid sizes and text). Hot path (bench/cap_bench.cpp): each element's
// children are listed once (Kids) instead of walked per field, texts go to Cap'n Proto without temporary
// strings, lists are initialised once at their exact size, well-formed polygons are converted in one pass
// and copied into the message in one memcpy, the UTF-8 check has ASCII and CJK fast paths, tables are
// string_views (no strlen per comparison), and problem paths are built only on a problem. What remains is
// mostly pugixml's per-node accessor calls and Cap'n Proto's per-field setters (see the bench's notes).
#include "adapters/met/cap.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <sstream>
#include <type_traits>
#include <cerrno>

#include <capnp/any.h>
#include <pugixml.hpp>

#include "model/decode_util.h"
#include "model/validate.h"
#include "schemas/message.capnp.h"

namespace alertbus::met {
namespace {

using schema::Message;
constexpr size_t kMaxEventCodeBytes = 64;
constexpr double kMetresPerFoot = 0.3048;


char lowerChar(char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; }

// ASCII case-insensitive equality, no allocation.
bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (lowerChar(a[i]) != lowerChar(b[i])) return false;
  return true;
}

// Text of an element (its first PCDATA/CDATA child, like xml_text::get), trimmed.
std::string_view textOf(const pugi::xml_node& n) { return trim(n.child_value()); }

// The element children of one element, listed once with their local names packed into keys: a field lookup
// is then a scan over a small array of integers, not a walk over pugixml nodes. CAP elements come in schema
// order and the mappers ask for them in about that order, so first() starts after the previous hit and
// usually succeeds at once; that is exact only for a name that occurs once, so names that may occur more
// than once (a 64-bit filter over the keys, built with the list) are looked up from the start. Not
// copyable (points into itself).
class Kids {
 public:
  explicit Kids(const pugi::xml_node& parent) {
    keys_ = keyInline_;
    items_ = itemInline_;
    for (auto c = parent.first_child(); c; c = c.next_sibling()) {
      const char* raw = c.name();
      if (!*raw || c.type() != pugi::node_element) continue;  // text and comments have no name
      // One pass over the (short) name finds the local part and packs its key.
      const char* local = raw;
      const char* q = raw;
      uint64_t key = 0;
      for (; *q; ++q) {
        if (*q == ':') {
          local = q + 1;
          key = 0;
        } else if (q - local < 7) {
          key |= static_cast<uint64_t>(static_cast<unsigned char>(*q)) << (8 * (q - local + 1));
        }
      }
      const size_t len = static_cast<size_t>(q - local);
      add(key | (len & 0xff), Item{local, len, c.internal_object()});
    }
  }
  Kids(const Kids&) = delete;
  Kids& operator=(const Kids&) = delete;

  // First child element with local name `name`, or an empty node.
  pugi::xml_node first(std::string_view name) const {
    const uint64_t key = keyOf(name);
    if (repeated_ & filterBit(key)) return firstFrom0(key, name);
    for (size_t k = 0; k < n_; ++k) {
      size_t i = cursor_ + k;
      if (i >= n_) i -= n_;
      if (keys_[i] == key && tailMatches(i, name)) {
        cursor_ = i + 1 < n_ ? i + 1 : 0;
        return node(i);
      }
    }
    return {};
  }
  std::string_view text(std::string_view name) const { return textOf(first(name)); }
  template <typename F>
  void each(std::string_view name, F&& f) const {
    const uint64_t key = keyOf(name);
    for (size_t i = 0; i < n_; ++i)
      if (keys_[i] == key && tailMatches(i, name)) f(node(i));
  }
  size_t count(std::string_view name) const {
    const uint64_t key = keyOf(name);
    size_t k = 0;
    for (size_t i = 0; i < n_; ++i) k += keys_[i] == key && tailMatches(i, name);
    return k;
  }

 private:
  struct Item {
    const char* name;  // local name, NUL-terminated (pugixml's)
    size_t len;
    pugi::xml_node_struct* node;
  };
  // The length and the first 7 bytes of a local name packed in one integer: equal keys and equal lengths
  // decide names of up to 7 bytes; longer ones compare the rest (tailMatches).
  static uint64_t keyOf(std::string_view name) {
    uint64_t w = 0;  // bytes 0..6 of the name at bits 8..63, built from the last one down
    for (size_t i = std::min<size_t>(name.size(), 7); i-- > 0;) w = (w << 8) | static_cast<unsigned char>(name[i]);
    return (w << 8) | (name.size() & 0xff);
  }
  bool tailMatches(size_t i, std::string_view name) const {
    const Item& it = items_[i];
    if (it.len != name.size()) return false;  // keys hold the length mod 256
    return it.len <= 7 || std::memcmp(it.name + 7, name.data() + 7, it.len - 7) == 0;
  }
  static uint64_t filterBit(uint64_t key) { return uint64_t{1} << ((key * 0x9E3779B97F4A7C15ULL) >> 58); }
  pugi::xml_node firstFrom0(uint64_t key, std::string_view name) const {
    for (size_t i = 0; i < n_; ++i)
      if (keys_[i] == key && tailMatches(i, name)) return node(i);
    return {};
  }
  void add(uint64_t key, const Item& item) {
    const uint64_t bit = filterBit(key);
    repeated_ |= seen_ & bit;
    seen_ |= bit;
    if (n_ == kInline) {  // spill to the heap once; keys_ and items_ follow
      keyMore_.assign(keyInline_, keyInline_ + kInline);
      itemMore_.assign(itemInline_, itemInline_ + kInline);
    }
    if (n_ >= kInline) {
      keyMore_.push_back(key);
      itemMore_.push_back(item);
      keys_ = keyMore_.data();
      items_ = itemMore_.data();
    } else {
      keyInline_[n_] = key;
      itemInline_[n_] = item;
    }
    ++n_;
  }
  pugi::xml_node node(size_t i) const { return pugi::xml_node(items_[i].node); }

  static constexpr size_t kInline = 40;  // more than any CAP element has children in practice
  uint64_t keyInline_[kInline];  // trivially constructible: costs nothing until used
  Item itemInline_[kInline];
  std::vector<uint64_t> keyMore_;
  std::vector<Item> itemMore_;
  const uint64_t* keys_;
  const Item* items_;
  size_t n_ = 0;
  uint64_t seen_ = 0, repeated_ = 0;  // filter bits of the keys seen once / more than once (or colliding)
  mutable size_t cursor_ = 0;  // where first() starts looking: after its previous hit
};

// Decimal without exponent, up to 15 significant digits: exact (Clinger's fast path: an integer below 2^53
// divided by an exact power of ten rounds once, like strtod). Anything else goes to std::from_chars.
bool parseDouble(std::string_view s, double& out) {
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  if (s.empty()) return false;
  static const double kPow10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
  size_t i = 0;
  bool neg = s[0] == '-';
  if (neg) ++i;
  uint64_t mant = 0;
  int digits = 0, fracDigits = 0;
  bool dot = false, fast = true;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c >= '0' && c <= '9') {
      if (digits || c != '0') ++digits;
      mant = mant * 10 + static_cast<uint64_t>(c - '0');
      if (dot) ++fracDigits;
    } else if (c == '.' && !dot) {
      dot = true;
    } else {
      fast = false;
      break;
    }
  }
  size_t intStart = neg ? 1 : 0;
  bool hasDigit = s.size() > intStart + (dot ? 1 : 0);
  if (fast && hasDigit && digits <= 15 && fracDigits <= 15) {
    double v = static_cast<double>(mant) / kPow10[fracDigits];
    out = neg ? -v : v;
    return true;
  }
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size() && std::isfinite(out);
}

bool isWs(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

template <typename F>
void forEachToken(std::string_view s, F&& f) {
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && isWs(s[i])) ++i;
    size_t b = i;
    while (i < s.size() && !isWs(s[i])) ++i;
    if (i > b) f(s.substr(b, i - b));
  }
}

std::vector<std::string_view> splitWs(std::string_view s) {
  std::vector<std::string_view> r;
  forEachToken(s, [&](std::string_view t) { r.push_back(t); });
  return r;
}

bool parseLatLon(std::string_view pair, double& lat, double& lon) {
  size_t comma = pair.find(',');
  if (comma == std::string_view::npos) return false;
  return parseDouble(trim(pair.substr(0, comma)), lat) && parseDouble(trim(pair.substr(comma + 1)), lon);
}
bool inRange(double lat, double lon) { return lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180; }


// Collects problems with their element paths.
struct Reporter {
  CapResult& result;
  std::string_view source;  // parseCap's argument; copied into a problem only when there is one
  void add(CapProblem::Level level, std::string position, std::string field, std::string_view value,
           std::string reason) {
    result.problems.push_back(
        CapProblem{level, std::string(source), std::move(position), std::move(field), clipValue(value), std::move(reason)});
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
  std::string_view word;  // a view, not a char*: the lookups compare lengths first, with no strlen
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

const std::string_view kAdminCodeNames[] = {"gb2260", "gb/t 2260", "gbt2260", "gb_t_2260", "adcode", "行政区划代码"};
const std::string_view kColourParamNames[] = {"colour", "color", "level", "awareness_level", "预警级别", "预警颜色"};
const std::string_view kEventCodePreference[] = {"alertbus", "cma", "gb/t 35965"};
// eventCode entries that describe the document, not the event (DWD profile): never the normative code.
const std::string_view kEventCodeMetadata[] = {"profile_version", "license", "area_color"};

bool isAdminCode(std::string_view v) {
  if (v.size() != 6 && v.size() != 12) return false;
  for (char c : v)
    if (c < '0' || c > '9') return false;
  return true;
}

schema::Colour colourFromParam(std::string_view value) {
  static const std::pair<std::string_view, schema::Colour> zh[] = {{"红", schema::Colour::RED},
                                                              {"橙", schema::Colour::ORANGE},
                                                              {"黄", schema::Colour::YELLOW},
                                                              {"蓝", schema::Colour::BLUE}};
  for (auto& [p, c] : zh)
    if (value.substr(0, p.size()) == p) return c;
  size_t i = 0;
  auto isLetter = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  while (i < value.size()) {
    while (i < value.size() && !isLetter(value[i])) ++i;
    size_t b = i;
    while (i < value.size() && isLetter(value[i])) ++i;
    std::string_view tok = value.substr(b, i - b);
    if (iequals(tok, "red")) return schema::Colour::RED;
    if (iequals(tok, "orange")) return schema::Colour::ORANGE;
    if (iequals(tok, "yellow")) return schema::Colour::YELLOW;
    if (iequals(tok, "blue")) return schema::Colour::BLUE;
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

// Whether the document being mapped may yield text the bus refuses (validateMessage's clean UTF-8): raw
// control characters and DEL (pugixml passes them through), or character references, which pugixml
// expands to anything, surrogates and code points beyond U+10FFFF included. Set once per document by
// parseCap; when false (nearly always) capText skips the per-field check.
thread_local bool tlTextNeedsCleaning = false;

bool mayNeedCleaning(std::string_view xml) {
  if (xml.find("&#") != std::string_view::npos) return true;
  const auto* p = reinterpret_cast<const unsigned char*>(xml.data());
  const size_t n = xml.size();
  auto bad = [](unsigned char c) { return (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f; };
  size_t i = 0;
  // Eight bytes at a time: a word with no byte below 0x20 and none equal to 0x7f is clean (most of them:
  // only line ends and indentation tabs send a word to the byte-by-byte check).
  constexpr uint64_t kOnes = 0x0101010101010101ULL, kHigh = 0x8080808080808080ULL;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    uint64_t below = (w - 0x20 * kOnes) & ~w & kHigh;
    uint64_t del = w ^ (0x7f * kOnes);
    uint64_t isDel = (del - kOnes) & ~del & kHigh;
    if (below | isDel)
      for (size_t k = 0; k < 8; ++k)
        if (bad(p[i + k])) return true;
  }
  for (; i < n; ++i)
    if (bad(p[i])) return true;
  return false;
}

// Replaces what is not clean UTF-8 text: each control character or DEL by '?', each invalid sequence
// by U+FFFD. (Found by fuzzing: such text made alerts the broker rejects as "not valid UTF-8 text".)
std::string cleanText(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      out += ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) ? '?' : static_cast<char>(c);
      ++i;
      continue;
    }
    size_t len = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
    if (len && i + len <= s.size() && isCleanUtf8(s.data() + i, len)) {
      out.append(s.data() + i, len);
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

// Text for a Cap'n Proto setter without a temporary std::string.
capnp::Text::Reader capText(std::string_view s) {
  thread_local std::string copy;
  if (tlTextNeedsCleaning && !isCleanUtf8(s.data(), s.size())) {
    copy = cleanText(s);
    return capnp::Text::Reader(copy.c_str(), copy.size());
  }
  // Text::Reader wants a NUL after the last byte in debug builds; views that end early are copied.
  if (s.data() && s.data()[s.size()] == '\0') return capnp::Text::Reader(s.data(), s.size());
  copy.assign(s);
  return capnp::Text::Reader(copy.c_str(), copy.size());
}

// True if the element name `raw` (NUL-terminated, with or without a prefix) has the local name `want`.
// Decides most names within their first bytes, with no strlen and no search for ':' first.
bool localNameIs(const char* raw, std::string_view want) {
  size_t i = 0;
  while (i < want.size() && raw[i] == want[i]) ++i;
  if (i == want.size() && raw[i] == '\0') return true;
  const char* colon = std::strchr(raw + i, ':');  // a prefix ends before the first ':'; want has none
  if (!colon) return false;
  const char* local = colon + 1;
  for (i = 0; i < want.size(); ++i)
    if (local[i] != want[i]) return false;
  return local[i] == '\0';
}

// valueName/value pairs of elements named `name` (eventCode, parameter, geocode).
struct KV {
  std::string_view key, value;
};
// Fills `r` (cleared first; callers reuse one vector per field so a document allocates once).
void valuePairs(const Kids& kids, std::string_view name, std::vector<KV>& r) {
  r.clear();
  kids.each(name, [&](const pugi::xml_node& n) {
    pugi::xml_node k, v;
    for (auto c = n.first_child(); c; c = c.next_sibling()) {
      if (c.type() != pugi::node_element) continue;
      const char* raw = c.name();
      if (!k && localNameIs(raw, "valueName")) k = c;
      else if (!v && localNameIs(raw, "value")) v = c;
    }
    r.push_back({textOf(k), textOf(v)});
  });
}
void setPairs(capnp::List<schema::KeyValue>::Builder list, const std::vector<KV>& kvs) {
  for (size_t i = 0; i < kvs.size(); ++i) {
    auto e = list[static_cast<unsigned>(i)];
    e.setKey(capText(kvs[i].key));
    e.setValue(capText(kvs[i].value));
  }
}

class CapMapper {
 public:
  // ring_ starts with room for a typical polygon (NWS/ECCC send 4-30 points) so it rarely grows.
  CapMapper(Reporter& rep) : rep_(rep) {
    ring_.reserve(64);
    pairs_.reserve(16);
  }

  void mapAlert(const pugi::xml_node& alert, Message::Builder m) {
    const std::string base = "alert";
    Kids kids(alert);
    auto required = [&](std::string_view name) -> std::string_view {
      auto v = kids.text(name);
      if (v.empty()) rep_.error(base + "/" + std::string(name), std::string(name), "", "required element missing or empty");
      return v;
    };
    auto id = required("identifier");
    if (!id.empty()) {
      if (id.find_first_of(" \t\r\n,<&") != std::string_view::npos)
        rep_.error(base + "/identifier", "identifier", id, "contains whitespace, ',', '<' or '&' (not allowed by CAP)");
      else if (id.size() > 200)
        rep_.error(base + "/identifier", "identifier", id, "longer than 200 bytes");
      else
        m.setId(capText(id));
    }
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
    auto scope = required("scope");
    if (!scope.empty() && !iequals(scope, "Public") && !iequals(scope, "Restricted") && !iequals(scope, "Private"))
      rep_.error(base + "/scope", "scope", scope, "not Public, Restricted or Private");
    auto refsNode = kids.first("references");
    size_t refCount = refsNode ? mapReferences(refsNode, m) : 0;
    auto t = m.getMsgType();
    if ((t == schema::MsgType::UPDATE || t == schema::MsgType::CANCEL) && refCount == 0)
      rep_.error(base + "/references", "references", textOf(refsNode),
                 std::string(t == schema::MsgType::UPDATE ? "an Update" : "a Cancel") +
                     " without a usable sender,identifier,sent reference: cannot tell what it " +
                     (t == schema::MsgType::UPDATE ? "replaces" : "withdraws"));
    auto incidents = kids.text("incidents");
    if (!incidents.empty()) m.setIncident(capText(incidents));

    size_t infoCount = kids.count("info");
    if (infoCount == 0 && t == schema::MsgType::CANCEL) {
      // A Cancel may carry no info (IPAWS sends them so): it withdraws what its references name.
      m.getPayload().initWarning(0);
      return;
    }
    if (infoCount == 0) rep_.error(base + "/info", "info", "", "no <info>: alertbus needs at least one info per warning");
    auto list = m.getPayload().initWarning(static_cast<unsigned>(infoCount));
    unsigned i = 0;
    kids.each("info", [&](const pugi::xml_node& n) {
      mapInfo(n, i, list[i]);
      ++i;
    });
  }

 private:
  // Returns the number of references kept.
  size_t mapReferences(const pugi::xml_node& refsNode, Message::Builder m) {
    struct Ref {
      std::string_view sender, id;
      int64_t sentMs;
    };
    std::vector<Ref> refs;
    auto text = textOf(refsNode);
    forEachToken(text, [&](std::string_view tok) {
      size_t c1 = tok.find(','), c2 = c1 == std::string_view::npos ? c1 : tok.find(',', c1 + 1);
      if (c2 == std::string_view::npos || tok.find(',', c2 + 1) != std::string_view::npos) {
        rep_.warn("alert/references", "references", tok, "entry is not a sender,identifier,sent triple; dropped");
        return;
      }
      Ref r{tok.substr(0, c1), tok.substr(c1 + 1, c2 - c1 - 1), 0};
      if (r.id.empty()) {
        rep_.warn("alert/references", "references", tok, "entry without an identifier; dropped");
        return;
      }
      if (!parseCapTime(tok.substr(c2 + 1), r.sentMs)) {
        rep_.warn("alert/references", "references", tok, "sent time unparsable; kept with sentMs 0");
        r.sentMs = 0;
      }
      refs.push_back(r);
    });
    if (refs.empty() && !text.empty()) {  // an empty <references/> is common and harmless
      rep_.warn("alert/references", "references", text, "no usable reference");
    }
    if (refs.empty()) return 0;
    auto list = m.initReferences(static_cast<unsigned>(refs.size()));
    for (size_t i = 0; i < refs.size(); ++i) {
      auto e = list[static_cast<unsigned>(i)];
      e.setSender(capText(refs[i].sender));
      e.setId(capText(refs[i].id));
      e.setSentMs(refs[i].sentMs);
    }
    return refs.size();
  }

  static std::string infoPos(unsigned info) { return "alert/info[" + std::to_string(info + 1) + "]"; }

  template <typename E, size_t N>
  E enumField(const Kids& kids, unsigned info, std::string_view name, const Word<E> (&table)[N]) {
    auto v = kids.text(name);
    if (v.empty()) {
      rep_.warn(infoPos(info) + "/" + std::string(name), std::string(name), "", "missing; left unspecified");
      return E{};
    }
    if (auto e = lookup(table, v)) return *e;
    rep_.warn(infoPos(info) + "/" + std::string(name), std::string(name), v, "unknown value; left unspecified");
    return E{};
  }

  int64_t timeField(const Kids& kids, unsigned info, std::string_view name) {
    auto v = kids.text(name);
    if (v.empty()) return 0;
    int64_t ms = 0;
    if (parseCapTime(v, ms)) return ms;
    rep_.warn(infoPos(info) + "/" + std::string(name), std::string(name), v,
              "not an ISO 8601 date-time with offset; left absent");
    return 0;
  }

  void mapInfo(const pugi::xml_node& info, unsigned infoIdx, schema::Info::Builder out) {
    Kids kids(info);
    auto lang = kids.text("language");
    out.setLanguage(lang.empty() ? capnp::Text::Reader("en-US") : capText(lang));

    schema::Category cats[16];
    size_t nCats = 0, catIdx = 0;
    std::vector<schema::Category> moreCats;
    kids.each("category", [&](const pugi::xml_node& n) {
      if (auto c = lookup(kCategory, textOf(n))) {
        if (nCats < 16) cats[nCats++] = *c;
        else moreCats.push_back(*c);
      } else {
        rep_.warn(indexed(infoPos(infoIdx), "category", catIdx), "category", textOf(n), "unknown category; dropped");
      }
      ++catIdx;
    });
    auto catList = out.initCategories(static_cast<unsigned>(nCats + moreCats.size()));
    for (size_t i = 0; i < nCats; ++i) catList.set(static_cast<unsigned>(i), cats[i]);
    for (size_t i = 0; i < moreCats.size(); ++i) catList.set(static_cast<unsigned>(nCats + i), moreCats[i]);

    auto event = kids.text("event");
    out.setEvent(capText(event));
    auto& codes = pairs_;
    valuePairs(kids, "eventCode", codes);
    setPairs(out.initEventCodes(static_cast<unsigned>(codes.size())), codes);
    std::string_view code;
    for (auto pref : kEventCodePreference)
      for (auto& kv : codes)
        if (code.empty() && iequals(kv.key, pref) && !kv.value.empty()) code = kv.value;
    for (auto& kv : codes) {
      bool metadata = false;
      for (auto name : kEventCodeMetadata) metadata = metadata || iequals(kv.key, name);
      if (code.empty() && !metadata && !kv.value.empty()) code = kv.value;
    }
    std::string lowered;
    if (code.empty()) {
      lowered = lowerAscii(event);
      code = lowered;
    }
    if (code.size() > kMaxEventCodeBytes) {
      rep_.warn(infoPos(infoIdx) + "/eventCode", "eventCode", code, "normative event code cut to 64 bytes");
      lowered = cutUtf8(std::string(code), kMaxEventCodeBytes);
      code = lowered;
    }
    if (code.empty()) rep_.error(infoPos(infoIdx) + "/event", "event", "", "no eventCode and no event text: cannot route");
    out.setEventCode(capText(code));

    schema::ResponseType rts[16];  // like categories: on the stack, the (never seen) rest in a vector
    size_t nRts = 0, rtIdx = 0;
    std::vector<schema::ResponseType> moreRts;
    kids.each("responseType", [&](const pugi::xml_node& n) {
      if (auto r = lookup(kResponse, textOf(n))) {
        if (nRts < 16) rts[nRts++] = *r;
        else moreRts.push_back(*r);
      } else {
        rep_.warn(indexed(infoPos(infoIdx), "responseType", rtIdx), "responseType", textOf(n), "unknown responseType; dropped");
      }
      ++rtIdx;
    });
    auto rtList = out.initResponseTypes(static_cast<unsigned>(nRts + moreRts.size()));
    for (size_t i = 0; i < nRts; ++i) rtList.set(static_cast<unsigned>(i), rts[i]);
    for (size_t i = 0; i < moreRts.size(); ++i) rtList.set(static_cast<unsigned>(nRts + i), moreRts[i]);

    out.setUrgency(enumField(kids, infoIdx, "urgency", kUrgency));
    auto severity = enumField(kids, infoIdx, "severity", kSeverity);
    out.setSeverity(severity);
    out.setCertainty(enumField(kids, infoIdx, "certainty", kCertainty));
    out.setAudience(capText(kids.text("audience")));
    out.setEffectiveMs(timeField(kids, infoIdx, "effective"));
    out.setOnsetMs(timeField(kids, infoIdx, "onset"));
    out.setExpiresMs(timeField(kids, infoIdx, "expires"));
    out.setSenderName(capText(kids.text("senderName")));
    out.setHeadline(capText(kids.text("headline")));
    out.setDescription(capText(kids.text("description")));
    out.setInstruction(capText(kids.text("instruction")));
    out.setWeb(capText(kids.text("web")));
    out.setContact(capText(kids.text("contact")));

    auto& params = pairs_;  // the eventCodes are done with
    valuePairs(kids, "parameter", params);
    setPairs(out.initParameters(static_cast<unsigned>(params.size())), params);
    schema::Colour colour = schema::Colour::UNSPECIFIED;
    for (auto& kv : params) {
      if (colour != schema::Colour::UNSPECIFIED) break;
      for (auto name : kColourParamNames)
        if (iequals(kv.key, name)) colour = colourFromParam(kv.value);
    }
    if (colour == schema::Colour::UNSPECIFIED) colour = colourFromSeverity(severity);
    out.setColour(colour);

    auto resList = out.initResources(static_cast<unsigned>(kids.count("resource")));
    unsigned resIdx = 0;
    kids.each("resource", [&](const pugi::xml_node& r) {
      Kids rk(r);
      auto o = resList[resIdx];
      o.setDescription(capText(rk.text("resourceDesc")));
      o.setMimeType(capText(rk.text("mimeType")));
      auto size = rk.text("size");
      if (!size.empty()) {
        uint64_t n = 0;
        auto [p, ec] = std::from_chars(size.data(), size.data() + size.size(), n);
        if (ec == std::errc() && p == size.data() + size.size()) o.setSizeBytes(n);
        else rep_.warn(indexed(infoPos(infoIdx), "resource", resIdx) + "/size", "size", size, "not a byte count; left 0");
      }
      o.setUri(capText(rk.text("uri")));
      o.setDigest(capText(rk.text("digest")));
      ++resIdx;
    });

    auto areaList = out.initAreas(static_cast<unsigned>(kids.count("area")));
    unsigned areaIdx = 0;
    kids.each("area", [&](const pugi::xml_node& a) {
      mapArea(a, infoIdx, areaIdx, areaList[areaIdx]);
      ++areaIdx;
    });
  }

  struct Pt {
    double lat, lon;
  };

  std::string areaPos(unsigned info, unsigned area) const {
    return infoPos(info) + "/area[" + std::to_string(area + 1) + "]";
  }

  // One number of a polygon, fast path only: [+-]digits[.digits], 1 to 15 digits in all (exact, see
  // parseDouble). Returns the position after it, or nullptr when the text there is anything else (the
  // careful path then decides). Needs a byte that is not a digit or '.' at or before the end of the text
  // (see scanRing): the loops test no bounds, so a digit costs a load, a compare and a multiply-add.
  static const char* scanNumber(const char* p, double& out) {
    static const double kPow10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
    const bool neg = *p == '-';
    if (neg || *p == '+') ++p;
    uint64_t m = 0;  // wraps past 19 digits; more than 15 are refused below anyway
    unsigned d;
    const char* intStart = p;
    while ((d = static_cast<unsigned char>(*p) - unsigned{'0'}) <= 9) m = m * 10 + d, ++p;
    size_t digits = static_cast<size_t>(p - intStart), frac = 0;
    if (*p == '.') {
      const char* fracStart = ++p;
      while ((d = static_cast<unsigned char>(*p) - unsigned{'0'}) <= 9) m = m * 10 + d, ++p;
      frac = static_cast<size_t>(p - fracStart);
      digits += frac;
    }
    if (digits == 0 || digits > 15) return nullptr;
    const double v = static_cast<double>(m) / kPow10[frac];
    out = neg ? -v : v;
    return p;
  }

  // The ring of a well-formed polygon in one pass; false as soon as anything is unusual (the careful path
  // then runs and names the problem). `text` must be a trimmed view of a NUL-terminated string (textOf):
  // the byte after it is whitespace or the NUL, which stops every scan, so scanNumber needs no bounds.
  static bool scanRing(std::string_view text, std::vector<Pt>& ring) {
    ring.clear();
    const char* p = text.data();
    const char* const e = p + text.size();
    if (p == nullptr || (*e != '\0' && !isWs(*e))) return false;  // not as promised: the careful path
    for (;;) {
      while (p < e && isWs(*p)) ++p;
      if (p == e) return true;
      Pt pt;
      p = scanNumber(p, pt.lat);
      if (!p || *p != ',') return false;
      p = scanNumber(p + 1, pt.lon);
      // p <= e: the scans stop at *e at the latest.
      if (!p || (p < e && !isWs(*p)) || !inRange(pt.lat, pt.lon)) return false;
      ring.push_back(pt);
    }
  }

  // Parses the ring into `ring`; false (with a warning) when the polygon is unusable. `text` comes from textOf
  // (scanRing relies on the byte after it).
  bool parsePolygon(std::string_view text, unsigned info, unsigned area, size_t idx, std::vector<Pt>& ring) {
    if (!text.empty() && scanRing(text, ring) && ring.size() >= 4 && ring.front().lat == ring.back().lat &&
        ring.front().lon == ring.back().lon)
      return true;
    ring.clear();
    auto pos = [&] { return indexed(areaPos(info, area), "polygon", idx); };
    if (text.empty()) {
      rep_.warn(pos(), "polygon", "", "empty polygon; dropped");
      return false;
    }
    bool ok = true;
    forEachToken(text, [&](std::string_view pair) {
      if (!ok) return;
      Pt p{};
      if (!parseLatLon(pair, p.lat, p.lon)) {
        rep_.warn(pos(), "polygon", pair, "not a lat,lon pair; polygon dropped");
        ok = false;
      } else if (!inRange(p.lat, p.lon)) {
        rep_.warn(pos(), "polygon", pair, "coordinate outside -90..90, -180..180; polygon dropped");
        ok = false;
      } else {
        ring.push_back(p);
      }
    });
    if (!ok) return false;
    if (ring.size() < 4) {
      rep_.warn(pos(), "polygon", text, "fewer than 4 points; polygon dropped");
      return false;
    }
    if (ring.front().lat != ring.back().lat || ring.front().lon != ring.back().lon) {
      rep_.warn(pos(), "polygon", text, "ring not closed (first != last); polygon dropped");
      return false;
    }
    return true;
  }

  struct Circ {
    Pt c;
    double r;
  };
  double feetField(const Kids& kids, unsigned info, unsigned area, std::string_view name) {
    auto v = kids.text(name);
    double ft = 0;
    if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
    if (parseDouble(v, ft)) return ft * kMetresPerFoot;
    rep_.warn(areaPos(info, area) + "/" + std::string(name), std::string(name), v, "not a number of feet; left absent");
    return std::numeric_limits<double>::quiet_NaN();
  }

  // Fills `pts` (initialised to ring.size()) with `ring`. A Cap'n Proto struct list keeps its elements
  // contiguous, each data words then pointers (encoding spec, "composite lists"), and a Point is two
  // Float64 data words, lat then lon, stored as native little-endian doubles: exactly the bytes of
  // vector<Pt>. So on a little-endian host one memcpy replaces two out-of-line getStructElement calls per
  // point (about a tenth of a polygon's cost). The layout is checked against the builder's own addresses;
  // anything else takes the setters.
  static void setPoints(capnp::List<schema::Point>::Builder pts, const std::vector<Pt>& ring) {
    static_assert(sizeof(Pt) == 2 * sizeof(double) && std::is_standard_layout<Pt>::value, "Pt is lat, lon");
    const size_t n = ring.size();
    if (n == 0) return;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (schema::Point::_capnpPrivate::dataWordSize == 2 && schema::Point::_capnpPrivate::pointerCount == 0 &&
        pts.size() == n) {
      auto first = capnp::AnyStruct::Builder(pts[0]).getDataSection();
      auto last = capnp::AnyStruct::Builder(pts[static_cast<unsigned>(n - 1)]).getDataSection();
      if (first.size() == sizeof(Pt) && last.begin() == first.begin() + (n - 1) * sizeof(Pt)) {
        std::memcpy(first.begin(), ring.data(), n * sizeof(Pt));
        return;
      }
    }
#endif
    for (size_t k = 0; k < n; ++k) {
      pts[static_cast<unsigned>(k)].setLat(ring[k].lat);
      pts[static_cast<unsigned>(k)].setLon(ring[k].lon);
    }
  }

  void mapArea(const pugi::xml_node& area, unsigned info, unsigned areaIdx, schema::Area::Builder out) {
    Kids kids(area);
    out.setDescription(capText(kids.text("areaDesc")));
    size_t nPoly = kids.count("polygon");
    if (nPoly == 1) {
      // The common case: parse straight into the message.
      if (parsePolygon(kids.text("polygon"), info, areaIdx, 0, ring_)) {
        setPoints(out.initPolygons(1)[0].initPoints(static_cast<unsigned>(ring_.size())), ring_);
      } else {
        out.initPolygons(0);
      }
    } else {
      std::vector<std::vector<Pt>> polys;
      size_t polyIdx = 0;
      kids.each("polygon", [&](const pugi::xml_node& n) {
        if (parsePolygon(textOf(n), info, areaIdx, polyIdx, ring_)) polys.push_back(ring_);
        ++polyIdx;
      });
      auto pl = out.initPolygons(static_cast<unsigned>(polys.size()));
      for (size_t i = 0; i < polys.size(); ++i) {
        setPoints(pl[static_cast<unsigned>(i)].initPoints(static_cast<unsigned>(polys[i].size())), polys[i]);
      }
    }
    std::vector<Circ> circles;
    size_t circIdx = 0;
    kids.each("circle", [&](const pugi::xml_node& n) {
      auto text = textOf(n);
      auto parts = splitWs(text);
      Circ c{};
      if (parts.size() != 2 || !parseLatLon(parts[0], c.c.lat, c.c.lon) || !parseDouble(parts[1], c.r)) {
        rep_.warn(indexed(areaPos(info, areaIdx), "circle", circIdx), "circle", text,
                  "not \"lat,lon radius_km\"; circle dropped");
      } else if (!inRange(c.c.lat, c.c.lon) || c.r < 0 || c.r > 20000) {
        rep_.warn(indexed(areaPos(info, areaIdx), "circle", circIdx), "circle", text,
                  "centre or radius out of range; circle dropped");
      } else {
        circles.push_back(c);
      }
      ++circIdx;
    });
    auto cl = out.initCircles(static_cast<unsigned>(circles.size()));
    for (size_t i = 0; i < circles.size(); ++i) {
      auto c = cl[static_cast<unsigned>(i)];
      c.getCenter().setLat(circles[i].c.lat);
      c.getCenter().setLon(circles[i].c.lon);
      c.setRadiusKm(circles[i].r);
    }
    auto& geocodes = pairs_;
    valuePairs(kids, "geocode", geocodes);
    setPairs(out.initGeocodes(static_cast<unsigned>(geocodes.size())), geocodes);
    // Two passes over the geocodes (count, then fill the list of exactly that size) instead of collecting
    // the codes in a scratch array first.
    auto isAdminName = [](std::string_view key) {
      for (auto n : kAdminCodeNames)
        if (iequals(key, n)) return true;
      return false;
    };
    size_t nAdmin = 0;
    for (size_t i = 0; i < geocodes.size(); ++i) {
      if (!isAdminName(geocodes[i].key)) continue;
      if (isAdminCode(geocodes[i].value)) ++nAdmin;
      else
        rep_.warn(indexed(areaPos(info, areaIdx), "geocode", i), "geocode", geocodes[i].value,
                  "GB/T 2260 code must be 6 or 12 digits; not an adminCode");
    }
    auto al = out.initAdminCodes(static_cast<unsigned>(nAdmin));
    unsigned k = 0;
    for (auto& g : geocodes)
      if (k < nAdmin && isAdminCode(g.value) && isAdminName(g.key)) al.set(k++, capText(g.value));
    out.setAltitudeM(feetField(kids, info, areaIdx, "altitude"));
    out.setCeilingM(feetField(kids, info, areaIdx, "ceiling"));
  }

  Reporter& rep_;
  std::vector<Pt> ring_;  // reused across polygons
  std::vector<KV> pairs_;  // eventCodes, then parameters, then each area's geocodes: one in use at a time
};

// True if the bytes contain "<!DOCTYPE" or "<!ENTITY". Markup declarations are ASCII in every ASCII-compatible
// encoding; UTF-16/32 documents are checked on the parsed tree instead (parse_doctype). Scans for '!' (rare in
// XML: comments, CDATA) rather than '<' (everywhere), so the check costs a memchr over the input.
bool hasDtdDeclaration(std::string_view xml) {
  const char* p = xml.data();
  const char* end = p + xml.size();
  while (p < end) {
    const char* bang = static_cast<const char*>(std::memchr(p, '!', static_cast<size_t>(end - p)));
    if (!bang) return false;
    if (bang > xml.data() && bang[-1] == '<') {
      std::string_view rest(bang + 1, static_cast<size_t>(end - bang - 1));
      if (rest.substr(0, 7) == "DOCTYPE" || rest.substr(0, 6) == "ENTITY") return true;
    }
    p = bang + 1;
  }
  return false;
}


// The encoding named by the XML declaration at the start of `xml` (after a UTF-8 BOM), lower-cased; "" if none.
std::string declaredEncoding(std::string_view xml) {
  if (xml.substr(0, 3) == "\xEF\xBB\xBF") xml.remove_prefix(3);
  if (xml.substr(0, 5) != "<?xml") return {};
  size_t end = xml.find("?>");
  if (end == std::string_view::npos) return {};
  std::string_view decl = xml.substr(0, end);
  size_t at = decl.find("encoding");
  if (at == std::string_view::npos) return {};
  size_t q = decl.find_first_of("'\"", at);
  if (q == std::string_view::npos) return {};
  size_t q2 = decl.find(decl[q], q + 1);
  if (q2 == std::string_view::npos) return {};
  return lowerAscii(decl.substr(q + 1, q2 - q - 1));
}

bool isGbEncoding(const std::string& enc) {
  return enc == "gb2312" || enc == "gbk" || enc == "gb18030" || enc == "cp936" || enc == "x-gbk" || enc == "gb_2312-80";
}


void collectPrefixes(const pugi::xml_node& n, std::vector<std::string>& used, bool& usesDefault) {
  auto addName = [&](std::string_view name, bool isElement) {
    size_t colon = name.find(':');
    if (colon == std::string_view::npos) {
      if (isElement) usesDefault = true;
      return;
    }
    std::string p(name.substr(0, colon));
    if (p == "xmlns" || p == "xml") return;
    if (std::find(used.begin(), used.end(), p) == used.end()) used.push_back(p);
  };
  addName(n.name(), true);
  for (auto a = n.first_attribute(); a; a = a.next_attribute()) addName(a.name(), false);
  for (auto c = n.first_child(); c; c = c.next_sibling())
    if (c.type() == pugi::node_element) collectPrefixes(c, used, usesDefault);
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
  if (y < 1970) return false;  // alertbus times are ms since 1970 and 0 means "absent" (found by fuzzing)
  int64_t days = daysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  int64_t secs = days * 86400 + h * 3600 + mi * 60 + s - offsetMin * 60;
  ms = secs * 1000 + frac;
  return true;
}

std::string_view localName(const pugi::xml_node& n) {
  std::string_view name = n.name();
  size_t colon = name.find(':');
  return colon == std::string_view::npos ? name : name.substr(colon + 1);
}

namespace {
// namespaceOf without allocating: a view of the declaring attribute's value, valid while the document lives.
std::string_view namespaceView(const pugi::xml_node& n) {
  std::string_view name = n.name();
  size_t colon = name.find(':');
  char small[64];  // "xmlns:" + prefix, NUL-terminated; a longer prefix takes a std::string
  std::string big;
  const char* attr = "xmlns";
  if (colon != std::string_view::npos) {
    if (colon + 7 <= sizeof small) {
      std::memcpy(small, "xmlns:", 6);
      std::memcpy(small + 6, name.data(), colon);
      small[6 + colon] = '\0';
      attr = small;
    } else {
      big = "xmlns:" + std::string(name.substr(0, colon));
      attr = big.c_str();
    }
  }
  for (auto p = n; p && p.type() == pugi::node_element; p = p.parent())
    if (auto a = p.attribute(attr)) return a.value();
  return {};
}
}  // namespace

std::string namespaceOf(const pugi::xml_node& n) { return std::string(namespaceView(n)); }

std::string serialiseElement(const pugi::xml_node& n) {
  pugi::xml_document doc;
  auto copy = doc.append_copy(n);
  std::vector<std::string> used;
  bool usesDefault = false;
  collectPrefixes(n, used, usesDefault);
  // Declarations inside the subtree are copied with it; add on the copy's root the ones it inherits (a
  // deeper redeclaration still wins over it, as in the original).
  auto inherit = [&](const std::string& attr) {
    if (copy.attribute(attr.c_str())) return;
    for (auto p = n.parent(); p && p.type() == pugi::node_element; p = p.parent())
      if (auto a = p.attribute(attr.c_str())) {
        copy.append_attribute(attr.c_str()).set_value(a.value());
        return;
      }
  };
  if (usesDefault) inherit("xmlns");
  for (auto& p : used) inherit("xmlns:" + p);
  std::ostringstream os;
  doc.save(os, "", pugi::format_raw | pugi::format_no_declaration, pugi::encoding_utf8);
  return os.str();
}

bool loadXml(std::string_view xml, std::string_view source, size_t maxBytes, pugi::xml_document& doc,
             std::vector<CapProblem>& problems) {
  auto fail = [&](std::string pos, std::string field, std::string_view value, std::string reason) {
    problems.push_back(CapProblem{CapProblem::Level::error, std::string(source), std::move(pos), std::move(field),
                                  clipValue(value), std::move(reason)});
    return false;
  };
  if (xml.size() > maxBytes)
    return fail("document", "size", std::to_string(xml.size()) + " bytes",
                "larger than " + std::to_string(maxBytes) + " bytes; not parsed");
  if (hasDtdDeclaration(xml))
    return fail("document", "DOCTYPE", "", "DTDs and entity declarations are refused (XXE); not parsed");

  const unsigned opts = pugi::parse_default | pugi::parse_doctype;
  pugi::xml_parse_result pr;
  std::string enc = declaredEncoding(xml);
  if (isGbEncoding(enc)) {
    std::string utf8;
    size_t badAt = 0;
    if (!gb18030ToUtf8(xml, utf8, badAt))
      return fail("offset " + std::to_string(badAt), "encoding", enc,
                  "declared " + enc + " but the bytes are not valid GB18030");
    pr = doc.load_buffer(utf8.data(), utf8.size(), opts, pugi::encoding_utf8);
  } else {
    pr = doc.load_buffer(xml.data(), xml.size(), opts, pugi::encoding_auto);
    if (pr && pr.encoding == pugi::encoding_utf8 && !isValidUtf8(xml)) {
      // Claims (or defaults to) UTF-8 but is not: Latin-1 mislabelled as UTF-8 is common in the wild.
      problems.push_back(CapProblem{CapProblem::Level::warning, std::string(source), "document", "encoding",
                                    enc.empty() ? "UTF-8" : enc, "not valid UTF-8 text; decoded as ISO-8859-1"});
      pr = doc.load_buffer(xml.data(), xml.size(), opts, pugi::encoding_latin1);
    }
  }
  if (!pr) {
    // pugixml's offset counts in its converted (UTF-8) buffer, which can be longer than the input.
    size_t at = std::min(static_cast<size_t>(pr.offset < 0 ? 0 : pr.offset), xml.size());
    return fail("offset " + std::to_string(pr.offset), "xml", xml.substr(at, 40),
                std::string("malformed XML: ") + pr.description());
  }
  for (auto n = doc.first_child(); n; n = n.next_sibling())
    if (n.type() == pugi::node_doctype)
      return fail("document", "DOCTYPE", n.value(), "DTDs and entity declarations are refused (XXE)");
  if (!doc.document_element()) return fail("document", "xml", "", "no root element");
  return true;
}

CapResult parseCap(std::string_view xml, std::string_view source, int64_t receivedMs, capnp::MessageBuilder& out) {
  CapResult result;
  Reporter rep{result, source};
  auto m = out.initRoot<Message>();
  auto prov = m.initProvenance();
  prov.setContentType("application/cap+xml");
  prov.setSource(std::string(source));
  prov.setReceivedMs(receivedMs);
  if (xml.size() <= kMaxCapBytes)
    prov.setOriginal(capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(xml.data()), xml.size()));

  tlTextNeedsCleaning = mayNeedCleaning(xml);
  pugi::xml_document doc;
  if (!loadXml(xml, source, kMaxCapBytes, doc, result.problems)) return result;

  auto root = doc.document_element();
  if (localName(root) != "alert") {
    rep.error(root.name(), "alert", root.name(), "root element is not a CAP <alert>");
    return result;
  }
  const std::string_view ns = namespaceView(root);
  constexpr std::string_view kNsPrefix = "urn:oasis:names:tc:emergency:cap:";
  std::string_view nsv = ns;
  if (nsv.substr(0, kNsPrefix.size()) == kNsPrefix &&
      (nsv.substr(kNsPrefix.size()) == "1.0" || nsv.substr(kNsPrefix.size()) == "1.1" ||
       nsv.substr(kNsPrefix.size()) == "1.2")) {
    result.capVersion = std::string(nsv.substr(kNsPrefix.size()));
  } else {
    std::string_view rootName = root.name();
    size_t colon = rootName.find(':');
    rep.error("alert", colon == std::string_view::npos ? "xmlns" : "xmlns:" + std::string(rootName.substr(0, colon)),
              ns, "not a CAP 1.0, 1.1 or 1.2 namespace");
    return result;
  }

  CapMapper mapper(rep);
  mapper.mapAlert(root, m);
  result.accepted = result.errorCount() == 0;
  return result;
}

}  // namespace alertbus::met
