// A hardened, non-validating pull reader for XML documents already in UTF-8: the CAP mapper reads an alert
// in one pass with it, with no tree (bench/cap_bench.cpp).
//
// Why by hand, next to pugixml: the issue asks that mapping a CAP document cost at most twice pugixml's parse
// of it. Mapping from pugixml's tree cannot get there: building the tree is that parse, and merely walking it
// through pugixml's out-of-line accessors costs most of a second parse before a field is mapped (measured,
// 2026-11: the DOM mapper stood at about 4x). Debian's other XML libraries (expat, libxml2's reader) are
// streaming but each slower than pugixml's parse alone. So this file reads just what a CAP document may hold;
// every other met format (feeds, EDXL-DE, GB/T) still goes through pugixml (loadXml in cap.h).
//
// What it accepts, and refuses (the first problem ends the document; error() and errorOffset() say it):
//  * elements, attributes ('...' or "..."), text, CDATA, comments and processing instructions (the XML
//    declaration among them) are read; exactly one root element; before and after it only whitespace,
//    comments and PIs; end tags must match their start tags; names are [A-Za-z_:] or any non-ASCII byte,
//    then also [0-9.-] (pugixml's rule);
//  * any <!DOCTYPE (or other <! declaration) is an error: no DTD is read, no entity declared or resolved (XXE);
//  * references: &lt; &gt; &amp; &apos; &quot; and character references (decimal or hex) are resolved; a
//    character reference to something that is not a Unicode scalar value (NUL, a surrogate, beyond U+10FFFF,
//    more than 8 digits) gives U+FFFD; an unknown or unterminated reference stays as written (as pugixml
//    leaves it: feeds contain bare '&' in URLs);
//  * line ends (CR LF, lone CR) become LF in text, CDATA and attribute values; tab, LF and CR in attribute
//    values become spaces (XML attribute-value normalisation, pugixml's parse_wconv_attribute);
//  * a NUL byte anywhere, '<' in an attribute value, an unclosed comment/CDATA/PI/tag, nesting deeper than
//    kMaxDepth, more than kMaxAttributes on one element are errors.
// The encoding is the caller's business: the input must be UTF-8 without a BOM (parseCap converts others
// first); the reader does not check UTF-8 (the caller has).
//
// Text of an element (text()) is all its character data and CDATA, concatenated, with child elements skipped
// (checked, not read) and comments and PIs dropped; pugixml's child_value() gives only the first run.
//
// Use (each call returns false once the document is in error; nothing throws):
//   XmlStream xs(doc, arena);
//   XmlStart root;
//   if (xs.root(root)) {
//     XmlStart c;
//     while (xs.child(c))                 // each child element of the root, in order
//       if (c.local == "info") { while (xs.child(d)) ...; }   // descend: iterate its children
//       else if (...) v = xs.text();      // or read its text,
//       else xs.skip();                   // or skip it; exactly one of the three per child
//     xs.finish();                        // the end of the document: nothing but comments, PIs, whitespace
//   }
//   if (xs.failed()) ... xs.error(), xs.errorOffset()
// Texts and attribute values are views into the document or into `arena`, valid while both live and the
// arena is not touched by anyone else. Cost: linear in the document; the arena is reserved once to the
// document's size (what is copied there is never longer than its markup, plus a NUL) so views stay valid;
// the open-element stack and the attribute list are bounded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace alertbus::met {

struct XmlStart {
  std::string_view qname;  // as written, prefix included ("cap:info")
  std::string_view local;  // without the prefix ("info")
  bool empty = false;      // written <x/>: no content, no end tag
};

class XmlStream {
 public:
  static constexpr size_t kMaxDepth = 256;
  static constexpr size_t kMaxAttributes = 64;

  XmlStream(std::string_view doc, std::string& arena);
  XmlStream(const XmlStream&) = delete;
  XmlStream& operator=(const XmlStream&) = delete;

  // Reads the prolog and the root's start tag into `out`. False on error or when there is no root.
  bool root(XmlStart& out);
  // Within the element whose start tag was read last (or whose child() loop is running): moves to its next
  // child element and reads that start tag into `out`. False when the element ends (its end tag is read) or
  // on error.
  bool child(XmlStart& out);
  // Reads the rest of the element whose start tag was read last, end tag included, and returns its text
  // (see above), trimmed of leading and trailing spaces, tabs, CRs and LFs; data() is never null. Plain
  // text (no reference, CR, control character, CDATA, comment or child) is a view into the document, followed
  // there by whitespace or '<'; other text is assembled in the arena, followed there by a NUL. "" on error.
  std::string_view text();
  // Reads the rest of the element whose start tag was read last, end tag included, keeping nothing.
  void skip();
  // After the root's end: reads the rest of the document, which may hold only comments, PIs and whitespace.
  bool finish();

  // Value of attribute `qname` (as written, e.g. "xmlns:cap") of the start tag read last; `found` false if
  // absent. Valid until the next call that reads a start tag.
  std::string_view attribute(std::string_view qname, bool& found) const;

  bool failed() const { return !error_.empty(); }
  bool refusedDtd() const { return dtd_; }
  // Whether a text returned so far may not be clean UTF-8 text: it held a control character (C0 except tab,
  // LF and CR; DEL) or a character reference (which can name anything; unusable ones are U+FFFD already).
  bool textNeedsCleaning() const { return unclean_; }  // the error is a <!DOCTYPE or <!ENTITY declaration
  const std::string& error() const { return error_; }  // one line, names what was found and where it began
  size_t errorOffset() const { return errorAt_; }       // byte offset into the document

 private:
  struct Attr {
    std::string_view name, value;
  };
  enum class Markup { start, end, done, error };

  bool fail(size_t at, std::string what);
  bool readStartTag(XmlStart& out);     // at '<' + name start
  bool readEndTag();                    // at "</": matches and pops the top of the stack
  bool skipSpecial();                   // at "<!" or "<?": comment, CDATA (only where text is allowed), PI
  bool skipCdata(bool keep);            // at "<![CDATA["; appends the content to the arena when keep
  Markup nextMarkup(bool keepText);     // to the next start or end tag; text appended to the arena if keepText
  std::string_view attrValue(size_t quoteAt, char quote, size_t end);
  void appendText(const char* b, const char* e);  // with references and line ends resolved
  void appendLf(const char*& p, const char* e);
  const char* endOfTop(const char* q) const;  // after "</top>" if it starts at q, else nullptr
  void popTop(const char* after);

  const char* const begin_;
  const char* const end_;
  const char* p_;
  std::string& arena_;
  // Fixed arrays, not vectors: a reader lives on its caller's stack and allocates nothing.
  std::string_view open_[kMaxDepth];  // qnames of the open elements, root first
  size_t depth_ = 0;
  Attr attrs_[kMaxAttributes];  // of the start tag read last
  size_t nAttrs_ = 0;
  bool pendingEmpty_ = false;           // the start tag read last was <x/>
  bool rootDone_ = false;
  bool dtd_ = false;
  bool unclean_ = false;
  std::string error_;
  size_t errorAt_ = 0;
};

}  // namespace alertbus::met
