// `alertbus-maritime decode`: every AIS report a receiver's log or stream holds, as one JSON object per line, so
// a maritime agency can check its receiver's feed (and our decoder) against its own decoder. Pure: lines in,
// output lines out (main.cpp does the reading and writing); one AisDecodeStream per input, one thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/maritime/ais.h"

namespace alertbus::maritime {

// One line of output: a report (JSON, for stdout) or a diagnostic (text, for stderr).
struct AisDecodeLine {
  enum class Kind { report, diagnostic };
  Kind kind = Kind::report;
  std::string text;  // no line end
};

// Decodes a stream line by line with AisDecoder (same framing, reassembly and limits as the adapter).
//
// A report is one JSON object (nlohmann json, compact, invalid UTF-8 in the raw lines replaced by U+FFFD):
//   {"line":7,"type":5,"part":null,"mmsi":412345678,"lat":null,"lon":null,"speed_knots":null,
//    "course_deg":null,"heading_deg":null,"name":"ZHE DAI YU 168","callsign":"BVZH7","ship_type":70,
//    "sentences":["!AIVDM,2,1,3,B,...*hh","!AIVDM,2,2,3,B,...*hh"]}
// Every key is always present; null means the report does not carry the field or carries the spec's "not
// available" value (lat 91, lon 181, speed 1023, course 3600, heading 511, empty text, ship type 0). Units:
// degrees (north and east positive, 7 decimals: AIS resolution is 1/10000 minute), knots and degrees true (1
// decimal). "line" is the 1-based line number of the report's last sentence; "part" is "A" or "B" for type 24;
// "sentences" are the input lines it was decoded from, as read (tag block, prefix and trailing metadata kept).
// Types 1/2/3/18 are positions; 5 and 24 static data; 19 both.
//
// A diagnostic is "line N: <why>": a line refused (AisRejection::text(): "checksum: *4F != *5C: mismatch (given
// != computed)"), a well-formed sentence of a type this decoder does not read ("type 4: not decoded (types
// 1, 2, 3, 5, 18, 19 and 24 are)"), or a multi-sentence message that never completed (N is its first
// fragment's line): restarted, broken off by a refused fragment, evicted, or cut off by the end of input.
// Blank lines and '#' comments give nothing.
class AisDecodeStream {
 public:
  explicit AisDecodeStream(AisDecoderOptions options = {});

  // One line of input without its line end; `lineNo` is its 1-based number in the input; `receivedMs` (unix ms)
  // ages pending fragments as in AisDecoder::feed. Appends at most two lines to `out`. Never throws on input.
  void feed(std::string_view line, uint64_t lineNo, int64_t receivedMs, std::vector<AisDecodeLine>& out);

  // At the end of the input: a diagnostic for each message whose fragments never all arrived.
  void finish(std::vector<AisDecodeLine>& out);

  const AisCounters& counters() const { return decoder_.counters(); }

 private:
  // The lines of a multi-sentence message read so far, under AisDecoder's group key (talker, sequence id,
  // channel). At most options.maxPendingGroups of them (the oldest goes, with a diagnostic, past that).
  struct Pending {
    std::string key;
    int count = 0;
    std::vector<std::pair<uint64_t, std::string>> lines;  // line number, raw line
  };

  void drop(size_t index, const std::string& why, std::vector<AisDecodeLine>& out);

  AisDecoderOptions options_;
  AisDecoder decoder_;
  std::vector<Pending> pending_;
};

}  // namespace alertbus::maritime
