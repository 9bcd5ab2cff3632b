// OASIS CAP 1.0/1.1/1.2 alert document -> one alertbus Message (payload.warning, one Info per CAP info).
// Pure: no I/O, no globals; safe to call from any thread on distinct builders. Never throws on bad input.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <capnp/message.h>
#include <pugixml.hpp>

namespace alertbus::met {

// Largest document parseCap accepts; bigger input is rejected unread (bounds memory and work per alert).
constexpr size_t kMaxCapBytes = 2 * 1024 * 1024;

struct CapProblem {
  enum class Level { warning, error };
  Level level = Level::error;  // error: the alert is rejected; warning: a part was dropped or defaulted
  std::string source;          // as passed to parseCap (file path, URL, "stdin")
  std::string position;        // element path, 1-based like XPath: "alert/info[2]/area[1]/polygon[3]"; for
                               // malformed XML "offset 1234" (byte offset into the document as UTF-8)
  std::string field;           // CAP element name, e.g. "polygon", "sent"
  std::string value;           // offending value, at most 200 bytes, control characters replaced by '?'
  std::string reason;          // one line
  // "source: position: field=value: reason" (with "warning: " in front for warnings).
  std::string str() const;
};

struct CapResult {
  bool accepted = false;        // no error: `out` holds a complete Message (still run validateMessage)
  std::string capVersion;       // "1.0" | "1.1" | "1.2" once the namespace is recognised
  std::string capSender;        // CAP <sender>, e.g. "w-nws.webmaster@noaa.gov" (see parseCap)
  std::vector<CapProblem> problems;  // errors and warnings in document order
  size_t errorCount() const;
};

// Zeroed scratch space for the first segment of the message builders of a caller that maps many documents
// and is done with each message before the next (a batch check, a benchmark):
//   met::CapScratch scratch;                       // once
//   capnp::MallocMessageBuilder b(scratch.words());  // per document; destroyed before the next one
//   parseCap(xml, source, receivedMs, b);
// A fresh MallocMessageBuilder() callocs and zeroes a new 8 KB first segment per message and grows by more
// mallocs past it; over the scratch, the builder's destructor re-zeroes only the words the message used, so
// per document only those are written twice (measured: about 2% of parseCap's time on the bench mix; it also
// keeps the allocator out of the loop). A message that outgrows the scratch goes on in malloc'ed segments.
// Contract: at most one builder over it at a time, destroyed before the scratch; each message is used up
// (serialised, copied, checked) before its builder goes. A caller that keeps its messages, like
// parseMetDocument, gives each its own builder sized with capFirstSegmentWords instead. One per thread.
class CapScratch {
 public:
  // 16K words (128 KB): the bench's biggest documents (17 KB, 720 polygon points) need about 7K words.
  explicit CapScratch(size_t words = 16 * 1024) : words_(kj::heapArray<capnp::word>(words)) {
    std::memset(words_.begin(), 0, words_.size() * sizeof(capnp::word));
  }
  kj::ArrayPtr<capnp::word> words() { return words_; }

