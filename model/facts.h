// The routing-relevant facts of one message, extracted once per message and shared by validation,
// routing, priority and status. Pure value types: no Cap'n Proto readers escape this struct, so rules
// and benchmarks can build facts by hand.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "schemas/message.capnp.h"

namespace alertbus {

enum class Kind : uint8_t { unspecified, warning, forecast, observation, sitrep, instruction, fusedAlert, ack };

// Lower-case names as used in config files and JSON ("warning", "fusedAlert" -> "fused_alert").
std::string_view kindName(Kind k);
bool parseKind(std::string_view name, Kind& out);
std::string_view statusName(schema::Status s);
bool parseStatus(std::string_view name, schema::Status& out);
std::string_view msgTypeName(schema::MsgType t);
bool parseMsgType(std::string_view name, schema::MsgType& out);
std::string_view categoryName(schema::Category c);
bool parseCategory(std::string_view name, schema::Category& out);

// Ranks where a larger number is more serious; 0 means "not stated".
int severityRank(schema::Severity s);        // minor 1, moderate 2, severe 3, extreme 4; unknown 0
int colourRank(schema::Colour c);            // blue 1, yellow 2, orange 3, red 4
int responseLevelRank(schema::ResponseLevel l);  // IV 1, III 2, II 3, I 4
bool parseSeverityRank(std::string_view name, int& rank);   // "minor".."extreme"
bool parseColourRank(std::string_view name, int& rank);     // "blue".."red"
bool parseResponseLevelRank(std::string_view name, int& rank);  // "IV".."I"

struct GeoPoint {
  double lat = 0;  // degrees
  double lon = 0;  // degrees
};
struct GeoCircle {
  GeoPoint center;
  double radiusKm = 0;
};
using GeoRing = std::vector<GeoPoint>;

struct MessageFacts {
  std::string sender;                    // authenticated agency
  std::string id;
  schema::Status status = schema::Status::UNSPECIFIED;
  schema::MsgType msgType = schema::MsgType::UNSPECIFIED;
  Kind kind = Kind::unspecified;
  std::vector<std::string> events;       // distinct event codes (info.eventCode, observation.event, ...)
  std::vector<schema::Category> categories;
  int severityRank = 0;                  // max over infos; colour implies severity when severity absent
  int colourRank = 0;                    // max over infos; severity implies colour when colour absent
  int responseLevelRank = 0;             // fused alerts and instructions
  std::vector<std::string> adminCodes;   // every GB/T 2260 code of every area
  std::vector<GeoRing> polygons;
  std::vector<GeoCircle> circles;
  int64_t sentMs = 0;

  // Level I/II traffic: red/orange, extreme/severe, or response level I/II. Overtakes routine traffic.
  bool urgent() const { return colourRank >= 3 || severityRank >= 3 || responseLevelRank >= 3; }
};

// Extracts facts from a decoded (already bounds-checked) message. `sender` is the authenticated agency.
MessageFacts extractFacts(schema::Message::Reader m, std::string_view sender);
// The same into `out`, reusing its buffers (the broker's hot path: no allocation once warm).
void extractFacts(schema::Message::Reader m, std::string_view sender, MessageFacts& out);

// GB/T 2260 administrative code -> the prefix that identifies the region, so that descendants share it:
// "330000" -> "33", "330200" -> "3302", "330212" -> "330212", "330212001000" -> "330212001".
// Returns an empty string for a code that is not 6 or 12 ASCII digits.
std::string adminPrefix(std::string_view code);

}  // namespace alertbus
