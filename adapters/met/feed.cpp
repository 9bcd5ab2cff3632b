// Atom/RSS feeds carrying CAP; see feed.h for the contract and the order of the per-entry rules. Problems
// name the entry ("feed/entry[3]"); nothing here throws (pugixml does not, iconv is behind loadXml).
#include "adapters/met/feed.h"
#include "model/decode_util.h"

#include <cstdio>
#include <cstring>
#include <sstream>

#include <pugixml.hpp>

#include "model/validate.h"

namespace alertbus::met {
namespace {

constexpr std::string_view kAtomNs = "http://www.w3.org/2005/Atom";
constexpr std::string_view kCapNsPrefix = "urn:oasis:names:tc:emergency:cap:";

bool isCapNs(std::string_view ns) {
  return ns.substr(0, kCapNsPrefix.size()) == kCapNsPrefix &&
         (ns.substr(kCapNsPrefix.size()) == "1.0" || ns.substr(kCapNsPrefix.size()) == "1.1" ||
          ns.substr(kCapNsPrefix.size()) == "1.2");
}

pugi::xml_node child(const pugi::xml_node& parent, std::string_view name) {
  for (auto c = parent.first_child(); c; c = c.next_sibling())
    if (c.type() == pugi::node_element && localName(c) == name) return c;
  return {};
}
std::string_view childText(const pugi::xml_node& parent, std::string_view name) {
  return trim(child(parent, name).text().get());
}

// All text of an element (pcdata and CDATA children concatenated): escaped CAP may be split by pugixml
// into several nodes when CDATA sections and text alternate.
std::string allText(const pugi::xml_node& n) {
  std::string s;
  for (auto c = n.first_child(); c; c = c.next_sibling())
    if (c.type() == pugi::node_pcdata || c.type() == pugi::node_cdata) s += c.value();
  return s;
}

bool hasAlnum(std::string_view s) {
  for (unsigned char c : s)
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80) return true;
  return false;
}

bool isCapAlert(const pugi::xml_node& n) {
  return n.type() == pugi::node_element && localName(n) == "alert" && isCapNs(namespaceOf(n));
}

std::string formatIsoUtc(int64_t ms) {
  int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  int64_t sod = secs - days * 86400;
  // civil_from_days (Howard Hinnant)
  int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02d:%02d:%02d+00:00", static_cast<long long>(y), m, d,
                static_cast<int>(sod / 3600), static_cast<int>(sod / 60 % 60), static_cast<int>(sod % 60));
  return buf;
}

struct EntryCtx {
  FeedResult& result;
  std::string source;
  int64_t receivedMs;
  bool atom;
  pugi::xml_node feedRoot;  // <feed> or <channel>
};

void warn(EntryCtx& c, std::string position, std::string field, std::string_view value, std::string reason) {
  c.result.problems.push_back(CapProblem{CapProblem::Level::warning, c.source, std::move(position), std::move(field),
                                         clipValue(value), std::move(reason)});
}

int64_t entryTime(EntryCtx& c, const pugi::xml_node& e) {
  int64_t ms = 0;
  if (c.atom) {
    for (auto name : {"updated", "published"}) {
      auto t = childText(e, name);
      if (!t.empty() && parseCapTime(t, ms)) return ms;
    }
  } else {
    auto t = childText(e, "pubDate");
    if (!t.empty() && parseRfc822Time(t, ms)) return ms;
    auto d = childText(e, "date");  // dc:date, ISO 8601
    if (!d.empty() && parseCapTime(d, ms)) return ms;
  }
  return c.receivedMs;
}

