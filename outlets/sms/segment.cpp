// See segment.h. One decoding pass into code points, one pass to count units, one pass to cut parts.
#include "outlets/sms/segment.h"

#include <algorithm>
#include <cassert>

namespace alertbus::sms {

namespace {

// GSM 03.38 default alphabet, the code points above ASCII (the ASCII ones are in kAsciiGsm below).
constexpr char32_t kGsmBasicNonAscii[] = {
    0x00A3, 0x00A5, 0x00E8, 0x00E9, 0x00F9, 0x00EC, 0x00F2, 0x00C7, 0x00D8, 0x00F8, 0x00C5, 0x00E5,
    0x0394, 0x03A6, 0x0393, 0x039B, 0x03A9, 0x03A0, 0x03A8, 0x03A3, 0x0398, 0x039E, 0x00C6, 0x00E6,
    0x00DF, 0x00C9, 0x00A4, 0x00A1, 0x00C4, 0x00D6, 0x00D1, 0x00DC, 0x00A7, 0x00BF, 0x00E4, 0x00F6,
    0x00F1, 0x00FC, 0x00E0,
};

// Septets of each ASCII code: 1 default alphabet, 2 extension table, 0 not in GSM 03.38.
struct AsciiTable {
  unsigned char v[128] = {};
  constexpr AsciiTable() {
    v['\n'] = 1;
    v['\r'] = 1;
    for (int c = 0x20; c < 0x7F; ++c) v[c] = 1;
    v['`'] = 0;
    v['\f'] = 2;
    const char ext[] = "^{}\\[~]|";
    for (int i = 0; ext[i]; ++i) v[static_cast<unsigned char>(ext[i])] = 2;
  }
};
constexpr AsciiTable kAsciiGsm;

constexpr char32_t kReplacement = 0xFFFD;

bool isCont(unsigned char b) { return (b & 0xC0) == 0x80; }

int units(char32_t cp, SmsEncoding e) {
  if (e == SmsEncoding::gsm7) return gsm7Septets(cp);
  return cp > 0xFFFF ? 2 : 1;
}

}  // namespace

std::string_view encodingName(SmsEncoding e) { return e == SmsEncoding::gsm7 ? "GSM-7" : "UCS-2"; }

int gsm7Septets(char32_t cp) {
  if (cp < 128) return kAsciiGsm.v[cp];
  if (cp == 0x20AC) return 2;  // €
  for (char32_t c : kGsmBasicNonAscii)
    if (c == cp) return 1;
  return 0;
}

bool decodeUtf8(std::string_view s, std::u32string& out) {
  out.clear();
  out.reserve(s.size());
  bool bad = false;
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    unsigned char b0 = static_cast<unsigned char>(s[i]);
    if (b0 < 0x80) {
      out.push_back(b0);
      ++i;
      continue;
    }
    int len = 0;
    char32_t cp = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (b0 >= 0xC2 && b0 <= 0xDF) {
      len = 2;
      cp = b0 & 0x1F;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      len = 3;
      cp = b0 & 0x0F;
      if (b0 == 0xE0) lo = 0xA0;          // no overlongs
      if (b0 == 0xED) hi = 0x9F;          // no surrogates
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      len = 4;
      cp = b0 & 0x07;
      if (b0 == 0xF0) lo = 0x90;          // no overlongs
      if (b0 == 0xF4) hi = 0x8F;          // nothing above U+10FFFF
    } else {
      out.push_back(kReplacement);        // stray continuation byte or invalid lead byte
      bad = true;
      ++i;
      continue;
    }
    size_t j = i + 1;
    bool ok = true;
    for (int k = 1; k < len; ++k, ++j) {
      unsigned char b = j < n ? static_cast<unsigned char>(s[j]) : 0;
      bool inRange = j < n && (k == 1 ? (b >= lo && b <= hi) : isCont(b));
      if (!inRange) {
        ok = false;
        break;
      }
      cp = (cp << 6) | (b & 0x3F);
    }
    if (ok) {
      out.push_back(cp);
    } else {
      out.push_back(kReplacement);        // the maximal valid prefix becomes one U+FFFD
      bad = true;
    }
    i = j;
  }
  return bad;
}

