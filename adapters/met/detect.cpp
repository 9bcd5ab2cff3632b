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
             const std::string& originalOverride = {}, const char* contentTypeOverride = nullptr,
             ForeignNamespace foreign = ForeignNamespace::refuse) {
  // Sized from the document: one segment, one allocation (cap.h); the message is kept, so no shared scratch.
  auto b = std::make_unique<capnp::MallocMessageBuilder>(capFirstSegmentWords(xml.size()));
  CapResult r = parseCap(xml, source, receivedMs, *b, foreign);
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

// CAP's URN with a version this reader does not know ("urn:oasis:names:tc:emergency:cap:1.3").
bool isOtherCapVersion(std::string_view ns) {
  return ns.rfind("urn:oasis:names:tc:emergency:cap:", 0) == 0 && !isCapNs(ns);
}

// The namespace declaration attribute of element `n`'s own prefix: "xmlns" or "xmlns:cap".
std::string xmlnsAttribute(const pugi::xml_node& n) {
  std::string_view q = n.name();
  size_t colon = q.find(':');
  return colon == std::string_view::npos ? "xmlns" : "xmlns:" + std::string(q.substr(0, colon));
}

// The warning that a document outside CAP's namespaces was read anyway, naming the namespace and how.
void foreignNamespaceWarning(MetOutput& out, const std::string& source, const pugi::xml_node& root,
                             const std::string& ns, const char* readAs) {
  out.output.problems.push_back(adapter::InputProblem{
      adapter::InputProblem::Level::warning, source, "alert", xmlnsAttribute(root), clipValue(ns.empty() ? "(none)" : ns),
      std::string(ns.empty() ? "prefix not declared, so in no namespace" : "not a CAP 1.0, 1.1 or 1.2 namespace") +
          "; read as " + readAs});
}

// "alerts/alert[2]": the element path of `n` from the document element, 1-based among same-named siblings.
std::string elementPath(pugi::xml_node n) {
  std::string path;
  for (; n && n.type() == pugi::node_element; n = n.parent()) {
    std::string step = n.name();
    if (n.parent().type() == pugi::node_element) {
      size_t index = 1;
      for (auto s = n.previous_sibling(n.name()); s; s = s.previous_sibling(n.name())) ++index;
      step += "[" + std::to_string(index) + "]";
    }
    path = path.empty() ? step : step + "/" + path;
  }
  return path;
}

// How deep below the document element a non-standard container's alerts are looked for: a SOAP
// Envelope/Body/getMessagesResponse/messages/alert is 4 deep.
constexpr int kMaxContainerDepth = 8;

// The CAP alerts (alert in a CAP 1.0/1.1/1.2 namespace) below `root`, in document order, not looking inside
// an alert; iterative, so hostile nesting cannot exhaust the stack.
std::vector<pugi::xml_node> capAlertsBelow(const pugi::xml_node& root) {
  std::vector<pugi::xml_node> alerts;
  pugi::xml_node n = root.first_child();
  int depth = 1;
  while (n && n != root) {
    const bool element = n.type() == pugi::node_element;
    const bool alert = element && localName(n) == "alert" && isCapNs(namespaceOf(n));
    if (alert) alerts.push_back(n);
    if (element && !alert && depth < kMaxContainerDepth && n.first_child()) {
      n = n.first_child();
      ++depth;
      continue;
    }
    while (n != root && !n.next_sibling()) {
      n = n.parent();
      --depth;
    }
    if (n != root) n = n.next_sibling();
  }
  return alerts;
}

}  // namespace

const char* metFormatName(MetFormat f) {
  switch (f) {
    case MetFormat::cap: return "cap";
    case MetFormat::atom: return "atom";
    case MetFormat::rss: return "rss";
    case MetFormat::edxlDe: return "edxl-de";
    case MetFormat::gbt: return "gbt";
    case MetFormat::capContainer: return "cap-container";
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
  if (name == "alert" && isOtherCapVersion(ns)) {  // parseCap names the namespace in its warning
    out.format = MetFormat::cap;
    takeCap(out, bytes, src, receivedMs, {}, nullptr, ForeignNamespace::warn);
    return out;
  }
  if (name == "alert") {
    out.format = MetFormat::gbt;
    // GB/T 35965-style XML has no namespace; anything else is said, since it may not be what it looks like.
    if (!ns.empty() || std::string_view(root.name()).find(':') != std::string_view::npos)
      foreignNamespaceWarning(out, src, root, ns, "a GB/T 35965-style alert (CAP-like element names)");
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
  const std::string container = std::string(root.name()) + (ns.empty() ? "" : " " + ns);
  if (auto alerts = capAlertsBelow(root); !alerts.empty()) {
    // Some systems wrap several CAP alerts in a root of their own (<alerts>, a SOAP envelope): each alert is
    // read on its own, with a warning naming the wrapper, rather than refusing them all.
    out.format = MetFormat::capContainer;
    for (size_t i = 0; i < alerts.size(); ++i) {
      const std::string s = src + "#alert[" + std::to_string(i + 1) + "]";
      out.output.problems.push_back(adapter::InputProblem{
          adapter::InputProblem::Level::warning, s, elementPath(alerts[i]), "container", clipValue(container),
          "CAP alert inside <" + std::string(root.name()) +
              ">, which is not a standard container (Atom, RSS, EDXL-DE); read alert by alert"});
      takeCap(out, serialiseElement(alerts[i]), s, receivedMs);
    }
    return out;
  }
  error(out, source, std::string(root.name()), "root", container,
        "unsupported format: root element is not a CAP or GB/T <alert>, an Atom <feed>, an RSS <rss> or an "
        "EDXL-DE <EDXLDistribution>, and holds no CAP alert");
  return out;
}

}  // namespace alertbus::met
