// Atom 1.0 and RSS 2.0 feeds that carry CAP: finds, per entry, the CAP alert embedded in it, the link to
// fetch it from, or (NWS index style) the cap:* summary to map directly. Pure: no I/O, no globals; the
// runtime fetches the links and hands each fetched body to parseMetDocument/parseCap. Never throws.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/met/cap.h"

namespace alertbus::met {

// Largest feed parseFeed reads; bigger input is rejected unread. Entries after kMaxFeedEntries are skipped
// with one warning (a feed is re-polled; bounded work per poll).
constexpr size_t kMaxFeedBytes = 8 * 1024 * 1024;
constexpr size_t kMaxFeedEntries = 5000;

// One CAP alert found in a feed entry, ready for parseCap.
struct FeedAlert {
  std::string xml;          // a standalone UTF-8 CAP document (no XML declaration): the alert element
                            // serialised with the namespace declarations it inherits, the unescaped text of
                            // escaped content, or (fromIndex) a CAP document synthesised from cap:* elements
  std::string position;     // "feed/entry[3]" or "rss/channel/item[2]"; "/alert[2]" appended when an
                            // entry holds more than one alert
  std::string entryKey;     // "entry[3]" | "item[2]" (+ "/alert[2]"): the runtime's source becomes "<source>#entryKey"
  bool fromIndex = false;   // synthesised from an index entry's cap:* summary elements (see parseFeed)
  std::string entryXml;     // fromIndex only: the entry element serialised, to keep as provenance.original
};

// A CAP document the runtime should fetch (then call parseMetDocument on the body).
struct FeedLink {
  std::string url;          // as written in the feed (absolute in every feed seen; not resolved against xml:base)
  std::string type;         // the link's media type if given ("application/cap+xml"), else ""
  std::string position;     // "feed/entry[3]" | "rss/channel/item[1]"
  std::string entryKey;     // "entry[3]" | "item[1]"
  std::string entryId;      // Atom <id> / RSS <guid>, "" if none
  int64_t updatedMs = 0;    // entry <updated> (else <published>) / RSS <pubDate> (RFC 822), ms since the
                            // epoch UTC; receivedMs when absent or unparsable: lets the runtime skip
                            // re-fetching an entry that has not changed
};

struct FeedResult {
  std::string format;                // "atom" | "rss" once the root is recognised
  size_t entries = 0;                // entries/items seen (at most kMaxFeedEntries processed)
  std::vector<FeedAlert> alerts;     // in document order
  std::vector<FeedLink> links;       // in document order
  std::vector<CapProblem> problems;  // errors: the feed as a whole was refused; warnings: an entry skipped
  size_t errorCount() const;
};

// Reads an Atom (http://www.w3.org/2005/Atom <feed>) or RSS 2.0 (<rss><channel><item>) document. `bytes` need
// not outlive the call; `source` names it in problems; `receivedMs` (ms since the epoch, UTC) stands in for
// missing entry times. Loading is loadXml's (DOCTYPE refused, encodings, size <= kMaxFeedBytes).
//
// Per entry, the first rule that applies:
//  1. Embedded CAP: an element <alert> in a CAP 1.0/1.1/1.2 namespace inside Atom <content> or RSS
//     <description>/<content:encoded>, or directly inside the entry with an <info> child -> FeedAlert (every
//     such alert); or escaped/CDATA text in those elements that, unescaped, starts with "<alert" (after an
//     optional XML declaration, dropped because the text is UTF-8 by now) -> FeedAlert with that text
//     (parseCap refuses a DOCTYPE in it like anywhere else).
//  2. A link to a CAP document: Atom <link type="application/cap+xml"> or out-of-line <content
//     type="application/cap+xml" src=...>, RSS <enclosure type=
//     "application/cap+xml" url=...> -> FeedLink. (Rule 2 wins over rule 3: the full alert has the
//     description, instruction and polygons that an index entry lacks, e.g. MeteoAlarm's Atom feeds.)
//  3. An index entry (alerts.weather.gov Atom index, 2010-2014 style): cap:* elements directly in the entry
//     (or in an <alert> child without <info>, as in NWS Oregon 2014) including cap:status or cap:msgType
//     (MeteoAlarm's cap:message_type accepted) -> mapped directly, no fetch: a CAP document is
//     synthesised (FeedAlert.fromIndex) with identifier = cap:identifier, else the entry <id>/<guid>
//     (alerts.weather.gov index entries have no cap:identifier; their entry id is the alert URL);
//     sender = cap:sender, else entry/feed <author><name>; sent = cap:sent, else <published>/<updated>;
//     scope = cap:scope, else "Public" (these are public feeds); event = cap:event, else the entry title
//     up to " issued " (NWS titles: "Air Quality Alert issued August 30 ..."); headline = title;
//     description = summary; web = the entry link; one area from cap:areaDesc/polygon/circle/geocode (or
//     one per cap:area); a geocode holding several valueName/value pairs is split into one geocode per pair;
//     empty <cap:polygon/> (NWS: "no polygon") left out. Placeholder values that hold no letter or digit
//     ("!", NWS Oregon 2014) count as absent.
//  4. Otherwise any link: Atom <link rel="alternate"> or without rel (not type text/html), RSS <link>, RSS
//     <guid> that is a http(s) URL and not isPermaLink="false" -> FeedLink (Pelmorex, Krisinformation, the
//     AMBER RSS index). Summary data such as GeoRSS polygons or Krisinformation's lon,lat circles is not used.
//  5. Nothing: a warning naming the entry; skipped.
// Cost: linear in the feed size; one DOM plus the serialised alerts.
FeedResult parseFeed(std::string_view bytes, std::string_view source, int64_t receivedMs);

// RFC 822/1123 date-time as in RSS ("Wed, 11 Jun 2003 22:39:00 PDT", "+0800", "GMT", seconds optional,
// day name optional, 2- or 4-digit year) into ms since the epoch UTC. False if malformed.
bool parseRfc822Time(std::string_view text, int64_t& ms);

}  // namespace alertbus::met
