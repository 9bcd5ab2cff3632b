// Format detection and dispatch for the met adapter; see detect.h. Each CapProblem becomes one InputProblem.
#include "adapters/met/detect.h"

#include <pugixml.hpp>

#include "adapters/met/cap.h"
#include "adapters/met/edxl.h"
#include "adapters/met/feed.h"
#include "adapters/met/gbt.h"
#include "adapters/met/xml_stream.h"
#include "model/validate.h"
#include "schemas/message.capnp.h"

namespace alertbus::met {
namespace {

adapter::InputProblem toInput(const CapProblem& p, const std::string& source) {
  return adapter::InputProblem{p.level == CapProblem::Level::error ? adapter::InputProblem::Level::error
                                                                    : adapter::InputProblem::Level::warning,
                               source, p.position, p.field, p.value, p.reason};
}

void addProblems(MetOutput& out, const std::vector<CapProblem>& ps, const std::string& source) {
  for (auto& p : ps) out.output.problems.push_back(toInput(p, source));
}

void error(MetOutput& out, std::string_view source, std::string position, std::string field, std::string_view value,
           std::string reason) {
  out.output.problems.push_back(adapter::InputProblem{adapter::InputProblem::Level::error, std::string(source),
                                                      std::move(position), std::move(field), clipValue(value),
                                                      std::move(reason)});
  out.output.rejected += 1;
}

// Maps one CAP document (standalone or from a container) and files the result.
void takeCap(MetOutput& out, std::string_view xml, const std::string& source, int64_t receivedMs,
             const std::string& originalOverride = {}, const char* contentTypeOverride = nullptr) {
  // Sized from the document: one segment, one allocation (cap.h); the message is kept, so no shared scratch.
  auto b = std::make_unique<capnp::MallocMessageBuilder>(capFirstSegmentWords(xml.size()));
  CapResult r = parseCap(xml, source, receivedMs, *b);
  // parseCap's problems carry the source it was given; keep them as they are.
  for (auto& p : r.problems) out.output.problems.push_back(toInput(p, p.source));
  if (!r.accepted) {
    out.output.rejected += 1;
    return;
  }
  if (contentTypeOverride) {
    auto prov = b->getRoot<schema::Message>().getProvenance();
    prov.setContentType(contentTypeOverride);
    prov.setOriginal(capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(originalOverride.data()),
                                         originalOverride.size()));
  }
  out.output.accepted += 1;
  out.output.messages.push_back(std::move(b));
}

bool isCapNs(std::string_view ns) {
  return ns == "urn:oasis:names:tc:emergency:cap:1.0" || ns == "urn:oasis:names:tc:emergency:cap:1.1" ||
         ns == "urn:oasis:names:tc:emergency:cap:1.2";
}

}  // namespace

const char* metFormatName(MetFormat f) {
  switch (f) {
    case MetFormat::cap: return "cap";
    case MetFormat::atom: return "atom";
    case MetFormat::rss: return "rss";
    case MetFormat::edxlDe: return "edxl-de";
    case MetFormat::gbt: return "gbt";
    case MetFormat::unknown: break;
  }
  return "unknown";
}

