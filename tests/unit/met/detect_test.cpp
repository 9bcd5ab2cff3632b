// parseMetDocument (adapters/met/detect.h): format detection over every sample format, provenance and ids of
// what comes out, CapProblem -> InputProblem, hostile input in every format, and every real capture of the
// corpus (tests/unit/corpus.h).
#include "adapters/met/detect.h"

#include <capnp/message.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "model/validate.h"
#include "schemas/message.capnp.h"
#include "tests/unit/corpus.h"

using namespace alertbus;
using namespace alertbus::met;
using schema::Message;
using namespace alertbus::testing;

namespace {

const std::string kData = std::string(ALERTBUS_SOURCE_DIR) + "/tests/data/";

std::string readFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

std::string text(capnp::Text::Reader t) { return std::string(t.cStr(), t.size()); }

std::string problems(const MetOutput& o) {
  std::string s;
  for (auto& p : o.output.problems) s += p.str() + "\n";
  return s;
}

Message::Reader msg(const MetOutput& o, size_t i) { return o.output.messages.at(i)->getRoot<Message>().asReader(); }

size_t errors(const MetOutput& o) {
  return static_cast<size_t>(std::count_if(o.output.problems.begin(), o.output.problems.end(), [](auto& p) {
    return p.level == adapter::InputProblem::Level::error;
  }));
}

bool hasReason(const MetOutput& o, std::string_view part) {
  for (auto& p : o.output.problems)
    if (p.reason.find(part) != std::string::npos) return true;
  return false;
}

// Every accepted message passes the broker's validation at its own sent time.
void requireValid(const MetOutput& o) {
  for (size_t i = 0; i < o.output.messages.size(); ++i) {
    auto m = msg(o, i);
    auto v = validateMessage(m, m.getSentMs());
    INFO(text(m.getId()) << ": " << (v ? v->field + "=" + v->value + ": " + v->reason : ""));
    REQUIRE(!v);
  }
}

}  // namespace

TEST_CASE("detect: every sample format is detected and mapped", "[detect]") {
  struct Case {
    const char* file;
    MetFormat format;
    size_t messages, links;
  };
  for (auto c : {Case{"cap/cap12-multilang.xml", MetFormat::cap, 1, 0}, Case{"cap/cap10.xml", MetFormat::cap, 1, 0},
                 Case{"feed/atom-embedded.atom", MetFormat::atom, 3, 1}, Case{"feed/atom-index.atom", MetFormat::atom, 2, 0},
                 Case{"feed/rss-cap.rss", MetFormat::rss, 1, 3}, Case{"edxl/de-two-alerts.xml", MetFormat::edxlDe, 2, 0},
                 Case{"gbt/typhoon-lekima-utf8.xml", MetFormat::gbt, 1, 0},
                 Case{"gbt/gale-zhoushan-gb18030.xml", MetFormat::gbt, 1, 0},
                 Case{"gbt/rainstorm-gb2312.xml", MetFormat::gbt, 1, 0},
                 Case{"gbt/typhoon-lekima-update.xml", MetFormat::gbt, 1, 0},
                 Case{"gbt/typhoon-lekima-cancel.xml", MetFormat::gbt, 1, 0}}) {
    auto o = parseMetDocument(readFile(kData + c.file), c.file, 1785200000000LL);
    INFO(c.file << "\n" << problems(o));
    CHECK(o.format == c.format);
    CHECK(errors(o) == 0);
    CHECK(o.output.rejected == 0);
    CHECK(o.output.accepted == c.messages);
    REQUIRE(o.output.messages.size() == c.messages);
    CHECK(o.links.size() == c.links);
    for (size_t i = 0; i < o.output.messages.size(); ++i) {
      auto m = msg(o, i);
      auto v = validateMessage(m, m.getSentMs());  // "expired" aside: some expire as they are sent
      INFO(text(m.getId()) << ": " << (v ? v->field + "=" + v->value + ": " + v->reason : ""));
      CHECK((!v || v->code == "expired"));
    }
  }
}

