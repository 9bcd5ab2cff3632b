// SMS segmentation: how many messages a UTF-8 text becomes on the air, and the exact text of each part.
// Pure and allocation-bounded by the input; no I/O. Invariant: every part is valid UTF-8 and no part splits
// a character, a UTF-16 surrogate pair or a GSM 03.38 extension escape.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "model/decode_util.h"

namespace alertbus::sms {

enum class SmsEncoding { gsm7, ucs2 };

// "GSM-7" or "UCS-2".
std::string_view encodingName(SmsEncoding e);

// Limits per SMS, in the encoding's unit (GSM-7 septets, UCS-2 UTF-16 code units). A concatenated
// message loses 6 octets per part to the user data header: 160 -> 153 septets, 70 -> 67 code units.
constexpr int kGsm7SingleUnits = 160;
constexpr int kGsm7PartUnits = 153;
constexpr int kUcs2SingleUnits = 70;
constexpr int kUcs2PartUnits = 67;
constexpr int kMaxPartsLimit = 255;  // the concatenation header counts parts in one octet

// Septets the code point takes in GSM 03.38: 1 (default alphabet), 2 (extension table: ^ { } \ [ ~ ] |
// € and form feed, sent as ESC + char), 0 if not representable.
int gsm7Septets(char32_t cp);

// GSM-7 when every character (after replacing invalid UTF-8 with U+FFFD, which is not GSM) is in the
// default alphabet or its extension table, else UCS-2. Note that some ASCII is not GSM-7: '`' and
// control characters other than LF and CR. O(n).
SmsEncoding chooseEncoding(std::string_view utf8);

struct Segmentation {
  SmsEncoding encoding = SmsEncoding::gsm7;
  std::vector<std::string> parts;  // UTF-8, in order; exactly one (possibly empty) part for an empty text
  std::vector<int> partUnits;      // units of each part (septets or UTF-16 code units), parallel to parts
  int units = 0;                   // sum of partUnits: what is sent
  int unitsNeeded = 0;             // units of the whole text before truncation (== units if not truncated)
  bool truncated = false;          // the text did not fit maxParts: cut on a character boundary, ends with
                                   // "…" (UCS-2) or "..." (GSM-7)
  bool invalidUtf8 = false;        // some bytes were not UTF-8 and were replaced by U+FFFD
};

// Splits `utf8` into SMS parts. One part if the text fits a single SMS (160 septets / 70 code units),
// else parts of at most 153 / 67 units each. A character outside the BMP counts 2 UTF-16 units, an
// extension character 2 septets; neither is split across parts (the part ends 1 unit short instead).
// If more than `maxParts` parts would be needed, the text is truncated so that it fits maxParts parts
// with the ellipsis (trailing spaces before the ellipsis are dropped) and `truncated` is set.
// maxParts is clamped to 1..kMaxPartsLimit. Cost O(n) time and memory in the input size.
Segmentation segment(std::string_view utf8, int maxParts);

// Decodes UTF-8 into code points, replacing each maximal invalid subsequence with U+FFFD (Unicode's
// recommended practice); returns whether anything was replaced. Shared with the templates. O(n).
bool decodeUtf8(std::string_view utf8, std::u32string& out);
// The UTF-8 encoder is model/decode_util's (one for the SMS outlet and the CAP reader).
using alertbus::appendUtf8;

}  // namespace alertbus::sms
