// Pure AIS (ITU-R M.1371) decoding for the maritime adapter: NMEA !xxVDM/!xxVDO lines in, decoded position
// and static reports out. No I/O, no clocks, no globals; one AisDecoder per receiver stream, one thread.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace alertbus {

// Position report: types 1/2/3 (class A), 18 (class B) and the position half of 19. Absent optionals are the
// spec's "not available" values (lat 91, lon 181, SOG 1023, COG 3600, heading 511, second >= 60).
struct AisPosition {
  int type = 0;                             // 1, 2, 3, 18 or 19
  uint32_t mmsi = 0;
  std::optional<int> navStatus;             // 0..15, class A only (15 = not defined)
  std::optional<int> rotRaw;                // -127..127 raw ROT_AIS, class A only; -128 (n/a) -> absent
  std::optional<double> rotDegPerMin;       // (raw / 4.733)^2 signed; absent when raw is n/a or +-127 (no TI)
  std::optional<double> sogKnots;           // 0..102.2 (102.2 means >= 102.2)
  bool positionAccurate = false;            // true = DGPS, < 10 m
  std::optional<double> lonDeg;             // -180..180, east positive
  std::optional<double> latDeg;             // -90..90, north positive
  std::optional<double> cogDeg;             // 0..359.9
  std::optional<int> headingDeg;            // 0..359
  std::optional<int> utcSecond;             // 0..59, the second of UTC the report was made
};

// Static and voyage data: type 5 (all fields), 19 (name, ship type, dimensions), 24 part A (name) or
// part B (ship type, callsign, dimensions). Text is 6-bit ASCII with '@' removed and trailing spaces trimmed;
// an empty string means not available.
struct AisStatic {
  int type = 0;                             // 5, 19 or 24
  uint32_t mmsi = 0;
  int part = -1;                            // type 24: 0 = part A, 1 = part B; otherwise -1
  std::optional<uint32_t> imo;              // type 5; 0 -> absent
  std::string callsign;                     // types 5, 24B
  std::string name;                         // types 5, 19, 24A
  std::optional<int> shipType;              // 1..99; 0 -> absent
  int toBowM = 0, toSternM = 0, toPortM = 0, toStarboardM = 0;  // metres from the reference point; 0 = n/a
  int etaMonth = 0, etaDay = 0, etaHour = 24, etaMinute = 60;   // type 5, UTC; 0/0/24/60 = n/a
  std::optional<double> draughtM;           // type 5; 0 -> absent
  std::string destination;                  // type 5
};

// Type 19 carries both halves.
struct AisClassBExtended {
  AisPosition position;
  AisStatic statics;
};

using AisMessage = std::variant<std::monostate, AisPosition, AisStatic, AisClassBExtended>;

// Why a line was refused: the field ("checksum", "fragment", "payload", "type", ...), the offending value as
// it appeared (truncated to 64 bytes) and the reason. text() gives "checksum: *4F != *4E: mismatch".
struct AisRejection {
  std::string field;
  std::string value;
  std::string reason;
  std::string text() const { return field + ": " + value + ": " + reason; }
};

enum class AisOutcome {
  Ignored,    // blank line or '#' comment: not counted as input
  Pending,    // a fragment of a multi-sentence message was stored; nothing to report yet
  Decoded,    // message holds the decoded report
  Skipped,    // well-formed sentence of a message type this decoder does not decode (skippedType)
  Rejected,   // rejection says why; the line changed no state except possibly dropping a pending group
};

enum class AisTimeSource { Received, Prefix, TagBlock };

struct AisResult {
  AisOutcome outcome = AisOutcome::Ignored;
  AisMessage message;                       // set when Decoded
  int skippedType = 0;                      // set when Skipped (0..63)
  AisRejection rejection;                   // set when Rejected
  int64_t timeMs = 0;                       // unix ms: tag block c:, else line prefix timestamp, else receivedMs
  AisTimeSource timeSource = AisTimeSource::Received;
  char channel = 0;                         // 'A', 'B', '1', '2' or 0 when empty
  bool ownShip = false;                     // VDO rather than VDM
  // Where the sentence stands in its message, once its framing was read (0 before: blank, comment, a line
  // refused by its checksum or fields). For count > 1, groupKey is the reassembly group (talker 2 chars,
  // sequence id, channel; '-' for an empty one): after any outcome but Pending that group is no longer
  // pending. For `alertbus-maritime decode` (ais_decode.h), which names the sentences of each report.
  int fragmentCount = 0, fragmentNumber = 0;
  char groupKey[4] = {};
};

