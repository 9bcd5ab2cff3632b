// The pull reader of xml_stream.h (its fast paths are inline there). One pointer walks the document once;
// markup is recognised by its first bytes, text is scanned 16 bytes at a time (SSE2) and copied into the
// caller's arena only when it must be decoded. Every failure goes through fail(), which records the first
// problem and makes every later call a no-op.
#include "adapters/met/xml_stream.h"

#include <algorithm>
#include <cstring>

#include "model/decode_util.h"

namespace alertbus::met {
namespace {

using namespace xml_detail;


// Appends the UTF-8 form of `cp`, or U+FFFD when `cp` is not a Unicode scalar value other than NUL.
void appendScalar(std::string& out, uint32_t cp) {
  if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) cp = 0xFFFD;
  appendUtf8(out, static_cast<char32_t>(cp));
}

// The reference starting at `p` ('&') and ending before `e`: appends what it stands for and returns the
// position after it, or returns nullptr (not a reference we resolve: the caller keeps the '&' as written).
// Every reference we resolve is at least as long as its UTF-8 result ("&#x10000;" is 9 bytes for 4).
// Character references may carry any number of leading zeros (XML allows them); the digits are read to
// the ';' with no length limit, the value saturating past U+10FFFF.
const char* resolveReference(const char* p, const char* e, std::string& out) {
  const std::string_view rest(p + 1, static_cast<size_t>(e - p - 1));
  static constexpr std::pair<std::string_view, char> kNamed[] = {
      {"lt;", '<'}, {"gt;", '>'}, {"amp;", '&'}, {"apos;", '\''}, {"quot;", '"'}};
  for (const auto& [name, c] : kNamed)
    if (rest.substr(0, name.size()) == name) {
      out.push_back(c);
      return p + 1 + name.size();
    }
  if (rest.size() < 2 || rest[0] != '#') return nullptr;
  const bool hex = rest[1] == 'x';
  size_t i = hex ? 2 : 1;
  const size_t first = i;
  uint32_t cp = 0;
  for (; i < rest.size(); ++i) {
    const char c = rest[i];
    uint32_t d;
    if (c >= '0' && c <= '9') d = static_cast<uint32_t>(c - '0');
    else if (hex && c >= 'a' && c <= 'f') d = static_cast<uint32_t>(c - 'a' + 10);
    else if (hex && c >= 'A' && c <= 'F') d = static_cast<uint32_t>(c - 'A' + 10);
    else break;
    cp = cp > 0x10FFFF ? cp : cp * (hex ? 16 : 10) + d;  // past U+10FFFF it only has to stay invalid
  }
  if (i == first || i == rest.size() || rest[i] != ';') return nullptr;
  appendScalar(out, cp);
  return p + 1 + i + 1;
}

}  // namespace

XmlStream::XmlStream(std::string_view doc, std::string& arena)
    : begin_(doc.data()), end_(doc.data() + doc.size()), p_(doc.data()), arena_(arena) {
  arena_.clear();
  // Every text and attribute value copied is at most as long as the markup it came from, plus a NUL that the
  // markup after it (at least "</x>") pays for: the arena never grows past this, so its views stay valid.
  arena_.reserve(doc.size() + 64);
  if (const void* nul = std::memchr(begin_, '\0', doc.size()))
    fail(static_cast<size_t>(static_cast<const char*>(nul) - begin_), "NUL byte in the document");
}

bool XmlStream::fail(size_t at, std::string what) {
  if (!bad_) {
    bad_ = true;
    error_ = std::move(what);
    errorAt_ = at;
  }
  p_ = end_;
  return false;
}

void XmlStream::appendLf(const char*& p, const char* e) {
  arena_.push_back('\n');  // CR LF and a lone CR are one LF
  ++p;
  if (p < e && *p == '\n') ++p;
}

void XmlStream::appendText(const char* p, const char* e) {
  while (p < e) {
    const char* run = p;
    p = textRunEnd(p, e);
    arena_.append(run, static_cast<size_t>(p - run));
    if (p == e) return;
    if (*p == '\r') {
      appendLf(p, e);
    } else if (*p == '&') {  // ('<' ends every run before it is passed here)
      const char* after = resolveReference(p, e, arena_);
      if (after) {
        unclean_ = unclean_ || p[1] == '#';  // a character reference can name anything
        p = after;
      } else {
        arena_.push_back('&');
        ++p;
      }
    } else {  // a control character
      unclean_ = true;
      arena_.push_back(*p++);
    }
  }
}

