// Kannel's HTTP callbacks to the SMS outlet, parsed: delivery reports (the dlr-url KannelSender sets) and
// mobile-originated replies (the sms-service get-url). Pure: takes decoded query parameters, no HTTP or
// I/O; safe to call from any thread. Malformed input is rejected with the field, the value and the reason,
// never thrown and never dropped silently.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>

#include "model/decode_util.h"

namespace alertbus::sms {

// Query parameters after percent-decoding, as cpp-httplib's Request::params holds them.
using QueryParams = std::multimap<std::string, std::string>;

// Parses "a=1&b=x%20y+z" (the part after '?'): '+' is a space, %XX a byte. A malformed escape is kept
// literally. For tests and for callers that only have the raw target.
QueryParams parseQueryString(std::string_view query);

// Percent-encodes every byte except the unreserved A-Z a-z 0-9 - . _ ~ (RFC 3986), hex in upper case.
std::string percentEncode(std::string_view bytes);

// Characters allowed in a delivery id: A-Z a-z 0-9 - . _ ~ (so the id needs no escaping inside Kannel's
// dlr-url, whose own %-codes would otherwise eat an escaped id, and is a safe file name). 1..128 chars.
bool isValidDeliveryId(std::string_view id);

// UCS-2/UTF-16 big-endian bytes (as Kannel passes coding=2 text) to UTF-8. Surrogate pairs are joined;
// an odd length or an unpaired surrogate makes it return false (out then holds what was decoded).
bool utf16beToUtf8(std::string_view bytes, std::string& out);
// Well-formed UTF-8: alertbus::isValidUtf8 (model/decode_util.h).
using alertbus::isValidUtf8;

// Where a callback went wrong, for the outlet's log and counters: "dlr: type: 3: not one of 1, 2, 4, 8, 16".
struct CallbackError {
  std::string field;   // query parameter name
  std::string value;   // its value (truncated to 64 bytes)
  std::string reason;
  std::string message(std::string_view source) const;  // "<source>: <field>: <value>: <reason>"
};

// --- Delivery reports --------------------------------------------------------------------------------

// The dlr-url KannelSender registers, relative to the outlet's callback base URL, with Kannel's escape
// codes: %d report type, %A the SMSC's answer, %p the handset number, %T the report's Unix time.
// `id` is our delivery id. Kept here so the sender and the parser agree on the parameter names.
std::string dlrUrlPath(std::string_view deliveryId);  // "/dlr?id=<id>&type=%d&reply=%A&to=%p&ts=%T"

enum class DlrStatus {
  delivered,     // type 1: the handset has the message (final)
  failed,        // type 2: the SMSC gave up (final)
  buffered,      // type 4: the SMSC is still trying (intermediate)
  smscAccepted,  // type 8: the SMSC took the submit (intermediate)
  smscRejected,  // type 16: the SMSC (or Kannel: no route) refused the submit (final)
};
const char* dlrStatusName(DlrStatus s);  // "delivered", "failed", "buffered", "smsc-accepted", "smsc-rejected"
bool isFinal(DlrStatus s);               // delivered, failed, smscRejected

struct DeliveryReport {
  std::string deliveryId;     // our id, from ?id=
  int type = 0;               // Kannel DLR type: 1, 2, 4, 8 or 16
  DlrStatus status = DlrStatus::buffered;
  std::string smscStatus;     // "DELIVRD", "UNDELIV" (stat: of an SMPP receipt), "ACK", "NACK"; "" if none
  std::string errorCode;      // "000" (err: of a receipt), "0x0000000b" (NACK/<code>/...); "" if none
  std::string smscMessageId;  // id: of a receipt; "" if none
  std::string to;             // handset number (?to=, %p); "" if absent
  int64_t timeMs = 0;         // ?ts= (%T, Unix seconds) in ms; 0 if absent
  std::string raw;            // the SMSC answer as received (?reply=, %A), e.g. "id:1000 sub:001 dlvrd:001 ..."
};

// Parses a delivery-report callback. Required: id (valid delivery id), type (1, 2, 4, 8 or 16). Optional:
// reply, to, ts (digits). The reply is parsed leniently: SMPP receipt text ("id:.. stat:.. err:..") or
// Kannel's "ACK/", "NACK/<code>/<text>"; anything else is kept in raw only. Returns false and fills err
// on malformed input.
bool parseDeliveryReport(const QueryParams& query, DeliveryReport& out, CallbackError& err);

// --- Aggregating the reports of one message ------------------------------------------------------------

// Kannel 1.4.5 splits a long text into concatenated parts itself and asks the SMSC for a receipt for the
// FIRST part only (gw/sms.c sms_split clears dlr_mask on parts 2..n); its SMSC-level report (type 8/16)
// comes once for the whole message, after all parts were submitted (8 only if every part was accepted).
// So a message sent through Kannel gets exactly one final report whatever its number of parts.
constexpr int kKannelFinalReportsPerMessage = 1;

// The overall state of one message from its reports, for gateways that report per part (expectedReports
// = parts) and for Kannel (expectedReports = kKannelFinalReportsPerMessage). Rules: failed as soon as any
// report is failed or smscRejected (sticky); delivered when `expectedReports` distinct delivered reports
// arrived; pending otherwise (buffered and smscAccepted change nothing). Delivered reports with the same
// non-empty smscMessageId count once (a callback retried by Kannel). Not thread-safe: one per message,
// used under the caller's lock. Memory O(expectedReports).
class PartReports {
 public:
  enum class State { pending, delivered, failed };
  explicit PartReports(int expectedReports);  // clamped to >= 1
  State add(const DeliveryReport& report);    // returns the state after this report
  State state() const { return state_; }
  int deliveredCount() const { return delivered_; }
  int expectedReports() const { return expected_; }

 private:
  int expected_;
  int delivered_ = 0;
  State state_ = State::pending;
  std::set<std::string> seenIds_;
};
const char* partStateName(PartReports::State s);  // "pending", "delivered", "failed"

// --- Mobile-originated replies -------------------------------------------------------------------------

// The sms-service get-url for the outlet's /mo endpoint, relative to its callback base URL, with Kannel's
// escape codes: %p sender, %P receiver (our short code), %a text, %c coding, %C charset, %T Unix time,
// %t time text. Used by the harness and the deployment notes (docs) so both ask for the same names.
std::string moUrlPath();  // "/mo?from=%p&to=%P&text=%a&coding=%c&charset=%C&ts=%T&time=%t"

struct InboundSms {
  std::string from;    // the handset, as Kannel has it ("+8613800000001")
  std::string to;      // our number / short code
  std::string text;    // UTF-8
  int64_t timeMs = 0;  // when Kannel received it: ts (Unix s) or time ("YYYY-MM-DD HH:MM:SS", UTC); 0 if absent
};

// Parses a reply callback. Required: from, to (non-empty), text (may be empty). Text decoding: coding=2
// with a charset other than UTF-8 is UCS-2 (UTF-16BE) bytes and is converted; charset ISO-8859-1 is
// converted; otherwise the text must be valid UTF-8 (smsbox "mo-recode = true" turns UCS-2 into UTF-8).
bool parseInboundSms(const QueryParams& query, InboundSms& out, CallbackError& err);

}  // namespace alertbus::sms
