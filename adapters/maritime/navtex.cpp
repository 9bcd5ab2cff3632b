// NAVTEX frame parsing: see navtex.h. Each frame is handled on its own (no state but the bounded map of
// recently seen frame ids used to resolve "CANCEL <B1B2B3B4>"); positions and times are parsed from the text
// after bad characters have been replaced by '*', so every string put into a Message is ASCII.
#include "adapters/maritime/navtex.h"
#include "model/decode_util.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <optional>
#include <set>
#include <vector>

#include <boost/geometry.hpp>
#include <boost/geometry/geometries/point_xy.hpp>
#include <boost/geometry/geometries/polygon.hpp>

#include "adapters/maritime/risk.h"  // GeoPoint
#include "adapters/maritime/vessel_registry.h"
#include "model/validate.h"
#include "schemas/message.capnp.h"

namespace alertbus::maritime {
namespace bg = boost::geometry;

namespace {

using adapter::InputProblem;

bool isLineEnd(char c) { return c == '\r' || c == '\n'; }
bool isUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isAlpha(char c) { return isUpper(c) || (c >= 'a' && c <= 'z'); }
bool isAlnum(char c) { return isAlpha(c) || isDigit(c); }

// Position p is at the start of a line, allowing blanks and receiver garble ('*', '?', non-ASCII) before it.
bool atLineStart(std::string_view s, size_t p) {
  while (p > 0 && (s[p - 1] == ' ' || s[p - 1] == '\t' || s[p - 1] == '*' || s[p - 1] == '?' ||
                   static_cast<unsigned char>(s[p - 1]) >= 0x80))
    --p;
  return p == 0 || isLineEnd(s[p - 1]);
}

// First "word" at a line start at or after `from`, or npos.
size_t findAtLineStart(std::string_view s, std::string_view word, size_t from) {
  for (size_t p = s.find(word, from); p != std::string_view::npos; p = s.find(word, p + 1))
    if (atLineStart(s, p)) return p;
  return std::string_view::npos;
}

size_t lineEnd(std::string_view s, size_t p) {
  while (p < s.size() && !isLineEnd(s[p])) ++p;
  if (p < s.size() && s[p] == '\r') {
    ++p;
    if (p < s.size() && s[p] == '\n') ++p;
  } else if (p < s.size()) {
    ++p;
  }
  return p;
}

std::vector<std::string_view> splitLines(std::string_view s) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (!isLineEnd(s[i])) continue;
    lines.push_back(s.substr(start, i - start));
    if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
    start = i + 1;
  }
  if (start < s.size()) lines.push_back(s.substr(start));
  return lines;
}

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t')) --e;
  return std::string(s.substr(b, e - b));
}

bool isBlank(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == ' ' || c == '\t'; });
}

// Characters of the NAVTEX alphabet (ITA2 letters and figures, CCITT), lower case tolerated. '?' is in ITA2
// but receivers print it for undecodable characters, so it counts as garble.
bool navtexChar(char c) {
  if (isAlnum(c)) return true;
  switch (c) {
    case '-': case ':': case '(': case ')': case '.': case ',': case '\'': case '=': case '/': case '+':
      return true;
    default:
      return false;
  }
}

// Cleans one line to ASCII: non-ASCII code points (or invalid bytes) and control characters become '*'.
// Counts non-blank characters and garbled ones (including '*' and '?' and characters outside the alphabet).
std::string cleanLine(std::string_view in, size_t& total, size_t& garbled, std::string* firstGarbledLine) {
  std::string out;
  size_t g0 = garbled;
  for (size_t i = 0; i < in.size();) {
    unsigned char c = static_cast<unsigned char>(in[i]);
    if (c >= 0x80) {
      size_t len = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 1;
      bool ok = len > 1 && i + len <= in.size() && isCleanUtf8(in.data() + i, len);
      i += ok ? len : 1;
      out += '*';
      ++total;
      ++garbled;
      continue;
    }
    ++i;
    if (c == ' ' || c == '\t') {
      out += ' ';
      continue;
    }
    ++total;
    if (c < 0x20 || c == 0x7f) {
      out += '*';
      ++garbled;
      continue;
    }
    out += static_cast<char>(c);
    if (!navtexChar(static_cast<char>(c))) ++garbled;
  }
  if (garbled > g0 && firstGarbledLine && firstGarbledLine->empty()) *firstGarbledLine = out;
  return out;
}

std::string upper(std::string_view s) {
  std::string r(s);
  for (auto& c : r) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return r;
}

// ---- time ----