struct AisDecoderOptions {
  size_t maxPendingGroups = 64;             // at the limit the oldest pending group is dropped (counted)
  uint64_t maxGroupAgeSentences = 32;       // a pending group older than this many non-blank lines is dropped
  int64_t maxGroupAgeMs = 10000;            // ... or older than this in receivedMs
  size_t maxPayloadChars = 1024;            // per reassembled message; longer is rejected
};

struct AisCounters {
  uint64_t accepted = 0, rejected = 0, skipped = 0, pending = 0, ignored = 0;
  uint64_t droppedGroups = 0;               // pending groups discarded (expired, evicted, restarted)
  std::map<std::string, uint64_t> rejectedByReason;  // "field: reason" -> count
  std::map<std::string, uint64_t> droppedByReason;   // "fragment: reason" -> count
  std::array<uint64_t, 64> skippedByType{};
};

// Decodes one receiver's stream line by line, reassembling multi-sentence messages. Not thread-safe.
// Per line the cost is O(line length); no heap allocation for single-sentence position reports once the
// fragment table is warm (rejections and static reports allocate their strings).
class AisDecoder {
 public:
  explicit AisDecoder(AisDecoderOptions options = {});

  // Feeds one line (with or without its CR/LF/CRLF). receivedMs is the caller's clock, unix ms; it also ages
  // pending groups. Never throws on any input; every non-blank line ends in exactly one counted outcome.
  AisResult feed(std::string_view line, int64_t receivedMs);

  const AisCounters& counters() const { return counters_; }
  size_t pendingGroups() const;

 private:
  struct Group {
    bool used = false;
    char key[4] = {};                       // talker (2), seq id, channel
    int count = 0, next = 0;
    uint64_t startLine = 0;
    int64_t startMs = 0;
    std::string payload;                    // capacity kept across reuse
  };

  AisResult reject(AisResult& r, std::string field, std::string_view value, const char* reason);
  void dropGroup(Group& g, const char* reason);
  void expireGroups(int64_t receivedMs);
  AisResult decodePayload(AisResult& r, std::string_view payload, int fillBits);

  AisDecoderOptions options_;
  AisCounters counters_;
  std::vector<Group> groups_;
  uint64_t lineNo_ = 0;
  std::vector<uint8_t> bits_;               // payload packed 8 bits per byte, reused
};

// Builds 6-bit payloads and whole sentences; for tests, benchmarks and simulators. Not on any hot path.
class AisPayloadWriter {
 public:
  void put(uint32_t value, int bits);       // low `bits` bits of value (two's complement); bits > 32 zero-extend
  void putText(std::string_view text, int chars);  // pads with '@'
  int bitCount() const { return static_cast<int>(bits_.size()); }
  // Armoured payload and fill bits (the payload is padded with zero bits to a whole character).
  std::string payload(int* fillBits) const;

 private:
  std::vector<bool> bits_;
};

// "!AIVDM,<count>,<num>,<seq>,<channel>,<payload>,<fill>*hh" with a correct checksum; talker "AIVDM" default.
std::string aisSentence(std::string_view payload, int fillBits, int count = 1, int num = 1, std::string_view seq = "",
                        char channel = 'A', std::string_view talker = "AIVDM");
// Splits a payload into sentences of at most charsPerSentence characters (fill bits on the last).
std::vector<std::string> aisSentences(std::string_view payload, int fillBits, std::string_view seq, char channel,
                                      size_t charsPerSentence = 60);
// XOR of the bytes of s, as used by NMEA between '!'/'$'/'\' and '*'.
uint8_t nmeaChecksum(std::string_view s);

}  // namespace alertbus
