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
//  * references: &lt; &gt; &amp; &apos; &quot; and character references (decimal or hex, any number of
//    leading zeros) are resolved; a character reference to something that is not a Unicode scalar value
//    (NUL, a surrogate, beyond U+10FFFF) gives U+FFFD; an unknown or unterminated reference stays as
//    written (as pugixml leaves it: feeds contain bare '&' in URLs);
//  * line ends (CR LF, lone CR) become LF in text, CDATA and attribute values; tab, LF and CR in attribute
//    values become spaces (XML attribute-value normalisation, pugixml's parse_wconv_attribute);
//  * a NUL byte anywhere, '<' in an attribute value, an unclosed comment/CDATA/PI/tag, nesting deeper than
//    kMaxDepth open elements, more than kMaxAttributes on one element, a name with an empty local part
//    ("<a:>"), '/' in a start tag not followed by '>', a PI without a target are errors;
//  * not checked (pugixml does not either): duplicate attributes (attribute() gives the first), "]]>" in
//    text, that names are declared namespaces.
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
// next() is child() and text() in one call for leaves, the form parseCap uses (see next()).
// Texts and attribute values are views into the document or into `arena` (an empty one may be a view of a
// string literal), valid while both live and the arena is not touched by anyone else. Cost: linear in the document; the arena is reserved once to the
// document's size (what is copied there is never longer than its markup, plus a NUL) so views stay valid;
// the open-element stack and the attribute list are bounded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace alertbus::met {

// Byte classes and SSE2 scans the reader's inline fast paths use (not for other callers).
namespace xml_detail {

inline bool isWs(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Name characters as pugixml has them: ASCII letters, '_', ':' and every byte of a multi-byte UTF-8 character
// start a name; digits, '-' and '.' may follow.
struct NameTable {
  bool start[256] = {}, rest[256] = {}, textStop[256] = {};
  constexpr NameTable() {
    for (int c = 0; c < 256; ++c) {
      start[c] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' || c >= 0x80;
      rest[c] = start[c] || (c >= '0' && c <= '9') || c == '-' || c == '.';
    }
    // Text runs stop at markup, references, CRs, and the control characters XML text may not carry
    // (C0 except tab and LF, and DEL): those are kept but flagged (textNeedsCleaning).
    for (int c = 0; c < 0x20; ++c) textStop[c] = c != '\t' && c != '\n';
    textStop[static_cast<unsigned char>('<')] = textStop[static_cast<unsigned char>('&')] = textStop[0x7f] = true;
  }
};
inline constexpr NameTable kTab;

// The first byte at or after `q` (before `e`) that ends a plain text run (textStop), or `e`. Sixteen bytes at
// a time with SSE2 (every x86-64 has it): descriptions are long runs of ASCII and CJK, and a byte-table loop
// was most of the reader's time on them.
[[gnu::always_inline]] inline const char* textRunEnd(const char* q, const char* e) {
#if defined(__SSE2__)
  const __m128i lt = _mm_set1_epi8('<'), amp = _mm_set1_epi8('&'), del = _mm_set1_epi8(0x7f);
  const __m128i c1f = _mm_set1_epi8(0x1f), tab = _mm_set1_epi8('\t'), lf = _mm_set1_epi8('\n');
  while (e - q >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
    // Bytes <= 0x1F (unsigned: v == min(v, 0x1F)) other than tab and LF, then '<', '&' and DEL.
    const __m128i low = _mm_cmpeq_epi8(_mm_min_epu8(v, c1f), v);
    const __m128i ok = _mm_or_si128(_mm_cmpeq_epi8(v, tab), _mm_cmpeq_epi8(v, lf));
    const __m128i stop = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, lt), _mm_cmpeq_epi8(v, amp)),
                                      _mm_or_si128(_mm_cmpeq_epi8(v, del), _mm_andnot_si128(ok, low)));
    if (const int m = _mm_movemask_epi8(stop)) return q + __builtin_ctz(static_cast<unsigned>(m));
    q += 16;
  }
#endif
  while (q < e && !kTab.textStop[static_cast<unsigned char>(*q)]) ++q;
  return q;
}