unsigned daysInMonth(int y, unsigned m) {
  static const unsigned k[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : k[m - 1];
}

int monthFromWord(std::string_view w) {
  if (w.size() < 3) return 0;
  std::string m = upper(w.substr(0, 3));
  static const char* en[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
  for (int i = 0; i < 12; ++i)
    if (m == en[i]) return i + 1;
  // National spellings seen on NAVTEX (German, Scandinavian, Dutch, French).
  if (m == "MRZ" || m == "MRT") return 3;
  if (m == "MAI" || m == "MEI") return 5;
  if (m == "OKT") return 10;
  if (m == "DES" || m == "DEZ") return 12;
  if (m == "AVR") return 4;
  if (m == "AOU") return 8;
  return 0;
}

struct Dtg {
  int day = 0, hour = 0, minute = 0, month = 0, year = 0;  // month/year 0 = not given
  std::string text;                                        // as it appeared
  size_t begin = 0, end = 0;                               // in the line
  bool utcMarked = false;
};

// Date-time group starting at p (six digits already checked to be a word).
Dtg readDtg(std::string_view l, size_t p) {
  Dtg d;
  d.begin = p;
  d.day = (l[p] - '0') * 10 + (l[p + 1] - '0');
  d.hour = (l[p + 2] - '0') * 10 + (l[p + 3] - '0');
  d.minute = (l[p + 4] - '0') * 10 + (l[p + 5] - '0');
  size_t q = p + 6;
  if (q < l.size() && (l[q] == 'Z' || l[q] == 'z') && (q + 1 == l.size() || !isAlpha(l[q + 1]))) {
    d.utcMarked = true;
    ++q;
  } else {
    size_t r = q;
    while (r < l.size() && l[r] == ' ') ++r;
    if (l.substr(r, 3) == "UTC" && (r + 3 == l.size() || !isAlpha(l[r + 3]))) {
      d.utcMarked = true;
      q = r + 3;
    }
  }
  d.end = q;
  size_t r = q;
  while (r < l.size() && (l[r] == ' ' || l[r] == '.')) ++r;
  size_t w = r;
  while (w < l.size() && isAlpha(l[w])) ++w;
  if (w - r >= 3 && w - r <= 9) {
    int m = monthFromWord(l.substr(r, w - r));
    if (m) {
      d.month = m;
      d.end = w;
      size_t y = w;
      while (y < l.size() && (l[y] == ' ' || l[y] == '.')) ++y;
      size_t ye = y;
      while (ye < l.size() && isDigit(l[ye])) ++ye;
      if ((ye - y == 2 || ye - y == 4) && (ye == l.size() || !isAlnum(l[ye]))) {
        int v = std::stoi(std::string(l.substr(y, ye - y)));
        d.year = ye - y == 2 ? 2000 + v : v;
        d.end = ye;
      }
    }
  }
  d.text = std::string(l.substr(d.begin, d.end - d.begin));
  return d;
}

bool dtgFieldsValid(const Dtg& d) {
  return d.day >= 1 && d.day <= 31 && d.hour <= 23 && d.minute <= 59 && (d.year == 0 || (d.year >= 1990 && d.year <= 2200));
}

// All six-digit words of a line that read as a DTG (valid ranges), in order.
std::vector<Dtg> dtgsIn(std::string_view l) {
  std::vector<Dtg> r;
  for (size_t p = 0; p + 6 <= l.size(); ++p) {
    if (p > 0 && isAlnum(l[p - 1])) continue;
    bool six = true;
    for (size_t k = 0; k < 6; ++k) six = six && isDigit(l[p + k]);
    if (!six || (p + 6 < l.size() && isDigit(l[p + 6]))) continue;
    Dtg d = readDtg(l, p);
    if (dtgFieldsValid(d)) r.push_back(d);
    p += 5;
  }
  return r;
}

// Fills the fields not given (month, year) from `nearMs`. A date-time group of issue is not in the future:
// the latest candidate no later than nearMs + 1 day wins (pastOf = true); an expiry ("CANCEL THIS MSG") is
// not before its issue: the earliest candidate no earlier than nearMs wins (pastOf = false). 0 if no valid date.
int64_t resolveDtg(const Dtg& d, int64_t nearMs, bool pastOf = true) {
  int64_t nearDays = nearMs >= 0 ? nearMs / 86400000 : (nearMs - 86399999) / 86400000;
  int y0;
  unsigned m0, dd0;
  civilFromDays(nearDays, y0, m0, dd0);
  std::vector<std::pair<int, int>> cands;  // (year, month)
  if (d.month && d.year) cands.push_back({d.year, d.month});
  else if (d.month) for (int y = y0 - 1; y <= y0 + 1; ++y) cands.push_back({y, d.month});
  else
    for (int k = -1; k <= 1; ++k) {
      int m = static_cast<int>(m0) + k, y = y0;
      if (m < 1) m += 12, --y;
      if (m > 12) m -= 12, ++y;
      cands.push_back({y, m});
    }
  int64_t best = 0;
  bool found = false;
  int64_t fallback = 0, fallbackDist = INT64_MAX;
  for (auto [y, m] : cands) {
    if (static_cast<unsigned>(d.day) > daysInMonth(y, static_cast<unsigned>(m))) continue;
    int64_t ms = (daysFromCivil(y, static_cast<unsigned>(m), static_cast<unsigned>(d.day)) * 86400 + d.hour * 3600 +
                  d.minute * 60) * 1000;
    int64_t dist = ms > nearMs ? ms - nearMs : nearMs - ms;
    if (dist < fallbackDist) fallback = ms, fallbackDist = dist;
    if (cands.size() == 1) continue;
    bool ok = pastOf ? ms <= nearMs + 86400000 : ms >= nearMs;
    if (ok && (!found || (pastOf ? ms > best : ms < best))) best = ms, found = true;
  }
  return found ? best : fallback;
}

std::string dtgKey(int64_t ms) {
  int64_t days = ms >= 0 ? ms / 86400000 : (ms - 86399999) / 86400000;
  int64_t rem = (ms - days * 86400000) / 60000;
  int y;
  unsigned m, d;
  civilFromDays(days, y, m, d);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d%02u%02u%02d%02d", y, m, d, static_cast<int>(rem / 60),
                static_cast<int>(rem % 60));
  return buf;
}

// ---- positions ----

struct Num {
  double value = 0;
  size_t end = 0;
  size_t intDigits = 0;
  bool fraction = false;
};

// Digits with an optional fraction ('.' or ',' directly followed by a digit).
std::optional<Num> readNum(std::string_view l, size_t p) {
  size_t q = p;
  while (q < l.size() && isDigit(l[q])) ++q;
  if (q == p) return std::nullopt;
  Num n;
  n.intDigits = q - p;
  std::string s(l.substr(p, q - p));
  if (q + 1 < l.size() && (l[q] == '.' || l[q] == ',') && isDigit(l[q + 1])) {
    size_t f = q + 1;
    while (f < l.size() && isDigit(l[f])) ++f;
    s += '.';
    s += l.substr(q + 1, f - q - 1);
    q = f;
    n.fraction = true;
  }
  n.value = std::strtod(s.c_str(), nullptr);
  n.end = q;
  return n;
}

size_t skipSpaces(std::string_view l, size_t p, size_t max) {
  size_t n = 0;
  while (p < l.size() && l[p] == ' ' && n < max) ++p, ++n;
  return p;
}

// One coordinate at p: latitude (degDigits 2, hemispheres N/S) or longitude (3, E/W). Returns the signed
// value in degrees and the end position.
std::optional<std::pair<double, size_t>> readCoord(std::string_view l, size_t p, bool lat) {
  const size_t maxDeg = lat ? 2 : 3;
  const char pos = lat ? 'N' : 'E', neg = lat ? 'S' : 'W';
  const double limit = lat ? 90 : 180;
  auto a = readNum(l, p);
  if (!a) return std::nullopt;
  double deg = 0, min = 0;
  size_t q;
  if (!a->fraction && (a->intDigits == maxDeg + 2)) {  // compact DDMM / DDDMM, fraction on the minutes
    std::string digits(l.substr(p, a->intDigits));
    deg = std::stoi(digits.substr(0, maxDeg));
    min = std::stoi(digits.substr(maxDeg));
    q = a->end;
  } else if (a->fraction && a->intDigits == maxDeg + 2) {  // DDMM.m
    std::string digits(l.substr(p, a->intDigits));
    deg = std::stoi(digits.substr(0, maxDeg));
    min = a->value - deg * 100;
    q = a->end;
  } else if (a->intDigits <= maxDeg && a->fraction) {  // decimal degrees
    deg = a->value;
    q = a->end;
  } else if (a->intDigits <= maxDeg) {
    deg = a->value;
    q = a->end;
    // Minutes after '-' or blanks, unless the hemisphere follows directly (degrees only).
    size_t s = q;
    if (s < l.size() && l[s] == '-') ++s;
    else s = skipSpaces(l, s, 2);
    if (s > q) {
      auto b = readNum(l, s);
      if (b && b->intDigits <= 2) {
        min = b->value;
        q = b->end;
      }
    }
  } else {
    return std::nullopt;
  }
  q = skipSpaces(l, q, 1);
  if (q >= l.size() || (l[q] != pos && l[q] != neg)) return std::nullopt;
  if (q + 1 < l.size() && isAlpha(l[q + 1])) return std::nullopt;  // "5 NORTH", "6 EASTERN"
  if (min >= 60 || deg > limit) return std::nullopt;
  double v = deg + min / 60.0;
  if (v > limit) return std::nullopt;
  return std::make_pair(l[q] == neg ? -v : v, q + 1);
}

std::vector<GeoPoint> positionsIn(std::string_view l) {
  std::vector<GeoPoint> pts;
  for (size_t p = 0; p < l.size(); ++p) {
    if (!isDigit(l[p]) || (p > 0 && (isAlnum(l[p - 1]) || l[p - 1] == '.' || l[p - 1] == ',' || l[p - 1] == '-')))
      continue;
    auto la = readCoord(l, p, true);
    if (!la) continue;
    size_t q = la->second, n = 0;
    while (q < l.size() && n < 4 && (l[q] == ' ' || l[q] == ',' || l[q] == '/' || l[q] == '-')) ++q, ++n;
    if (q >= l.size() || !isDigit(l[q])) continue;
    auto lo = readCoord(l, q, false);
    if (!lo) continue;
    pts.push_back({la->first, lo->first});
    p = lo->second - 1;
  }
  return pts;
}

// ---- cancellations ----

size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

struct Word {
  std::string text;
  size_t begin, end;
};

std::vector<Word> words(std::string_view l) {
  std::vector<Word> w;
  for (size_t p = 0; p < l.size();) {
    while (p < l.size() && l[p] == ' ') ++p;
    size_t b = p;
    while (p < l.size() && l[p] != ' ') ++p;
    if (p > b) w.push_back({std::string(l.substr(b, p - b)), b, p});
  }
  return w;
}

std::string stripPunct(std::string s) {
  while (!s.empty() && (s.back() == '.' || s.back() == ',' || s.back() == ':' || s.back() == ';')) s.pop_back();
  return s;
}

bool isCancelWord(const std::string& w0) {
  std::string w = stripPunct(w0);
  if (w.size() < 5 || w.size() > 11) return false;
  if (w.rfind("CANCEL", 0) == 0) return true;
  return editDistance(w, "CANCELLED") <= 1 || editDistance(w, "CANCEL") <= 1 || editDistance(w, "CANCELED") <= 1;
}

bool isFrameKey(std::string_view w) {
  return w.size() == 4 && isUpper(w[0]) && isUpper(w[1]) && isDigit(w[2]) && isDigit(w[3]);
}

std::string refIdFromText(std::string_view t) {
  std::string s = "navtex-ref-";
  bool dash = false;
  for (char c : t) {
    if (isAlnum(c) || c == '/' || c == '.' || c == ':' || c == '(' || c == ')' || c == '+' || c == '=') {
      s += c;
      dash = false;
    } else if (!dash && s.back() != '-') {
      s += '-';
      dash = true;
    }
  }
  while (!s.empty() && (s.back() == '-' || s.back() == '.')) s.pop_back();
  if (s.size() > 200) s.resize(200);
  return s;
}

struct CancelInfo {
  std::vector<std::pair<std::string, std::string>> refs;  // (frame key or "", reference id)
  std::optional<Dtg> selfExpiry;                          // CANCEL THIS MSG <dtg>
};

// If the line is a cancellation, fills `ci` and returns true.
bool parseCancel(std::string_view l, CancelInfo& ci) {
  auto ws = words(l);
  for (size_t i = 0; i < ws.size(); ++i) {
    if (!isCancelWord(ws[i].text)) continue;
    bool after = stripPunct(ws[i].text).size() <= 7 && i + 1 < ws.size();  // CANCEL <what>; else <what> CANCELLED
    if (after && stripPunct(ws[i + 1].text) == "THIS" && i + 2 < ws.size()) {
      std::string w2 = stripPunct(ws[i + 2].text);
      if (w2 == "MSG" || w2 == "MESSAGE" || w2 == "MESSAGES") {
        auto ds = dtgsIn(l.substr(ws[i + 2].end));
        if (!ds.empty()) ci.selfExpiry = ds[0];
        return true;
      }
    }
    if (after) {
      bool keys = false;
      for (size_t k = i + 1; k < ws.size(); ++k) {
        std::string w = stripPunct(ws[k].text);
        if (isFrameKey(w)) {
          ci.refs.push_back({w, "navtex-" + w});
          keys = true;
        } else if (w != "AND" && w != "&" && w != "NAVTEX") {
          break;
        }
      }
      if (keys) return true;
      std::string rest = trim(l.substr(ws[i].end));
      rest = stripPunct(rest);
      if (!rest.empty()) ci.refs.push_back({"", refIdFromText(rest)});
      return true;
    }
    std::string before = stripPunct(trim(l.substr(0, ws[i].begin)));
    if (before.empty()) return false;
    if (before == "THIS MSG" || before == "THIS MESSAGE") return true;  // a notice about itself, not a reference
    ci.refs.push_back({isFrameKey(before) ? before : "", isFrameKey(before) ? "navtex-" + before : refIdFromText(before)});
    return true;
  }
  return false;
}

uint64_t fnv1a64(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

std::string percent(size_t g, size_t n) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "%.0f%% of characters garbled (%zu of %zu)", n ? 100.0 * g / n : 0.0, g, n);
  return buf;
}

}  // namespace

