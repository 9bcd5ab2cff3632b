// CAP -> Message mapping and the hardened XML loading shared by the met parsers; see cap.h for the contract.
// Every problem is recorded with the element path; nothing here throws past parseCap (Cap'n Proto builders
// are given only valid sizes and text). parseCap reads the document once with XmlStream (xml_stream.h: why
// not pugixml here), collecting views of its texts (CapCollector -> AlertDoc), then builds the message from
// them (CapMapper), so lists are initialised once at their exact size whatever the element order. Hot path
// (bench/cap_bench.cpp): texts go to Cap'n Proto from the reader's arena without temporary strings,
// well-formed polygons are converted in one pass and copied into the message in one memcpy, the UTF-8 check
// has ASCII and CJK fast paths, tables are string_views, and problem paths are built only on a problem.
#include "adapters/met/cap.h"

#include "adapters/met/xml_stream.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <iterator>
#include <limits>
#include <optional>
#include <sstream>
#include <type_traits>
#include <cerrno>

#include <capnp/any.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
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

// Equality of two short names without a call to memcmp: the mappers compare every element name against
// their tables (inlined 8-byte loads; a longer name compares its middle with memcmp).
inline bool sameName(std::string_view a, std::string_view b) {
  const size_t n = a.size();
  if (n != b.size()) return false;
  const char* x = a.data();
  const char* y = b.data();
  if (n < 8) {
    for (size_t i = 0; i < n; ++i)
      if (x[i] != y[i]) return false;
    return true;
  }
  uint64_t u, v;
  std::memcpy(&u, x, 8);
  std::memcpy(&v, y, 8);
  if (u != v) return false;
  std::memcpy(&u, x + n - 8, 8);
  std::memcpy(&v, y + n - 8, 8);
  return u == v && (n <= 16 || std::memcmp(x + 8, y + 8, n - 16) == 0);
}

// 10^0 .. 10^15, each exact in a double: the divisors of the number parsers below.
constexpr double kPow10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};