// Rule 1: embedded alerts (elements or escaped text).
std::vector<std::string> embeddedAlerts(const pugi::xml_node& e, bool atom) {
  std::vector<std::string> out;
  std::vector<pugi::xml_node> containers;
  for (auto c = e.first_child(); c; c = c.next_sibling()) {
    if (c.type() != pugi::node_element) continue;
    auto ln = localName(c);
    if (atom ? ln == "content" : (ln == "description" || ln == "encoded")) containers.push_back(c);
    if (isCapAlert(c) && child(c, "info")) out.push_back(serialiseElement(c));
  }
  for (auto& ct : containers) {
    bool found = false;
    for (auto a = ct.first_child(); a; a = a.next_sibling())
      if (isCapAlert(a)) {
        out.push_back(serialiseElement(a));
        found = true;
      }
    if (found) continue;
    std::string text = allText(ct);
    std::string_view t = trim(text);
    if (t.substr(0, 5) == "<?xml") {
      size_t end = t.find("?>");
      if (end == std::string_view::npos) continue;
      t = trim(t.substr(end + 2));
    }
    // Comments or a stylesheet PI may precede the root; the root must be an alert (any prefix).
    std::string_view probe = t;
    while (probe.substr(0, 4) == "<!--" || probe.substr(0, 2) == "<?") {
      size_t end = probe.substr(0, 4) == "<!--" ? probe.find("-->") : probe.find("?>");
      if (end == std::string_view::npos) break;
      probe = trim(probe.substr(end + (probe[1] == '!' ? 3 : 2)));
    }
    std::string_view rootName;
    if (probe.size() > 1 && probe[0] == '<') {
      rootName = probe.substr(1, probe.find_first_of(" \t\r\n/>") - 1);
      size_t colon = rootName.find(':');
      if (colon != std::string_view::npos) rootName = rootName.substr(colon + 1);
    }
    // A DOCTYPE is handed on too, so that parseCap refuses it by name (XXE inside escaped content).
    if (probe.substr(0, 9) == "<!DOCTYPE" || rootName == "alert")
      out.emplace_back(t);
  }
  return out;
}

// Rule 3 helpers: cap:* elements of an index entry (and of an <alert> child without <info>).
struct CapSummary {
  std::string ns;
  std::vector<pugi::xml_node> nodes;
  pugi::xml_node get(std::string_view name) const {
    for (auto& n : nodes)
      if (localName(n) == name) return n;
    return {};
  }
  std::string_view text(std::string_view name) const {
    auto n = get(name);
    auto t = trim(n.text().get());
    return hasAlnum(t) ? t : std::string_view();
  }
  std::vector<pugi::xml_node> all(std::string_view name) const {
    std::vector<pugi::xml_node> r;
    for (auto& n : nodes)
      if (localName(n) == name) r.push_back(n);
    return r;
  }
};

CapSummary capSummary(const pugi::xml_node& e) {
  CapSummary s;
  auto collect = [&](const pugi::xml_node& parent, auto& self) -> void {
    for (auto c = parent.first_child(); c; c = c.next_sibling()) {
      if (c.type() != pugi::node_element) continue;
      std::string ns = namespaceOf(c);
      if (!isCapNs(ns)) continue;
      if (localName(c) == "alert") {
        if (!child(c, "info")) self(c, self);
        continue;
      }
      if (s.ns.empty()) s.ns = ns;
      s.nodes.push_back(c);
    }
  };
  collect(e, collect);
  return s;
}

void copyPairs(pugi::xml_node to, const char* name, const pugi::xml_node& from) {
  // Pairs valueName[i] with value[i]: NWS index geocodes hold several pairs in one element.
  std::vector<std::string> names, values;
  for (auto c = from.first_child(); c; c = c.next_sibling()) {
    if (c.type() != pugi::node_element) continue;
    if (localName(c) == "valueName") names.emplace_back(trim(c.text().get()));
    else if (localName(c) == "value") values.emplace_back(trim(c.text().get()));
  }
  for (size_t i = 0; i < names.size(); ++i) {
    auto g = to.append_child(name);
    g.append_child("valueName").text().set(names[i].c_str());
    g.append_child("value").text().set(i < values.size() ? values[i].c_str() : "");
  }
}

void addText(pugi::xml_node to, const char* name, std::string_view value) {
  if (value.empty()) return;
  to.append_child(name).text().set(std::string(value).c_str());
}

std::string entryLink(const pugi::xml_node& e, bool atom) {
  if (!atom) return std::string(childText(e, "link"));
  for (auto c = e.first_child(); c; c = c.next_sibling()) {
    if (c.type() != pugi::node_element || localName(c) != "link") continue;
    std::string_view rel = c.attribute("rel").value();
    if (rel.empty() || rel == "alternate") return c.attribute("href").value();
  }
  return {};
}

