// EDXL-DE 1.0 envelope unwrapping; see edxl.h. Only the structure is read here; each CAP alert is handed to
// parseCap by the caller, so every CAP rule applies to it unchanged.
#include "adapters/met/edxl.h"
#include "model/decode_util.h"

#include <pugixml.hpp>

#include "model/validate.h"

namespace alertbus::met {
namespace {

pugi::xml_node child(const pugi::xml_node& parent, std::string_view name) {
  for (auto c = parent.first_child(); c; c = c.next_sibling())
    if (c.type() == pugi::node_element && localName(c) == name) return c;
  return {};
}

bool isCapNs(std::string_view ns) {
  return ns == "urn:oasis:names:tc:emergency:cap:1.0" || ns == "urn:oasis:names:tc:emergency:cap:1.1" ||
         ns == "urn:oasis:names:tc:emergency:cap:1.2";
}

}  // namespace

size_t EdxlResult::errorCount() const {
  size_t n = 0;
  for (auto& p : problems) n += p.level == CapProblem::Level::error;
  return n;
}

std::string EdxlResult::describe() const {
  return "EDXL-DE distributionID=" + clipValue(distributionId) + " senderID=" + clipValue(senderId) +
         " status=" + clipValue(distributionStatus) + " type=" + clipValue(distributionType);
}

EdxlResult parseEdxl(std::string_view bytes, std::string_view source) {
  EdxlResult r;
  const std::string src(source);
  auto add = [&](CapProblem::Level level, std::string pos, std::string field, std::string_view value,
                 std::string reason) {
    r.problems.push_back(CapProblem{level, src, std::move(pos), std::move(field), clipValue(value), std::move(reason)});
  };
  pugi::xml_document doc;
  if (!loadXml(bytes, source, kMaxEdxlBytes, doc, r.problems)) return r;
  auto root = doc.document_element();
  std::string ns = namespaceOf(root);
  if (localName(root) != "EDXLDistribution" || ns != kEdxlDeNamespace) {
    add(CapProblem::Level::error, root.name(), "EDXLDistribution", std::string(root.name()) + " " + ns,
        "root is not an EDXL-DE 1.0 <EDXLDistribution>");
    return r;
  }
  r.envelope = true;
  const std::string base = "EDXLDistribution";
  r.distributionId = trim(child(root, "distributionID").text().get());
  r.senderId = trim(child(root, "senderID").text().get());
  r.distributionStatus = trim(child(root, "distributionStatus").text().get());
  r.distributionType = trim(child(root, "distributionType").text().get());
  if (r.distributionId.empty())
    add(CapProblem::Level::warning, base + "/distributionID", "distributionID", "", "missing (required by EDXL-DE)");
  if (r.senderId.empty())
    add(CapProblem::Level::warning, base + "/senderID", "senderID", "", "missing (required by EDXL-DE)");
  auto sent = trim(child(root, "dateTimeSent").text().get());
  if (!sent.empty() && !parseCapTime(sent, r.sentMs)) {
    r.sentMs = 0;
    add(CapProblem::Level::warning, base + "/dateTimeSent", "dateTimeSent", sent, "not an ISO 8601 date-time; ignored");
  }

  size_t objectIndex = 0;
  for (auto co = root.first_child(); co; co = co.next_sibling()) {
    if (co.type() != pugi::node_element || localName(co) != "contentObject") continue;
    ++objectIndex;
    const std::string key = "contentObject[" + std::to_string(objectIndex) + "]";
    const std::string pos = base + "/" + key;
    auto xmlContent = child(co, "xmlContent");
    auto nonXml = child(co, "nonXMLContent");
    if (!xmlContent) {
      if (nonXml) {
        add(CapProblem::Level::warning, pos + "/nonXMLContent", "mimeType", trim(child(nonXml, "mimeType").text().get()),
            "non-XML content object skipped (not a CAP alert)");
      } else {
        add(CapProblem::Level::warning, pos, "contentObject", "", "no xmlContent; skipped");
      }
      continue;
    }
    auto embedded = child(xmlContent, "embeddedXMLContent");
    if (!embedded) {
      add(CapProblem::Level::warning, pos + "/xmlContent", "embeddedXMLContent", "",
          "xmlContent without embeddedXMLContent (keyXMLContent only); skipped");
      continue;
    }
    std::vector<pugi::xml_node> alerts;
    size_t elements = 0;
    for (auto e = embedded.first_child(); e; e = e.next_sibling()) {
      if (e.type() != pugi::node_element) continue;
      ++elements;
      std::string ens = namespaceOf(e);
      if (localName(e) == "alert" && isCapNs(ens)) {
        alerts.push_back(e);
      } else {
        add(CapProblem::Level::warning, pos + "/xmlContent/embeddedXMLContent/" + std::string(localName(e)),
            std::string(localName(e)), ens, "embedded XML that is not a CAP alert skipped");
      }
    }
    if (elements == 0)
      add(CapProblem::Level::warning, pos + "/xmlContent/embeddedXMLContent", "embeddedXMLContent", "",
          "empty; skipped");
    for (size_t i = 0; i < alerts.size(); ++i) {
      std::string k = alerts.size() > 1 ? key + "/alert[" + std::to_string(i + 1) + "]" : key;
      r.alerts.push_back(EdxlAlert{serialiseElement(alerts[i]),
                                   pos + "/xmlContent/embeddedXMLContent/alert[" + std::to_string(i + 1) + "]", k});
    }
  }
  if (r.alerts.empty())
    add(CapProblem::Level::warning, base, "contentObject", std::to_string(objectIndex) + " content objects",
        "envelope carries no CAP alert");
  return r;
}

}  // namespace alertbus::met