std::string_view navtexSubjectName(char b2) {
  switch (b2) {
    case 'A': return "navigational-warning";
    case 'B': return "meteorological-warning";
    case 'C': return "ice-report";
    case 'D': return "search-and-rescue";    // SAR information and pirate/armed robbery attack warnings
    case 'E': return "meteorological-forecast";
    case 'F': return "pilot-service";
    case 'G': return "ais-service";           // formerly Decca
    case 'H': return "loran";
    case 'J': return "satnav";
    case 'K': return "other-navaid";
    case 'L': return "navigational-warning-additional";
    case 'V': case 'W': case 'X': case 'Y': return "special-service";
    case 'Z': return "no-message-on-hand";
    default:
      if (b2 == 'I' || (b2 >= 'M' && b2 <= 'U')) return "unassigned";
      return "";
  }
}

NavtexDecoder::NavtexDecoder(NavtexOptions options) : options_(std::move(options)) {
  if (options_.maxMessageBytes < 64) options_.maxMessageBytes = 64;
  if (!(options_.pointRadiusKm >= 0 && options_.pointRadiusKm <= 20000)) options_.pointRadiusKm = 2.0;
}

void NavtexDecoder::remember(const std::string& key, const std::string& id, int64_t sentMs) {
  if (options_.rememberedMessages == 0) return;
  if (seen_.find(key) == seen_.end()) seenOrder_.push_back(key);
  seen_[key] = {id, sentMs};
  while (seenOrder_.size() > options_.rememberedMessages) {
    seen_.erase(seenOrder_.front());
    seenOrder_.pop_front();
  }
}

