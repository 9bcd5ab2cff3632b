// The SMS outlet's sending interface: hands one text to a gateway and classifies the gateway's answer.
// Implementations: KannelSender (HTTP sendsms), SpoolSender (one file per SMS in a directory).
// An "accepted" answer means the gateway took responsibility; delivery is learnt later from delivery
// reports (see callbacks.h), never from submit().
#pragma once

#include <string>

namespace alertbus::sms {

struct SmsRequest {
  std::string deliveryId;  // our delivery row id; echoed back in delivery reports (?id=...). Non-empty.
  std::string to;          // destination in E.164, "+8613800000001"
  std::string text;        // UTF-8 message text, whole (the gateway splits it into parts)
  int maxParts = 1;        // upper bound on concatenated parts the gateway may send (>= 1)
  bool wantReports = true; // ask for delivery reports (final and SMSC-level)
};

struct SubmitResult {
  enum class Kind {
    accepted,   // the gateway took the message; wait for delivery reports
    temporary,  // not taken, may succeed later (gateway down, overloaded, disk full): retry with backoff
    permanent,  // not taken and retrying the same request will not help (bad number, auth, routing)
  };
  Kind kind = Kind::temporary;
  std::string detail;   // human-readable reason: the gateway's answer body or the local error
  int httpStatus = 0;   // the gateway's HTTP status; 0 when there was no HTTP answer (or no HTTP at all)
};

// "accepted" | "temporary" | "permanent", for logs and status pages.
inline const char* kindName(SubmitResult::Kind kind) {
  switch (kind) {
    case SubmitResult::Kind::accepted: return "accepted";
    case SubmitResult::Kind::temporary: return "temporary";
    case SubmitResult::Kind::permanent: return "permanent";
  }
  return "?";
}

// Thread-safety contract for every implementation: submit() may be called concurrently from several
// sender threads on the same object (the outlet runs a small pool). Implementations keep no mutable
// shared state, or guard it. submit() blocks for at most the implementation's configured timeouts.
class SmsSender {
 public:
  virtual ~SmsSender() = default;
  // Never throws for network, gateway or disk problems: they are classified into the result.
  virtual SubmitResult submit(const SmsRequest& request) = 0;
};

}  // namespace alertbus::sms