bool XmlStream::skipCdata(bool keep) {
  const char* b = p_ + 9;  // after "<![CDATA["
  const char* q = b;
  for (;;) {
    q = static_cast<const char*>(std::memchr(q, ']', static_cast<size_t>(end_ - q)));
    if (!q || end_ - q < 3) return fail(static_cast<size_t>(p_ - begin_), "unterminated CDATA section");
    if (q[1] == ']' && q[2] == '>') break;
    ++q;
  }
  if (keep) {
    for (const char* s = b; s < q; ++s)  // control characters are kept, as in text, and flagged
      if ((static_cast<unsigned char>(*s) < 0x20 && *s != '\t' && *s != '\n' && *s != '\r') || *s == 0x7f) {
        unclean_ = true;
        break;
      }
    for (const char* s = b; s < q;) {
      const char* cr = static_cast<const char*>(std::memchr(s, '\r', static_cast<size_t>(q - s)));
      const char* stop = cr ? cr : q;
      arena_.append(s, static_cast<size_t>(stop - s));
      s = stop;
      if (cr) appendLf(s, q);
    }
  }
  p_ = q + 3;
  return true;
}

bool XmlStream::skipSpecial() {
  const size_t at = static_cast<size_t>(p_ - begin_);
  std::string_view rest(p_, static_cast<size_t>(end_ - p_));
  if (rest.substr(0, 4) == "<!--") {
    size_t close = rest.find("-->", 4);
    if (close == std::string_view::npos) return fail(at, "unterminated comment");
    p_ += close + 3;
    return true;
  }
  if (rest.substr(0, 2) == "<?") {
    size_t close = rest.find("?>", 2);
    if (close == std::string_view::npos) return fail(at, "unterminated processing instruction");
    if (close == 2 || !nameStart(rest[2])) return fail(at, "processing instruction without a target name");
    p_ += close + 2;
    return true;
  }
  if (rest.substr(0, 9) == "<!DOCTYPE" || rest.substr(0, 8) == "<!ENTITY") {
    dtd_ = true;
    return fail(at, "DTDs and entity declarations are refused (XXE)");
  }
  return fail(at, "unknown markup \"" + std::string(rest.substr(0, std::min<size_t>(rest.size(), 12))) + "\"");
}

XmlStream::Markup XmlStream::nextMarkup(bool keepText) {
  for (;;) {
    if (failed()) return Markup::error;
    const char* lt = static_cast<const char*>(std::memchr(p_, '<', static_cast<size_t>(end_ - p_)));
    const char* stop = lt ? lt : end_;
    if (depth_ == 0 && !pendingEmpty_) {
      for (const char* q = p_; q < stop; ++q)
        if (!isWs(*q)) {
          fail(static_cast<size_t>(q - begin_), "text outside the root element");
          return Markup::error;
        }
    } else if (keepText) {
      if (arena_.size() + static_cast<size_t>(stop - p_) + 1 > arena_.capacity()) {  // cannot happen (see ctor)
        fail(static_cast<size_t>(p_ - begin_), "internal: text arena full");
        return Markup::error;
      }
      appendText(p_, stop);
    }
    p_ = stop;
    if (!lt) {
      if (depth_ != 0) {
        fail(static_cast<size_t>(end_ - begin_),
             "unexpected end of document inside <" + std::string(std::string_view(open_[depth_ - 1])) + ">");
        return Markup::error;
      }
      return Markup::done;
    }
    if (end_ - p_ < 2) {
      fail(static_cast<size_t>(p_ - begin_), "'<' at the end of the document");
      return Markup::error;
    }
    const char c = p_[1];
    if (c == '/') return Markup::end;
    if (nameStart(c)) return Markup::start;
    if (c == '!' && std::string_view(p_, static_cast<size_t>(end_ - p_)).substr(0, 9) == "<![CDATA[") {
      if (depth_ == 0) {
        fail(static_cast<size_t>(p_ - begin_), "CDATA outside the root element");
        return Markup::error;
      }
      if (!skipCdata(keepText)) return Markup::error;
      continue;
    }
    if (c == '!' || c == '?') {
      if (!skipSpecial()) return Markup::error;
      continue;
    }
    fail(static_cast<size_t>(p_ - begin_), "'<' not followed by a name");
    return Markup::error;
  }
}