adapter::Output NavtexDecoder::feed(std::string_view chunk, std::string_view source, int64_t receivedMs) {
  adapter::Output out;
  buffer_.append(chunk.data(), chunk.size());
  std::string_view b(buffer_);
  size_t consumed = 0;
  auto outside = [&](std::string_view junk) {
    bool blank = std::all_of(junk.begin(), junk.end(), [](char c) { return c == ' ' || c == '\t' || isLineEnd(c); });
    if (blank) return;
    size_t total = 0, garbled = 0;
    std::string flat(junk.substr(0, 120));
    std::replace_if(flat.begin(), flat.end(), isLineEnd, ' ');
    std::string shown = cleanLine(flat, total, garbled, nullptr);
    out.problems.push_back({InputProblem::Level::warning, std::string(source), "outside frames",
                            "text", clipValue(trim(shown)),
                            std::to_string(junk.size()) + " bytes outside a ZCZC...NNNN frame ignored"});
  };
  while (true) {
    size_t start = findAtLineStart(b, "ZCZC", consumed);
    if (start == std::string_view::npos) {
      // No frame start: drop whole lines (reported), keep an incomplete last line (it may become "ZCZC ...").
      size_t cut = consumed;
      for (size_t p = b.size(); p > consumed; --p)
        if (isLineEnd(b[p - 1])) {
          cut = p;
          break;
        }
      if (b.size() - cut > options_.maxMessageBytes) cut = b.size();
      if (cut > consumed) {
        outside(b.substr(consumed, cut - consumed));
        consumed = cut;
      }
      break;
    }
    if (start > consumed) outside(b.substr(consumed, start - consumed));
    consumed = start;
    size_t headerEnd = lineEnd(b, start);
    if (headerEnd == b.size() && !isLineEnd(b.back())) {
      if (b.size() - start > options_.maxMessageBytes) {
        frame(b.substr(start), false, source, receivedMs, out);
        consumed = b.size();
      }
      break;  // header line not complete yet
    }
    size_t nnnn = findAtLineStart(b, "NNNN", headerEnd);
    size_t next = findAtLineStart(b, "ZCZC", start + 4);
    if (nnnn != std::string_view::npos && (next == std::string_view::npos || nnnn < next)) {
      size_t end = nnnn + 4;
      frame(b.substr(start, end - start), true, source, receivedMs, out);
      consumed = end;
      continue;
    }
    if (next != std::string_view::npos) {
      frame(b.substr(start, next - start), false, source, receivedMs, out);
      consumed = next;
      continue;
    }
    if (b.size() - start > options_.maxMessageBytes) {
      frame(b.substr(start), false, source, receivedMs, out);  // rejected there as too long
      consumed = b.size();
    }
    break;
  }
  buffer_.erase(0, consumed);
  return out;
}

