// OASIS EDXL-DE 1.0 (urn:oasis:names:tc:emergency:EDXL:DE:1.0) distribution envelopes: unwraps the CAP alerts
// carried as contentObject/xmlContent/embeddedXMLContent and keeps the envelope's identity for display.
// Pure: no I/O, no globals; never throws.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/met/cap.h"

namespace alertbus::met {

constexpr size_t kMaxEdxlBytes = 8 * 1024 * 1024;  // larger envelopes are refused unread
constexpr std::string_view kEdxlDeNamespace = "urn:oasis:names:tc:emergency:EDXL:DE:1.0";

struct EdxlAlert {
  std::string xml;       // the CAP <alert> element serialised as a standalone UTF-8 document, with the
                         // namespace declarations it inherits from the envelope (for parseCap)
  std::string position;  // "EDXLDistribution/contentObject[2]/xmlContent/embeddedXMLContent/alert[1]"
  std::string key;       // "contentObject[2]" (+ "/alert[k]" when one embeddedXMLContent holds several):
                         // the runtime's source for that alert becomes "<source>#key"
};

struct EdxlResult {
  bool envelope = false;            // the root is an EDXL-DE 1.0 EDXLDistribution
  std::string distributionId;       // <distributionID> as received ("" if missing: warning)
  std::string senderId;             // <senderID> as received, e.g. "cap@ec.gc.ca" ("" if missing: warning)
  std::string distributionStatus;   // Actual | Exercise | System | Test, as received
  std::string distributionType;     // Report | Update | Cancel | ..., as received
  int64_t sentMs = 0;               // <dateTimeSent>, ms since the epoch UTC; 0 if missing or unparsable
  std::vector<EdxlAlert> alerts;    // CAP alerts in document order
  std::vector<CapProblem> problems; // errors: envelope refused; warnings: a content object skipped
  size_t errorCount() const;
  // "EDXL-DE distributionID=... senderID=... sent=..." for operator logs (values clipped).
  std::string describe() const;
};

// Reads an EDXL-DE 1.0 envelope. Loading is loadXml's (DOCTYPE refused, encodings, <= kMaxEdxlBytes).
// Errors: a root other than EDXLDistribution in the EDXL-DE 1.0 namespace. Warnings (the rest is still
// used): missing distributionID or senderID; a contentObject that holds no CAP alert, i.e.
// nonXMLContent (named by its mimeType: base64 contentData and uri references are not opened), an
// embeddedXMLContent element that is not a CAP 1.0/1.1/1.2 alert (named by its element name and namespace),
// or an empty contentObject; an envelope without any CAP alert. The CAP alerts themselves are not checked
// here: the caller runs parseCap on each. Cost: linear in the envelope size.
EdxlResult parseEdxl(std::string_view bytes, std::string_view source);

}  // namespace alertbus::met