std::string_view XmlStream::attrValue(size_t quoteAt, char quote, size_t end) {
  const char* b = begin_ + quoteAt + 1;
  const char* e = begin_ + end;
  bool plain = true;
  for (const char* q = b; q < e && plain; ++q) plain = *q != '&' && *q != '\t' && *q != '\n' && *q != '\r';
  if (plain) return {b, static_cast<size_t>(e - b)};
  const size_t start = arena_.size();
  for (const char* q = b; q < e;) {
    if (*q == '&') {
      const char* after = resolveReference(q, e, arena_);
      if (after) {
        q = after;
        continue;
      }
      arena_.push_back('&');
    } else if (*q == '\r') {
      arena_.push_back(' ');
      if (q + 1 < e && q[1] == '\n') ++q;
    } else {
      arena_.push_back(*q == '\t' || *q == '\n' ? ' ' : *q);
    }
    ++q;
  }
  std::string_view v(arena_.data() + start, arena_.size() - start);
  arena_.push_back('\0');
  return v;
}

bool XmlStream::readStartTag(XmlStart& out) {
  const size_t at = static_cast<size_t>(p_ - begin_);
  const char* n = p_ + 1;
  const char* colon;
  const char* q = nameEnd(n, end_, colon);
  // Both views from locals: copying out.qname into out.local would load 16 bytes just stored as two 8-byte
  // halves, which stalls on store forwarding (measured: half of this function's time).
  const std::string_view qname(n, static_cast<size_t>(q - n));
  const std::string_view local = colon ? std::string_view(colon + 1, static_cast<size_t>(q - colon - 1)) : qname;
  out.qname = qname;
  out.local = local;
  out.empty = false;
  if (out.local.empty()) return fail(at, "element name <" + std::string(out.qname) + "> has an empty local part");
  nAttrs_ = 0;
  if (q < end_ && *q == '>' && depth_ > 0 && depth_ < kMaxDepth) {  // the usual <name> inside the root
    p_ = q + 1;
    pendingEmpty_ = false;
    open_[depth_++] = qname;  // the local: see above
    return true;
  }
  for (;;) {
    const char* ws = q;
    while (q < end_ && isWs(*q)) ++q;
    if (q == end_) return fail(at, "unterminated start tag <" + std::string(out.qname) + ">");
    if (*q == '>') {
      ++q;
      break;
    }
    if (*q == '/') {
      if (q + 1 == end_ || q[1] != '>') return fail(static_cast<size_t>(q - begin_), "'/' not followed by '>' in a start tag");
      q += 2;
      out.empty = true;
      break;
    }
    if (q == ws) return fail(static_cast<size_t>(q - begin_), "no whitespace before an attribute in <" + std::string(out.qname) + ">");
    if (!nameStart(*q)) return fail(static_cast<size_t>(q - begin_), "attribute name expected in <" + std::string(out.qname) + ">");
    const char* an = q;
    while (q < end_ && nameRest(*q)) ++q;
    std::string_view aname(an, static_cast<size_t>(q - an));
    while (q < end_ && isWs(*q)) ++q;
    if (q == end_ || *q != '=') return fail(static_cast<size_t>(q - begin_), "attribute " + std::string(aname) + " without '='");
    ++q;
    while (q < end_ && isWs(*q)) ++q;
    if (q == end_ || (*q != '"' && *q != '\''))
      return fail(static_cast<size_t>(q - begin_), "attribute " + std::string(aname) + " value not quoted");
    const char quote = *q;
    const char* close = static_cast<const char*>(std::memchr(q + 1, quote, static_cast<size_t>(end_ - q - 1)));
    if (!close) return fail(static_cast<size_t>(q - begin_), "attribute " + std::string(aname) + " value not closed");
    if (std::memchr(q + 1, '<', static_cast<size_t>(close - q - 1)))
      return fail(static_cast<size_t>(q - begin_), "'<' in the value of attribute " + std::string(aname));
    if (nAttrs_ == kMaxAttributes)
      return fail(at, "more than " + std::to_string(kMaxAttributes) + " attributes on <" + std::string(out.qname) + ">");
    const std::string_view value = attrValue(static_cast<size_t>(q - begin_), quote, static_cast<size_t>(close - begin_));
    attrs_[nAttrs_++] = Attr{aname.data(), aname.size(), value.data(), value.size()};
    q = close + 1;
  }
  if (depth_ == 0 && rootDone_) return fail(at, "a second root element <" + std::string(out.qname) + ">");
  p_ = q;
  pendingEmpty_ = out.empty;
  if (out.empty) {
    if (depth_ == 0) rootDone_ = true;
    return true;
  }
  if (depth_ == kMaxDepth) return fail(at, "elements nested deeper than " + std::to_string(kMaxDepth));
  open_[depth_++] = qname;  // the local: see above
  return true;
}