adapter::Output NavtexDecoder::finish(std::string_view source, int64_t receivedMs) {
  adapter::Output out;
  std::string_view b(buffer_);
  size_t start = findAtLineStart(b, "ZCZC", 0);
  if (start != std::string_view::npos) {
    frame(b.substr(start), false, source, receivedMs, out);
  } else if (!std::all_of(b.begin(), b.end(), [](char c) { return c == ' ' || c == '\t' || isLineEnd(c); })) {
    out.problems.push_back({InputProblem::Level::warning, std::string(source), "end of input", "text",
                            clipValue(b), std::to_string(b.size()) + " bytes outside a ZCZC...NNNN frame ignored"});
  }
  buffer_.clear();
  return out;
}

void NavtexDecoder::frame(std::string_view bytes, bool terminated, std::string_view source, int64_t receivedMs,
                          adapter::Output& out) {
  ++frameNo_;
  auto lines = splitLines(bytes);
  if (terminated && lines.size() > 1 && trim(lines.back()).rfind("NNNN", 0) == 0) lines.pop_back();
  std::string header = lines.empty() ? std::string() : trim(lines[0]);
  std::string where = "frame " + std::to_string(frameNo_) + " (" + clipValue(header.substr(0, 40)) + ")";
  auto reject = [&](std::string field, std::string value, std::string reason) {
    out.problems.push_back({InputProblem::Level::error, std::string(source), where, std::move(field),
                            clipValue(value), std::move(reason)});
    ++out.rejected;
  };
  if (bytes.size() > options_.maxMessageBytes) {
    reject("frame", std::to_string(bytes.size()) + " bytes",
           "longer than max_message_bytes " + std::to_string(options_.maxMessageBytes) + (terminated ? "" : " without NNNN"));
    return;
  }
  // Header: ZCZC, blanks, B1 B2 B3 B4; text after a blank (a capture with the line breaks lost) is body.
  std::string key, headerRest;
  {
    std::string_view h(header);
    size_t p = 4;
    while (p < h.size() && (h[p] == ' ' || h[p] == '\t')) ++p;
    std::string_view k = h.substr(std::min(p, h.size()), 4);
    bool endsKey = p + 4 >= h.size() || h[p + 4] == ' ' || h[p + 4] == '\t';
    if (k.size() != 4 || !isFrameKey(k) || !endsKey) {
      reject("header", header,
             "header is not ZCZC followed by B1B2B3B4 (station A-Z, subject A-Z, serial 00-99): garbled reception");
      return;
    }
    key = std::string(k);
    if (p + 4 < h.size()) headerRest = trim(h.substr(p + 4));
  }
  char b1 = key[0], b2 = key[1];
  std::string serial = key.substr(2);

  // Body: lines after the header up to NNNN (excluded by framing), cleaned.
  size_t total = 0, garbled = 0;
  std::string firstGarbled;
  std::vector<std::string> body;
  if (!headerRest.empty()) body.push_back(cleanLine(headerRest, total, garbled, &firstGarbled));
  for (size_t i = 1; i < lines.size(); ++i) body.push_back(cleanLine(lines[i], total, garbled, &firstGarbled));
  while (!body.empty() && isBlank(body.back())) body.pop_back();
  size_t firstLine = 0;
  while (firstLine < body.size() && isBlank(body[firstLine])) ++firstLine;
  if (total == 0) {
    reject("text", "", terminated ? "no text between header and NNNN" : "no text after the header and no NNNN");
    return;
  }
  double ratio = static_cast<double>(garbled) / static_cast<double>(total);
  if (ratio > options_.maxGarbleRatio) {
    reject("text", firstGarbled, percent(garbled, total) + ", more than max_garble_ratio " +
                                     std::to_string(static_cast<int>(std::lround(options_.maxGarbleRatio * 100))) + "%");
    return;
  }
  std::vector<std::string> quality;
  if (garbled) quality.push_back(percent(garbled, total));
  if (!terminated) quality.push_back("missing NNNN (the frame may be truncated)");

  if (b2 == 'Z') {
    out.problems.push_back({InputProblem::Level::warning, std::string(source), where, "subject", "Z",
                            "subject Z (no message on hand): nothing to publish"});
    ++out.accepted;
    return;
  }

  // Parse the body.
  std::vector<std::string> up;
  for (const auto& l : body) up.push_back(upper(l));
  CancelInfo ci;
  std::vector<bool> cancelLine(up.size(), false);
  for (size_t i = 0; i < up.size(); ++i) cancelLine[i] = parseCancel(up[i], ci);
  std::optional<Dtg> dtg;
  size_t dtgLine = SIZE_MAX;
  for (size_t i = firstLine; i < up.size() && !dtg; ++i) {
    if (cancelLine[i]) continue;
    for (const auto& d : dtgsIn(up[i])) {
      bool firstWord = i == firstLine && trim(up[i].substr(0, d.begin)).empty();
      if (d.utcMarked || firstWord) {
        dtg = d;
        dtgLine = i;
        break;
      }
    }
  }
  // A DTG without month/year is placed near a full date written in the text ("UNTIL 18.11.2019 12 UTC"), if
  // any, else near receivedMs.
  int64_t anchorMs = receivedMs;
  if (dtg && !(dtg->month && dtg->year))
    for (const auto& l : up) {
      bool found = false;
      for (size_t p = 0; p + 8 <= l.size() && !found; ++p) {
        if (!isDigit(l[p]) || (p > 0 && isAlnum(l[p - 1]))) continue;
        int dd = 0, mm = 0, yy = 0;
        int n = 0;
        if (std::sscanf(l.c_str() + p, "%2d.%2d.%4d%n", &dd, &mm, &yy, &n) == 3 && n >= 8 && yy >= 1990 &&
            yy <= 2200 && mm >= 1 && mm <= 12 && dd >= 1 && static_cast<unsigned>(dd) <= daysInMonth(yy, mm)) {
          anchorMs = (daysFromCivil(yy, static_cast<unsigned>(mm), static_cast<unsigned>(dd)) + 1) * 86400000;
          found = true;
        }
      }
      if (found) break;
    }
  int64_t sentMs = dtg ? resolveDtg(*dtg, anchorMs) : 0;
  if (sentMs == 0) sentMs = receivedMs;
  int64_t expiresMs = 0;
  if (ci.selfExpiry) {
    expiresMs = resolveDtg(*ci.selfExpiry, sentMs, false);
    if (expiresMs != 0 && expiresMs <= sentMs) expiresMs = 0;  // nonsense: ignore
  }

  std::vector<GeoPoint> pts;
  size_t dropped = 0;
  for (const auto& l : up)
    for (const auto& p : positionsIn(l)) {
      if (!pts.empty() && pts.back().lat == p.lat && pts.back().lon == p.lon) continue;
      if (pts.size() >= options_.maxPositions) {
        ++dropped;
        continue;
      }
      pts.push_back(p);
    }
  // Content lines: anything but the DTG line (when it is short), the header repeated, and cancellations.
  // A line that only carries the DTG (plus at most two words: "SHANGHAI NAVTEX", "NAVTEX-HAMBURG (NCC)") or the
  // header key repeated ("OL66") is framing, not content.
  auto framingLine = [&](size_t i) {
    if (trim(up[i]) == key) return true;
    if (i != dtgLine) return false;
    std::string rest = up[i].substr(0, dtg->begin) + " " + up[i].substr(dtg->end);
    return words(rest).size() <= 2;
  };
  size_t content = 0;
  size_t headlineLine = SIZE_MAX;
  for (size_t i = firstLine; i < up.size(); ++i) {
    if (isBlank(up[i]) || framingLine(i)) continue;
    if (headlineLine == SIZE_MAX) headlineLine = i;
    if (!cancelLine[i]) ++content;
  }
  if (headlineLine == SIZE_MAX) headlineLine = firstLine;

  std::string id;
  if (dtg) {
    id = "navtex-" + key + "-" + dtgKey(sentMs);
  } else {
    std::string norm = key;
    for (const auto& l : up) norm += "\n" + trim(l);
    char h[24];
    std::snprintf(h, sizeof h, "h%016llx", static_cast<unsigned long long>(fnv1a64(norm)));
    id = "navtex-" + key + "-" + h;
  }
  if (expiresMs != 0 && expiresMs <= receivedMs) {
    reject("CANCEL", dtg ? dtg->text : "", "expired at " + dtgKey(expiresMs) + "Z (CANCEL THIS MSG) before it was received");
    return;
  }

  auto msg = std::make_unique<capnp::MallocMessageBuilder>();
  auto m = msg->initRoot<schema::Message>();
  m.setId(id);
  m.setSentMs(sentMs);
  m.setStatus(schema::Status::ACTUAL);
  bool cancel = !ci.refs.empty() && content == 0;
  m.setMsgType(ci.refs.empty() ? schema::MsgType::ALERT : cancel ? schema::MsgType::CANCEL : schema::MsgType::UPDATE);
  if (!ci.refs.empty()) {
    auto refs = m.initReferences(static_cast<unsigned>(ci.refs.size()));
    for (unsigned i = 0; i < ci.refs.size(); ++i) {
      const auto& [k, rid] = ci.refs[i];
      refs[i].setSender(options_.sender);
      auto s = k.empty() ? seen_.end() : seen_.find(k);
      if (s != seen_.end()) {
        refs[i].setId(s->second.first);
        refs[i].setSentMs(s->second.second);
      } else {
        refs[i].setId(rid);
      }
    }
  }
  std::string subject(navtexSubjectName(b2));
  bool forecast = b2 == 'E' && options_.forecastPayload;
  auto infos = forecast ? m.initPayload().initForecast(1) : m.initPayload().initWarning(1);
  auto info = infos[0];
  info.setLanguage("en");
  auto cats = info.initCategories(1);
  cats.set(0, (b2 == 'B' || b2 == 'C' || b2 == 'E') ? schema::Category::MET : schema::Category::TRANSPORT);
  info.setEvent("navtex-" + subject);
  info.setEventCode(std::string("navtex-") + b2);
  auto ecs = info.initEventCodes(1);
  ecs[0].setKey("NAVTEX");
  ecs[0].setValue(std::string(1, b2));
  info.setUrgency(schema::Urgency::UNKNOWN);
  info.setSeverity(schema::Severity::UNKNOWN);
  info.setCertainty(!quality.empty() ? schema::Certainty::UNKNOWN
                    : forecast || b2 == 'E' ? schema::Certainty::LIKELY
                                            : schema::Certainty::OBSERVED);
  info.setExpiresMs(expiresMs);
  auto sn = options_.stationNames.find(b1);
  std::string station = sn != options_.stationNames.end() ? sn->second : std::string("NAVTEX station ") + b1;
  info.setSenderName(station);
  std::string headline = headlineLine < body.size() ? trim(body[headlineLine]) : std::string();
  if (headline.size() > 160) headline.resize(160);
  info.setHeadline(headline);
  std::string description;
  for (size_t i = firstLine; i < body.size(); ++i) {
    std::string l = body[i];
    while (!l.empty() && l.back() == ' ') l.pop_back();
    description += l;
    if (i + 1 < body.size()) description += '\n';
  }
  info.setDescription(description);

  std::vector<std::pair<std::string, std::string>> params = {
      {"station", std::string(1, b1)}, {"subject", std::string(1, b2)}, {"serial", serial}};
  if (dtg) params.push_back({"dtg", dtg->text});
  if (serial == "00") params.push_back({"must-display", "true"});
  std::string q;
  for (const auto& s : quality) q += (q.empty() ? "" : "; ") + s;
  if (!q.empty()) params.push_back({"reception-quality", q});
  auto ps = info.initParameters(static_cast<unsigned>(params.size()));
  for (unsigned i = 0; i < params.size(); ++i) {
    ps[i].setKey(params[i].first);
    ps[i].setValue(params[i].second);
  }

  // Area from the positions.
  auto area = info.initAreas(1)[0];
  area.setAltitudeM(NAN);
  area.setCeilingM(NAN);
  std::set<std::pair<double, double>> distinct;
  for (const auto& p : pts) distinct.emplace(p.lat, p.lon);
  area.setDescription(station + (pts.empty() ? "" : ": positions in the text"));
  if (distinct.size() == 1 || distinct.size() == 2) {
    std::vector<GeoPoint> uniq;
    for (const auto& p : pts)
      if (std::none_of(uniq.begin(), uniq.end(), [&](const GeoPoint& u) { return u.lat == p.lat && u.lon == p.lon; }))
        uniq.push_back(p);
    auto cs = area.initCircles(static_cast<unsigned>(uniq.size()));
    for (unsigned i = 0; i < uniq.size(); ++i) {
      cs[i].initCenter().setLat(uniq[i].lat);
      cs[i].getCenter().setLon(uniq[i].lon);
      cs[i].setRadiusKm(options_.pointRadiusKm);
    }
  } else if (distinct.size() >= 3) {
    using P = bg::model::d2::point_xy<double>;
    using Poly = bg::model::polygon<P>;
    Poly poly;
    for (const auto& p : pts) bg::append(poly.outer(), P(p.lon, p.lat));
    bg::correct(poly);
    if (!bg::is_valid(poly)) {
      Poly hull;
      bg::convex_hull(poly, hull);
      poly = hull;
      bg::correct(poly);
    }
    if (std::fabs(bg::area(poly)) < 1e-12 || poly.outer().size() < 4) {  // collinear: a circle around them
      double lat = 0, lon = 0;
      for (const auto& p : pts) lat += p.lat, lon += p.lon;
      lat /= pts.size();
      lon /= pts.size();
      double r = 0;
      for (const auto& p : pts) r = std::max(r, haversineM(lat, lon, p.lat, p.lon) / 1000.0);
      auto c = area.initCircles(1)[0];
      c.initCenter().setLat(lat);
      c.getCenter().setLon(lon);
      c.setRadiusKm(r + options_.pointRadiusKm);
    } else {
      const auto& ring = poly.outer();
      auto pl = area.initPolygons(1)[0].initPoints(static_cast<unsigned>(ring.size()));
      for (unsigned i = 0; i < ring.size(); ++i) {
        pl[i].setLat(ring[i].y());
        pl[i].setLon(ring[i].x());
      }
    }
  }

  auto prov = m.initProvenance();
  prov.setContentType("text/plain; navtex");
  prov.setOriginal(capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(bytes.data()), bytes.size()));
  prov.setSource(std::string(source));
  prov.setReceivedMs(receivedMs);

  if (auto p = validateMessage(m.asReader(), receivedMs)) {  // a bug or an input we did not foresee
    reject(p->field, p->value, "produced message invalid: " + p->reason);
    return;
  }
  if (!q.empty())
    out.problems.push_back({InputProblem::Level::warning, std::string(source), where, "text",
                            clipValue(firstGarbled.empty() ? header : firstGarbled),
                            "kept as low-confidence (certainty unknown): " + q});
  if (dropped)
    out.problems.push_back({InputProblem::Level::warning, std::string(source), where, "position",
                            std::to_string(dropped) + " more", "only the first " +
                            std::to_string(options_.maxPositions) + " positions are used (max_positions)"});
  remember(key, id, sentMs);
  out.messages.push_back(std::move(msg));
  ++out.accepted;
}

adapter::Output parseNavtex(std::string_view text, std::string_view source, int64_t receivedMs,
                            const NavtexOptions& options) {
  NavtexDecoder d(options);
  adapter::Output out = d.feed(text, source, receivedMs);
  out.append(d.finish(source, receivedMs));
  return out;
}

}  // namespace alertbus::maritime
