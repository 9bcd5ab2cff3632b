// Differential libFuzzer target (xml_fuzz) for the CAP pull reader (adapters/met/xml_stream.h) against pugixml,
// the parser every other met format uses. One input = one document, taken as UTF-8 bytes (the reader's input
// contract; parseCap converts other encodings first).
// Aborts (libFuzzer keeps the input) when:
//  * pugixml rejects the document, or finds a <!DOCTYPE, and XmlStream accepts it (the safety property: the
//    hand-written reader must be at least as strict as pugixml). Excepted: documents with a NUL byte
//    (pugixml stops at it, the reader refuses it wherever it is);
//  * both accept, and the trees differ: element names in order, attribute values (looked up by pugixml's
//    names; the first of duplicates), or text() of an element whose only child node is one PCDATA or CDATA against pugixml's
//    child_value() trimmed of space/tab/CR/LF (text() concatenates every run; child_value() gives the first,
//    so only single-run elements compare). Skipped for documents holding "&#": pugixml writes out-of-range
//    character references as it likes, the reader gives U+FFFD (xml_stream.h);
//  * the same for next() (parseCap's call), used instead of child() at random: a leaf it reads whole must be a
//    leaf in pugixml's tree with the same text;
//  * text() returns a control character (C0 but tab, LF, CR; DEL) while textNeedsCleaning() is false (the
//    header promises the flag for every such text; parseCap cleans only flagged documents);
//  * a view from text(), attribute() or a start tag lies outside both the input and the arena, the arena
//    reallocates (views would dangle), errorOffset() lies past the input, or a call after failure changes
//    the error or returns something.
// The converse (the reader refuses what pugixml takes) is allowed for the categories xml_stream.h lists as
// refused (second root, text or CDATA outside the root, '<' in attribute values, depth and attribute bounds,
// ...); those are counted, per error message category, and printed at exit.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <map>
#include <string>
#include <string_view>

#include <pugixml.hpp>

#include "adapters/met/xml_stream.h"

namespace {

using alertbus::met::XmlStart;
using alertbus::met::XmlStream;

[[noreturn]] void die(const char* what, std::string_view a = {}, std::string_view b = {}) {
  std::fprintf(stderr, "xml_fuzz: %s\n  xmlstream: [%.*s]\n  pugixml:   [%.*s]\n", what, static_cast<int>(a.size()),
               a.data(), static_cast<int>(b.size()), b.data());
  std::abort();
}

// Refusals by the reader of documents pugixml accepts, per category (the error with names blanked),
// printed when the fuzzer exits. Never destroyed: printCounts runs from atexit, after static
// destructors registered later (a function-local static map would be freed by then).
std::map<std::string, unsigned long>& stricterCounts() {
  static auto* m = new std::map<std::string, unsigned long>;
  return *m;
}
void printCounts() {
  std::fprintf(stderr, "xml_fuzz: documents pugixml accepts and XmlStream refuses, by reason:\n");
  for (auto& [k, n] : stricterCounts()) std::fprintf(stderr, "  %8lu  %s\n", n, k.c_str());
}
// The error with its names and values blanked: "end tag </b> does not match <a>" -> "end tag <..> does not match
// <..>", "attribute x value not quoted" -> "attribute .. value not quoted".
std::string category(const std::string& error) {
  std::string c;
  for (size_t i = 0; i < error.size(); ++i) {
    const char ch = error[i];
    const char close = ch == '"' ? '"' : (ch == '<' && i > 0 && error[i - 1] != '\'') ? '>' : 0;
    const size_t j = close ? error.find(close, i + 1) : std::string::npos;
    if (j == std::string::npos) {
      c += ch;
      continue;
    }
    c += std::string(1, ch) + ".." + close;
    i = j;
  }
  if (c.compare(0, 10, "attribute ") == 0) c = "attribute .." + c.substr(std::min(c.find(' ', 10), c.size()));
  const size_t of = c.find("of attribute ");
  if (of != std::string::npos) c = c.substr(0, of + 13) + "..";
  return c;
}

pugi::xml_node nextElement(pugi::xml_node n) {
  for (n = n.next_sibling(); n && n.type() != pugi::node_element; n = n.next_sibling()) {
  }
  return n;
}

std::string_view trimmed(std::string_view s) {
  auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && ws(s.back())) s.remove_suffix(1);
  return s;
}