TEST_CASE("detect: provenance ids and sources of feed and envelope messages", "[detect]") {
  SECTION("Atom: each message keeps only its own alert's bytes") {
    std::string feed = readFile(kData + "feed/atom-embedded.atom");
    auto o = parseMetDocument(feed, "nb.atom", 5);
    REQUIRE(o.output.messages.size() == 3);
    auto m = msg(o, 1);
    CHECK(text(m.getId()) == "urn:oid:2.49.0.1.156.0.2026.07.28.102");
    auto prov = m.getProvenance();
    CHECK(text(prov.getSource()) == "nb.atom#entry[2]");
    CHECK(text(prov.getContentType()) == "application/cap+xml");
    CHECK(prov.getReceivedMs() == 5);
    std::string original(reinterpret_cast<const char*>(prov.getOriginal().begin()), prov.getOriginal().size());
    CHECK(original.rfind("<cap:alert", 0) == 0);
    CHECK(original.size() < feed.size() / 2);
    REQUIRE(o.links.size() == 1);
    CHECK(o.links[0].source == "nb.atom#entry[4]");
    CHECK(o.output.problems.size() == 1);  // entry 5: warning
    CHECK(o.output.problems[0].level == adapter::InputProblem::Level::warning);
    CHECK(o.output.problems[0].source == "nb.atom");
  }
  SECTION("index entry: original is the entry, content type Atom") {
    auto o = parseMetDocument(readFile(kData + "feed/atom-index.atom"), "idx.atom", 0);
    REQUIRE(o.output.messages.size() == 2);
    auto prov = msg(o, 0).getProvenance();
    CHECK(text(prov.getContentType()) == "application/atom+xml");
    std::string original(reinterpret_cast<const char*>(prov.getOriginal().begin()), prov.getOriginal().size());
    CHECK(original.rfind("<entry", 0) == 0);
  }
  SECTION("EDXL-DE: envelope identity in notes, one message per alert") {
    auto o = parseMetDocument(readFile(kData + "edxl/de-two-alerts.xml"), "de.xml", 0);
    REQUIRE(o.notes.size() == 1);
    CHECK(o.notes[0].find("distributionID=NB-EDXL-2026-0728-001") != std::string::npos);
    CHECK(o.notes[0].find("senderID=nbqx@nbmb.gov.cn") != std::string::npos);
    REQUIRE(o.output.messages.size() == 2);
    CHECK(text(msg(o, 1).getProvenance().getSource()) == "de.xml#contentObject[3]");
    CHECK(text(msg(o, 1).getId()) == "NB-EDXL-GALE-2");
    CHECK(o.output.problems.size() == 2);  // the PNG and the sitrep, warnings
    CHECK(errors(o) == 0);
  }
  SECTION("GB/T: deterministic id and its own content type") {
    std::string bytes = readFile(kData + "gbt/typhoon-lekima-utf8.xml");
    auto a = parseMetDocument(bytes, "a", 0), b = parseMetDocument(bytes, "b", 1);
    CHECK(text(msg(a, 0).getId()) == text(msg(b, 0).getId()));
    CHECK(text(msg(a, 0).getProvenance().getContentType()) == "application/vnd.gbt35965+xml");
  }
}