 private:
  kj::Array<capnp::word> words_;
};

// First-segment size, in words, for a builder that will hold parseCap's message for a document of `xmlBytes`
// bytes, so that typical documents fit in one segment: one calloc of about the size needed, no growth. The
// message copies the document into provenance.original and its structure takes a little less again: 1.7 to
// 1.9 bytes per input byte over tests/data/cap and the bench documents; 2 bytes per byte + 4 KB covers that.
// A document denser than that (say polygons of one-digit coordinates) just continues in a second segment.
// A document over kMaxCapBytes is rejected unread and not copied: Cap'n Proto's default 1024 words then.
constexpr unsigned capFirstSegmentWords(size_t xmlBytes) {
  return xmlBytes > kMaxCapBytes ? 1024u : static_cast<unsigned>(xmlBytes / 4 + 512);
}

// Maps one CAP alert document to one alertbus Message built as the root of `out` (any previous root is
// replaced). `xml` is the document byte for byte; it is copied into provenance.original and need not
// outlive the call. `source` names where it came from; `receivedMs` is ms since the Unix epoch, UTC.
//
// Mapping (schemas/message.capnp):
//   identifier -> id; sent -> sentMs; status, msgType; references -> references (CAP senders kept there);
//   incidents -> incident (as received); every info -> payload.warning[i]; provenance = {application/cap+xml,
//   original bytes, source, receivedMs}. Message.sender is left empty: the broker stamps the agency. The
//   CAP sender is returned in CapResult::capSender (it is also inside provenance.original).
//   info.eventCode (normative): the first eventCode whose valueName is, case-insensitively, "alertbus",
//   "CMA" or "GB/T 35965" (in that order of preference); else the first non-empty eventCode value whose
//   valueName is not document metadata (PROFILE_VERSION, LICENSE, AREA_COLOR: DWD profile); else the
//   event text with ASCII lower-cased, cut to 64 bytes. All eventCodes are kept in eventCodes.
//   info.colour: from the first parameter named (case-insensitively) colour, color, level, awareness_level,
//   预警级别 or 预警颜色 whose value contains a token red/orange/yellow/blue or starts with 红/橙/黄/蓝
//   (e.g. "2; yellow; Moderate", "橙色"); otherwise from severity: extreme=red, severe=orange,
//   moderate=yellow, minor=blue; else unspecified.
//   area.adminCodes: geocode values of 6 or 12 ASCII digits whose valueName is, case-insensitively, GB2260,
//   GB/T 2260, GBT2260, GB_T_2260, ADCODE or 行政区划代码. Every geocode also goes to geocodes as received.
//   area.altitudeM/ceilingM: CAP gives feet; converted to metres; NaN when absent.
//   Not mapped (no schema field; still in provenance.original, not checked): scope, restriction, addresses,
//   code, note, password, derefUri, XML-DSig Signature.
//   info.language defaults to "en-US" (CAP default). Unknown enum words leave the field unspecified with a
//   warning. Times: ISO 8601 "YYYY-MM-DDThh:mm:ss[.fff](Z|+hh:mm|-hh:mm)".
//
// Errors (accepted = false): input larger than kMaxCapBytes, malformed XML (one error naming what is wrong,
// with its offset: see xml_stream.h for what the reader refuses), any DOCTYPE or ENTITY declaration (refused,
// never resolved; field "DOCTYPE"), a root that is not alert, or (by default: see Namespace below) not in a
// CAP 1.0/1.1/1.2 namespace (any prefix), missing/invalid identifier (CAP: no whitespace, ',', '<' or '&'),
// sender, sent, status, msgType or scope (Public/Restricted/Private), an Update or Cancel without a usable
// reference (it would look like a new alert, or withdraw nothing), no info in an Alert or Update.
// A Cancel without <info> (IPAWS does this; CAP allows it) is accepted with an empty warning list: the
// cancel is carried by its references (validateMessage allows a cancel without info).
// Warnings (accepted stays true, the part is dropped): a polygon that is empty, has an odd coordinate,
// fewer than 4 points, is not closed (first != last) or is out of range; a bad circle; a bad reference
// triple; an unparsable info time (left 0); a malformed resource size; an unknown enum word. An empty
// <references/> is ignored silently.
// Encoding: as loadXml finds it (BOM, UTF-8/16/32, ISO-8859-1, GB2312/GBK/GB18030, Latin-1 mislabelled as
// UTF-8 with a warning); other encodings are converted to UTF-8 first.
// Reading: one pass with XmlStream (xml_stream.h; not pugixml, for speed), then the message is built.
// Texts keep all of an element's character data (pugixml's tree gave only its first run).
// Cost: linear in the document size; per thread, a text arena and the collected views are kept and reused
// (they hold the largest document seen, at most about 2 x kMaxCapBytes), so a document allocates only
// `out`'s segments (none with CapScratch or a capFirstSegmentWords-sized builder for typical documents).
// bench/cap_bench.cpp measures it against pugixml's parse alone.
// Namespace: a root alert in a namespace other than CAP 1.0/1.1/1.2's (another version of CAP's URN, or
// none) is refused by default; with `foreign` = ForeignNamespace::warn it is read as CAP 1.2 with one warning
// that names the namespace (position "alert", field the xmlns attribute, value the namespace or "(none)";
// capVersion "1.2"). Only the root's namespace is checked, once per document: child elements are matched by
// their local names whatever their prefix (a check per element would cost the hot path).
enum class ForeignNamespace { refuse, warn };
CapResult parseCap(std::string_view xml, std::string_view source, int64_t receivedMs, capnp::MessageBuilder& out,
                   ForeignNamespace foreign = ForeignNamespace::refuse);

// Hardened XML loading shared by every met parser (CAP, feeds, EDXL-DE, GB/T). Loads `bytes` into `doc`.
// Refused with one error appended to `problems` (position "document" or "offset N"): input larger than
// maxBytes; any "<!DOCTYPE" or "<!ENTITY" in the bytes or a doctype node in the parsed tree (XXE: DTDs are
// never read, entities never resolved); malformed XML (pugixml's description and offset). Encodings: BOM
// and declaration detection by pugixml (UTF-8/16/32, ISO-8859-1 converted to UTF-8); a declaration naming
// GB2312, GBK, CP936 or GB18030 is converted to UTF-8 with iconv (GB18030 is a superset of the other two;
// undecodable bytes are an error); a document that claims or defaults to UTF-8 but is not valid UTF-8 is
// decoded as ISO-8859-1 with a warning. Returns true when `doc` holds a tree. Cost: linear, one copy.
bool loadXml(std::string_view bytes, std::string_view source, size_t maxBytes, pugi::xml_document& doc,
             std::vector<CapProblem>& problems);

// Local name of an element or attribute name, without its namespace prefix ("cap:alert" -> "alert").
std::string_view localName(const pugi::xml_node& n);

// Namespace URI of element `n`, resolved through the xmlns declarations on it and its ancestors ("" if none).
std::string namespaceOf(const pugi::xml_node& n);

// Serialises element `n` (and its subtree) as a standalone UTF-8 XML document without declaration, adding
// to its root the in-scope namespace declarations (from ancestors) for every prefix its subtree uses, so
// the bytes parse on their own with the same namespaces. Used to hand embedded alerts to parseCap.
std::string serialiseElement(const pugi::xml_node& n);

// Parses a CAP/ISO 8601 date-time with a UTC offset into ms since the Unix epoch. False if malformed.
bool parseCapTime(std::string_view text, int64_t& ms);

}  // namespace alertbus::met