SmsEncoding chooseEncoding(std::string_view utf8) {
  // Fast path without allocation for the common cases.
  bool ascii = true;
  for (char c : utf8)
    if (static_cast<unsigned char>(c) >= 0x80) {
      ascii = false;
      break;
    }
  if (ascii) {
    for (char c : utf8)
      if (kAsciiGsm.v[static_cast<unsigned char>(c)] == 0) return SmsEncoding::ucs2;
    return SmsEncoding::gsm7;
  }
  std::u32string cps;
  if (decodeUtf8(utf8, cps)) return SmsEncoding::ucs2;
  for (char32_t cp : cps)
    if (gsm7Septets(cp) == 0) return SmsEncoding::ucs2;
  return SmsEncoding::gsm7;
}

Segmentation segment(std::string_view utf8, int maxParts) {
  maxParts = std::clamp(maxParts, 1, kMaxPartsLimit);
  Segmentation r;
  std::u32string cps;
  r.invalidUtf8 = decodeUtf8(utf8, cps);
  r.encoding = SmsEncoding::gsm7;
  for (char32_t cp : cps)
    if (gsm7Septets(cp) == 0) {
      r.encoding = SmsEncoding::ucs2;
      break;
    }
  const bool gsm = r.encoding == SmsEncoding::gsm7;
  const int single = gsm ? kGsm7SingleUnits : kUcs2SingleUnits;
  const int perPart = gsm ? kGsm7PartUnits : kUcs2PartUnits;

  std::vector<unsigned char> u(cps.size());
  int total = 0;
  for (size_t i = 0; i < cps.size(); ++i) {
    u[i] = static_cast<unsigned char>(units(cps[i], r.encoding));
    total += u[i];
  }
  r.unitsNeeded = total;

  // Part boundaries as [begin, end) indexes into cps.
  std::vector<std::pair<size_t, size_t>> bounds;
  if (total <= single) {
    bounds.push_back({0, cps.size()});
  } else {
    size_t begin = 0;
    int used = 0;
    for (size_t i = 0; i < cps.size(); ++i) {
      if (used + u[i] > perPart) {
        bounds.push_back({begin, i});
        begin = i;
        used = 0;
      }
      used += u[i];
    }
    bounds.push_back({begin, cps.size()});
  }

  std::u32string ellipsis = gsm ? U"..." : U"\u2026";
  if (static_cast<int>(bounds.size()) > maxParts) {
    r.truncated = true;
    const int ellUnits = gsm ? 3 : 1;
    const int limit = maxParts == 1 ? single : perPart;
    bounds.resize(static_cast<size_t>(maxParts));
    // Parts before the last keep their greedy boundaries; the last one is refilled leaving room for "…".
    size_t begin = bounds.back().first;
    size_t end = begin;
    int used = 0;
    while (end < cps.size() && used + u[end] <= limit - ellUnits) used += u[end++];
    while (end > begin && (cps[end - 1] == U' ' || cps[end - 1] == U'\n' || cps[end - 1] == U'\r')) --end;
    bounds.back().second = end;
  }

  for (size_t p = 0; p < bounds.size(); ++p) {
    std::string text;
    text.reserve((bounds[p].second - bounds[p].first) * 3);
    int n = 0;
    for (size_t i = bounds[p].first; i < bounds[p].second; ++i) {
      appendUtf8(text, cps[i]);
      n += u[i];
    }
    if (r.truncated && p + 1 == bounds.size()) {
      for (char32_t c : ellipsis) appendUtf8(text, c);
      n += gsm ? 3 : 1;
    }
    r.parts.push_back(std::move(text));
    r.partUnits.push_back(n);
    r.units += n;
  }
  if (!r.truncated) assert(r.units == r.unitsNeeded);
  return r;
}

}  // namespace alertbus::sms