TEST_CASE("detect: refusals in every format", "[detect]") {
  const char* dtd = "<!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]>";
  for (std::string root : {"<alert xmlns='urn:oasis:names:tc:emergency:cap:1.2'>&e;</alert>", "<alert>&e;</alert>",
                           "<feed xmlns='http://www.w3.org/2005/Atom'>&e;</feed>", "<rss version='2.0'>&e;</rss>",
                           "<EDXLDistribution xmlns='urn:oasis:names:tc:emergency:EDXL:DE:1.0'>&e;</EDXLDistribution>"}) {
    auto o = parseMetDocument(std::string(dtd) + root, "t", 0);
    INFO(root);
    CHECK(o.output.messages.empty());
    CHECK(o.output.rejected == 1);
    REQUIRE(o.output.problems.size() == 1);
    CHECK(o.output.problems[0].field == "DOCTYPE");
  }
  SECTION("escaped DTD inside a feed's content: that entry rejected") {
    auto o = parseMetDocument(readFile(kData + "feed/atom-escaped-xxe.atom"), "x.atom", 0);
    CHECK(o.output.messages.empty());
    CHECK(o.output.rejected == 1);
    REQUIRE(o.output.problems.size() == 1);
    CHECK(o.output.problems[0].field == "DOCTYPE");
    CHECK(o.output.problems[0].source == "x.atom#entry[1]");
  }
  SECTION("UTF-16 DOCTYPE is found on the parsed tree") {
    std::string u8 = std::string("<?xml version='1.0' encoding='UTF-16'?><!DOCTYPE alert><alert/>");
    std::string u16 = "\xFF\xFE";
    for (char ch : u8) u16 += ch, u16 += '\0';
    auto o = parseMetDocument(u16, "t", 0);
    REQUIRE(o.output.problems.size() == 1);
    CHECK(o.output.problems[0].field == "DOCTYPE");
  }
  SECTION("GeoJSON and other JSON") {
    auto o = parseMetDocument("\xEF\xBB\xBF  {\"type\": \"FeatureCollection\", \"features\": []}", "api.json", 0);
    CHECK(o.output.rejected == 1);
    CHECK(hasReason(o, "unsupported format (GeoJSON)"));
    CHECK(hasReason(parseMetDocument("[1,2]", "t", 0), "unsupported format (JSON)"));
  }
  SECTION("empty, unknown root, malformed") {
    CHECK(hasReason(parseMetDocument(" \n", "t", 0), "empty input"));
    auto o = parseMetDocument("<html><body/></html>", "t", 0);
    CHECK(o.output.rejected == 1);
    CHECK(hasReason(o, "unsupported format"));
    CHECK(hasReason(parseMetDocument("<alert", "t", 0), "malformed XML"));
    CHECK(hasReason(parseMetDocument("STCD,TM,Z\n1,2,3\n", "t", 0), "unsupported format (not XML)"));
  }
  SECTION("CAP errors become error problems and the document is not published") {
    auto o = parseMetDocument("<alert xmlns='urn:oasis:names:tc:emergency:cap:1.2'><identifier>a b</identifier></alert>",
                              "t", 0);
    CHECK(o.output.messages.empty());
    CHECK(o.output.rejected == 1);
    CHECK(errors(o) >= 5);
    CHECK(hasReason(o, "contains whitespace"));
  }
}