std::string synthesiseFromIndex(EntryCtx& c, const pugi::xml_node& e, const CapSummary& s) {
  pugi::xml_document doc;
  auto alert = doc.append_child("alert");
  alert.append_attribute("xmlns").set_value(s.ns.c_str());
  std::string id(s.text("identifier"));
  if (id.empty()) id = std::string(childText(e, c.atom ? "id" : "guid"));
  addText(alert, "identifier", id);
  std::string sender(s.text("sender"));
  if (sender.empty()) sender = std::string(childText(child(e, "author"), "name"));
  if (sender.empty() && !c.atom) sender = std::string(childText(e, "author"));
  if (sender.empty()) sender = std::string(childText(child(c.feedRoot, "author"), "name"));
  addText(alert, "sender", sender);
  std::string sent(s.text("sent"));
  if (sent.empty()) {
    for (auto name : {"published", "updated"})
      if (sent.empty()) sent = std::string(childText(e, name));
    int64_t ms = 0;
    if (sent.empty() && !c.atom && parseRfc822Time(childText(e, "pubDate"), ms)) sent = formatIsoUtc(ms);
  }
  addText(alert, "sent", sent);
  addText(alert, "status", s.text("status"));
  auto type = s.text("msgType");
  addText(alert, "msgType", type.empty() ? s.text("message_type") : type);
  auto scope = s.text("scope");
  addText(alert, "scope", scope.empty() ? std::string_view("Public") : scope);
  addText(alert, "references", s.text("references"));
  addText(alert, "incidents", s.text("incidents"));

  auto info = alert.append_child("info");
  addText(info, "language", s.text("language"));
  for (auto& n : s.all("category")) addText(info, "category", trim(n.text().get()));
  std::string event(s.text("event"));
  std::string title(childText(e, "title"));
  if (event.empty()) {
    size_t at = title.find(" issued ");
    event = at == std::string::npos ? title : title.substr(0, at);
  }
  addText(info, "event", event);
  for (auto& n : s.all("responseType")) addText(info, "responseType", trim(n.text().get()));
  for (auto name : {"urgency", "severity", "certainty"}) addText(info, name, s.text(name));
  for (auto& n : s.all("eventCode")) copyPairs(info, "eventCode", n);
  for (auto name : {"effective", "onset", "expires", "senderName"}) addText(info, name, s.text(name));
  auto headline = s.text("headline");
  addText(info, "headline", headline.empty() ? std::string_view(title) : headline);
  auto description = s.text("description");
  std::string summary = c.atom ? std::string(childText(e, "summary")) : std::string(childText(e, "description"));
  addText(info, "description", description.empty() ? std::string_view(summary) : description);
  addText(info, "instruction", s.text("instruction"));
  auto web = s.text("web");
  std::string link = entryLink(e, c.atom);
  addText(info, "web", web.empty() ? std::string_view(link) : web);
  for (auto& n : s.all("parameter")) copyPairs(info, "parameter", n);

  auto fillArea = [&](pugi::xml_node area, const std::vector<pugi::xml_node>& fields) {
    for (auto& f : fields) {
      auto ln = localName(f);
      auto t = trim(f.text().get());
      if (ln == "geocode") copyPairs(area, "geocode", f);
      else if ((ln == "polygon" || ln == "circle") && !t.empty()) addText(area, std::string(ln).c_str(), t);
      else if (ln == "areaDesc" || ln == "altitude" || ln == "ceiling") addText(area, std::string(ln).c_str(), t);
    }
  };
  auto areas = s.all("area");
  if (!areas.empty()) {
    for (auto& a : areas) {
      std::vector<pugi::xml_node> fields;
      for (auto f = a.first_child(); f; f = f.next_sibling())
        if (f.type() == pugi::node_element) fields.push_back(f);
      fillArea(info.append_child("area"), fields);
    }
  } else if (s.get("areaDesc") || s.get("geocode") || s.get("polygon") || s.get("circle")) {
    fillArea(info.append_child("area"), s.nodes);
  }
  std::ostringstream os;
  doc.save(os, "", pugi::format_raw | pugi::format_no_declaration, pugi::encoding_utf8);
  return os.str();
}

