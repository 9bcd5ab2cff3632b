// NAVTEX receptions (ZCZC B1B2B3B4 ... NNNN frames, as written by receivers and decoders) -> alertbus
// Messages: one payload.warning (or forecast) Info per frame, with positions, date-time group and cancellations
// parsed from the free text. Pure (no I/O, no clock), bounded (maxMessageBytes, remembered ids), one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <string_view>

#include "adapters/common/output.h"

namespace alertbus::maritime {

// TOML [maritime.navtex] keys map 1:1 (point_radius_km, max_garble_ratio, ...); station_names is a table
// { Q = "Shanghai", ... }.
struct NavtexOptions {
  double pointRadiusKm = 2.0;          // km; a message with one position gets a circle of this radius
  double maxGarbleRatio = 0.10;        // 0..1; more garbled characters than this (of the non-blank characters
                                       // after the header) and the frame is rejected; any garble at all (or a
                                       // missing NNNN) keeps it as low-confidence (certainty unknown)
  size_t maxMessageBytes = 16384;      // a frame longer than this is rejected (real ones are < 2 kB); also bounds
                                       // the bytes buffered between feed() calls
  size_t maxPositions = 200;           // positions taken per frame; more are dropped with a warning problem
  bool forecastPayload = true;         // subject E (met forecasts) -> payload.forecast rather than warning
  std::map<char, std::string> stationNames;  // B1 -> station name for senderName/area description
  size_t rememberedMessages = 512;     // ids of recent frames kept to resolve "CANCEL OL65" to an exact id
  std::string sender = "maritime";     // this adapter's agency, written in references to its own messages
};

// Subject indicator (B2) -> event name suffix, e.g. 'A' -> "navigational-warning". Letters without an IMO
// assignment (I, M..U) -> "unassigned"; anything else -> "".
std::string_view navtexSubjectName(char b2);

// Splits input into NAVTEX frames and turns each into one Message. Input may come in arbitrary chunks (a
// serial stream) or as whole files; line ends may be CR, LF or CRLF (also mixed).
//
// Framing: a frame starts at "ZCZC" at the start of a line and ends at a line that starts with "NNNN" (or, if
// that never comes, at the next "ZCZC" line or at finish(): "missing NNNN", kept as low-confidence); blanks
// and garble ('*', '?', non-ASCII) before either on its line are allowed. The header must be "ZCZC", optional
// blanks, then B1 (station, A-Z) B2 (subject, A-Z) B3B4 (serial, 00-99), then the line end or a blank (text
// after it is taken as the first body line); anything else is rejected. Non-blank text outside frames is reported as a warning and ignored.
//
// Garble: receivers write '*' (most) or '?' for characters they could not decode, and non-ASCII bytes or
// characters outside the NAVTEX (ITA2/CCIR 476) set ($ ! # & % @ ; " etc.) appear for mis-decoded figure
// shifts. Their share of the non-blank characters after the header decides: > maxGarbleRatio -> rejected
// ("17% of characters garbled (2 of 12)"); > 0 -> published with certainty unknown, parameter
// reception-quality and a warning InputProblem with the same reason.
//
// Body: the first line with a date-time group "DDHHMM[Z| UTC] [MON [YY|YYYY]]" (also "DTG 301530Z AUG 19",
// national month names such as DES/DEZ/OKT/MAI; a bare DDHHMM only as the first word of the first line; a
// missing month/year is the one nearest receivedMs) gives sentMs (else receivedMs). Positions: latitude then
// longitude, in the forms "54-12.5N 007-45.3E", "54 12.5N 007 45.3E", "5412.5N 00745.3E", "54-12N 007-45E",
// "54 12,5 N 007 45,3 E" (decimal comma), "54N 007E" (degrees only), "54.2N 7.75E" (decimal degrees);
// minutes < 60, lat <= 90, lon <= 180. Area: one position -> circle of pointRadiusKm; two -> a circle each;
// three or more -> a polygon in text order (closed), or their convex hull when that ring crosses itself, or a
// circle around them when they are collinear; none -> an area with only a description (the station).
// Cancellations: "CANCEL THIS MSG DDHHMM UTC" (also MESSAGE/MSG.) sets Info.expiresMs, it cancels nothing.
// "CANCEL <B1B2B3B4>" references that frame: the exact id if this decoder saw it, else "navtex-<B1B2B3B4>".
// Other "CANCEL ..." / "... CANCELLED" lines (e.g. "CANCEL NAVAREA XI 123/19", "CANCEL GERMAN NAV WARN
// 079/19", "NAVIGATIONAL WARNING NR 13 ... CANCELLED") reference "navtex-ref-<text>" (sanitised: blanks -> '-'),
// a name a consumer can match on but that is not a message id this adapter ever produced. A frame with nothing
// but the date-time group and cancellations is msgType cancel; one with other text too is msgType update (it
// supersedes what it cancels); else alert. References carry sender options.sender and sentMs 0 when unknown.
//
// Message: id "navtex-<B1B2B3B4>-<YYYYMMDDHHMM>" from the date-time group, else "navtex-<B1B2B3B4>-h<16 hex
// FNV-1a of the normalised text>" (a repeat broadcast of the same frame gets the same id). status actual,
// sentMs as above. payload.warning (subject E: forecast) with one Info: language "en", categories met (B, C, E)
// or transport (others), event "navtex-<subject name>", eventCode "navtex-<B2>" (e.g. "navtex-A"), eventCodes
// [{NAVTEX, <B2>}], urgency unknown, severity unknown, certainty observed (warnings) / likely (forecasts) /
// unknown (low-confidence), senderName the station name (stationNames) or "NAVTEX station <B1>", headline the
// first body line that is not framing (the DTG alone or with at most two words such as "SHANGHAI NAVTEX", or
// the header key repeated; <= 160 bytes), description the body with '\n' line ends and bad characters as '*',
// parameters station, subject, serial, dtg (as received, if any), must-display (serial 00),
// reception-quality (low-confidence only). provenance {"text/plain; navtex", the frame's bytes as received
// (ZCZC..NNNN), source, receivedMs}. Subject Z (no message on hand) yields no Message, only a warning problem.
class NavtexDecoder {
 public:
  explicit NavtexDecoder(NavtexOptions options = {});

  // Appends a chunk of input and returns the Messages and problems of the frames it completed. `source` names
  // the input in problems and provenance; receivedMs is unix ms. Never throws on any input.
  adapter::Output feed(std::string_view chunk, std::string_view source, int64_t receivedMs);
  // End of input: a started frame without NNNN is completed (as low-confidence); buffered text is dropped.
  // On a live serial stream call it after an idle gap (a frame is sent in one burst; 60 s without input is
  // plenty), or a frame whose NNNN was lost waits for the next ZCZC.
  adapter::Output finish(std::string_view source, int64_t receivedMs);

 private:
  void frame(std::string_view bytes, bool terminated, std::string_view source, int64_t receivedMs,
             adapter::Output& out);
  void remember(const std::string& key, const std::string& id, int64_t sentMs);

  NavtexOptions options_;
  std::string buffer_;                 // unconsumed input, at most maxMessageBytes + one line
  size_t frameNo_ = 0;                 // frames seen, for problem positions
  std::map<std::string, std::pair<std::string, int64_t>> seen_;  // B1B2B3B4 -> (id, sentMs), newest wins
  std::deque<std::string> seenOrder_;  // keys of seen_ oldest first, for the bound
};

// Whole input at once: feed + finish.
adapter::Output parseNavtex(std::string_view text, std::string_view source, int64_t receivedMs,
                            const NavtexOptions& options = {});

}  // namespace alertbus::maritime