TEST_CASE("detect: CAP rules added for real captures", "[detect][cap]") {
  const std::string head =
      "<alert xmlns='urn:oasis:names:tc:emergency:cap:1.2'><identifier>ID-1</identifier><sender>s</sender>"
      "<sent>2026-07-28T09:00:00+08:00</sent><status>Actual</status>";
  const std::string info = "<info><event>Storm</event><urgency>Unknown</urgency><severity>Unknown</severity>"
                           "<certainty>Unknown</certainty></info>";
  SECTION("missing scope (xx-missing-scope.cap)") {
    auto o = parseMetDocument(head + "<msgType>Alert</msgType>" + info + "</alert>", "t", 0);
    CHECK(o.output.rejected == 1);
    CHECK(hasReason(o, "required element missing"));
    CHECK(o.output.problems[0].position == "alert/scope");
  }
  SECTION("bad scope word") {
    auto o = parseMetDocument(head + "<msgType>Alert</msgType><scope>Everyone</scope>" + info + "</alert>", "t", 0);
    CHECK(hasReason(o, "not Public, Restricted or Private"));
  }
  SECTION("Update with empty references (ca-eccc-empty-references-errors.cap)") {
    auto o = parseMetDocument(head + "<msgType>Update</msgType><scope>Public</scope><references/>" + info + "</alert>",
                              "t", 0);
    CHECK(o.output.rejected == 1);
    CHECK(hasReason(o, "an Update without a usable"));
  }
  SECTION("Cancel whose only reference is malformed") {
    auto o = parseMetDocument(head + "<msgType>Cancel</msgType><scope>Public</scope><references>just-an-id</references>" +
                                  info + "</alert>",
                              "t", 0);
    CHECK(o.output.rejected == 1);
    CHECK(hasReason(o, "a Cancel without a usable"));
  }
  SECTION("Cancel without info (IPAWS) passes validation with no info") {
    auto o = parseMetDocument(
        head + "<msgType>Cancel</msgType><scope>Public</scope><references>s,ID-0,2026-07-28T08:00:00+08:00</references>"
               "</alert>",
        "t", 0);
    INFO(problems(o));
    REQUIRE(o.output.messages.size() == 1);
    requireValid(o);
    CHECK(text(msg(o, 0).getReferences()[0].getId()) == "ID-0");
    CHECK(msg(o, 0).getPayload().getWarning().size() == 0);
  }
  SECTION("identifier with a comma (us-nws-atom-invalid-identifier.atom)") {
    std::string s = head + "<msgType>Alert</msgType><scope>Public</scope>" + info + "</alert>";
    s.replace(s.find("ID-1"), 4, "INVALID, ");
    auto o = parseMetDocument(s, "t", 0);
    CHECK(o.output.rejected == 1);
    CHECK(o.output.problems[0].position == "alert/identifier");
  }
  SECTION("an area with 60 geocodes and an info with 20 categories (beyond the inline buffers)") {
    std::string area = "<area><areaDesc>many</areaDesc>";
    for (int i = 0; i < 60; ++i)
      area += "<geocode><valueName>GB2260</valueName><value>3302" + std::to_string(10 + i) + "</value></geocode>";
    area += "</area>";
    std::string cats;
    for (int i = 0; i < 20; ++i) cats += "<category>Met</category>";
    std::string s = head + "<msgType>Alert</msgType><scope>Public</scope><info>" + cats +
                    "<event>Storm</event><urgency>Unknown</urgency><severity>Unknown</severity>"
                    "<certainty>Unknown</certainty>" + area + "</info></alert>";
    auto o = parseMetDocument(s, "t", 0);
    INFO(problems(o));
    REQUIRE(o.output.messages.size() == 1);
    auto info = msg(o, 0).getPayload().getWarning()[0];
    CHECK(info.getCategories().size() == 20);
    REQUIRE(info.getAreas()[0].getAdminCodes().size() == 60);
    CHECK(text(info.getAreas()[0].getAdminCodes()[59]) == "330269");
    CHECK(info.getAreas()[0].getGeocodes().size() == 60);
  }
  SECTION("CAP declared GBK is converted") {
    std::string s = "<?xml version='1.0' encoding='GBK'?>" + head + "<msgType>Alert</msgType><scope>Public</scope>" +
                    "<info><event>\xCC\xA8\xB7\xE7</event><urgency>Unknown</urgency><severity>Unknown</severity>"
                    "<certainty>Unknown</certainty></info></alert>";  // 台风 in GBK
    auto o = parseMetDocument(s, "t", 0);
    INFO(problems(o));
    REQUIRE(o.output.messages.size() == 1);
    CHECK(text(msg(o, 0).getPayload().getWarning()[0].getEvent()) == "台风");
  }
}