// Rule 2 and 4: the link to fetch.
bool capLink(const pugi::xml_node& e, bool atom, FeedLink& l) {
  for (auto c = e.first_child(); c; c = c.next_sibling()) {
    if (c.type() != pugi::node_element) continue;
    auto ln = localName(c);
    std::string type = lowerAscii(trim(c.attribute("type").value()));
    if (type != "application/cap+xml") continue;
    if (atom && ln == "content" && *c.attribute("src").value()) {  // out-of-line content (RFC 4287 4.1.3.2)
      l.url = trim(c.attribute("src").value());
      l.type = type;
      return true;
    }
    if (atom && ln == "link" && *c.attribute("href").value()) {
      l.url = trim(c.attribute("href").value());
      l.type = type;
      return true;
    }
    if (!atom && ln == "enclosure" && *c.attribute("url").value()) {
      l.url = trim(c.attribute("url").value());
      l.type = type;
      return true;
    }
  }
  return false;
}

bool anyLink(const pugi::xml_node& e, bool atom, FeedLink& l) {
  if (atom) {
    for (auto c = e.first_child(); c; c = c.next_sibling()) {
      if (c.type() != pugi::node_element || localName(c) != "link") continue;
      std::string_view rel = c.attribute("rel").value();
      std::string type = lowerAscii(trim(c.attribute("type").value()));
      if ((rel.empty() || rel == "alternate") && type != "text/html" && *c.attribute("href").value()) {
        l.url = trim(c.attribute("href").value());
        l.type = type;
        return true;
      }
    }
    return false;
  }
  auto link = childText(e, "link");
  if (!link.empty()) {
    l.url = link;
    return true;
  }
  auto guid = child(e, "guid");
  std::string_view g = trim(guid.text().get());
  if (guid && std::string_view(guid.attribute("isPermaLink").value()) != "false" &&
      (g.substr(0, 7) == "http://" || g.substr(0, 8) == "https://")) {
    l.url = g;
    return true;
  }
  return false;
}

void processEntry(EntryCtx& c, const pugi::xml_node& e, size_t index) {
  const std::string key = std::string(c.atom ? "entry[" : "item[") + std::to_string(index) + "]";
  const std::string position = (c.atom ? "feed/" : "rss/channel/") + key;

  auto embedded = embeddedAlerts(e, c.atom);
  if (!embedded.empty()) {
    for (size_t i = 0; i < embedded.size(); ++i) {
      std::string suffix = embedded.size() > 1 ? "/alert[" + std::to_string(i + 1) + "]" : "";
      c.result.alerts.push_back(FeedAlert{std::move(embedded[i]), position + suffix, key + suffix, false, {}});
    }
    return;
  }
  FeedLink link;
  link.position = position;
  link.entryKey = key;
  link.entryId = c.atom ? childText(e, "id") : childText(e, "guid");
  link.updatedMs = entryTime(c, e);
  if (capLink(e, c.atom, link)) {
    c.result.links.push_back(std::move(link));
    return;
  }
  auto summary = capSummary(e);
  if (!summary.text("status").empty() || !summary.text("msgType").empty() || !summary.text("message_type").empty()) {
    c.result.alerts.push_back(FeedAlert{synthesiseFromIndex(c, e, summary), position, key, true, serialiseElement(e)});
    return;
  }
  if (anyLink(e, c.atom, link)) {
    c.result.links.push_back(std::move(link));
    return;
  }
  warn(c, position, c.atom ? "entry" : "item", childText(e, "title"),
       "no embedded CAP, no link to a CAP document and no cap: summary; entry skipped");
}

}  // namespace

size_t FeedResult::errorCount() const {
  size_t n = 0;
  for (auto& p : problems) n += p.level == CapProblem::Level::error;
  return n;
}