struct Walk {
  XmlStream& xs;
  std::string_view in;
  const std::string& arena;
  const char* arenaData;  // arena.data() after the reader reserved it: must never change
  bool compareText;       // no "&#" in the document
  uint32_t choice;        // varies the calls made on elements pugixml cannot pair (from the input's bytes)
  std::string diff;       // the first difference from pugixml's tree; fatal only if both accept

  // A text holding a control character must have set textNeedsCleaning() (see the file comment).
  void checkFlag(std::string_view t) {
    if (xs.textNeedsCleaning()) return;
    for (unsigned char c : t)
      if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f)
        die("text() holds a control character, textNeedsCleaning() is false", t);
  }

  // A view from the reader must lie in the input or in the arena's reserved storage (an empty one may point
  // anywhere), and never be null.
  void checkView(std::string_view v, const char* what) {
    if (arena.data() != arenaData) die("the arena reallocated: earlier views dangle");
    if (!v.data()) die(what, "data() is null");
    if (v.empty()) return;  // next() gives "" of <x/> as a view of a literal: harmless, nothing to read
    const char* b = v.data();
    const char* e = b + v.size();
    const bool inInput = b >= in.data() && e <= in.data() + in.size();
    const bool inArena = b >= arenaData && e <= arenaData + arena.capacity();
    if (!inInput && !inArena) die(what, "view outside the input and the arena");
  }
  void differ(std::string what, std::string_view a, std::string_view b) {
    if (diff.empty()) diff = what + "\n  xmlstream: [" + std::string(a) + "]\n  pugixml:   [" + std::string(b) + "]";
  }
  uint32_t roll() {
    choice = choice * 1103515245u + 12345u;
    return choice >> 16;
  }

  // Iterates the children of the element whose start tag was read last, pairing them with pugixml's element
  // children of `pn` (null when pugixml has no tree, or the trees already differ).
  void children(pugi::xml_node pn, size_t depth) {
    pugi::xml_node pc = pn ? pn.find_child([](pugi::xml_node n) { return n.type() == pugi::node_element; })
                           : pugi::xml_node();
    XmlStart c;
    size_t guard = 0;
    for (;;) {
      // child() or next() (parseCap's call), by the roll: next() may read a leaf whole (c.closed).
      std::string_view leafText;
      const bool viaNext = roll() & 1;
      if (!(viaNext ? xs.next(c, leafText) : xs.child(c))) break;
      if (++guard > in.size() + 1) die("child()/next() returned true more often than there are bytes");
      checkView(c.qname, "qname");
      checkView(c.local, "local");
      if (c.qname.size() < c.local.size() || c.qname.substr(c.qname.size() - c.local.size()) != c.local)
        die("local is not the tail of qname", c.qname, c.local);
      if (pn && !pc) {
        differ("an element pugixml does not have", c.qname, "");
        pn = pugi::xml_node();
      }
      if (pc && c.qname != pc.name()) {
        differ("element names differ", c.qname, pc.name());
        pn = pc = pugi::xml_node();
      }
      if (pc) {
        for (pugi::xml_attribute a = pc.first_attribute(); a; a = a.next_attribute()) {
          // Duplicate names (not XML, taken by both): attribute() gives the first, as pc.attribute(name) does.
          if (pc.attribute(a.name()) != a) continue;
          bool found = false;
          std::string_view v = xs.attribute(a.name(), found);
          if (!found) {
            differ("attribute missing", a.name(), a.name());
          } else {
            checkView(v, "attribute value");
            if (compareText && v != a.value()) differ(std::string("attribute ") + a.name() + " differs", v, a.value());
          }
        }
      }
      if (viaNext && c.closed) {
        checkView(leafText, "next() text");
        checkFlag(leafText);
        if (pc) leaf(pc, leafText, "next()");
      } else {
        element(pc, depth + 1);
      }
      if (pc) pc = nextElement(pc);
    }
    if (pc) differ("pugixml has more elements", "", pc.name());
  }

  // `t`, the text of pugixml's element `pc` as the reader gave it: pc must have no element children, and t
  // must be its only PCDATA/CDATA child's value, trimmed (or "" when it has no child).
  void leaf(pugi::xml_node pc, std::string_view t, const char* how) {
    if (pc.find_child([](pugi::xml_node n) { return n.type() == pugi::node_element; }))
      differ(std::string(how) + " read <" + pc.name() + "> whole, pugixml has elements in it", t, "");
    pugi::xml_node only = pc.first_child();
    if (compareText && only && !only.next_sibling() &&
        (only.type() == pugi::node_pcdata || only.type() == pugi::node_cdata) && t != trimmed(only.value()))
      differ(std::string(how) + " of <" + pc.name() + "> differs", t, trimmed(only.value()));
    if (!only && !t.empty()) differ(std::string(how) + " of empty <" + pc.name() + ">", t, "");
  }

  // The element whose start tag was just read: text(), skip() or its children.
  void element(pugi::xml_node pc, size_t depth) {
    if (pc) {
      const bool isLeaf = !pc.find_child([](pugi::xml_node n) { return n.type() == pugi::node_element; });
      if (isLeaf || (roll() & 7) == 0) {
        std::string_view t = xs.text();
        checkView(t, "text()");
        checkFlag(t);
        if (isLeaf) leaf(pc, t, "text()");
        return;
      }
      children(pc, depth);
      return;
    }
    switch (roll() % 3) {
      case 0: {
        const std::string_view t = xs.text();
        checkView(t, "text()");
        checkFlag(t);
        return;
      }
      case 1: xs.skip(); return;
      default: children(pugi::xml_node(), depth);
    }
  }
};