TEST_CASE("detect: never crashes on truncated or garbled samples of every format", "[detect][robustness]") {
  const char* names[] = {"feed/atom-embedded.atom", "feed/atom-index.atom", "feed/rss-cap.rss", "edxl/de-two-alerts.xml",
                         "gbt/typhoon-lekima-utf8.xml", "gbt/gale-zhoushan-gb18030.xml", "gbt/rainstorm-gb2312.xml"};
  uint32_t seed = 4242;
  auto rnd = [&] { return seed = seed * 1664525u + 1013904223u; };
  size_t runs = 0, messages = 0;
  auto check = [&](std::string_view bytes) {
    auto o = parseMetDocument(bytes, "fuzz", 0);
    for (size_t i = 0; i < o.output.messages.size(); ++i) validateMessage(msg(o, i), 0);  // must not crash
    // Every refused document has at least one error problem.
    if (o.output.rejected > 0) CHECK(errors(o) > 0);
    messages += o.output.messages.size();
    ++runs;
  };
  for (auto name : names) {
    std::string bytes = readFile(kData + name);
    REQUIRE(!bytes.empty());
    for (size_t cut = 0; cut < bytes.size(); cut += 11) check(std::string_view(bytes).substr(0, cut));
    for (int i = 0; i < 150; ++i) {
      std::string g = bytes;
      for (int k = 0; k < 4; ++k) g[rnd() % g.size()] = static_cast<char>(rnd() & 0xff);
      check(g);
    }
  }
  CHECK(runs > 1000);
  CHECK(messages > 0);
}

namespace {

// A CAP 1.2 document from tests/data with its namespace declaration replaced.
std::string withNamespace(const std::string& file, const std::string& from, const std::string& to) {
  std::string doc = readFile(kData + file);
  size_t at = doc.find(from);
  REQUIRE(at != std::string::npos);
  return doc.replace(at, from.size(), to);
}

// The problems that name the document's namespace (field xmlns or xmlns:<prefix>).
std::vector<adapter::InputProblem> namespaceProblems(const MetOutput& o) {
  std::vector<adapter::InputProblem> out;
  for (auto& p : o.output.problems)
    if (p.field.rfind("xmlns", 0) == 0) out.push_back(p);
  return out;
}

}  // namespace

TEST_CASE("detect: a document outside CAP's namespaces is read only with a warning naming the namespace",
          "[detect][namespace]") {
  const std::string capNs = "xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\"";
  SECTION("another version of CAP's URN is read as CAP 1.2") {
    auto o = parseMetDocument(withNamespace("cap/cap12-update.xml", capNs, "xmlns=\"urn:oasis:names:tc:emergency:cap:1.3\""),
                              "cap13.xml", 0);
    INFO(problems(o));
    CHECK(o.format == MetFormat::cap);
    REQUIRE(o.output.accepted == 1);
    auto ns = namespaceProblems(o);
    REQUIRE(ns.size() == 1);
    CHECK(ns[0].level == adapter::InputProblem::Level::warning);
    CHECK(ns[0].field == "xmlns");
    CHECK(ns[0].value == "urn:oasis:names:tc:emergency:cap:1.3");
    CHECK(ns[0].reason == "not a CAP 1.0, 1.1 or 1.2 namespace; read as CAP 1.2");
    CHECK(text(msg(o, 0).getProvenance().getContentType()) == "application/cap+xml");
    CHECK(msg(o, 0).getReferences().size() == 2);  // read in full
  }
  SECTION("any other namespace (the CAP 1.0 draft's) is read as GB/T 35965-style, said first") {
    auto o = parseMetDocument(withNamespace("cap/cap12-update.xml", capNs, "xmlns=\"http://www.incident.com/cap/1.0\""),
                              "draft.xml", 0);
    INFO(problems(o));
    CHECK(o.format == MetFormat::gbt);
    CHECK(o.output.accepted == 1);
    REQUIRE(!o.output.problems.empty());
    auto& w = o.output.problems[0];
    CHECK(w.level == adapter::InputProblem::Level::warning);
    CHECK(w.source == "draft.xml");
    CHECK(w.position == "alert");
    CHECK(w.field == "xmlns");
    CHECK(w.value == "http://www.incident.com/cap/1.0");
    CHECK(w.reason == "not a CAP 1.0, 1.1 or 1.2 namespace; read as a GB/T 35965-style alert (CAP-like element names)");
  }
  SECTION("a prefixed root whose prefix is not declared is in no namespace, and said so") {
    std::string doc = readFile(kData + "cap/cap11-prefixed.xml");
    doc.replace(doc.find(" xmlns:cap=\"urn:oasis:names:tc:emergency:cap:1.1\""),
                std::string(" xmlns:cap=\"urn:oasis:names:tc:emergency:cap:1.1\"").size(), "");
    auto o = parseMetDocument(doc, "undeclared.xml", 0);
    INFO(problems(o));
    auto ns = namespaceProblems(o);
    REQUIRE(ns.size() == 1);
    CHECK(ns[0].field == "xmlns:cap");
    CHECK(ns[0].value == "(none)");
    CHECK(ns[0].reason.find("prefix not declared") == 0);
  }
  SECTION("a prefixed CAP namespace on the pull reader's path is not warned about") {
    auto o = parseMetDocument(readFile(kData + "cap/cap11-prefixed.xml"), "p.xml", 0);
    CHECK(o.output.accepted == 1);
    CHECK(namespaceProblems(o).empty());
  }
  SECTION("CAP 1.0/1.1/1.2 and namespace-free GB/T 35965 documents carry no namespace warning") {
    for (auto file : {"cap/cap10.xml", "cap/cap12-multilang.xml", "gbt/typhoon-lekima-utf8.xml", "gbt/gale-zhoushan-gb18030.xml"}) {
      auto o = parseMetDocument(readFile(kData + file), file, 0);
      INFO(file << "\n" << problems(o));
      CHECK(o.output.accepted == 1);
      CHECK(namespaceProblems(o).empty());
    }
  }
}

