// Hydrology station list (测站表) CSV -> Station records. Pure: bytes in, values and problems out; no I/O.
// Invariant of every returned Station: code is 1..64 bytes of [A-Za-z0-9._-] (safe inside message ids),
// position in range, thresholds that are present strictly increase FRZ < WRZ < GRZ.
#pragma once

#include <cmath>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/common/output.h"

namespace alertbus::water {

struct WaterOptions;  // adapters/water/gauge_monitor.h

struct Station {
  enum class Kind { river, reservoir };
  std::string code;        // STCD, e.g. "63402500"
  std::string name;        // STNM, UTF-8, e.g. "余姚"
  std::string adminCode;   // ADDVCD, 6 or 12 ASCII digits, or "" when absent
  double lat = 0;          // LTTD, WGS 84 degrees
  double lon = 0;          // LGTD, WGS 84 degrees
  std::string type;        // STTP as given: "ZZ", "ZQ" (river) or "RR" (reservoir)
  Kind kind = Kind::river;
  double frzM = NAN;       // FRZ 汛限水位 (precaution), metres; NaN = none
  double wrzM = NAN;       // WRZ 警戒水位 (warning), metres; NaN = none
  double grzM = NAN;       // GRZ 保证水位 (guaranteed), metres; NaN = none
  double maxRiseMPerH = NAN;  // MAXRISE, largest plausible |rise| in m/h; the default from options when empty
  // "river-level" or "reservoir-level": the event family of everything this station publishes.
  const char* event() const { return kind == Kind::reservoir ? "reservoir-level" : "river-level"; }
};

struct StationsResult {
  std::vector<Station> stations;              // valid rows, file order; duplicates of a code keep the first
  std::vector<adapter::InputProblem> problems;  // one error per refused row or per file-level problem; at most
                                              // max_problems_per_input, then one "N more" summary
  bool fileRejected = false;                  // header/size/encoding problem: no row was read
};

// Parses a stations CSV file. `bytes` need not outlive the call; `source` names it in problems.
// Header row (any column order, names case-insensitive, trimmed): STCD, STNM, ADDVCD, LGTD, LTTD, STTP
// required; FRZ, WRZ, GRZ, MAXRISE optional (cells may be empty). Any other column name is an error
// naming it (the whole file is refused: a misspelt threshold column must not silently disable warnings).
// Separator: ',' (or TAB when the header has tabs and no commas); "quoted, cells" with "" escapes, one
// line per record. Encoding: UTF-8 (BOM tolerated) or, if the file is not valid UTF-8, GB18030/GBK
// converted with iconv line by line. Line ends LF, CRLF or CR; blank lines skipped.
// Row errors (row refused, the rest goes through): missing/invalid STCD, duplicate STCD, STTP not
// ZZ/ZQ/RR, LGTD/LTTD not a number in range, ADDVCD not 6/12 digits, threshold or MAXRISE not a number,
// thresholds not increasing ("FRZ=21.00 >= WRZ=20.00"). At most options.maxStations stations; rows
// beyond are refused. Input larger than options.maxFileBytes is refused unread.
// Cost: linear in the input.
StationsResult parseStations(std::string_view bytes, std::string_view source, const WaterOptions& options);

}  // namespace alertbus::water