bool XmlStream::readEndTag() {
  if (depth_ != 0)
    if (const char* after = endOfTop(p_)) {  // the usual case: it closes the open element
      popTop(after);
      return true;
    }
  const size_t at = static_cast<size_t>(p_ - begin_);
  const char* n = p_ + 2;
  const char* q = n;
  while (q < end_ && nameRest(*q)) ++q;
  std::string_view name(n, static_cast<size_t>(q - n));
  while (q < end_ && isWs(*q)) ++q;
  if (q == end_ || *q != '>') return fail(at, "malformed end tag </" + std::string(name) + ">");
  if (depth_ == 0) return fail(at, "end tag </" + std::string(name) + "> with no open element");
  if (std::string_view(open_[depth_ - 1]) != name)
    return fail(at, "end tag </" + std::string(name) + "> does not match <" + std::string(std::string_view(open_[depth_ - 1])) + ">");
  popTop(q + 1);
  return true;
}

bool XmlStream::root(XmlStart& out) {
  if (failed()) return false;
  switch (nextMarkup(false)) {
    case Markup::start: return readStartTag(out);
    case Markup::end: readEndTag(); return false;  // fails: nothing is open
    case Markup::done: return fail(static_cast<size_t>(p_ - begin_), "no root element");
    case Markup::error: return false;
  }
  return false;
}

bool XmlStream::childSlow(XmlStart& out) {
  if (failed()) return false;
  if (pendingEmpty_) {  // the element just started was <x/>: it has no children
    pendingEmpty_ = false;
    return false;
  }
  if (depth_ == 0) return false;  // the root has ended
  switch (nextMarkup(false)) {
    case Markup::start: return readStartTag(out);
    case Markup::end: readEndTag(); return false;
    case Markup::done:
    case Markup::error: return false;
  }
  return false;
}

void XmlStream::skip() {
  if (failed()) return;
  if (pendingEmpty_) {
    pendingEmpty_ = false;
    return;
  }
  const size_t depth = depth_;
  XmlStart ignored;
  while (!failed() && depth_ >= depth && depth > 0) {
    switch (nextMarkup(false)) {
      case Markup::start:
        readStartTag(ignored);
        pendingEmpty_ = false;
        break;
      case Markup::end: readEndTag(); break;
      case Markup::done:
      case Markup::error: return;
    }
  }
}

std::string_view XmlStream::textSlow() {
  const size_t start = arena_.size();
  if (!failed() && !pendingEmpty_) {
    const size_t depth = depth_;
    XmlStart ignored;
    while (!failed() && depth_ >= depth && depth > 0) {
      switch (nextMarkup(true)) {
        case Markup::start: {  // a child element inside text: checked and skipped
          // Its attribute values (and those of everything in it) are decoded into the arena, where this
          // text is being assembled: they are dropped again (found by fuzzing: they became part of the text).
          const size_t textEnd = arena_.size();
          if (readStartTag(ignored)) skip();
          arena_.resize(textEnd);
          break;
        }
        case Markup::end: readEndTag(); break;
        case Markup::done:
        case Markup::error: break;
      }
    }
  }
  pendingEmpty_ = false;
  const char* const base = arena_.data();
  const std::string_view t = trimmed(base + start, base + (failed() ? start : arena_.size()));
  if (t.empty()) {  // nothing (also after an error): no arena space, so repeated calls cannot grow it
    arena_.resize(start);
    return std::string_view("", 0);
  }
  arena_.resize(static_cast<size_t>(t.data() + t.size() - base));  // reserved: no reallocation, t stays valid
  arena_.push_back('\0');
  return t;
}

bool XmlStream::finish() {
  XmlStart ignored;
  while (!failed() && depth_ != 0) {  // whatever the caller did not read is still checked
    pendingEmpty_ = false;
    switch (nextMarkup(false)) {
      case Markup::start: readStartTag(ignored); break;
      case Markup::end: readEndTag(); break;
      case Markup::done:
      case Markup::error: break;
    }
  }
  pendingEmpty_ = false;
  if (failed()) return false;
  if (!rootDone_) return fail(static_cast<size_t>(p_ - begin_), "no root element");
  switch (nextMarkup(false)) {
    case Markup::done: return true;
    case Markup::start: {
      XmlStart second;
      readStartTag(second);  // fails: a second root
      return false;
    }
    case Markup::end: readEndTag(); return false;
    case Markup::error: return false;
  }
  return false;
}

std::string_view XmlStream::attribute(std::string_view qname, bool& found) const {
  for (size_t i = 0; i < nAttrs_; ++i)
    if (std::string_view(attrs_[i].name, attrs_[i].nameLen) == qname) {
      found = true;
      return {attrs_[i].value, attrs_[i].valueLen};
    }
  found = false;
  return {};
}

}  // namespace alertbus::met