bool parseRfc822Time(std::string_view t, int64_t& ms) {
  t = trim(t);
  size_t comma = t.find(',');
  if (comma != std::string_view::npos) t = trim(t.substr(comma + 1));
  // day month year hh:mm[:ss] zone
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i < t.size()) {
    while (i < t.size() && t[i] == ' ') ++i;
    size_t b = i;
    while (i < t.size() && t[i] != ' ') ++i;
    if (i > b) parts.push_back(t.substr(b, i - b));
  }
  if (parts.size() != 5) return false;
  auto num = [](std::string_view s, int& v) {
    if (s.empty() || s.size() > 4) return false;
    v = 0;
    for (char ch : s) {
      if (ch < '0' || ch > '9') return false;
      v = v * 10 + (ch - '0');
    }
    return true;
  };
  static const char* kMonths[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"};
  int day, year, month = 0;
  if (!num(parts[0], day) || !num(parts[2], year)) return false;
  std::string mon = lowerAscii(parts[1].substr(0, 3));
  for (int k = 0; k < 12; ++k)
    if (mon == kMonths[k]) month = k + 1;
  if (month == 0) return false;
  if (parts[2].size() == 2) year += year < 50 ? 2000 : 1900;
  int h, mi, s = 0;
  auto tm = parts[3];
  if (tm.size() < 5 || tm[2] != ':' || !num(tm.substr(0, 2), h) || !num(tm.substr(3, 2), mi)) return false;
  if (tm.size() == 8) {
    if (tm[5] != ':' || !num(tm.substr(6, 2), s)) return false;
  } else if (tm.size() != 5) {
    return false;
  }
  int offsetMin = 0;
  std::string zone = lowerAscii(parts[4]);
  static const std::pair<const char*, int> kZones[] = {{"ut", 0},     {"utc", 0},    {"gmt", 0},    {"z", 0},
                                                       {"est", -300}, {"edt", -240}, {"cst", -360}, {"cdt", -300},
                                                       {"mst", -420}, {"mdt", -360}, {"pst", -480}, {"pdt", -420}};
  bool known = false;
  for (auto& [name, off] : kZones)
    if (zone == name) offsetMin = off, known = true;
  if (!known) {
    int hhmm;
    if (zone.size() != 5 || (zone[0] != '+' && zone[0] != '-') || !num(zone.substr(1), hhmm)) return false;
    offsetMin = (hhmm / 100 * 60 + hhmm % 100) * (zone[0] == '-' ? -1 : 1);
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", year, month, day, h, mi, s);
  if (!parseCapTime(buf, ms)) return false;
  ms -= static_cast<int64_t>(offsetMin) * 60000;
  return true;
}

FeedResult parseFeed(std::string_view bytes, std::string_view source, int64_t receivedMs) {
  FeedResult result;
  pugi::xml_document doc;
  if (!loadXml(bytes, source, kMaxFeedBytes, doc, result.problems)) return result;
  auto root = doc.document_element();
  EntryCtx c{result, std::string(source), receivedMs, true, root};
  std::vector<pugi::xml_node> entries;
  if (localName(root) == "feed") {
    result.format = "atom";
    std::string ns = namespaceOf(root);
    if (ns != kAtomNs)
      c.result.problems.push_back(CapProblem{CapProblem::Level::warning, c.source, "feed", "xmlns", clipValue(ns),
                                             "not the Atom 1.0 namespace; read as Atom anyway"});
    for (auto e = root.first_child(); e; e = e.next_sibling())
      if (e.type() == pugi::node_element && localName(e) == "entry") entries.push_back(e);
  } else if (localName(root) == "rss") {
    result.format = "rss";
    c.atom = false;
    auto channel = child(root, "channel");
    c.feedRoot = channel;
    if (!channel) {
      result.problems.push_back(CapProblem{CapProblem::Level::error, c.source, "rss", "channel", "",
                                           "RSS without <channel>"});
      return result;
    }
    for (auto e = channel.first_child(); e; e = e.next_sibling())
      if (e.type() == pugi::node_element && localName(e) == "item") entries.push_back(e);
  } else {
    result.problems.push_back(CapProblem{CapProblem::Level::error, c.source, root.name(), "root", root.name(),
                                         "not an Atom <feed> or RSS 2.0 <rss>"});
    return result;
  }
  result.entries = entries.size();
  for (size_t i = 0; i < entries.size(); ++i) {
    if (i == kMaxFeedEntries) {
      c.result.problems.push_back(CapProblem{CapProblem::Level::warning, c.source, result.format, "entries",
                                             std::to_string(entries.size()),
                                             "more than " + std::to_string(kMaxFeedEntries) + " entries; the rest skipped"});
      break;
    }
    processEntry(c, entries[i], i + 1);
  }
  return result;
}

}  // namespace alertbus::met
