// SMS segmentation (outlets/sms/segment.h): encoding choice, the exact single/concatenated limits on
// both sides of each boundary, characters that must not be split (surrogate pairs, GSM escapes),
// truncation to max parts, and invalid UTF-8.
#include "outlets/sms/segment.h"

#include <catch2/catch.hpp>

#include <string>

using namespace alertbus::sms;

namespace {

std::string rep(const std::string& s, int n) {
  std::string r;
  for (int i = 0; i < n; ++i) r += s;
  return r;
}

const std::string kZh = "台";          // one BMP character: 1 UCS-2 unit
const std::string kEmoji = "\U0001F300";  // outside the BMP: a surrogate pair, 2 UCS-2 units

std::string joined(const Segmentation& s) {
  std::string r;
  for (auto& p : s.parts) r += p;
  return r;
}

}  // namespace

TEST_CASE("segment: encoding is GSM-7 only for the GSM 03.38 alphabet and its extension table", "[sms][segment]") {
  CHECK(chooseEncoding("") == SmsEncoding::gsm7);
  CHECK(chooseEncoding("Typhoon warning: reply 1234 to confirm.") == SmsEncoding::gsm7);
  CHECK(chooseEncoding("@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà\r\n") == SmsEncoding::gsm7);
  CHECK(chooseEncoding("^{}\\[~]|€") == SmsEncoding::gsm7);
  CHECK(chooseEncoding("back`tick") == SmsEncoding::ucs2);   // ASCII but not GSM
  CHECK(chooseEncoding("tab\there") == SmsEncoding::ucs2);
  CHECK(chooseEncoding("façade") == SmsEncoding::ucs2);      // ç is not GSM (only Ç is)
  CHECK(chooseEncoding("台风") == SmsEncoding::ucs2);
  CHECK(chooseEncoding("ab\xff") == SmsEncoding::ucs2);      // U+FFFD replaces the bad byte
  CHECK(gsm7Septets(U'a') == 1);
  CHECK(gsm7Septets(U'{') == 2);
  CHECK(gsm7Septets(0x20AC) == 2);
  CHECK(gsm7Septets(U'`') == 0);
}

TEST_CASE("segment: UCS-2 boundary 70 in one SMS and 71 in two parts of 67", "[sms][segment]") {
  SECTION("70 characters: one SMS") {
    auto s = segment(rep(kZh, 70), 4);
    CHECK(s.encoding == SmsEncoding::ucs2);
    REQUIRE(s.parts.size() == 1);
    CHECK(s.partUnits[0] == 70);
    CHECK(s.units == 70);
    CHECK_FALSE(s.truncated);
  }
  SECTION("71 characters: 67 + 4") {
    auto s = segment(rep(kZh, 71), 4);
    REQUIRE(s.parts.size() == 2);
    CHECK(s.parts[0] == rep(kZh, 67));
    CHECK(s.parts[1] == rep(kZh, 4));
    CHECK(s.partUnits == std::vector<int>{67, 4});
    CHECK(s.units == 71);
  }
  SECTION("134 characters: exactly two full parts; 135: three") {
    CHECK(segment(rep(kZh, 134), 4).partUnits == std::vector<int>{67, 67});
    CHECK(segment(rep(kZh, 135), 4).partUnits == std::vector<int>{67, 67, 1});
  }
  SECTION("one Chinese character makes an ASCII text UCS-2") {
    auto s = segment(rep("a", 69) + kZh, 4);
    CHECK(s.encoding == SmsEncoding::ucs2);
    CHECK(s.parts.size() == 1);
    CHECK(segment(rep("a", 70) + kZh, 4).parts.size() == 2);
  }
}

TEST_CASE("segment: GSM-7 boundary 160 in one SMS and 161 in two parts of 153", "[sms][segment]") {
  SECTION("160 characters: one SMS") {
    auto s = segment(rep("a", 160), 4);
    CHECK(s.encoding == SmsEncoding::gsm7);
    REQUIRE(s.parts.size() == 1);
    CHECK(s.units == 160);
  }
  SECTION("161 characters: 153 + 8") {
    auto s = segment(rep("a", 161), 4);
    REQUIRE(s.parts.size() == 2);
    CHECK(s.parts[0] == rep("a", 153));
    CHECK(s.partUnits == std::vector<int>{153, 8});
  }
  SECTION("306 characters: two full parts; 307: three") {
    CHECK(segment(rep("a", 306), 4).partUnits == std::vector<int>{153, 153});
    CHECK(segment(rep("a", 307), 4).partUnits == std::vector<int>{153, 153, 1});
  }
}

TEST_CASE("segment: GSM extension characters count two septets and are never split", "[sms][segment]") {
  SECTION("80 braces are 160 septets: one SMS; 81 are two parts") {
    CHECK(segment(rep("{", 80), 4).partUnits == std::vector<int>{160});
    auto s = segment(rep("{", 81), 4);
    CHECK(s.partUnits == std::vector<int>{152, 10});  // the 77th brace would need septets 153 and 154
    CHECK(s.parts[0] == rep("{", 76));
  }
  SECTION("an escape that would straddle the part boundary moves to the next part") {
    auto s = segment(rep("a", 152) + "[" + rep("b", 10), 4);
    REQUIRE(s.parts.size() == 2);
    CHECK(s.parts[0] == rep("a", 152));
    CHECK(s.parts[1] == "[" + rep("b", 10));
    CHECK(s.partUnits == std::vector<int>{152, 12});
  }
  SECTION("the euro sign stays GSM-7 and counts two") {
    auto s = segment("Fine 5€", 4);
    CHECK(s.encoding == SmsEncoding::gsm7);
    CHECK(s.units == 8);
    CHECK(segment(rep("€", 80), 4).parts.size() == 1);
    CHECK(segment(rep("€", 81), 4).parts.size() == 2);
    CHECK(segment(rep("a", 159) + "€", 4).parts.size() == 2);  // 161 septets
  }
}

