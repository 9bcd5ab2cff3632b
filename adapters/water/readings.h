// Gauge readings from one input (Chinese hydrology CSV or OGC WaterML 2.0) -> Reading values. Pure: no
// I/O, no clock, no globals; safe on distinct inputs from any thread. Never throws on bad input.
// A Reading is only syntactically valid here; plausibility (no-data markers, spikes, future times,
// unknown stations) is judged by GaugeMonitor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/common/output.h"

namespace alertbus::water {

struct WaterOptions;  // adapters/water/gauge_monitor.h

constexpr const char* kCsvContentType = "text/csv";
// WaterML 2.0 has no IANA-registered media type; this "vnd.ogc" name is the one some OGC client libraries
// use. Chosen for provenance only (nothing routes on it); change it here if the runtime wants another.
constexpr const char* kWaterMl2ContentType = "application/vnd.ogc.waterml2+xml";

struct Reading {
  std::string station;       // STCD / WaterML monitoring point identifier
  std::string stationName;   // STNM / featureOfInterest title as received ("" if absent)
  std::string quantity;      // "waterLevel" | "discharge"
  double value = 0;          // in `unit`; may be non-finite or a no-data marker (judged by GaugeMonitor)
  std::string unit;          // "m" / "m3/s" after conversion (ft -> m, ft3/s -> m3/s); else as received
  int64_t timeMs = 0;        // ms since the Unix epoch, UTC
  std::string position;      // "line 12" | "point[5]" | "series[2]/point[5]"
  std::string valueField;    // input field of the value: "Z", "Q" (CSV) or "value" (WaterML)
  std::string timeField;     // "TM" or "time"
  std::string rawValue;      // the value as received (for problems)
  std::string rawTime;       // the time as received (for problems)
  std::string original;      // the CSV line bytes as received (before GBK conversion) / the XML point
  std::string contentType;   // kCsvContentType | kWaterMl2ContentType
  size_t index = 0;          // order in the input (problems are reported in input order)
};

struct ReadingsResult {
  std::string format;        // "csv" | "waterml2" | "" (unsupported or unreadable input)
  std::vector<Reading> readings;              // input order; a CSV line with Z and Q yields two
  std::vector<adapter::InputProblem> problems;  // input order; at most max_problems_per_input, then one
                                                // "N more" summary problem (rejected still counts all)
  size_t rejected = 0;       // readings/lines refused here (each has an error problem); 1 for a document
                             // refused as a whole (unsupported, malformed, too large, empty)
};

// Detects the format and parses. `bytes` need not outlive the call; `source` names the input in problems.
// Detection: first non-blank byte '<' -> XML (WaterML 2.0 namespace http://www.opengis.net/waterml/2.0
// required, any prefix; DOCTYPE/ENTITY refused); a header line naming STCD and TM -> CSV; otherwise one
// error "unsupported format (looks like USGS RDB | USGS NWIS WaterML-JSON | UK EA flood-monitoring JSON |
// WaterML 1.1 | JSON | binary data | ...)". Larger than options.maxFileBytes: refused unread.
//
// CSV: header with STCD, TM and at least one of Z, Q; STNM optional; other columns ignored with one
// warning. TM "YYYY-MM-DD hh:mm[:ss]" ('/' date separators and a 'T' accepted) in
// options.defaultUtcOffsetMinutes, or ISO 8601 with Z/+hh:mm. Empty Z or Q: no reading for it; both empty:
// the line is refused. Encoding UTF-8 (BOM ok) or GB18030/GBK (whole input not valid UTF-8; converted per
// line with iconv); LF/CRLF/CR; blank lines skipped; lines longer than options.maxLineBytes refused.
//
// WaterML 2.0: every wml2:MeasurementTimeseries (inside om:OM_Observation). Station code: the
// MonitoringPoint's gml:identifier, else the document's (Collection) gml:identifier, else the
// featureOfInterest xlink:href, else the MonitoringPoint gml:id. Quantity from om:observedProperty
// (xlink:title / xlink:href): discharge|flow|USGS 00060 -> "discharge"; stage|gage/gauge height|level|
// USGS 00065 -> "waterLevel"; anything else refuses the series' points. Unit: wml2:uom @code, else
// @xlink:title (point metadata over default metadata): ft/[ft_i] -> m, ft3/s/cfs -> m3/s, cm -> m; an
// absent unit means m / m3/s. Time: ISO 8601; a date alone is 00:00 at the default offset. A point whose
// value is xsi:nil, empty or missing, or whose metadata carries a nilReason, is refused ("nil value").
// Cost: linear in the input.
ReadingsResult parseReadings(std::string_view bytes, std::string_view source, const WaterOptions& options);

// Parses "YYYY-MM-DD[( |T)hh:mm[:ss[.fff]]][Z|(+|-)hh[:]mm]" ('/' also accepted in the date) into ms since
// the Unix epoch; a time without an offset is taken at `defaultOffsetMinutes` east of UTC. False if
// malformed or out of range.
bool parseWaterTime(std::string_view text, int defaultOffsetMinutes, int64_t& ms);

}  // namespace alertbus::water

// Text helpers shared by the stations and readings CSV parsers (internal to alertbus_water).
namespace alertbus::water::detail {

struct CsvLine {
  size_t number = 0;      // 1-based line number in the input
  std::string_view raw;   // the line's bytes as received, without its line end
  std::string text;       // UTF-8 text ("" when !ok)
  bool ok = true;         // false: too long, or not decodable; `reason` says why
  std::string reason;
};

// Streams the lines of an input, one at a time (memory O(longest line), whatever the line count): strips
// a UTF-8 BOM, splits on LF / CRLF / CR, skips blank lines, decodes: the whole input valid UTF-8 -> lines
// as is; else each line converted from GB18030 (a superset of GBK and GB2312) with iconv. Lines longer
// than maxLineBytes come back with ok = false (not converted). `bytes` must outlive the reader.
class LineReader {
 public:
  LineReader(std::string_view bytes, size_t maxLineBytes);
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;
  bool gb18030() const { return gb18030_; }
  // The next non-blank line into `line`; false at the end of the input.
  bool next(CsvLine& line);

 private:
  std::string_view bytes_;
  size_t maxLineBytes_;
  size_t pos_ = 0;
  size_t number_ = 0;
  bool gb18030_ = false;
};

// Splits one CSV record: `sep` separated cells, "quoted" cells with "" escapes, cells trimmed of spaces
// outside quotes. False if a quote is left open.
bool splitCsv(std::string_view line, char sep, std::vector<std::string>& cells);


// A decimal number ("12.5", "-3", "1e3", "+4"); "nan"/"inf" give non-finite values. False if not a number.
bool parseNumber(std::string_view s, double& v);

}  // namespace alertbus::water::detail
