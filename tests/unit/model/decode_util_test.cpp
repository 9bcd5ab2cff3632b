// isValidUtf8 against a plain reference decoder (the Unicode definition, one code point at a time), on
// hand-picked edge cases and on random strings built to hit the fast paths (ASCII blocks, runs of 3-byte
// CJK sequences) and their edges (a bad byte at every position of a block). The fast paths must never
// change an answer. And parseSecondFraction, shared by the CAP and gauge time parsers.
#include <catch2/catch.hpp>

#include <random>
#include <string>

#include "model/decode_util.h"

using alertbus::isValidUtf8;

namespace {

// Well-formed UTF-8 (RFC 3629): shortest form, no surrogates, at most U+10FFFF.
bool reference(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t len;
    uint32_t cp;
    if (c < 0x80) len = 1, cp = c;
    else if (c >= 0xC2 && c <= 0xDF) len = 2, cp = c & 0x1Fu;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, cp = c & 0x0Fu;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, cp = c & 0x07u;
    else return false;
    if (i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      const auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3Fu);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += len;
  }
  return true;
}

std::string utf8(uint32_t cp) {
  std::string out;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return out;
}

}  // namespace

TEST_CASE("isValidUtf8: edge cases", "[decode_util]") {
  CHECK(isValidUtf8(""));
  CHECK(isValidUtf8("plain ASCII, long enough to fill more than one sixteen-byte block"));
  CHECK(isValidUtf8("宁波市气象台发布台风橙色预警信号，宁波市气象台发布台风橙色预警信号"));  // 3-byte runs > 15 bytes
  CHECK(isValidUtf8(utf8(0x800) + utf8(0xD7FF) + utf8(0xE000) + utf8(0xFFFF) + utf8(0x10000) + utf8(0x10FFFF)));
  CHECK_FALSE(isValidUtf8("\xE0\x80\x80"));          // overlong 3-byte
  CHECK_FALSE(isValidUtf8("\xED\xA0\x80"));          // surrogate U+D800
  CHECK_FALSE(isValidUtf8("\xC0\xAF"));              // overlong 2-byte
  CHECK_FALSE(isValidUtf8("\xF4\x90\x80\x80"));      // beyond U+10FFFF
  CHECK_FALSE(isValidUtf8("\xE5\xAE"));              // cut short
  CHECK_FALSE(isValidUtf8("\xFF"));
  // The same faults inside a run of CJK long enough for the 15-byte step, at each of its positions.
  const std::string cjk = "宁波市气象台发布台风橙色预警信号";
  for (const char* bad : {"\xE0\x80\x80", "\xED\xA0\x80", "\xE5\xAE" "a", "\xE5" "ab"}) {
    for (size_t at = 0; at <= cjk.size(); at += 3) {
      const std::string s = cjk.substr(0, at) + bad + cjk.substr(at);
      INFO("fault at byte " << at);
      CHECK(isValidUtf8(s) == reference(s));
      CHECK_FALSE(isValidUtf8(s));
    }
  }
}

TEST_CASE("isValidUtf8: agrees with the reference decoder on random strings", "[decode_util]") {
  std::mt19937 rng(20261129);
  // Pieces: ASCII, 2-, 3- (mostly CJK, some at the E0/ED edges), 4-byte characters, and single bytes of
  // every value (which break sequences anywhere).
  const uint32_t picks[] = {'a', ' ', '<', 0xE9, 0x4E2D, 0x6C14, 0x800, 0xFFF, 0xD7FF, 0xE000, 0xFFFD, 0x1F600};
  size_t valid = 0, invalid = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string s;
    const int pieces = static_cast<int>(rng() % 40);
    for (int k = 0; k < pieces; ++k) {
      const unsigned r = rng() % 100;
      if (r < 3) s += static_cast<char>(rng() % 256);  // any byte
      else if (r < 40) s += utf8(0x4E00 + rng() % 0x5000);  // CJK runs
      else s += utf8(picks[rng() % (sizeof picks / sizeof picks[0])]);
    }
    const bool want = reference(s);
    INFO("string of " << s.size() << " bytes, round " << round);
    REQUIRE(isValidUtf8(s) == want);
    (want ? valid : invalid) += 1;
  }
  CHECK(valid > 1000);  // both answers are exercised
  CHECK(invalid > 1000);
}

TEST_CASE("parseSecondFraction: milliseconds from the digits after a point", "[decode_util]") {
  size_t p = 1;
  int ms = -1;
  CHECK(alertbus::parseSecondFraction(".250Z", p, ms));
  CHECK(ms == 250);
  CHECK(p == 4);
  p = 1;
  CHECK(alertbus::parseSecondFraction(".5", p, ms));
  CHECK(ms == 500);
  p = 1;
  CHECK(alertbus::parseSecondFraction(".123456+08:00", p, ms));  // past the third digit: read, not counted
  CHECK(ms == 123);
  CHECK(p == 7);
  p = 1;
  CHECK_FALSE(alertbus::parseSecondFraction(".Z", p, ms));  // a point without digits
  CHECK(p == 1);
}