// The end of the run of name characters at `q` (before `e`), and in `colon` the first ':' in it (or
// nullptr). Sixteen bytes at a time with SSE2: a name is ASCII letters, digits, '_', ':', '.', '-' or bytes
// of multi-byte characters; the scan was the larger part of reading a tag.
[[gnu::always_inline]] inline const char* nameEnd(const char* q, const char* e, const char*& colon) {
  colon = nullptr;
#if defined(__SSE2__)
  auto le = [](__m128i x, char k) { return _mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8(k)), x); };  // x <= k
  while (e - q >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
    const __m128i letter = le(_mm_sub_epi8(_mm_or_si128(v, _mm_set1_epi8(0x20)), _mm_set1_epi8('a')), 25);
    const __m128i digit = le(_mm_sub_epi8(v, _mm_set1_epi8('0')), 9);
    const __m128i colons = _mm_cmpeq_epi8(v, _mm_set1_epi8(':'));
    const __m128i other = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('_')), colons),
                                       _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('.')), _mm_cmpeq_epi8(v, _mm_set1_epi8('-'))));
    // movemask(v) sets the bits of bytes >= 0x80: every byte of a multi-byte character is a name byte.
    const unsigned name = static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(letter, digit), other)) |
                                                _mm_movemask_epi8(v));
    const unsigned stop = ~name & 0xFFFFu;
    const unsigned len = stop ? static_cast<unsigned>(__builtin_ctz(stop)) : 16u;
    const unsigned c = static_cast<unsigned>(_mm_movemask_epi8(colons)) & ((1u << len) - 1u);
    if (c && !colon) colon = q + __builtin_ctz(c);
    q += len;
    if (stop) return q;
  }
#endif
  while (q < e && kTab.rest[static_cast<unsigned char>(*q)]) {
    if (*q == ':' && !colon) colon = q;
    ++q;
  }
  return q;
}

inline bool nameStart(char c) { return kTab.start[static_cast<unsigned char>(c)]; }
inline bool nameRest(char c) { return kTab.rest[static_cast<unsigned char>(c)]; }

}  // namespace xml_detail

// A guess at the next element's name for next(): the name (no prefix, under 15 bytes) and '>', zero-padded.
struct NameGuess {
  char bytes[16] = {};
  unsigned len = 0;
  constexpr explicit NameGuess(std::string_view name = {}) {
    if (name.size() >= 15) return;  // too long to guess: never matches
    for (size_t i = 0; i < name.size(); ++i) bytes[i] = name[i];
    bytes[name.size()] = '>';
    len = static_cast<unsigned>(name.size());
  }
};