TEST_CASE("segment: a surrogate pair counts two units and is never split", "[sms][segment]") {
  SECTION("69 characters and one emoji make 71 units: two parts") {
    auto s = segment(rep(kZh, 69) + kEmoji, 4);
    CHECK(s.encoding == SmsEncoding::ucs2);
    CHECK(s.units == 71);
    CHECK(s.partUnits == std::vector<int>{67, 4});
    CHECK(s.parts[1] == rep(kZh, 2) + kEmoji);
  }
  SECTION("68 characters and one emoji make 70 units: one SMS") {
    CHECK(segment(rep(kZh, 68) + kEmoji, 4).partUnits == std::vector<int>{70});
  }
  SECTION("an emoji at units 67-68 moves whole to part 2") {
    auto s = segment(rep(kZh, 66) + kEmoji + rep(kZh, 10), 4);
    REQUIRE(s.parts.size() == 2);
    CHECK(s.parts[0] == rep(kZh, 66));
    CHECK(s.parts[1] == kEmoji + rep(kZh, 10));
    CHECK(s.partUnits == std::vector<int>{66, 12});
  }
}

TEST_CASE("segment: a text longer than max parts is cut on a character boundary with an ellipsis", "[sms][segment]") {
  SECTION("UCS-2: 300 characters into 2 parts") {
    auto s = segment(rep(kZh, 300), 2);
    CHECK(s.truncated);
    REQUIRE(s.parts.size() == 2);
    CHECK(s.parts[0] == rep(kZh, 67));
    CHECK(s.parts[1] == rep(kZh, 66) + "…");
    CHECK(s.partUnits == std::vector<int>{67, 67});
    CHECK(s.units == 134);
    CHECK(s.unitsNeeded == 300);
  }
  SECTION("GSM-7: 400 characters into 2 parts end with three dots") {
    auto s = segment(rep("a", 400), 2);
    CHECK(s.truncated);
    CHECK(s.parts[1] == rep("a", 150) + "...");
    CHECK(s.partUnits == std::vector<int>{153, 153});
  }
  SECTION("one part uses the single-SMS limit") {
    auto s = segment(rep(kZh, 100), 1);
    REQUIRE(s.parts.size() == 1);
    CHECK(s.parts[0] == rep(kZh, 69) + "…");
    CHECK(s.units == 70);
  }
  SECTION("an escape that does not fit before the dots is dropped whole") {
    auto s = segment(rep("a", 156) + "{{{", 1);
    CHECK(s.parts[0] == rep("a", 156) + "...");
    CHECK(s.units == 159);
  }
  SECTION("a surrogate pair that does not fit before the ellipsis is dropped whole") {
    auto s = segment(rep(kZh, 68) + kEmoji + rep(kZh, 5), 1);
    CHECK(s.parts[0] == rep(kZh, 68) + "…");
    CHECK(s.units == 69);
  }
  SECTION("spaces before the ellipsis are dropped") {
    auto s = segment(rep("a", 150) + rep(" ", 20), 1);
    CHECK(s.parts[0] == rep("a", 150) + "...");
  }
  SECTION("a text that fits is not touched, and max parts is clamped to at least 1") {
    CHECK_FALSE(segment(rep(kZh, 268), 4).truncated);
    CHECK(segment(rep(kZh, 269), 4).truncated);
    auto s = segment(rep(kZh, 71), 0);
    CHECK(s.truncated);
    CHECK(s.parts.size() == 1);
  }
}

TEST_CASE("segment: invalid UTF-8 is replaced with U+FFFD and flagged", "[sms][segment]") {
  const std::string fffd = "\xEF\xBF\xBD";
  SECTION("a stray byte") {
    auto s = segment("ab\xff" "cd", 4);
    CHECK(s.invalidUtf8);
    CHECK(s.encoding == SmsEncoding::ucs2);
    CHECK(s.parts[0] == "ab" + fffd + "cd");
  }
  SECTION("a sequence cut short at the end becomes one replacement") {
    auto s = segment("台\xe9\xa3", 4);
    CHECK(s.parts[0] == "台" + fffd);
    CHECK(s.units == 2);
  }
  SECTION("overlong and surrogate encodings are rejected") {
    CHECK(segment("\xc0\xaf", 4).parts[0] == fffd + fffd);
    CHECK(segment("\xed\xa0\x80", 4).parts[0] == fffd + fffd + fffd);
    CHECK(segment("\xf4\x90\x80\x80", 4).invalidUtf8);  // above U+10FFFF
  }
  SECTION("valid text is not flagged") {
    CHECK_FALSE(segment("台风 typhoon " + kEmoji, 4).invalidUtf8);
  }
}

TEST_CASE("segment: the parts put back together are the text and an empty text is one empty SMS", "[sms][segment]") {
  std::string text = rep("宁波市气象台发布台风橙色预警信号。", 12) + kEmoji + "回复1234确认收到。";
  auto s = segment(text, 10);
  CHECK_FALSE(s.truncated);
  CHECK(joined(s) == text);
  int sum = 0;
  for (int u : s.partUnits) sum += u;
  CHECK(sum == s.units);
  auto e = segment("", 4);
  REQUIRE(e.parts.size() == 1);
  CHECK(e.parts[0].empty());
  CHECK(e.units == 0);
}

TEST_CASE("segment: a megabyte of text is cut quickly", "[sms][segment]") {
  auto s = segment(rep("台风", 500000), 4);  // O(n): would take minutes if quadratic
  CHECK(s.truncated);
  CHECK(s.units == 4 * 67);
}
