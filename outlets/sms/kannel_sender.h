// KannelSender: submits an SMS to Kannel's smsbox sendsms interface (HTTP GET) and classifies the answer.
// Kannel concatenates long texts itself (max-messages = maxParts) and calls the outlet back with delivery
// reports at <callbackBaseUrl>/dlr?id=<deliveryId>&... (see callbacks.h). Safe for concurrent submit()
// calls: each call uses its own HTTP connection; the object is immutable after construction.
#pragma once

#include <string>

#include "outlets/sms/sender.h"

namespace alertbus::sms {

struct KannelOptions {
  std::string host = "127.0.0.1";         // smsbox host
  int port = 13013;                       // smsbox sendsms-port
  std::string path = "/cgi-bin/sendsms";
  std::string username;                   // sendsms-user username
  std::string password;                   // sendsms-user password (never logged)
  std::string from;                       // sender id / short code shown on the handset; required by Kannel
                                          // unless the sendsms-user has a default
  std::string smsc;                       // smsc-id to route through; empty = Kannel's routing decides
  std::string callbackBaseUrl;            // the outlet's callback server, "http://10.0.0.5:8088" (no trailing
                                          // '/'); empty = no dlr-url (reports then cannot reach us)
  bool ucs2Always = false;                // send every text as UCS-2; default: UCS-2 unless the text is
                                          // plain ASCII that GSM-7 can carry (see chooseKannelCoding)
  int connectTimeoutMs = 2000;            // TCP connect to smsbox
  int ioTimeoutMs = 5000;                 // each read / write of the request (smsbox answers after
                                          // bearerbox acknowledged, normally milliseconds)
};

// Kannel coding parameter for a text: 0 (GSM 7-bit) when every byte is printable ASCII except '`' (which
// GSM 03.38 lacks), or LF / CR; otherwise 2 (UCS-2). Always sent with charset=UTF-8 so Kannel converts
// from UTF-8 (without coding=2 Chinese arrives as "????"). Conservative: some GSM-7 text (é, €, ü) is sent
// as UCS-2, which costs parts but never garbles. O(n).
int chooseKannelCoding(const std::string& utf8Text);

// Classification of a sendsms HTTP answer (exposed for unit tests):
//   2xx                     -> accepted ("0: Accepted for delivery", "Sent.", and "3: Queued for later
//                              delivery": Kannel holds it while the SMSC is down; reports follow later, and
//                              a resubmit would send it twice)
//   408, 429, 5xx ("503 Temporal failure, try again later.") -> temporary
//   other 4xx ("403 Not routable. Do not try again.", "403 Authorization failed for sendsms",
//              "400 Number(s) has/have been denied ...", "400 Sender missing ...") -> permanent
//   1xx, 3xx                -> temporary (not an answer Kannel gives; retrying is the safe side)
SubmitResult classifyKannelAnswer(int httpStatus, const std::string& body);

class KannelSender : public SmsSender {
 public:
  explicit KannelSender(KannelOptions options);
  // Validates the request (deliveryId: isValidDeliveryId; to: '+' optional then 3-20 digits; text
  // non-empty) -> permanent on failure, without contacting Kannel. Then one GET with bounded timeouts;
  // no connection, a timeout or a broken answer -> temporary with the transport error. No retries here:
  // the outlet owns retry and backoff.
  SubmitResult submit(const SmsRequest& request) override;

  // The request target (path and query) submit() would send, password included; for tests.
  std::string requestTarget(const SmsRequest& request) const;

 private:
  KannelOptions options_;
};

}  // namespace alertbus::sms