MetOutput parseMetDocument(std::string_view bytes, std::string_view source, int64_t receivedMs) {
  MetOutput out;
  const std::string src(source);
  std::string_view probe = bytes;
  if (probe.substr(0, 3) == "\xEF\xBB\xBF") probe.remove_prefix(3);
  size_t first = probe.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) {
    error(out, source, "document", "document", "", "empty input");
    return out;
  }
  if (probe[first] == '{' || probe[first] == '[') {
    std::string_view head = probe.substr(first, 64 * 1024);
    bool geo = head.find("\"FeatureCollection\"") != std::string_view::npos ||
               head.find("\"Feature\"") != std::string_view::npos;
    error(out, source, "document", "format", head.substr(0, 40),
          geo ? "unsupported format (GeoJSON): JSON such as api.weather.gov's alerts is not read; fetch the CAP XML "
                "(Accept: application/cap+xml) or the Atom feed instead"
              : "unsupported format (JSON): expected CAP, Atom, RSS, EDXL-DE or GB/T 35965 XML");
    return out;
  }

  bool wide = bytes.substr(0, 2) == "\xFE\xFF" || bytes.substr(0, 2) == "\xFF\xFE" ||
              bytes.substr(0, 8).find('\0') != std::string_view::npos;  // UTF-16/32: pugixml decides
  if (!wide && probe[first] != '<') {
    error(out, source, "document", "format", probe.substr(first, 40),
          "unsupported format (not XML): expected CAP, Atom, RSS, EDXL-DE or GB/T 35965 XML");
    return out;
  }

  // A CAP alert (by far the most common input) is recognised from its root start tag alone, read with the
  // pull reader, and goes to parseCap, which reads the document once. Anything else, and whatever that
  // sniff cannot read (UTF-16/32, a DOCTYPE, broken markup before the root), is loaded with pugixml below,
  // which also names the problem.
  if (!wide) {
    std::string arena;
    XmlStream xs(probe.substr(0, 64 * 1024), arena);  // the root start tag is near the start (else: pugixml)
    XmlStart root;
    if (xs.root(root) && root.local == "alert") {
      const size_t prefix = root.qname.size() - root.local.size();  // "cap:" or nothing
      const std::string attr = prefix ? "xmlns:" + std::string(root.qname.substr(0, prefix - 1)) : "xmlns";
      bool found = false;
      if (isCapNs(xs.attribute(attr, found))) {
        out.format = MetFormat::cap;
        takeCap(out, bytes, src, receivedMs);
        return out;
      }
    }
  }

  pugi::xml_document doc;
  std::vector<CapProblem> loadProblems;
  if (!loadXml(bytes, source, kMaxFeedBytes, doc, loadProblems)) {
    addProblems(out, loadProblems, src);
    out.output.rejected += 1;
    return out;
  }
  auto root = doc.document_element();
  std::string_view name = localName(root);
  std::string ns = namespaceOf(root);

  if (name == "alert" && isCapNs(ns)) {
    out.format = MetFormat::cap;
    takeCap(out, bytes, src, receivedMs);
    return out;
  }
  if (name == "alert") {
    out.format = MetFormat::gbt;
    auto b = std::make_unique<capnp::MallocMessageBuilder>();
    CapResult r = parseGbt(bytes, source, receivedMs, *b);
    addProblems(out, r.problems, src);
    if (r.accepted) {
      out.output.accepted += 1;
      out.output.messages.push_back(std::move(b));
    } else {
      out.output.rejected += 1;
    }
    return out;
  }
  if (name == "feed" || name == "rss") {
    FeedResult f = parseFeed(bytes, source, receivedMs);
    out.format = f.format == "rss" ? MetFormat::rss : MetFormat::atom;
    addProblems(out, f.problems, src);
    if (f.errorCount() > 0) {
      out.output.rejected += 1;
      return out;
    }
    for (auto& a : f.alerts) {
      std::string s = src + "#" + a.entryKey;
      if (a.fromIndex)
        takeCap(out, a.xml, s, receivedMs, a.entryXml,
                out.format == MetFormat::rss ? "application/rss+xml" : "application/atom+xml");
      else
        takeCap(out, a.xml, s, receivedMs);
    }
    for (auto& l : f.links) out.links.push_back(MetLink{l.url, l.type, src + "#" + l.entryKey, l.entryId, l.updatedMs});
    return out;
  }
  if (name == "EDXLDistribution") {
    out.format = MetFormat::edxlDe;
    EdxlResult e = parseEdxl(bytes, source);
    addProblems(out, e.problems, src);
    if (e.errorCount() > 0) {
      out.output.rejected += 1;
      return out;
    }
    out.notes.push_back(e.describe() + " (" + std::to_string(e.alerts.size()) + " CAP alerts)");
    for (auto& a : e.alerts) takeCap(out, a.xml, src + "#" + a.key, receivedMs);
    return out;
  }
  error(out, source, std::string(root.name()), "root", std::string(root.name()) + (ns.empty() ? "" : " " + ns),
        "unsupported format: root element is not a CAP or GB/T <alert>, an Atom <feed>, an RSS <rss> or an "
        "EDXL-DE <EDXLDistribution>");
  return out;
}

}  // namespace alertbus::met