// Decimal without exponent, up to 15 significant digits: exact (Clinger's fast path: an integer below 2^53
// divided by an exact power of ten rounds once, like strtod). Anything else goes to std::from_chars.
bool parseDouble(std::string_view s, double& out) {
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  if (s.empty()) return false;
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
  for (const auto& e : table)  // as written (nearly always), then ignoring case
    if (sameName(e.word, w)) return e.value;
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
// control characters and DEL, or character references, which can name anything. Set per document by
// parseCap from the reader (XmlStream::textNeedsCleaning); when false (nearly always) putText skips the
// per-field check.
thread_local bool tlTextNeedsCleaning = false;

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

// memcpy for the short texts most fields hold, without a call: two overlapping loads and stores up to 16
// bytes (measured: about 1% of parseCap over a call per field).
inline void copyShort(char* to, const char* from, size_t n) {
  if (n >= 8 && n <= 16) {
    uint64_t a, b;
    std::memcpy(&a, from, 8);
    std::memcpy(&b, from + n - 8, 8);
    std::memcpy(to, &a, 8);
    std::memcpy(to + n - 8, &b, 8);
  } else if (n >= 4 && n < 8) {
    uint32_t a, b;
    std::memcpy(&a, from, 4);
    std::memcpy(&b, from + n - 4, 4);
    std::memcpy(to, &a, 4);
    std::memcpy(to + n - 4, &b, 4);
  } else if (n < 4) {
    for (size_t i = 0; i < n; ++i) to[i] = from[i];
  } else {
    std::memcpy(to, from, n);
  }
}

// Copies `s` into the text field that `init(size)` allocates (Cap'n Proto adds the NUL), so views need not be
// NUL-terminated (XmlStream's point into the document). Text that is not clean UTF-8 is cleaned first when
// the document may hold such text (tlTextNeedsCleaning).
template <typename Init>
void putText(std::string_view s, Init&& init) {
  if (tlTextNeedsCleaning && !isCleanUtf8(s.data(), s.size())) {
    const std::string c = cleanText(s);
    auto t = init(static_cast<unsigned>(c.size()));
    std::memcpy(t.begin(), c.data(), c.size());
    return;
  }
  auto t = init(static_cast<unsigned>(s.size()));
  copyShort(t.begin(), s.data(), s.size());
}

// valueName/value pairs (eventCode, parameter, geocode).
struct KV {
  std::string_view key, value;
};
// Each pair of `kvs[r.b, r.e)` into `list` (sized r.size()).
struct Range {
  uint32_t b = 0, e = 0;
  size_t size() const { return e - b; }
};

// One CAP alert as views of its texts, gathered in one pass over the document (XmlStream), in whatever
// order its elements come. Views are XmlStream::text's (trimmed; into the document or its arena). A single-valued
// field keeps its first occurrence; its view has data() == nullptr until the element is seen. Lists are
// flat (every info's areas in one vector, every area's polygons in another, ...) and each owner holds its
// range: all of one info is read before the next, so each range is contiguous. parseCap keeps one AlertDoc
// per thread and clears it per document, so once the vectors have grown a document allocates nothing here.
struct ResourceDoc {
  std::string_view desc, mimeType, size, uri, digest;
};
struct AreaDoc {
  std::string_view desc, altitude, ceiling;
  Range polygons, circles, geocodes;
};
struct InfoDoc {
  std::string_view language, event, urgency, severity, certainty, audience, effective, onset, expires, senderName,
      headline, description, instruction, web, contact;
  Range categories, responseTypes, eventCodes, parameters, resources, areas;
};
struct AlertDoc {
  std::string_view identifier, sender, sent, status, msgType, scope, references, incidents;
  std::vector<InfoDoc> infos;
  std::vector<std::string_view> categories, responseTypes, polygons, circles;
  std::vector<KV> eventCodes, parameters, geocodes;
  std::vector<ResourceDoc> resources;
  std::vector<AreaDoc> areas;

  void clear() {
    identifier = sender = sent = status = msgType = scope = references = incidents = {};
    infos.clear();
    categories.clear();
    responseTypes.clear();
    polygons.clear();
    circles.clear();
    eventCodes.clear();
    parameters.clear();
    geocodes.clear();
    resources.clear();
    areas.clear();
  }
};

// The index of a name in a small fixed list of element names: a 64-slot hash table (length, first, middle
// and last byte) built once, then one slot and one comparison per lookup instead of a scan of the list.
// Names that share a slot are still found, by a scan (none do in the CAP lists below; the scan keeps lookups
// right if a list changes).
class NameSet {
 public:
  template <size_t N>
  explicit NameSet(const std::string_view (&names)[N]) : names_(names), n_(N) {
    static_assert(N < 127, "slots are int8_t");
    for (auto& s : slot_) s = -1;
    for (size_t i = 0; i < N; ++i) {
      int8_t& s = slot_[hash(names[i])];
      if (s >= 0) collided_ = true;
      else s = static_cast<int8_t>(i);
    }
  }
  // -1 when not in the list. Inline and small: the scan for shared slots is out of line (never taken with
  // the CAP lists), so the hot path saves no registers.
  int find(std::string_view name) const {
    if (name.empty()) return -1;
    const int i = slot_[hash(name)];
    if (i >= 0 && sameName(names_[i], name)) return i;
    return collided_ ? scan(name) : -1;
  }
 private:
  [[gnu::noinline]] int scan(std::string_view name) const {
    for (size_t k = 0; k < n_; ++k)
      if (sameName(names_[k], name)) return static_cast<int>(k);
    return -1;
  }
  static size_t hash(std::string_view s) {
    auto b = [](char c) { return static_cast<size_t>(static_cast<unsigned char>(c)); };
    const size_t n = s.size();
    return (n + 5 * b(s[0]) + 11 * b(s[n - 1]) + 5 * b(s[n / 2])) & 63;
  }
  const std::string_view* names_;
  size_t n_;
  int8_t slot_[64];
  bool collided_ = false;
};

// The element names each level of a CAP alert maps, in the order of the enums below; single-valued texts
// first (their fields in the matching member-pointer arrays), then what the collector handles by kind.
const std::string_view kAlertNames[] = {"identifier", "sender", "sent", "status", "msgType", "scope",
                                        "references", "incidents", "info"};
std::string_view AlertDoc::* const kAlertFields[] = {&AlertDoc::identifier, &AlertDoc::sender, &AlertDoc::sent,
                                                     &AlertDoc::status,     &AlertDoc::msgType, &AlertDoc::scope,
                                                     &AlertDoc::references, &AlertDoc::incidents};
const std::string_view kInfoNames[] = {"language",    "event",       "urgency",    "severity",  "certainty",
                                       "audience",    "effective",   "onset",      "expires",   "senderName",
                                       "headline",    "description", "instruction", "web",      "contact",
                                       "category",    "responseType", "eventCode", "parameter", "resource",
                                       "area"};
std::string_view InfoDoc::* const kInfoFields[] = {
    &InfoDoc::language, &InfoDoc::event,       &InfoDoc::urgency,     &InfoDoc::severity,   &InfoDoc::certainty,
    &InfoDoc::audience, &InfoDoc::effective,   &InfoDoc::onset,       &InfoDoc::expires,    &InfoDoc::senderName,
    &InfoDoc::headline, &InfoDoc::description, &InfoDoc::instruction, &InfoDoc::web,        &InfoDoc::contact};
enum InfoKind { kInfoCategory = 15, kInfoResponseType, kInfoEventCode, kInfoParameter, kInfoResource, kInfoArea };
const std::string_view kResourceNames[] = {"resourceDesc", "mimeType", "size", "uri", "digest"};
std::string_view ResourceDoc::* const kResourceFields[] = {&ResourceDoc::desc, &ResourceDoc::mimeType,
                                                           &ResourceDoc::size, &ResourceDoc::uri, &ResourceDoc::digest};
const std::string_view kAreaNames[] = {"areaDesc", "altitude", "ceiling", "polygon", "circle", "geocode"};
std::string_view AreaDoc::* const kAreaFields[] = {&AreaDoc::desc, &AreaDoc::altitude, &AreaDoc::ceiling};
enum AreaKind { kAreaPolygon = 3, kAreaCircle, kAreaGeocode };
static_assert(std::size(kAlertFields) + 1 == std::size(kAlertNames) && std::size(kInfoFields) == kInfoCategory &&
                  std::size(kResourceFields) == std::size(kResourceNames) && std::size(kAreaFields) == kAreaPolygon,
              "names and fields line up");
const NameSet kAlertSet(kAlertNames), kInfoSet(kInfoNames), kResourceSet(kResourceNames), kAreaSet(kAreaNames);

// Guesses at the next element for XmlStream::next (see NameGuess): each list's names, and per thread which
// element followed which last time, starting from CAP's schema order, so that a feed's own order is learned.
template <size_t N>
std::array<NameGuess, N> guessesOf(const std::string_view (&names)[N]) {
  std::array<NameGuess, N> g;
  for (size_t i = 0; i < N; ++i) g[i] = NameGuess(names[i]);
  return g;
}
const auto kAlertGuess = guessesOf(kAlertNames);
const auto kInfoGuess = guessesOf(kInfoNames);
const auto kAreaGuess = guessesOf(kAreaNames);
const std::string_view kPairNames[] = {"valueName", "value"};
const auto kPairGuess = guessesOf(kPairNames);
thread_local int8_t tlAlertFollow[] = {1, 2, 3, 4, 5, 8, 7, 8, 8};
thread_local int8_t tlInfoFollow[] = {15, 16, 3, 4, 5, 17, 7, 8, 9, 10, 11, 12, 13, 14, 18, 1, 2, 6, 19, 20, 20};
thread_local int8_t tlAreaFollow[] = {3, 2, 2, 5, 5, 5};
static_assert(std::size(tlAlertFollow) == std::size(kAlertNames) && std::size(tlInfoFollow) == std::size(kInfoNames) &&
                  std::size(tlAreaFollow) == std::size(kAreaNames),
              "a follower per name");

// The document reader: fills an AlertDoc from the children of <alert>. Unknown elements (and CAP elements
// with no schema field: source, restriction, addresses, code, note, derefUri ...) are skipped, checked for
// well-formedness only. Reports nothing: what the texts mean is the builder's business. Reads with
// XmlStream::next, which hands over a leaf's text with its start tag (`t`); an element that is not a plain
// leaf is open, and its text comes from text().
class CapCollector {
 public:
  // `guess`: the document's elements have no prefix, so names can be guessed (NameGuess has none).
  CapCollector(XmlStream& xs, AlertDoc& doc, bool guess) : xs_(xs), doc_(doc), guess_(guess) {}

  void alert() {
    XmlStart c;
    std::string_view t;
    int prev = -1;
    while (xs_.next(c, t, guessAfter(kAlertGuess, tlAlertFollow, prev))) {
      const int k = learn(c, kAlertSet, tlAlertFollow, prev);
      if (k < 0) skip(c);
      else if (k < static_cast<int>(std::size(kAlertFields))) keepFirst(doc_.*kAlertFields[k], c, t);
      else info(c);
    }
  }

 private:
  static uint32_t at(size_t n) { return static_cast<uint32_t>(n); }

  // The guess for the element after `prev` (index into the list; -1 before the first), or none.
  template <size_t N>
  const NameGuess* guessAfter(const std::array<NameGuess, N>& g, const int8_t (&follow)[N], int prev) const {
    if (!guess_) return nullptr;
    const int i = prev < 0 ? 0 : follow[prev];
    return i >= 0 ? &g[static_cast<size_t>(i)] : nullptr;
  }
  // The index of element `c` (confirmed guess, or looked up); records it as the follower of `prev`.
  template <size_t N>
  int learn(const XmlStart& c, const NameSet& set, int8_t (&follow)[N], int& prev) const {
    const int k = c.guessed ? (prev < 0 ? 0 : follow[prev]) : set.find(c.local);
    if (k >= 0 && static_cast<size_t>(k) < N) {
      if (prev >= 0) follow[prev] = static_cast<int8_t>(k);
      prev = k;
    }
    return k;
  }

  // The text of element `c` (`t` if next() read it whole), kept in `field` if it is the first occurrence.
  std::string_view textOf(const XmlStart& c, std::string_view t) { return c.closed ? t : xs_.text(); }
  void keepFirst(std::string_view& field, const XmlStart& c, std::string_view t) {
    const std::string_view text = textOf(c, t);  // read in any case: the element must be consumed
    if (!field.data()) field = text;
  }
  void skip(const XmlStart& c) {
    if (!c.closed) xs_.skip();
  }

  void info(const XmlStart& parent) {
    InfoDoc& in = doc_.infos.emplace_back();  // nothing else adds infos until this one is read
    in.categories.b = at(doc_.categories.size());
    in.responseTypes.b = at(doc_.responseTypes.size());
    in.eventCodes.b = at(doc_.eventCodes.size());
    in.parameters.b = at(doc_.parameters.size());
    in.resources.b = at(doc_.resources.size());
    in.areas.b = at(doc_.areas.size());
    XmlStart c;
    std::string_view t;
    int prev = -1;
    while (!parent.closed && xs_.next(c, t, guessAfter(kInfoGuess, tlInfoFollow, prev))) {
      const int k = learn(c, kInfoSet, tlInfoFollow, prev);
      if (k < 0) skip(c);
      else if (k < kInfoCategory) keepFirst(in.*kInfoFields[k], c, t);
      else if (k == kInfoCategory) doc_.categories.push_back(textOf(c, t));
      else if (k == kInfoResponseType) doc_.responseTypes.push_back(textOf(c, t));
      else if (k == kInfoEventCode) doc_.eventCodes.push_back(pair(c));
      else if (k == kInfoParameter) doc_.parameters.push_back(pair(c));
      else if (k == kInfoResource) resource(c);
      else area(c);
    }
    in.categories.e = at(doc_.categories.size());
    in.responseTypes.e = at(doc_.responseTypes.size());
    in.eventCodes.e = at(doc_.eventCodes.size());
    in.parameters.e = at(doc_.parameters.size());
    in.resources.e = at(doc_.resources.size());
    in.areas.e = at(doc_.areas.size());
  }

  KV pair(const XmlStart& parent) {
    KV kv;
    XmlStart c;
    std::string_view t;
    int k = 0;  // valueName, then value
    while (!parent.closed && xs_.next(c, t, guess_ && k < 2 ? &kPairGuess[static_cast<size_t>(k)] : nullptr)) {
      k = c.guessed ? k + 1 : 2;
      if (sameName(c.local, "valueName")) keepFirst(kv.key, c, t);
      else if (sameName(c.local, "value")) keepFirst(kv.value, c, t);
      else skip(c);
    }
    return kv;
  }

  void resource(const XmlStart& parent) {
    ResourceDoc& r = doc_.resources.emplace_back();
    XmlStart c;
    std::string_view t;
    while (!parent.closed && xs_.next(c, t)) {
      const int k = kResourceSet.find(c.local);
      if (k < 0) skip(c);
      else keepFirst(r.*kResourceFields[k], c, t);
    }
  }

  void area(const XmlStart& parent) {
    AreaDoc& a = doc_.areas.emplace_back();
    a.polygons.b = at(doc_.polygons.size());
    a.circles.b = at(doc_.circles.size());
    a.geocodes.b = at(doc_.geocodes.size());
    XmlStart c;
    std::string_view t;
    int prev = -1;
    while (!parent.closed && xs_.next(c, t, guessAfter(kAreaGuess, tlAreaFollow, prev))) {
      const int k = learn(c, kAreaSet, tlAreaFollow, prev);
      if (k < 0) skip(c);
      else if (k < kAreaPolygon) keepFirst(a.*kAreaFields[k], c, t);
      else if (k == kAreaPolygon) doc_.polygons.push_back(textOf(c, t));
      else if (k == kAreaCircle) doc_.circles.push_back(textOf(c, t));
      else doc_.geocodes.push_back(pair(c));
    }
    a.polygons.e = at(doc_.polygons.size());
    a.circles.e = at(doc_.circles.size());
    a.geocodes.e = at(doc_.geocodes.size());
  }

  XmlStream& xs_;
  AlertDoc& doc_;
  bool guess_;
};

void setPairs(capnp::List<schema::KeyValue>::Builder list, const std::vector<KV>& kvs, Range r) {
  for (uint32_t i = r.b; i < r.e; ++i) {
    auto e = list[i - r.b];
    putText(kvs[i].key, [&](unsigned n) { return e.initKey(n); });
    putText(kvs[i].value, [&](unsigned n) { return e.initValue(n); });
  }
}

// The message builder: maps a collected AlertDoc to the Message, checking every value and reporting each
// problem with its element path (the n-th element of its name under its parent, 1-based).
class CapMapper {
 public:
  // The scratch vectors are per thread and reused, so a document allocates none once they have grown.
  CapMapper(Reporter& rep, const AlertDoc& doc) : rep_(rep), doc_(doc) {}

  void mapAlert(Message::Builder m) {
    const std::string base = "alert";
    auto required = [&](std::string_view v, std::string_view name) -> std::string_view {
      if (v.empty()) rep_.error(base + "/" + std::string(name), std::string(name), "", "required element missing or empty");
      return v;
    };
    auto id = required(doc_.identifier, "identifier");
    if (!id.empty()) {
      // A loop, not find_first_of: libstdc++'s calls memchr over the set for every character.
      if (std::any_of(id.begin(), id.end(), [](char c) { return isWs(c) || c == ',' || c == '<' || c == '&'; }))
        rep_.error(base + "/identifier", "identifier", id, "contains whitespace, ',', '<' or '&' (not allowed by CAP)");
      else if (id.size() > 200)
        rep_.error(base + "/identifier", "identifier", id, "longer than 200 bytes");
      else
        putText(id, [&](unsigned n) { return m.initId(n); });
    }
    auto sender = required(doc_.sender, "sender");
    rep_.result.capSender = std::string(sender);
    // The CAP sender travels as Message.origin, so that a later Update or Cancel naming it resolves to this
    // alert whichever agency relays it. CAP forbids whitespace, ',', '<' and '&' in it; one that has them
    // cannot be named in a references triple anyway: kept out of origin, with a warning, not a refusal.
    if (!sender.empty()) {
      if (sender.size() > 200 ||
          std::any_of(sender.begin(), sender.end(), [](char c) { return isWs(c) || c == ',' || c == '<' || c == '&'; }))
        rep_.warn(base + "/sender", "sender", sender,
                  "longer than 200 bytes or contains whitespace, ',', '<' or '&' (not allowed by CAP): not kept as origin");
      else
        putText(sender, [&](unsigned n) { return m.initOrigin(n); });
    }
    auto sent = required(doc_.sent, "sent");
    int64_t sentMs = 0;
    if (!sent.empty()) {
      if (parseCapTime(sent, sentMs)) m.setSentMs(sentMs);
      else rep_.error(base + "/sent", "sent", sent, "not an ISO 8601 date-time with offset");
    }
    auto status = required(doc_.status, "status");
    if (!status.empty()) {
      if (auto s = lookup(kStatus, status)) m.setStatus(*s);
      else rep_.error(base + "/status", "status", status, "not Actual, Exercise, System, Test or Draft");
    }
    auto type = required(doc_.msgType, "msgType");
    if (!type.empty()) {
      if (auto t = lookup(kMsgType, type)) m.setMsgType(*t);
      else rep_.error(base + "/msgType", "msgType", type, "not Alert, Update, Cancel, Ack or Error");
    }
    auto scope = required(doc_.scope, "scope");
    if (!scope.empty() && !iequals(scope, "Public") && !iequals(scope, "Restricted") && !iequals(scope, "Private"))
      rep_.error(base + "/scope", "scope", scope, "not Public, Restricted or Private");
    size_t refCount = doc_.references.data() ? mapReferences(doc_.references, m) : 0;
    auto t = m.getMsgType();
    if ((t == schema::MsgType::UPDATE || t == schema::MsgType::CANCEL) && refCount == 0)
      rep_.error(base + "/references", "references", doc_.references,
                 std::string(t == schema::MsgType::UPDATE ? "an Update" : "a Cancel") +
                     " without a usable sender,identifier,sent reference: cannot tell what it " +
                     (t == schema::MsgType::UPDATE ? "replaces" : "withdraws"));
    if (!doc_.incidents.empty()) putText(doc_.incidents, [&](unsigned n) { return m.initIncident(n); });

    const size_t infoCount = doc_.infos.size();
    if (infoCount == 0 && t == schema::MsgType::CANCEL) {
      // A Cancel may carry no info (IPAWS sends them so): it withdraws what its references name.
      m.getPayload().initWarning(0);
      return;
    }
    if (infoCount == 0) rep_.error(base + "/info", "info", "", "no <info>: alertbus needs at least one info per warning");
    auto list = m.getPayload().initWarning(static_cast<unsigned>(infoCount));
    for (unsigned i = 0; i < infoCount; ++i) mapInfo(doc_.infos[i], i, list[i]);
  }

 private:
  // Returns the number of references kept.
  size_t mapReferences(std::string_view text, Message::Builder m) {
    struct Ref {
      std::string_view sender, id;
      int64_t sentMs;
    };
    thread_local std::vector<Ref> refs;
    refs.clear();
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
      putText(refs[i].sender, [&](unsigned n) { return e.initSender(n); });
      putText(refs[i].id, [&](unsigned n) { return e.initId(n); });
      e.setSentMs(refs[i].sentMs);
    }
    return refs.size();
  }

  static std::string infoPos(unsigned info) { return "alert/info[" + std::to_string(info + 1) + "]"; }

  template <typename E, size_t N>
  E enumField(std::string_view v, unsigned info, std::string_view name, const Word<E> (&table)[N]) {
    if (v.empty()) {
      rep_.warn(infoPos(info) + "/" + std::string(name), std::string(name), "", "missing; left unspecified");
      return E{};
    }
    if (auto e = lookup(table, v)) return *e;
    rep_.warn(infoPos(info) + "/" + std::string(name), std::string(name), v, "unknown value; left unspecified");
    return E{};
  }

  int64_t timeField(std::string_view v, unsigned info, std::string_view name) {
    if (v.empty()) return 0;
    int64_t ms = 0;
    if (parseCapTime(v, ms)) return ms;
    rep_.warn(infoPos(info) + "/" + std::string(name), std::string(name), v,
              "not an ISO 8601 date-time with offset; left absent");
    return 0;
  }

  // The words of `words[r.b, r.e)` that `table` knows, into a list of their enum; each other one dropped with
  // a warning naming it ("alert/info[1]/category[3]").
  template <typename E, size_t N, typename L>
  void enumList(const std::vector<std::string_view>& words, Range r, const Word<E> (&table)[N], unsigned infoIdx,
                std::string_view name, std::string_view what, L init) {
    E known[32];  // more than CAP has words for; past that the rest are simply not listed twice
    size_t n = 0;
    for (uint32_t i = r.b; i < r.e; ++i) {
      if (auto e = lookup(table, words[i])) {
        if (n < 32) known[n++] = *e;
      } else {
        rep_.warn(indexed(infoPos(infoIdx), name, i - r.b), std::string(name), words[i],
                  "unknown " + std::string(what) + "; dropped");
      }
    }
    auto list = init(static_cast<unsigned>(n));
    for (size_t i = 0; i < n; ++i) list.set(static_cast<unsigned>(i), known[i]);
  }

  void mapInfo(const InfoDoc& in, unsigned infoIdx, schema::Info::Builder out) {
    putText(in.language.empty() ? std::string_view("en-US") : in.language, [&](unsigned n) { return out.initLanguage(n); });
    enumList(doc_.categories, in.categories, kCategory, infoIdx, "category", "category",
             [&](unsigned n) { return out.initCategories(n); });

    const std::string_view event = in.event;
    putText(event, [&](unsigned n) { return out.initEvent(n); });
    setPairs(out.initEventCodes(static_cast<unsigned>(in.eventCodes.size())), doc_.eventCodes, in.eventCodes);
    std::string_view code;
    for (auto pref : kEventCodePreference)
      for (uint32_t i = in.eventCodes.b; i < in.eventCodes.e; ++i) {
        const KV& kv = doc_.eventCodes[i];
        if (code.empty() && iequals(kv.key, pref) && !kv.value.empty()) code = kv.value;
      }
    for (uint32_t i = in.eventCodes.b; i < in.eventCodes.e; ++i) {
      const KV& kv = doc_.eventCodes[i];
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
    putText(code, [&](unsigned n) { return out.initEventCode(n); });

    enumList(doc_.responseTypes, in.responseTypes, kResponse, infoIdx, "responseType", "responseType",
             [&](unsigned n) { return out.initResponseTypes(n); });

    out.setUrgency(enumField(in.urgency, infoIdx, "urgency", kUrgency));
    auto severity = enumField(in.severity, infoIdx, "severity", kSeverity);
    out.setSeverity(severity);
    out.setCertainty(enumField(in.certainty, infoIdx, "certainty", kCertainty));
    putText(in.audience, [&](unsigned n) { return out.initAudience(n); });
    out.setEffectiveMs(timeField(in.effective, infoIdx, "effective"));
    int64_t onset = timeField(in.onset, infoIdx, "onset");
    const int64_t expires = timeField(in.expires, infoIdx, "expires");
    if (onset != 0 && expires != 0 && expires < onset) {
      // The bus refuses such an info (validateMessage); the expiry decides when the warning stops, so it is
      // kept. (Found by fuzzing: an onset in the year 8651.)
      rep_.warn(infoPos(infoIdx) + "/onset", "onset", in.onset, "after expires; left absent");
      onset = 0;
    }
    out.setOnsetMs(onset);
    out.setExpiresMs(expires);
    putText(in.senderName, [&](unsigned n) { return out.initSenderName(n); });
    putText(in.headline, [&](unsigned n) { return out.initHeadline(n); });
    putText(in.description, [&](unsigned n) { return out.initDescription(n); });
    putText(in.instruction, [&](unsigned n) { return out.initInstruction(n); });
    putText(in.web, [&](unsigned n) { return out.initWeb(n); });
    putText(in.contact, [&](unsigned n) { return out.initContact(n); });

    setPairs(out.initParameters(static_cast<unsigned>(in.parameters.size())), doc_.parameters, in.parameters);
    schema::Colour colour = schema::Colour::UNSPECIFIED;
    for (uint32_t i = in.parameters.b; i < in.parameters.e && colour == schema::Colour::UNSPECIFIED; ++i)
      for (auto name : kColourParamNames)
        if (iequals(doc_.parameters[i].key, name)) colour = colourFromParam(doc_.parameters[i].value);
    if (colour == schema::Colour::UNSPECIFIED) colour = colourFromSeverity(severity);
    out.setColour(colour);

    auto resList = out.initResources(static_cast<unsigned>(in.resources.size()));
    for (uint32_t i = in.resources.b; i < in.resources.e; ++i) {
      const ResourceDoc& r = doc_.resources[i];
      auto o = resList[i - in.resources.b];
      putText(r.desc, [&](unsigned n) { return o.initDescription(n); });
      putText(r.mimeType, [&](unsigned n) { return o.initMimeType(n); });
      if (!r.size.empty()) {
        uint64_t n = 0;
        auto [p, ec] = std::from_chars(r.size.data(), r.size.data() + r.size.size(), n);
        if (ec == std::errc() && p == r.size.data() + r.size.size()) o.setSizeBytes(n);
        else rep_.warn(indexed(infoPos(infoIdx), "resource", i - in.resources.b) + "/size", "size", r.size, "not a byte count; left 0");
      }
      putText(r.uri, [&](unsigned n) { return o.initUri(n); });
      putText(r.digest, [&](unsigned n) { return o.initDigest(n); });
    }

    auto areaList = out.initAreas(static_cast<unsigned>(in.areas.size()));
    for (uint32_t i = in.areas.b; i < in.areas.e; ++i)
      mapArea(doc_.areas[i], infoIdx, i - in.areas.b, areaList[i - in.areas.b]);
  }

  struct Pt {
    double lat, lon;
  };

  std::string areaPos(unsigned info, unsigned area) const {
    return infoPos(info) + "/area[" + std::to_string(area + 1) + "]";
  }

  // One number of a polygon, fast path only: [+-]digits[.digits], 1 to 15 digits in all (exact, see
  // parseDouble). Returns the position after it, or nullptr when the text there is anything else (the
  // careful path then decides). A loop per digit, on purpose: word-at-a-time (SWAR) conversion was tried and
  // was slower, since each run's length then feeds the next load's address, where the CPU runs ahead of this
  // loop's well-predicted branches. Needs a byte that is not a digit or '.' at or before the end of the text
  // (see scanRing): the loops test no bounds, so a digit costs a load, a compare and a multiply-add.
  static const char* scanNumber(const char* p, double& out) {
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
  // then runs and names the problem). `text` must come from XmlStream::text: trimmed, and the byte after it
  // is whitespace, '<' (in the document) or a NUL (in the arena), which stops every scan, so scanNumber
  // needs no bounds.
#if defined(__SSE2__)
  // The layout of a number as last seen: which of its bytes (and the one after it) are digits and which is
  // the point. A polygon writes its numbers alike ("29.9866,121.8456 29.9870,121.8461 ..."), so the next one
  // is checked against that layout with one 16-byte compare and, when it fits, converted without a loop
  // (its digits combined a word at a time) and its end known in advance: the CPU need not wait for a
  // loop's exit. (Measured: a fifth less time per number on the bench's polygons.)
  struct NumberShape {
    uint32_t mask = 0, sig = 1;  // (signature & mask) == sig: this layout; sig 1 under mask 0 never fits
    unsigned len = 0, frac = 0;  // bytes of the number; digits after the point
    uint64_t low = 0, high = 0;  // byte masks: digits before the point, digits after it (moved down a byte)
    unsigned shift = 0;          // moves the digits to the top bytes of the word
  };
  // Bits 0-15: the 16 bytes at p that are not digits; bits 16-31: those that are '.'. Reads 16 bytes.
  static uint32_t numberSignature(const char* p) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i d = _mm_sub_epi8(v, _mm_set1_epi8('0'));
    const unsigned digit = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(9)), d)));
    const unsigned dot = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('.'))));
    return (~digit & 0xFFFFu) | (dot << 16);
  }
  // The layout `sig` shows, if it is digits[.digits] of at most 8 bytes followed by another byte.
  [[gnu::noinline]] static bool learnShape(uint32_t sig, NumberShape& s) {
    const unsigned nonDigit = sig & 0xFFFFu, dot = sig >> 16;
    const unsigned end = nonDigit & ~dot;
    if (!end) return false;
    const unsigned len = static_cast<unsigned>(__builtin_ctz(end));
    if (len == 0 || len > 8) return false;
    const unsigned dots = dot & ((1u << len) - 1u);
    if (dots & (dots - 1)) return false;
    const unsigned whole = dots ? static_cast<unsigned>(__builtin_ctz(dots)) : len;
    const unsigned frac = dots ? len - whole - 1 : 0;
    const unsigned k = whole + frac;
    if (k == 0) return false;
    s.mask = ((2u << len) - 1u) | (((2u << len) - 1u) << 16);
    s.sig = sig & s.mask;
    s.len = len;
    s.frac = frac;
    s.low = whole == 8 ? ~0ULL : (whole ? (1ULL << (8 * whole)) - 1 : 0);
    s.high = dots ? (k == 8 ? ~0ULL : (1ULL << (8 * k)) - 1) & ~s.low : 0;
    s.shift = 8 * (8 - k);
    return true;
  }
  // scanNumber for a number at `p` with 16 readable bytes after its sign, by `shape` when it fits (learnt
  // from this number when it does not); numbers no layout can describe go to scanNumber.
  static const char* shapedNumber(const char* p, NumberShape& shape, double& out) {
    const char* const start = p;
    const bool neg = *p == '-';
    if (neg || *p == '+') ++p;
    const uint32_t sig = numberSignature(p);
    if ((sig & shape.mask) != shape.sig && !learnShape(sig, shape)) return scanNumber(start, out);
    uint64_t w;
    std::memcpy(&w, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    w &= 0x0F0F0F0F0F0F0F0FULL;
    uint64_t x = ((w & shape.low) | ((w >> 8) & shape.high)) << shape.shift;  // digits, first one highest
    x = (x * 10 + (x >> 8)) & 0x00FF00FF00FF00FFULL;
    x = (x * 100 + (x >> 16)) & 0x0000FFFF0000FFFFULL;
    x = (x * 10000 + (x >> 32)) & 0xFFFFFFFFULL;
    const double v = static_cast<double>(x) / kPow10[shape.frac];  // exact: see scanNumber
    out = neg ? -v : v;
    return p + shape.len;
  }
#endif

  static bool scanRing(std::string_view text, std::vector<Pt>& ring) {
    ring.clear();
    const char* p = text.data();
    const char* const e = p + text.size();
    if (p == nullptr || (*e != '\0' && *e != '<' && !isWs(*e))) return false;  // not as promised: careful path
#if defined(__SSE2__)
    // Kept from polygon to polygon (per thread): a feed writes all its polygons alike.
    thread_local NumberShape latShape, lonShape;
#endif
    for (;;) {
      while (p < e && isWs(*p)) ++p;
      if (p == e) return true;
      double lat, lon;  // in registers: a Pt on the stack, stored as two doubles and loaded as one 16-byte
                        // value by push_back, stalled on store forwarding (measured: a third of the time here)
#if defined(__SSE2__)
      if (e - p >= 40) {  // room for two numbers of up to 18 bytes and a 16-byte read from each
        p = shapedNumber(p, latShape, lat);
        if (!p || *p != ',') return false;
        p = shapedNumber(p + 1, lonShape, lon);
      } else
#endif
      {
        p = scanNumber(p, lat);
        if (!p || *p != ',') return false;
        p = scanNumber(p + 1, lon);
      }
      // p <= e: the scans stop at *e at the latest.
      if (!p || (p < e && !isWs(*p)) || !inRange(lat, lon)) return false;
      Pt& slot = ring.emplace_back();
      slot.lat = lat;
      slot.lon = lon;
    }
  }

  // Parses the ring into `ring`; false (with a warning) when the polygon is unusable.
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
  double feetField(std::string_view v, unsigned info, unsigned area, std::string_view name) {
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

  void mapArea(const AreaDoc& a, unsigned info, unsigned areaIdx, schema::Area::Builder out) {
    putText(a.desc, [&](unsigned n) { return out.initDescription(n); });
    if (a.polygons.size() == 1) {
      // The common case: parse straight into the message.
      if (parsePolygon(doc_.polygons[a.polygons.b], info, areaIdx, 0, ring_)) {
        setPoints(out.initPolygons(1)[0].initPoints(static_cast<unsigned>(ring_.size())), ring_);
      } else {
        out.initPolygons(0);
      }
    } else {
      thread_local std::vector<std::vector<Pt>> polys;  // [0, n) in use; the rest keep their capacity
      size_t n = 0;
      for (uint32_t i = a.polygons.b; i < a.polygons.e; ++i)
        if (parsePolygon(doc_.polygons[i], info, areaIdx, i - a.polygons.b, ring_)) {
          if (n == polys.size()) polys.emplace_back();
          polys[n++].assign(ring_.begin(), ring_.end());
        }
      auto pl = out.initPolygons(static_cast<unsigned>(n));
      for (size_t i = 0; i < n; ++i) {
        setPoints(pl[static_cast<unsigned>(i)].initPoints(static_cast<unsigned>(polys[i].size())), polys[i]);
      }
    }
    thread_local std::vector<Circ> circles;
    circles.clear();
    for (uint32_t i = a.circles.b; i < a.circles.e; ++i) {
      const std::string_view text = doc_.circles[i];
      auto parts = splitWs(text);
      Circ c{};
      if (parts.size() != 2 || !parseLatLon(parts[0], c.c.lat, c.c.lon) || !parseDouble(parts[1], c.r)) {
        rep_.warn(indexed(areaPos(info, areaIdx), "circle", i - a.circles.b), "circle", text,
                  "not \"lat,lon radius_km\"; circle dropped");
      } else if (!inRange(c.c.lat, c.c.lon) || c.r < 0 || c.r > 20000) {
        rep_.warn(indexed(areaPos(info, areaIdx), "circle", i - a.circles.b), "circle", text,
                  "centre or radius out of range; circle dropped");
      } else {
        circles.push_back(c);
      }
    }
    auto cl = out.initCircles(static_cast<unsigned>(circles.size()));
    for (size_t i = 0; i < circles.size(); ++i) {
      auto c = cl[static_cast<unsigned>(i)];
      c.getCenter().setLat(circles[i].c.lat);
      c.getCenter().setLon(circles[i].c.lon);
      c.setRadiusKm(circles[i].r);
    }
    setPairs(out.initGeocodes(static_cast<unsigned>(a.geocodes.size())), doc_.geocodes, a.geocodes);
    // Two passes over the geocodes (count, then fill the list of exactly that size) instead of collecting
    // the codes in a scratch array first.
    auto isAdminName = [](std::string_view key) {
      for (auto n : kAdminCodeNames)
        if (iequals(key, n)) return true;
      return false;
    };
    size_t nAdmin = 0;
    for (uint32_t i = a.geocodes.b; i < a.geocodes.e; ++i) {
      const KV& g = doc_.geocodes[i];
      if (!isAdminName(g.key)) continue;
      if (isAdminCode(g.value)) ++nAdmin;
      else
        rep_.warn(indexed(areaPos(info, areaIdx), "geocode", i - a.geocodes.b), "geocode", g.value,
                  "GB/T 2260 code must be 6 or 12 digits; not an adminCode");
    }
    auto al = out.initAdminCodes(static_cast<unsigned>(nAdmin));
    unsigned k = 0;
    for (uint32_t i = a.geocodes.b; i < a.geocodes.e; ++i) {
      const KV& g = doc_.geocodes[i];
      if (k < nAdmin && isAdminCode(g.value) && isAdminName(g.key)) putText(g.value, [&](unsigned n) { return al.init(k++, n); });
    }
    out.setAltitudeM(feetField(a.altitude, info, areaIdx, "altitude"));
    out.setCeilingM(feetField(a.ceiling, info, areaIdx, "ceiling"));
  }

  Reporter& rep_;
  const AlertDoc& doc_;
  std::vector<Pt>& ring_ = ringScratch();  // reused across polygons and documents

  static std::vector<Pt>& ringScratch() {
    thread_local std::vector<Pt> ring;
    return ring;
  }
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

// string_view comparisons (lengths first, inline), not std::string == const char* (a call each: per document).
bool isGbEncoding(std::string_view enc) {
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
  if (p < t.size() && t[p] == '.' && !parseSecondFraction(t, ++p, frac)) return false;
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

namespace {

bool isLatin1Name(std::string_view enc) {
  return enc == "iso-8859-1" || enc == "iso8859-1" || enc == "iso_8859-1" || enc == "latin1" || enc == "latin-1" ||
         enc == "l1";
}

void latin1ToUtf8(std::string_view in, std::string& out) {
  out.clear();
  out.reserve(in.size() * 2);
  for (char ch : in) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x80) {
      out.push_back(ch);
    } else {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
}

// `xml` as UTF-8 without a byte-order mark: a view of `xml` itself when it is UTF-8 already (nearly always),
// else converted into `buf`. The encoding is found as pugixml finds it (loadXml): a BOM, or the zero bytes of
// UTF-16/32 around the first '<', then the XML declaration (GB2312/GBK/CP936/GB18030 through iconv as
// GB18030, ISO-8859-1/latin1); everything else is taken as UTF-8, and text that is not valid UTF-8 is
// decoded as ISO-8859-1 with a warning (Latin-1 mislabelled as UTF-8 is common). False with an error in
// `problems` when the bytes are not what the BOM or declaration says.
bool documentAsUtf8(std::string_view xml, std::string_view source, std::string& buf, std::string_view& out,
                    std::vector<CapProblem>& problems) {
  auto problem = [&](CapProblem::Level level, std::string pos, std::string value, std::string reason) {
    problems.push_back(CapProblem{level, std::string(source), std::move(pos), "encoding", std::move(value), std::move(reason)});
  };
  auto convert = [&](std::string_view bytes, const char* code) {
    size_t badAt = 0;
    if (iconvToUtf8(bytes, code, buf, badAt)) {
      out = buf;
      return true;
    }
    problem(CapProblem::Level::error, "offset " + std::to_string(badAt + static_cast<size_t>(bytes.data() - xml.data())),
            code, std::string("the bytes are not valid ") + code);
    return false;
  };
  auto b = [&](size_t i) { return i < xml.size() ? static_cast<unsigned char>(xml[i]) : 0x100u; };
  if (b(0) == 0x00 && b(1) == 0x00 && b(2) == 0xFE && b(3) == 0xFF) return convert(xml.substr(4), "UTF-32BE");
  if (b(0) == 0xFF && b(1) == 0xFE && b(2) == 0x00 && b(3) == 0x00) return convert(xml.substr(4), "UTF-32LE");
  if (b(0) == 0xFE && b(1) == 0xFF) return convert(xml.substr(2), "UTF-16BE");
  if (b(0) == 0xFF && b(1) == 0xFE) return convert(xml.substr(2), "UTF-16LE");
  if (b(0) == 0x00 && b(1) == 0x00 && b(2) == 0x00 && b(3) == 0x3C) return convert(xml, "UTF-32BE");
  if (b(0) == 0x3C && b(1) == 0x00 && b(2) == 0x00 && b(3) == 0x00) return convert(xml, "UTF-32LE");
  if (b(0) == 0x00 && b(1) == 0x3C) return convert(xml, "UTF-16BE");
  if (b(0) == 0x3C && b(1) == 0x00) return convert(xml, "UTF-16LE");
  const std::string enc = declaredEncoding(xml);
  std::string_view body = xml.substr(0, 3) == "\xEF\xBB\xBF" ? xml.substr(3) : xml;
  if (isGbEncoding(enc)) {
    size_t badAt = 0;
    if (!gb18030ToUtf8(body, buf, badAt)) {
      problems.push_back(CapProblem{CapProblem::Level::error, std::string(source),
                                    "offset " + std::to_string(badAt + static_cast<size_t>(body.data() - xml.data())),
                                    "encoding", enc, "declared " + enc + " but the bytes are not valid GB18030"});
      return false;
    }
    out = buf;
    return true;
  }
  if (isLatin1Name(enc)) {
    latin1ToUtf8(body, buf);
    out = buf;
    return true;
  }
  if (!isValidUtf8(body)) {
    problem(CapProblem::Level::warning, "document", enc.empty() ? "UTF-8" : enc,
            "not valid UTF-8 text; decoded as ISO-8859-1");
    latin1ToUtf8(body, buf);
    out = buf;
    return true;
  }
  out = body;
  return true;
}

}  // namespace

CapResult parseCap(std::string_view xml, std::string_view source, int64_t receivedMs, capnp::MessageBuilder& out,
                   ForeignNamespace foreign) {
  CapResult result;
  Reporter rep{result, source};
  tlTextNeedsCleaning = false;  // until the reader says otherwise (below)
  auto m = out.initRoot<Message>();
  auto prov = m.initProvenance();
  prov.setContentType("application/cap+xml");
  putText(source, [&](unsigned n) { return prov.initSource(n); });
  prov.setReceivedMs(receivedMs);
  auto fail = [&](std::string pos, std::string field, std::string_view value, std::string reason) {
    rep.error(std::move(pos), std::move(field), value, std::move(reason));
    return result;
  };
  if (xml.size() > kMaxCapBytes)
    return fail("document", "size", std::to_string(xml.size()) + " bytes",
                "larger than " + std::to_string(kMaxCapBytes) + " bytes; not parsed");
  prov.setOriginal(capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(xml.data()), xml.size()));
  // No byte scan for "<!DOCTYPE" first (loadXml's, for pugixml): the reader refuses any DTD or entity
  // declaration where markup may stand, in every encoding (below); inside a comment or CDATA it is text.

  std::string converted;  // only for documents not in UTF-8
  std::string_view text;
  if (!documentAsUtf8(xml, source, converted, text, result.problems)) return result;

  // One arena and one AlertDoc per thread, reused: a document allocates nothing here once they have grown
  // (the arena keeps the capacity of the largest document seen, at most kMaxCapBytes + 64).
  thread_local std::string arena;
  thread_local AlertDoc doc;
  doc.clear();
  XmlStream xs(text, arena);
  auto malformed = [&] {
    const size_t at = std::min(xs.errorOffset(), text.size());
    if (xs.refusedDtd())
      return fail("offset " + std::to_string(at), "DOCTYPE", text.substr(at, 40),
                  "DTDs and entity declarations are refused (XXE); not parsed");
    return fail("offset " + std::to_string(at), "xml", text.substr(at, 40), "malformed XML: " + xs.error());
  };
  XmlStart root;
  if (!xs.root(root)) return malformed();
  if (root.local != "alert") {
    if (!xs.finish()) return malformed();
    return fail(std::string(root.qname), "alert", root.qname, "root element is not a CAP <alert>");
  }
  const size_t colon = root.qname.size() - root.local.size();  // prefix plus ':' (0 without a prefix)
  const std::string nsAttr = colon ? "xmlns:" + std::string(root.qname.substr(0, colon - 1)) : "xmlns";
  bool declared = false;
  const std::string_view ns = xs.attribute(nsAttr, declared);
  constexpr std::string_view kNsPrefix = "urn:oasis:names:tc:emergency:cap:";
  const std::string_view nsv = ns;
  const bool capNs = nsv.substr(0, kNsPrefix.size()) == kNsPrefix &&
                     (nsv.substr(kNsPrefix.size()) == "1.0" || nsv.substr(kNsPrefix.size()) == "1.1" ||
                      nsv.substr(kNsPrefix.size()) == "1.2");
  if (capNs) {
    result.capVersion = std::string(nsv.substr(kNsPrefix.size()));
  } else if (foreign == ForeignNamespace::warn) {
    rep.warn("alert", nsAttr, declared && !ns.empty() ? ns : std::string_view("(none)"),
             "not a CAP 1.0, 1.1 or 1.2 namespace; read as CAP 1.2");
    result.capVersion = "1.2";
  } else {
    if (!xs.finish()) return malformed();
    return fail("alert", nsAttr, ns, "not a CAP 1.0, 1.1 or 1.2 namespace");
  }

  CapCollector(xs, doc, colon == 0).alert();
  if (!xs.finish()) return malformed();
  tlTextNeedsCleaning = xs.textNeedsCleaning();
  CapMapper(rep, doc).mapAlert(m);
  result.accepted = result.errorCount() == 0;
  return result;
}

}  // namespace alertbus::met