struct XmlStart {
  std::string_view qname;  // as written, prefix included ("cap:info")
  std::string_view local;  // without the prefix ("info")
  bool empty = false;      // written <x/>: no content, no end tag
  bool closed = false;     // next() only: the element was read whole (see next())
  bool guessed = false;    // next() only: the name is the guess it was given
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
  // Like child(), for callers that take most elements as text: when the next child element is plain text
  // (<x>text</x>: no reference, CR, control character, CDATA, comment or child inside) or <x/>, reads it
  // whole, sets out.closed and `text` (as text() would give it: trimmed; a view into the document, or ""),
  // and the caller goes on with next() at the same level. Otherwise out.closed is false and the element is
  // open, exactly as after child(): the caller then calls one of next()/child() (its children), text() or
  // skip(). One pass over a leaf (start tag, text, end tag) instead of three calls: most CAP elements are
  // leaves. False when the open element ends or on error.
  //
  // `guess`, if given, is the name the caller expects next (see NameGuess): when the start tag is exactly
  // <guess>, its end is known without scanning the name, and out.guessed is set. Only a speed-up: a wrong
  // guess costs one compare. (Why it helps: the name scan's result is a position computed from the bytes,
  // which the CPU must wait for before it can look at the text; a confirmed guess is a predicted branch.)
  [[gnu::always_inline]] bool next(XmlStart& out, std::string_view& text, const NameGuess* guess = nullptr) {
    if (!bad_ && !pendingEmpty_ && depth_ > 0) {
      // A loop per byte, not a 16-byte compare: the indentation is the same from sibling to sibling, so the
      // CPU predicts where the loop ends and runs ahead, where a computed position would make it wait
      // (measured: about 4% of parseCap).
      const char* q = p_;
      while (q < end_ && xml_detail::isWs(*q)) ++q;
      if (end_ - q >= 2 && *q == '<') {
        if (xml_detail::nameStart(q[1])) {
          const char* colon = nullptr;
          const char* n = q + 1;
          const char* e = nullptr;
#if defined(__SSE2__)
          if (guess && guess->len && end_ - n >= 16) {
            const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(n));
            const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(guess->bytes));
            const unsigned need = (1u << (guess->len + 1)) - 1u;
            if ((static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(a, b))) & need) == need) e = n + guess->len;
          }
#endif
          out.guessed = e != nullptr;
          if (!e) e = xml_detail::nameEnd(n, end_, colon);
          if (e < end_ && *e == '>' && depth_ < kMaxDepth && (!colon || colon + 1 < e)) {
            const std::string_view qname = plainName(n, e, colon, out);
            const char* t = e + 1;
            const char* r = xml_detail::textRunEnd(t, end_);
            if (const char* after = endTagOf(r, qname)) {  // a leaf: text, then its own end tag
              text = trimmed(t, r);
              out.closed = true;
              p_ = after;
              return true;
            }
            out.closed = false;
            open_[depth_++] = qname;
            p_ = e + 1;
            return true;
          }
        } else if (const char* after = endOfTop(q)) {
          popTop(after);
          return false;
        }
      }
    }
    out.guessed = false;
    if (!childSlow(out)) return false;
    out.closed = pendingEmpty_;  // <x/> (or the slow path's <x a="..."/>): whole already
    if (out.closed) {
      pendingEmpty_ = false;
      text = std::string_view("", 0);
    }
    return true;
  }

  // Within the element whose start tag was read last (or whose child() loop is running): moves to its next
  // child element and reads that start tag into `out`. False when the element ends (its end tag is read) or
  // on error.
  // The usual case inline (whitespace, then a plain start tag or the parent's end tag), the rest out of line.
  bool child(XmlStart& out) {
    if (!bad_ && !pendingEmpty_ && depth_ > 0) {
      const char* q = p_;
      while (q < end_ && xml_detail::isWs(*q)) ++q;
      if (end_ - q >= 2 && *q == '<') {
        if (xml_detail::nameStart(q[1])) {
          p_ = q;
          return startTag(out);
        }
        if (const char* after = endOfTop(q)) {
          popTop(after);
          return false;
        }
      }
    }
    return childSlow(out);
  }
  // Reads the rest of the element whose start tag was read last, end tag included, and returns its text
  // (see above), trimmed of leading and trailing spaces, tabs, CRs and LFs; data() is never null. Plain
  // text (no reference, CR, control character, CDATA, comment or child) is a view into the document, followed
  // there by whitespace or '<'; other text is assembled in the arena, followed there by a NUL. "" on error.
  std::string_view text() {
    if (!bad_ && !pendingEmpty_ && depth_ > 0) {
      // The common case inline: plain text (no reference, CR, control character or markup), then the end tag.
      const char* q = xml_detail::textRunEnd(p_, end_);
      if (const char* after = q < end_ && *q == '<' ? endOfTop(q) : nullptr) {
        const std::string_view t = trimmed(p_, q);
        popTop(after);
        return t;
      }
    }
    return textSlow();
  }
  // Reads the rest of the element whose start tag was read last, end tag included, keeping nothing.
  void skip();
  // After the root's end: reads the rest of the document, which may hold only comments, PIs and whitespace.
  bool finish();

  // Value of attribute `qname` (as written, e.g. "xmlns:cap") of the start tag read last; `found` false if
  // absent. The view stays valid like a text's; the list it is looked up in is that of the last start tag.
  std::string_view attribute(std::string_view qname, bool& found) const;

  bool failed() const { return bad_; }
  bool refusedDtd() const { return dtd_; }  // the error is a <!DOCTYPE or <!ENTITY declaration
  // Whether a text returned so far may not be clean UTF-8 text: it held a control character (C0 except tab,
  // LF and CR; DEL), in text or CDATA, or a character reference (which can name anything; unusable ones are
  // U+FFFD already). Attribute values are not counted (parseCap reads only xmlns values, and compares them).
  bool textNeedsCleaning() const { return unclean_; }
  const std::string& error() const { return error_; }  // one line, names what was found and where it began
  size_t errorOffset() const { return errorAt_; }       // byte offset into the document

 private:
  struct Attr {
    const char* name;
    size_t nameLen;
    const char* value;
    size_t valueLen;
  };
  enum class Markup { start, end, done, error };

  bool fail(size_t at, std::string what);
  bool childSlow(XmlStart& out);
  std::string_view textSlow();
  // At '<' + name start: a plain <name> inside the root inline, anything else (attributes, <x/>, the root,
  // errors) by readStartTag.
  [[gnu::always_inline]] bool startTag(XmlStart& out) {
    const char* colon;
    const char* n = p_ + 1;
    const char* q = xml_detail::nameEnd(n, end_, colon);
    if (q < end_ && *q == '>' && depth_ > 0 && depth_ < kMaxDepth && (!colon || colon + 1 < q)) {
      const std::string_view qname = plainName(n, q, colon, out);
      pendingEmpty_ = false;
      open_[depth_++] = qname;
      p_ = q + 1;
      return true;
    }
    return readStartTag(out);
  }
  // The names of a start tag without attributes, <n..e> (colon: its first ':', or nullptr), into `out`; the
  // qname is returned. Both views are built from locals: storing out.qname and loading it back as one
  // 16-byte value stalls on store forwarding (measured).
  [[gnu::always_inline]] std::string_view plainName(const char* n, const char* e, const char* colon, XmlStart& out) {
    const std::string_view qname(n, static_cast<size_t>(e - n));
    const std::string_view local = colon ? std::string_view(colon + 1, static_cast<size_t>(e - colon - 1)) : qname;
    out.qname = qname;
    out.local = local;
    out.empty = false;
    nAttrs_ = 0;
    return qname;
  }
  // [b, e) without leading and trailing spaces, tabs, CRs and LFs.
  [[gnu::always_inline]] static std::string_view trimmed(const char* b, const char* e) {
    while (b < e && xml_detail::isWs(*b)) ++b;
    while (e > b && xml_detail::isWs(e[-1])) --e;
    return {b, static_cast<size_t>(e - b)};
  }
  bool readStartTag(XmlStart& out);     // at '<' + name start: every case
  bool readEndTag();                    // at "</": matches and pops the top of the stack
  bool skipSpecial();                   // at "<!" or "<?": comment, CDATA (only where text is allowed), PI
  bool skipCdata(bool keep);            // at "<![CDATA["; appends the content to the arena when keep
  Markup nextMarkup(bool keepText);     // to the next start or end tag; text appended to the arena if keepText
  std::string_view attrValue(size_t quoteAt, char quote, size_t end);
  void appendText(const char* b, const char* e);  // with references and line ends resolved
  void appendLf(const char*& p, const char* e);
  // After "</name>" (whitespace allowed before '>') if it starts at q (< end_ or == end_), else nullptr.
  [[gnu::always_inline]] const char* endTagOf(const char* q, std::string_view name) const {
    const size_t n = name.size();
    if (static_cast<size_t>(end_ - q) < n + 3 || q[0] != '<' || q[1] != '/') return nullptr;
#if defined(__SSE2__)
    if (n < 16 && end_ - q >= 18 && end_ - name.data() >= 16) {  // one compare of 16 bytes, n of them counted
      const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q + 2));
      const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(name.data()));
      const unsigned need = (1u << n) - 1u;
      if ((static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(a, b))) & need) != need) return nullptr;
    } else
