// See decode_util.h.
#include "model/decode_util.h"

#include <cstdio>

#include <iconv.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>

namespace alertbus {

// Well-formed UTF-8 (any code point; control characters are XML's business, not the encoding's). Runs once
// over every byte of every document, so the common cases have fast paths: ASCII 16 bytes at a time, runs of
// CJK five characters (15 bytes) at a time with SSE2, a well-formed 3-byte sequence with one 32-bit load and
// masks; the rest decodes the code point and checks overlongs, surrogates and the upper limit one by one.
// Each fast path advances by a fixed step while its check holds (a predicted branch), never by a position
// computed from the bytes, so the CPU runs ahead of the checks (measured: that is what made them pay).
bool isValidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t i = 0, n = s.size();
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  while (i < n) {
    while (i + 16 <= n) {
      uint64_t a, b;
      std::memcpy(&a, p + i, 8);
      std::memcpy(&b, p + i + 8, 8);
      if ((a | b) & kHigh) break;
      i += 16;
    }
    while (i < n && p[i] < 0x80) ++i;
#if defined(__SSE2__)
    // Five 3-byte sequences (CJK text) per step: leads E0..EF at 0, 3, 6, 9, 12 and continuation bytes
    // between, none overlong (E0 then >= A0) or a surrogate (ED then < A0). The step is a constant 15
    // bytes, so the CPU runs ahead of the check.
    while (i + 16 <= n) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
      auto bits = [](__m128i x) { return static_cast<unsigned>(_mm_movemask_epi8(x)) & 0x7FFFu; };
      const __m128i hi4 = _mm_and_si128(v, _mm_set1_epi8(static_cast<char>(0xF0)));
      const __m128i hi2 = _mm_and_si128(v, _mm_set1_epi8(static_cast<char>(0xC0)));
      const unsigned lead = bits(_mm_cmpeq_epi8(hi4, _mm_set1_epi8(static_cast<char>(0xE0))));
      const unsigned cont = bits(_mm_cmpeq_epi8(hi2, _mm_set1_epi8(static_cast<char>(0x80))));
      if (lead != 0x1249u || cont != 0x6DB6u) break;
      const unsigned upper = bits(_mm_cmpeq_epi8(_mm_and_si128(v, _mm_set1_epi8(static_cast<char>(0xE0))),
                                                 _mm_set1_epi8(static_cast<char>(0xA0))));
      const unsigned e0 = bits(_mm_cmpeq_epi8(v, _mm_set1_epi8(static_cast<char>(0xE0))));
      const unsigned ed = bits(_mm_cmpeq_epi8(v, _mm_set1_epi8(static_cast<char>(0xED))));
      if (((e0 << 1) & ~upper) || ((ed << 1) & upper)) return false;
      i += 15;
    }
#endif
    // Three-byte sequences in a row: 1110xxxx 10xxxxxx 10xxxxxx, not overlong (E0 needs a second byte
    // >= A0) and not a surrogate (ED needs one < A0). The lead's low nibble and the second byte's 0x20 bit
    // tell both apart: 0 is overlong, 0x0D|0x20 a surrogate.
    while (i + 4 <= n) {
      uint32_t w;
      std::memcpy(&w, p + i, 4);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
      w = __builtin_bswap32(w);
#endif
      if ((w & 0x00C0C0F0u) != 0x008080E0u) break;
      const uint32_t t = (w & 0x0Fu) | ((w >> 8) & 0x20u);
      if (t == 0 || t == 0x2Du) return false;
      i += 3;
    }
    if (i >= n) break;
    unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if ((c & 0xe0) == 0xc0) len = 2, cp = c & 0x1f;
    else if ((c & 0xf0) == 0xe0) len = 3, cp = c & 0x0f;
    else if ((c & 0xf8) == 0xf0) len = 4, cp = c & 0x07;
    else return false;
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3f);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    i += len;
  }
  return true;
}

bool iconvToUtf8(std::string_view in, const char* fromCode, std::string& out, size_t& badAt) {
  iconv_t cd = iconv_open("UTF-8", fromCode);
  if (cd == reinterpret_cast<iconv_t>(-1)) {
    badAt = 0;
    return false;
  }
  out.assign(in.size() * 2 + 16, '\0');
  char* src = const_cast<char*>(in.data());
  size_t srcLeft = in.size();
  char* dst = out.data();
  size_t dstLeft = out.size();
  bool ok = true;
  while (srcLeft > 0) {
    if (iconv(cd, &src, &srcLeft, &dst, &dstLeft) == static_cast<size_t>(-1)) {
      if (errno == E2BIG) {
        size_t used = out.size() - dstLeft;
        out.resize(out.size() * 2);
        dst = out.data() + used;
        dstLeft = out.size() - used;
        continue;
      }
      ok = false;
      badAt = in.size() - srcLeft;
      break;
    }
  }
  out.resize(out.size() - dstLeft);
  iconv_close(cd);
  return ok;
}

// GB18030 (superset of GBK and GB2312) -> UTF-8.
bool gb18030ToUtf8(std::string_view in, std::string& out, size_t& badAt) {
  return iconvToUtf8(in, "GB18030", out, badAt);
}

void appendUtf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool parseSecondFraction(std::string_view t, size_t& p, int& ms) {
  const size_t b = p;
  int scale = 100;
  ms = 0;
  while (p < t.size() && t[p] >= '0' && t[p] <= '9') {
    ms += (t[p] - '0') * scale;
    scale /= 10;
    ++p;
  }
  return p != b;
}

int64_t daysFromCivil(int64_t y, unsigned m, unsigned d) {  // Howard Hinnant's algorithm
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void civilFromDays(int64_t z, int& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<int>(static_cast<int64_t>(yoe) + era * 400 + (m <= 2));
}

std::string formatIsoUtc(int64_t ms) {
  int64_t s = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  int64_t days = s >= 0 ? s / 86400 : (s - 86399) / 86400;
  int64_t rem = s - days * 86400;
  int y;
  unsigned m, d;
  civilFromDays(days, y, m, d);
  char buf[40];
  snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ", y, m, d, int(rem / 3600), int(rem % 3600 / 60),
           int(rem % 60));
  return buf;
}

double greatCircleKm(double lat1, double lon1, double lat2, double lon2) {
  constexpr double kR = 6371.0088, kRad = M_PI / 180.0;
  double dLat = (lat2 - lat1) * kRad, dLon = (lon2 - lon1) * kRad;
  double a = std::sin(dLat / 2) * std::sin(dLat / 2) +
             std::cos(lat1 * kRad) * std::cos(lat2 * kRad) * std::sin(dLon / 2) * std::sin(dLon / 2);
  return 2 * kR * std::asin(std::min(1.0, std::sqrt(a)));
}

std::string_view trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\r' || s[b] == '\n')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r' || s[e - 1] == '\n')) --e;
  return s.substr(b, e - b);
}

std::string lowerAscii(std::string_view s) {
  std::string r(s);
  for (auto& c : r)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return r;
}

std::string upperAscii(std::string_view s) {
  std::string r(s);
  for (auto& c : r)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return r;
}

int jsonDepth(std::string_view s) {
  int depth = 0, maxDepth = 0;
  bool inStr = false, esc = false;
  for (char c : s) {
    if (inStr) {
      if (esc)
        esc = false;
      else if (c == '\\')
        esc = true;
      else if (c == '"')
        inStr = false;
    } else if (c == '"') {
      inStr = true;
    } else if (c == '{' || c == '[') {
      maxDepth = depth + 1 > maxDepth ? depth + 1 : maxDepth;
      ++depth;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return maxDepth;
}

}  // namespace alertbus