TEST_CASE("detect: a non-standard container of CAP alerts is read alert by alert, each with a warning naming it",
          "[detect][container]") {
  SECTION("an export wrapper with two good alerts (one prefixed, one level down) and a broken one") {
    auto o = parseMetDocument(readFile(kData + "cap/container-three-alerts.xml"), "export.xml", 0);
    INFO(problems(o));
    CHECK(o.format == MetFormat::capContainer);
    CHECK(std::string(metFormatName(o.format)) == "cap-container");
    CHECK(o.output.accepted == 2);
    CHECK(o.output.rejected == 1);
    REQUIRE(o.output.messages.size() == 2);
    CHECK(text(msg(o, 0).getId()) == "urn:oid:2.49.0.1.156.0.2026.07.28.101");
    CHECK(text(msg(o, 1).getId()) == "urn:oid:2.49.0.1.156.0.2026.07.28.102");
    CHECK(text(msg(o, 1).getProvenance().getSource()) == "export.xml#alert[2]");
    CHECK(text(msg(o, 1).getProvenance().getContentType()) == "application/cap+xml");
    requireValid(o);
    std::vector<adapter::InputProblem> warnings;
    for (auto& p : o.output.problems)
      if (p.field == "container") warnings.push_back(p);
    REQUIRE(warnings.size() == 3);
    const char* paths[] = {"alertList/alert[1]", "alertList/group[1]/cap:alert[1]", "alertList/alert[2]"};
    for (size_t i = 0; i < 3; ++i) {
      CHECK(warnings[i].level == adapter::InputProblem::Level::warning);
      CHECK(warnings[i].source == "export.xml#alert[" + std::to_string(i + 1) + "]");
      CHECK(warnings[i].position == paths[i]);
      CHECK(warnings[i].value == "alertList");
      CHECK(warnings[i].reason.find("CAP alert inside <alertList>, which is not a standard container") == 0);
    }
    // The broken one is refused on its own, naming what is wrong.
    CHECK(errors(o) >= 1);
    bool named = false;
    for (auto& p : o.output.problems)
      named |= p.level == adapter::InputProblem::Level::error && p.source == "export.xml#alert[3]" &&
               p.field == "identifier";
    CHECK(named);
  }
  SECTION("a SOAP envelope: alerts a few levels down, the namespace declared on the wrapper") {
    std::string alert = readFile(kData + "cap/cap12-cancel.xml");
    alert = alert.substr(alert.find("<alert"));
    alert.replace(alert.find(" xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\""),
                  std::string(" xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\"").size(), "");
    const std::string doc = "<soap:Envelope xmlns:soap='http://schemas.xmlsoap.org/soap/envelope/'><soap:Body>"
                            "<getMessagesResponse><messages xmlns='urn:oasis:names:tc:emergency:cap:1.2'>" +
                            alert + "</messages></getMessagesResponse></soap:Body></soap:Envelope>";
    auto o = parseMetDocument(doc, "soap.xml", 0);
    INFO(problems(o));
    CHECK(o.format == MetFormat::capContainer);
    REQUIRE(o.output.accepted == 1);
    REQUIRE(!o.output.problems.empty());
    CHECK(o.output.problems[0].field == "container");
    CHECK(o.output.problems[0].value == "soap:Envelope http://schemas.xmlsoap.org/soap/envelope/");
    CHECK(o.output.problems[0].position == "soap:Envelope/soap:Body[1]/getMessagesResponse[1]/messages[1]/alert[1]");
    CHECK(msg(o, 0).getMsgType() == schema::MsgType::CANCEL);
  }
  SECTION("a wrapper without CAP alerts is still refused, and says it holds none") {
    for (auto doc : {"<html><body/></html>", "<alerts><alert><identifier>x</identifier></alert></alerts>"}) {
      auto o = parseMetDocument(doc, "t", 0);
      INFO(doc << "\n" << problems(o));
      CHECK(o.format == MetFormat::unknown);
      CHECK(o.output.rejected == 1);
      CHECK(hasReason(o, "holds no CAP alert"));
    }
  }
  SECTION("alerts are looked for 8 levels down at most, and hostile nesting is walked without recursion") {
    std::string alert = readFile(kData + "cap/cap12-cancel.xml");
    alert = alert.substr(alert.find("<alert"));
    auto nested = [&](int levels) {
      std::string d;
      for (int i = 0; i < levels; ++i) d += "<a>";
      d += alert;
      for (int i = 0; i < levels; ++i) d += "</a>";
      return d;
    };
    CHECK(parseMetDocument(nested(8), "t", 0).output.accepted == 1);
    CHECK(parseMetDocument(nested(9), "t", 0).output.rejected == 1);
    auto deep = parseMetDocument(nested(200000), "t", 0);
    CHECK(deep.output.accepted == 0);
    CHECK(deep.output.rejected == 1);
  }
}