#endif
    {
      for (size_t i = 0; i < n; ++i)  // names are short: no call to memcmp
        if (q[2 + i] != name[i]) return nullptr;
    }
    q += 2 + n;
    while (q < end_ && xml_detail::isWs(*q)) ++q;
    return q < end_ && *q == '>' ? q + 1 : nullptr;
  }
  // After "</top>" (the open element's end tag) if it starts at q, else nullptr.
  const char* endOfTop(const char* q) const { return endTagOf(q, std::string_view(open_[depth_ - 1])); }
  void popTop(const char* after) {
    --depth_;
    if (depth_ == 0) rootDone_ = true;
    p_ = after;
  }

  const char* const begin_;
  const char* const end_;
  const char* p_;
  std::string& arena_;
  // Fixed arrays, not vectors: a reader lives on its caller's stack and allocates nothing.
  // A view without a constructor: the arrays below are left uninitialised (only [0, depth_) and
  // [0, nAttrs_) are read), so a reader costs no 6 KB of zeroing per document.
  struct Span {
    const char* p;
    size_t n;
    Span& operator=(std::string_view v) {
      p = v.data();
      n = v.size();
      return *this;
    }
    operator std::string_view() const { return {p, n}; }
  };
  Span open_[kMaxDepth];  // qnames of the open elements, root first
  size_t depth_ = 0;
  Attr attrs_[kMaxAttributes];  // of the start tag read last
  size_t nAttrs_ = 0;
  bool pendingEmpty_ = false;           // the start tag read last was <x/>
  bool rootDone_ = false;
  bool dtd_ = false;
  bool unclean_ = false;
  bool bad_ = false;  // error_ is set
  std::string error_;
  size_t errorAt_ = 0;
};

}  // namespace alertbus::met
