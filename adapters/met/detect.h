// Entry point of the meteorology adapter's pure library: one received document (a file, an HTTP body) in,
// alertbus Messages + problems + links to fetch out. Detects CAP / Atom / RSS / EDXL-DE / GB/T 35965 and
// dispatches to cap.h, feed.h, edxl.h, gbt.h. Pure: no I/O, no globals; any thread. Never throws.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/common/output.h"

namespace alertbus::met {

enum class MetFormat { unknown, cap, atom, rss, edxlDe, gbt, capContainer };

// "cap" | "atom" | "rss" | "edxl-de" | "gbt" | "cap-container" | "unknown"
const char* metFormatName(MetFormat f);

// A document the runtime should fetch and hand to parseMetDocument (from a feed's entry links).
struct MetLink {
  std::string url;          // as written in the feed
  std::string type;         // media type the feed gave ("application/cap+xml") or ""
  std::string source;       // "<source>#entry[3]": where the link was found, for logs and problems
  std::string entryId;      // Atom <id> / RSS <guid>
  int64_t updatedMs = 0;    // entry updated time (ms since the epoch UTC; receivedMs if the feed gave none)
};

struct MetOutput {
  adapter::Output output;          // messages (in document order) and problems; accepted/rejected count
                                   // CAP/GB/T documents (an embedded alert is one document; a feed or
                                   // envelope refused as a whole counts as one rejected document)
  std::vector<MetLink> links;      // to fetch (feeds only)
  MetFormat format = MetFormat::unknown;
  std::vector<std::string> notes;  // informational lines for the operator, e.g. the EDXL-DE envelope's
                                   // distributionID/senderID ("EDXL-DE distributionID=... senderID=...")
};

// Detects the format of `bytes` and maps it. `source` names the input (file path, URL); `receivedMs` is ms
// since the epoch, UTC. Detection: a leading '{' or '[' (after BOM/whitespace) is JSON and refused as
// "unsupported format (GeoJSON)" when it is a GeoJSON (Feature/FeatureCollection, e.g. api.weather.gov's
// JSON-LD) or "unsupported format (JSON)" otherwise; other text that does not start with '<' (CSV, NMEA,
// NAVTEX) is "unsupported format (not XML)"; a document whose root start tag (read with XmlStream, in an
// ASCII-compatible encoding) is alert in a CAP namespace goes straight to parseCap; everything else is
// loaded with loadXml (DOCTYPE/XXE refused, encodings handled) and dispatched on the root element and its
// namespace:
//   alert in a CAP 1.0/1.1/1.2 namespace -> parseCap;
//   alert in CAP's URN with another version ("...:cap:1.3") -> parseCap, read as CAP 1.2 with a warning
//     naming the namespace (ForeignNamespace::warn);
//   alert in no namespace -> parseGbt; alert in any other namespace (or with an undeclared prefix) ->
//     parseGbt, with a warning first (position "alert", field the xmlns attribute, value the namespace or
//     "(none)") saying it was read as a GB/T 35965-style alert: a document outside CAP's namespaces is
//     never taken silently;
//   Atom feed / RSS rss -> parseFeed, then parseCap on every embedded or index-synthesised alert;
//   EDXL-DE 1.0 EDXLDistribution -> parseEdxl, then parseCap on every CAP alert;
//   any other root that holds CAP alerts (alert in a CAP 1.0/1.1/1.2 namespace, up to 8 levels below it,
//     e.g. <alerts><alert>...</alert><alert>...</alert></alerts> or a SOAP envelope) -> format
//     "cap-container": each alert read on its own with parseCap (source "<source>#alert[2]") after a
//     warning naming the container (position the alert's element path, field "container", value the
//     root's name and namespace), so one odd wrapper does not refuse them all;
//   anything else -> error.
// Messages: Message.id = the CAP/GB/T identifier (deterministic: the same document gives the same id, so
// the broker's duplicate detection works across re-polls); Message.sender empty (broker stamps it).
// provenance: contentType "application/cap+xml" (CAP, alerts in feeds and envelopes),
// "application/vnd.gbt35965+xml" (GB/T), "application/atom+xml" / "application/rss+xml" for an index entry
// mapped from its cap:* summary (original = that entry element); original = the bytes of that one alert
// (for embedded alerts: the alert element serialised with its namespace declarations, not the whole
// feed); source = `source`, or "<source>#entry[3]" / "#item[2]" / "#contentObject[2]" inside feeds and
// envelopes. Problems: CapProblem -> InputProblem one to one (an error means that document was not
// published; warnings are kept), with source as above. Messages are not run through validateMessage here
// (expiry needs the publish time): the runtime does that before publishing.
// Cost: linear in the size; a CAP alert is read once (by parseCap); another document is parsed once for
// detection and once by its parser, each embedded alert once more by parseCap.
MetOutput parseMetDocument(std::string_view bytes, std::string_view source, int64_t receivedMs);

}  // namespace alertbus::met