// Every real met capture (tests/unit/corpus.h): something is read from it or it is refused with a named error,
// every problem names its field and reason, and every message passes the broker's validation at its own sent
// time, expiry aside (captures are old). scripts/corpus-check.sh prints what each file gave.
TEST_CASE("detect: every real met capture is mapped, or refused with a named error", "[detect][corpus]") {
  const auto files = corpusFiles(CorpusParser::met);
  if (files.empty())
    return reportCorpusSkipped("no met captures (cap*, met*, gbt*, edxl*, atom*, rss*) in " + corpusDir());
  for (const auto& f : files) {
    auto o = parseMetDocument(readCorpusFile(f.path), f.rel, 1785211200000LL);
    INFO(f.rel << ": " << metFormatName(o.format) << ", " << o.output.accepted << " accepted, " << o.output.rejected
               << " rejected, " << o.links.size() << " links\n" << problems(o));
    CHECK(o.output.accepted + o.output.rejected + o.links.size() > 0);
    CHECK(o.output.messages.size() == o.output.accepted);
    if (o.output.rejected > 0) CHECK(errors(o) > 0);
    for (const auto& p : o.output.problems) {
      CHECK(p.source.rfind(f.rel, 0) == 0);
      CHECK(!p.field.empty());
      CHECK(!p.reason.empty());
    }
    for (size_t i = 0; i < o.output.messages.size(); ++i) {
      auto m = msg(o, i);
      auto v = validateMessage(m, m.getSentMs());
      INFO(text(m.getId()) << ": " << (v ? v->field + "=" + v->value + ": " + v->reason : ""));
      CHECK((!v || v->code == "expired"));  // a cancelling update may expire as it is sent (NTWC does)
    }
  }
}
