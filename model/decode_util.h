// Small pure decoding helpers every parser of outside input needs: UTF-8 well-formedness, GB18030 (GBK,
// GB2312) to UTF-8, civil dates to days since the epoch, trimming and case folding, JSON nesting depth,
// great-circle distance. One implementation each, shared by the CAP,
// gauge, fire, AIS/NAVTEX and roster parsers. No I/O; iconv is glibc's converter, not a file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace alertbus {

// Well-formed UTF-8: no overlong forms, surrogates or code points beyond U+10FFFF. Control characters
// are allowed (they are a question of the format, not of the encoding; isCleanUtf8 in validate.h refuses
// them). O(n) with fast paths for ASCII and 3-byte (CJK) runs.
bool isValidUtf8(std::string_view s);

// GB18030 (a superset of GBK and GB2312) to UTF-8 through iconv. False at the first byte that is not
// GB18030, with its offset in `badAt` (0 also when iconv lacks the converter). Thread-safe (an iconv
// state per call). O(n).
bool gb18030ToUtf8(std::string_view in, std::string& out, size_t& badAt);

// `in`, in the encoding iconv calls `fromCode` ("UTF-16LE", "UTF-32BE", "GB18030" ...), to UTF-8. Same
// contract as gb18030ToUtf8: false at the first byte that does not decode (or is cut short), offset in `badAt`.
bool iconvToUtf8(std::string_view in, const char* fromCode, std::string& out, size_t& badAt);

// Appends the UTF-8 encoding of `cp`, which must be a Unicode scalar value (not a surrogate, at most
// U+10FFFF), to `out`.
void appendUtf8(std::string& out, char32_t cp);

// The fraction of a second whose digits start at t[p] (after a '.'): milliseconds (digits past the third
// are read and ignored) into `ms`, and p moved past the digits. False when there is no digit. Shared by the
// CAP and gauge time parsers.
bool parseSecondFraction(std::string_view t, size_t& p, int& ms);

// Days from 1970-01-01 to the proleptic Gregorian date y-m-d (m 1..12, d 1..31), negative before.
// Howard Hinnant's days_from_civil. Pure, O(1).
int64_t daysFromCivil(int64_t y, unsigned m, unsigned d);

// The proleptic Gregorian date of day `z` since 1970-01-01 (Howard Hinnant's civil_from_days). O(1).
void civilFromDays(int64_t z, int& y, unsigned& m, unsigned& d);

// `ms` since the epoch as ISO 8601 UTC to the second, "2022-08-31T00:03:00Z" (floored, also before 1970).
// The one formatter for texts and logs (fire reports, feed health, the CLI).
std::string formatIsoUtc(int64_t ms);

// Great-circle distance in km between two WGS 84 points (degrees), on the mean Earth radius 6371.0088 km
// (haversine). Accurate to about 0.5 % (the Earth is not a sphere): fine for alert areas and ships.
double greatCircleKm(double lat1, double lon1, double lat2, double lon2);

// `s` without leading and trailing spaces, tabs, CRs and LFs.
std::string_view trim(std::string_view s);
// ASCII letters folded; other bytes (UTF-8 included) unchanged.
std::string lowerAscii(std::string_view s);
std::string upperAscii(std::string_view s);

// Nesting depth ({ and [) of a JSON text outside strings: bounded work before a recursive parser sees it.
int jsonDepth(std::string_view s);

}  // namespace alertbus