void run(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const bool hasNul = std::memchr(data, 0, size) != nullptr;

  pugi::xml_document doc;
  const pugi::xml_parse_result pr =
      doc.load_buffer(data, size, pugi::parse_default | pugi::parse_doctype, pugi::encoding_utf8);
  bool pugiDoctype = false;
  for (pugi::xml_node n = doc.first_child(); n; n = n.next_sibling()) pugiDoctype |= n.type() == pugi::node_doctype;
  const bool pugiRejects = !pr || pugiDoctype || !doc.document_element();

  std::string arena;
  XmlStream xs(in, arena);
  Walk w{xs, in, arena, arena.data(), in.find("&#") == std::string_view::npos, static_cast<uint32_t>(size), {}};
  for (size_t i = 0; i < size && i < 64; ++i) w.choice = w.choice * 31 + data[i];

  XmlStart root;
  if (xs.root(root)) {
    w.checkView(root.qname, "root qname");
    pugi::xml_node pr0 = pugiRejects ? pugi::xml_node() : doc.document_element();
    if (pr0 && root.qname != pr0.name()) {
      w.differ("root names differ", root.qname, pr0.name());
      pr0 = pugi::xml_node();
    }
    w.element(pr0, 1);
  }
  xs.finish();

  // After a failure every call is a no-op that returns nothing and keeps the first error.
  if (xs.failed()) {
    const std::string err = xs.error();
    const size_t at = xs.errorOffset();
    if (err.empty()) die("failed() with an empty error()");
    if (at > size) die("errorOffset() past the end of the input", err);
    XmlStart s;
    if (xs.root(s) || xs.child(s) || !xs.text().empty() || xs.finish()) die("a call after failure did something", err);
    xs.skip();
    if (xs.error() != err || xs.errorOffset() != at) die("the error changed after failure", xs.error(), err);
  }

  if (pugiRejects && !xs.failed() && !hasNul) {
    std::string p = pugiDoctype ? "doctype node" : !pr ? std::string(pr.description()) + " at offset " +
                                                              std::to_string(pr.offset)
                                                        : "no document element";
    die("pugixml rejects, XmlStream accepts", "accepted", p);
  }
  if (!pugiRejects && xs.failed() && !hasNul) ++stricterCounts()[category(xs.error())];
  if (!pugiRejects && !xs.failed() && !w.diff.empty()) die(("both accept, trees differ: " + w.diff).c_str());
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  std::atexit(printCounts);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  run(data, size);
  return 0;
}
