// SpoolSender: the embedded default sender. Writes each SMS as one JSON file into a spool directory, for a
// separate process (or an operator, or a test) to pick up. Invariant: a file named <deliveryId>.json is
// complete and durable (written to a temporary name, fsynced, renamed, directory fsynced); temporary files
// end in ".tmp" and are never valid spool entries. Safe for concurrent submit() calls.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "outlets/sms/sender.h"

namespace alertbus::sms {

struct SpoolOptions {
  std::string directory;                   // must exist; not created (a missing spool is a config error the
                                           // outlet reports as temporary until fixed)
  std::function<int64_t()> nowMs;          // clock for "queuedAtMs"; empty = system clock
};

// The file format, one JSON object per file (UTF-8, no trailing newline requirements):
//   {"deliveryId": "d-42", "to": "+8613800000001", "text": "...", "maxParts": 3, "wantReports": true,
//    "queuedAtMs": 1795000000000}
// Resubmitting a deliveryId replaces its file (idempotent).
class SpoolSender : public SmsSender {
 public:
  explicit SpoolSender(SpoolOptions options);
  // accepted (httpStatus 0, detail = the file path) once the file is durable; invalid deliveryId ->
  // permanent (it names the file); any file-system error (ENOSPC, EDQUOT, EFBIG, EACCES, EROFS, ENOENT,
  // EIO) -> temporary with "spool <path>: <operation>: <strerror>", and no partial file left behind.
  // Cost: one small write and two fsyncs.
  SubmitResult submit(const SmsRequest& request) override;

  // Path of the file for a delivery id (no validation).
  std::string pathFor(const std::string& deliveryId) const;

 private:
  SpoolOptions options_;
};

}  // namespace alertbus::sms
