// SMS templates (outlets/sms/templates.h): loading and every config error (file:line), selection
// precedence, each placeholder in Chinese and English, missing values, bounds, and the preview of a
// Chinese typhoon warning with the shipped config/sms-templates.toml.
#include "outlets/sms/templates.h"

#include <capnp/message.h>
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "model/json.h"

using namespace alertbus;
using namespace alertbus::sms;

namespace {

const std::string kConfig = std::string(ALERTBUS_SOURCE_DIR) + "/config/sms-templates.toml";
constexpr int64_t kExpiresMs = 1786298400000LL;   // 2026-08-10 02:00 +08:00
constexpr int64_t kDeadlineMs = 1786296600000LL;  // 2026-08-10 01:30 +08:00

std::string allErrors(const std::vector<ConfigError>& errors) {
  std::string s;
  for (auto& e : errors) s += e.str() + "\n";
  return s;
}

TemplateSet loadOk(const std::string& toml) {
  TemplateSet set;
  std::vector<ConfigError> errors;
  bool ok = loadTemplateSetText(toml, "t.toml", set, errors);
  INFO(allErrors(errors));
  REQUIRE(ok);
  REQUIRE(errors.empty());
  return set;
}

std::vector<ConfigError> loadBad(const std::string& toml) {
  TemplateSet set;
  std::vector<ConfigError> errors;
  CHECK_FALSE(loadTemplateSetText(toml, "t.toml", set, errors));
  return errors;
}

// REQUIREs an error at file:line whose text contains `what`.
void expectError(const std::vector<ConfigError>& errors, int line, const std::string& what) {
  INFO("expected t.toml:" << line << ": ..." << what << "...\nall errors:\n" << allErrors(errors));
  bool found = false;
  for (auto& e : errors)
    if (e.file == "t.toml" && e.line == line && e.reason.find(what) != std::string::npos) found = true;
  CHECK(found);
}

TemplateSet shipped() {
  TemplateSet set;
  std::vector<ConfigError> errors;
  bool ok = loadTemplateSet(kConfig, set, errors);
  INFO(allErrors(errors));
  REQUIRE(ok);
  return set;
}

// A message builder that owns its arena.
struct Msg {
  capnp::MallocMessageBuilder arena;
  schema::Message::Builder m = arena.initRoot<schema::Message>();
  schema::Message::Reader r() { return m.asReader(); }
};

void fillInfo(schema::Info::Builder info, const char* code, schema::Colour colour) {
  info.setLanguage("zh-CN");
  info.setEventCode(code);
  info.setEvent("台风");
  info.setColour(colour);
  info.setSenderName("宁波市气象台");
  info.setHeadline("宁波市气象台发布台风橙色预警信号");
  info.setInstruction("停止室外作业");
  info.setExpiresMs(kExpiresMs);
  auto areas = info.initAreas(2);
  areas[0].setDescription("北仑区");
  areas[1].setDescription("象山县");
}

// An orange typhoon warning in Chinese (msgType alert).
void typhoon(Msg& x, schema::Colour colour = schema::Colour::ORANGE, const char* code = "typhoon") {
  x.m.setId("met-1");
  x.m.setSender("met");
  x.m.setStatus(schema::Status::ACTUAL);
  x.m.setMsgType(schema::MsgType::ALERT);
  fillInfo(x.m.getPayload().initWarning(1)[0], code, colour);
}

void fused(Msg& x, schema::ResponseLevel level, schema::IncidentState state = schema::IncidentState::OPENED) {
  x.m.setId("fusion-1");
  x.m.setSender("fusion");
  x.m.setMsgType(schema::MsgType::ALERT);
  auto f = x.m.getPayload().initFusedAlert();
  f.setIncident("typhoon-2026-09");
  f.setLevel(level);
  f.setState(state);
  f.setEvent("typhoon");
  f.setHeadline("台风“海葵”逼近我市");
  auto actions = f.initRecommendedActions(2);
  actions.set(0, "渔船回港");
  actions.set(1, "人员转移");
  f.initAreas(1)[0].setDescription("北仑区");
  f.setAckDeadlineMs(kDeadlineMs);
}

RenderContext zhCtx() {
  RenderContext c;
  c.language = "zh-CN";
  c.answerCode = "1234";
  c.deadlineMs = kDeadlineMs;
  return c;
}

const char* kAllPlaceholders =
    "{headline}|{event}|{colour}|{level}|{areas}|{expires}|{instruction}|{sender}|{answer_code}|{deadline}";

std::string allPlaceholdersSet() {
  return std::string("[[template]]\nname = \"zh-all\"\nevent = [\"*\"]\ntext = \"") + kAllPlaceholders +
         "\"\n[[template]]\nname = \"zh-fused\"\nkind = \"fused_alert\"\nevent = [\"*\"]\ntext = \"" +
         kAllPlaceholders + "\"\n[[template]]\nname = \"en-all\"\nlanguage = \"en\"\nevent = [\"*\"]\ntext = \"" +
         kAllPlaceholders + "\"\n[[template]]\nname = \"en-fused\"\nlanguage = \"en\"\nkind = \"fused_alert\"\n" +
         "event = [\"*\"]\ntext = \"" + kAllPlaceholders + "\"\n";
}

std::string fill(const std::string& text, PlaceholderValues v) {
  std::vector<TemplateToken> tokens;
  std::string why = compileTemplateText(text, tokens);
  INFO(why);
  REQUIRE(why.empty());
  return fillTemplate(tokens, v);
}

PlaceholderValues vals(std::initializer_list<std::pair<Placeholder, std::string>> list) {
  PlaceholderValues v;
  for (auto& [p, s] : list) v[size_t(p)] = s;
  return v;
}

}  // namespace

TEST_CASE("templates: the shipped config/sms-templates.toml loads and every template fits", "[sms][templates]") {
  TemplateSet set = shipped();
  CHECK(set.settings.maxParts == 4);
  CHECK(set.settings.tzOffsetMinutes == 480);
  CHECK(set.templates.size() >= 20);
  for (auto kind : {TemplateKind::warning, TemplateKind::update, TemplateKind::cancel, TemplateKind::fusedAlert,
                    TemplateKind::instruction, TemplateKind::observation, TemplateKind::reminder}) {
    bool found = false;
    for (auto& t : set.templates) found = found || t.kind == kind;
    INFO(templateKindName(kind));
    CHECK(found);
  }
  // Every Chinese template ends with the answer request.
  for (auto& t : set.templates)
    if (t.language == "zh-CN") {
      INFO(t.name);
      CHECK(t.text.find("回复{answer_code}确认收到") != std::string::npos);
    }
}

TEST_CASE("templates: selection prefers exact event then prefix then any then colour then language", "[sms][templates]") {
  TemplateSet set = loadOk(R"([[template]]
name = "any"
event = ["*"]
text = "ANY {headline}"
[[template]]
name = "prefix-11B"
event = ["11B*"]
text = "P1 {headline}"
[[template]]
name = "prefix-11B0"
event = ["11B0*"]
text = "P2 {headline}"
[[template]]
name = "exact"
event = ["11B01", "typhoon"]
text = "EX {headline}"
[[template]]
name = "exact-orange"
event = ["typhoon", "11B01"]
min_colour = "orange"
text = "EXO {headline}"
[[template]]
name = "exact-red"
event = ["typhoon"]
min_colour = "red"
text = "EXR {headline}"
[[template]]
name = "any-red"
event = ["*"]
min_colour = "red"
text = "ANYR {headline}"
[[template]]
name = "en-any"
language = "en"
event = ["*"]
text = "EN {headline}"
[[template]]
name = "en-typhoon"
language = "en"
event = ["typhoon"]
text = "ENT {headline}"
[[template]]
name = "zh-primary"
language = "zh"
event = ["forest-fire"]
text = "ZH {headline}"
[[template]]
name = "first-of-two"
event = ["storm-surge"]
text = "F {headline}"
[[template]]
name = "second-of-two"
event = ["storm-surge", "gale"]
text = "S {headline}"
[[template]]
name = "cancel"
kind = "cancel"
event = ["*"]
text = "C {headline}"
[[template]]
name = "fused-II"
kind = "fused_alert"
event = ["*"]
min_level = "II"
text = "F2 {headline}"
[[template]]
name = "fused"
kind = "fused_alert"
event = ["*"]
text = "F {headline}"
)");
  auto pick = [&](TemplateKind kind, std::vector<std::string> events, int colour, int level = 0,
                  std::string lang = "zh-CN") -> std::string {
    TemplateQuery q;
    q.kind = kind;
    q.events = std::move(events);
    q.colourRank = colour;
    q.levelRank = level;
    q.language = std::move(lang);
    const SmsTemplate* t = selectTemplate(set, q);
    return t ? t->name : "builtin";
  };
  const auto W = TemplateKind::warning;
  SECTION("exact event and the highest colour the message meets") {
    CHECK(pick(W, {"typhoon"}, 2) == "exact");
    CHECK(pick(W, {"typhoon"}, 3) == "exact-orange");
    CHECK(pick(W, {"typhoon"}, 4) == "exact-red");
    CHECK(pick(W, {"11B01"}, 4) == "exact-orange");  // exact-red lists only "typhoon"
    CHECK(pick(W, {"typhoon"}, 0) == "exact");       // no colour: no minimum is met
  }
  SECTION("exact beats prefix, the longer prefix wins, any comes last") {
    CHECK(pick(W, {"11B03"}, 2) == "prefix-11B0");
    CHECK(pick(W, {"11B17"}, 2) == "prefix-11B");
    CHECK(pick(W, {"fire"}, 2) == "any");
    CHECK(pick(W, {"fire"}, 4) == "any-red");
    CHECK(pick(W, {"typhoon"}, 4) == "exact-red");   // exact with red beats any with red
    CHECK(pick(W, {}, 1) == "any");
  }
  SECTION("language: the person's language first, primary subtag matches, else the default") {
    CHECK(pick(W, {"typhoon"}, 3, 0, "en") == "en-typhoon");
    CHECK(pick(W, {"fire"}, 3, 0, "en") == "en-any");
    CHECK(pick(W, {"fire"}, 3, 0, "en-GB") == "en-any");
    CHECK(pick(W, {"typhoon"}, 3, 0, "fr") == "exact-orange");
    CHECK(pick(W, {"typhoon"}, 3, 0, "") == "exact-orange");
    CHECK(pick(W, {"forest-fire"}, 3, 0, "zh-CN") == "zh-primary");
    CHECK(pick(W, {"forest-fire"}, 3, 0, "zh-TW") == "zh-primary");
  }
  SECTION("file order breaks ties") {
    CHECK(pick(W, {"storm-surge"}, 2) == "first-of-two");
    CHECK(pick(W, {"gale"}, 2) == "second-of-two");
  }
  SECTION("kind must match and never falls back to another kind") {
    CHECK(pick(TemplateKind::cancel, {"typhoon"}, 3) == "cancel");
    CHECK(pick(TemplateKind::update, {"typhoon"}, 3) == "builtin");
    CHECK(pick(TemplateKind::reminder, {"typhoon"}, 3) == "builtin");
    CHECK(pick(TemplateKind::fusedAlert, {"typhoon"}, 0, 3) == "fused-II");
    CHECK(pick(TemplateKind::fusedAlert, {"typhoon"}, 0, 4) == "fused-II");
    CHECK(pick(TemplateKind::fusedAlert, {"typhoon"}, 0, 2) == "fused");
  }
}

TEST_CASE("templates: message kinds follow msgType and payload and reminders are explicit", "[sms][templates]") {
  TemplateSet set = shipped();
  SECTION("orange typhoon warning") {
    Msg x;
    typhoon(x);
    CHECK(render(set, x.r(), zhCtx()).templateName == "typhoon-orange");
  }
  SECTION("red via severity only") {
    Msg x;
    typhoon(x, schema::Colour::UNSPECIFIED);
    x.m.getPayload().getWarning()[0].setSeverity(schema::Severity::EXTREME);
    CHECK(render(set, x.r(), zhCtx()).templateName == "typhoon-red");
  }
  SECTION("national code 11B01") {
    Msg x;
    typhoon(x, schema::Colour::BLUE, "11B01");
    CHECK(render(set, x.r(), zhCtx()).templateName == "typhoon");
  }
  SECTION("an unlisted event uses the generic warning") {
    Msg x;
    typhoon(x, schema::Colour::YELLOW, "11B09");
    CHECK(render(set, x.r(), zhCtx()).templateName == "warning-any");
  }
  SECTION("update and cancel") {
    Msg x;
    typhoon(x);
    x.m.setMsgType(schema::MsgType::UPDATE);
    auto u = render(set, x.r(), zhCtx());
    CHECK(u.templateName == "update-any");
    CHECK(u.text.rfind("【更新】宁波市气象台发布台风橙色预警信号。", 0) == 0);
    x.m.setMsgType(schema::MsgType::CANCEL);
    auto c = render(set, x.r(), zhCtx());
    CHECK(c.templateName == "cancel-any");
    CHECK(c.text == "【解除】宁波市气象台发布台风橙色预警信号。停止室外作业。回复1234确认收到。");
  }
  SECTION("fused alerts by level and a closed incident is a cancel") {
    Msg x;
    fused(x, schema::ResponseLevel::LEVEL_I_I);
    auto r = render(set, x.r(), zhCtx());
    CHECK(r.templateName == "response-level-I-II");
    CHECK(r.text == "台风“海葵”逼近我市。市防指启动Ⅱ级应急响应，涉及北仑区。渔船回港；人员转移。请立即进岗到位、进入应急状态。"
                    "请于8月10日01时30分前回复1234确认收到。");
    Msg y;
    fused(y, schema::ResponseLevel::LEVEL_I_V);
    CHECK(render(set, y.r(), zhCtx()).templateName == "response-level-III-IV");
    Msg z;
    fused(z, schema::ResponseLevel::LEVEL_I_I, schema::IncidentState::CLOSED);
    CHECK(render(set, z.r(), zhCtx()).templateName == "cancel-any");
  }
  SECTION("escalation reminder") {
    Msg x;
    typhoon(x);
    RenderContext c = zhCtx();
    c.reminder = true;
    auto r = render(set, x.r(), c);
    CHECK(r.templateName == "reminder");
    CHECK(r.text == "【未回复提醒】宁波市气象台发布台风橙色预警信号。您尚未确认收到，请于8月10日01时30分前回复1234确认收到。");
    c.deadlineMs = 0;
    c.answerCode = "";
    CHECK(render(set, x.r(), c).text == "【未回复提醒】宁波市气象台发布台风橙色预警信号。您尚未确认收到");
  }
  SECTION("river gauge observation gets a made-up headline") {
    Msg x;
    x.m.setId("water-1");
    x.m.setSender("water");
    auto o = x.m.getPayload().initObservation();
    o.setStation("63402000");
    o.setStationName("姚江大闸");
    o.setQuantity("waterLevel");
    o.setValue(2.91);
    o.setUnit("m");
    o.setEvent("river-level");
    auto th = o.initThresholds(3);
    th[0].setName("FRZ");
    th[0].setValue(2.5);
    th[1].setName("WRZ");
    th[1].setValue(2.8);
    th[2].setName("GRZ");
    th[2].setValue(3.2);
    auto r = render(set, x.r(), zhCtx());
    CHECK(r.templateName == "gauge-over-threshold");
    CHECK(r.text == "姚江大闸站水位2.91m（超警戒水位2.8m）。请加强巡查，做好防汛准备。回复1234确认收到。");
  }
  SECTION("English persons get the English fallback") {
    Msg x;
    typhoon(x);
    RenderContext c = zhCtx();
    c.language = "en";
    CHECK(render(set, x.r(), c).templateName == "warning-en");
  }
}

TEST_CASE("templates: every placeholder renders in Chinese", "[sms][templates]") {
  TemplateSet set = loadOk(allPlaceholdersSet());
  SECTION("warning") {
    Msg x;
    typhoon(x);
    auto r = render(set, x.r(), zhCtx());
    CHECK(r.templateName == "zh-all");
    CHECK(r.text == "宁波市气象台发布台风橙色预警信号|台风|橙色||北仑区、象山县|8月10日02时|停止室外作业|宁波市气象台|1234|"
                    "8月10日01时30分");
  }
  SECTION("fused alert: level, recommended actions, ack deadline") {
    Msg x;
    fused(x, schema::ResponseLevel::LEVEL_I_I);
    RenderContext c = zhCtx();
    c.deadlineMs = 0;  // the fused alert's own ackDeadlineMs
    auto r = render(set, x.r(), c);
    CHECK(r.templateName == "zh-fused");
    CHECK(r.text == "台风“海葵”逼近我市|台风||Ⅱ级|北仑区||渔船回港；人员转移|fusion|1234|8月10日01时30分");
  }
  SECTION("each colour and level") {
    const std::pair<schema::Colour, const char*> colours[] = {{schema::Colour::BLUE, "蓝色"},
                                                              {schema::Colour::YELLOW, "黄色"},
                                                              {schema::Colour::ORANGE, "橙色"},
                                                              {schema::Colour::RED, "红色"}};
    for (auto& [c, name] : colours) {
      Msg x;
      typhoon(x, c);
      CHECK(render(set, x.r(), zhCtx()).text.find(std::string("|台风|") + name + "||") != std::string::npos);
    }
    const std::pair<schema::ResponseLevel, const char*> levels[] = {{schema::ResponseLevel::LEVEL_I_V, "Ⅳ级"},
                                                                    {schema::ResponseLevel::LEVEL_I_I_I, "Ⅲ级"},
                                                                    {schema::ResponseLevel::LEVEL_I_I, "Ⅱ级"},
                                                                    {schema::ResponseLevel::LEVEL_I, "Ⅰ级"}};
    for (auto& [l, name] : levels) {
      Msg x;
      fused(x, l);
      CHECK(render(set, x.r(), zhCtx()).text.find(std::string("||") + name + "|") != std::string::npos);
    }
  }
  SECTION("time zone: from the context, whole hours without minutes") {
    Msg x;
    typhoon(x);
    RenderContext c = zhCtx();
    c.tzOffsetMinutes = 0;
    CHECK(render(set, x.r(), c).text.find("|8月9日18时|") != std::string::npos);
    CHECK(formatLocalTime(kExpiresMs, 480, "zh-CN") == "8月10日02时");
    CHECK(formatLocalTime(kDeadlineMs, 480, "zh") == "8月10日01时30分");
    CHECK(formatLocalTime(kDeadlineMs, -300, "en") == "9 Aug 12:30");
    CHECK(formatLocalTime(0, 480, "zh-CN") == "");
  }
}

TEST_CASE("templates: every placeholder renders in English", "[sms][templates]") {
  TemplateSet set = loadOk(allPlaceholdersSet());
  RenderContext c = zhCtx();
  c.language = "en";
  SECTION("a Chinese-only warning keeps its Chinese text but names event colour and times in English") {
    Msg x;
    typhoon(x);
    auto r = render(set, x.r(), c);
    CHECK(r.templateName == "en-all");
    CHECK(r.text == "宁波市气象台发布台风橙色预警信号|Typhoon|Orange||北仑区, 象山县|10 Aug 02:00|停止室外作业|宁波市气象台|1234|"
                    "10 Aug 01:30");
  }
  SECTION("the English info is used when there is one") {
    Msg x;
    x.m.setMsgType(schema::MsgType::ALERT);
    auto infos = x.m.getPayload().initWarning(2);
    fillInfo(infos[0], "typhoon", schema::Colour::RED);
    auto en = infos[1];
    en.setLanguage("en-US");
    en.setEventCode("typhoon");
    en.setEvent("Typhoon Lekima");
    en.setColour(schema::Colour::RED);
    en.setSenderName("Ningbo Meteorological Observatory");
    en.setHeadline("Red typhoon warning for Ningbo");
    en.setInstruction("Stay indoors.");
    en.setExpiresMs(kExpiresMs);
    auto r = render(set, x.r(), c);
    CHECK(r.text == "Red typhoon warning for Ningbo|Typhoon Lekima|Red||北仑区, 象山县|10 Aug 02:00|Stay indoors.|"
                    "Ningbo Meteorolog...|1234|10 Aug 01:30");  // sender cut to 20 characters, GSM-7 dots
  }
  SECTION("cutting an English value keeps the text GSM-7") {
    Msg x;
    typhoon(x);
    auto info = x.m.getPayload().getWarning()[0];
    info.setLanguage("en");
    info.setHeadline(std::string(100, 'H'));
    info.setEvent("Typhoon");
    info.initAreas(0);
    info.setInstruction("");
    info.setSenderName("");
    auto r = render(set, x.r(), c);
    CHECK(r.text.rfind(std::string(57, 'H') + "...|", 0) == 0);
    CHECK(chooseEncoding(r.text) == SmsEncoding::gsm7);
  }
  SECTION("fused alert level") {
    Msg x;
    fused(x, schema::ResponseLevel::LEVEL_I);
    CHECK(render(set, x.r(), c).text.find("||Level I|") != std::string::npos);
  }
}

TEST_CASE("templates: missing values leave no doubled separators or spaces", "[sms][templates]") {
  SECTION("optional groups vanish and the shipped texts stay tidy") {
    TemplateSet set = shipped();
    Msg x;
    typhoon(x, schema::Colour::BLUE);
    auto info = x.m.getPayload().getWarning()[0];
    info.setInstruction("");
    info.setExpiresMs(0);
    info.initAreas(0);
    RenderContext c;
    auto r = render(set, x.r(), c);
    CHECK(r.templateName == "typhoon");
    CHECK(r.text == "宁波市气象台发布台风橙色预警信号。");
    bool noted = false;
    for (auto& p : r.problems) noted = noted || p.find("no answer code") != std::string::npos;
    CHECK(noted);
    typhoon(x, schema::Colour::ORANGE);
    x.m.getPayload().getWarning()[0].setInstruction("停止室外作业。");  // its own 。 merges with the template's
    c.answerCode = "1234";
    CHECK(render(set, x.r(), c).text ==
          "宁波市气象台发布台风橙色预警信号。影响区域：北仑区、象山县。有效期至8月10日02时。停止室外作业。请加强值班，"
          "落实防台措施。回复1234确认收到。");
  }
  SECTION("separators and spaces around missing values") {
    using P = Placeholder;
    CHECK(fill("{headline}，{instruction}。回复{answer_code}", vals({{P::headline, "H"}, {P::answerCode, "1"}})) ==
          "H。回复1");
    CHECK(fill("{headline} {sender} {instruction} end", vals({{P::headline, "H"}})) == "H end");
    CHECK(fill("{headline}：{areas}", vals({{P::headline, "H"}})) == "H");
    CHECK(fill("{areas}，{headline}", vals({{P::headline, "H"}})) == "H");
    CHECK(fill("{headline}。{instruction}。", vals({{P::headline, "H"}, {P::instruction, "停止作业。"}})) ==
          "H。停止作业。");
    CHECK(fill("{headline}. [Areas: {areas}. ][Until {expires}. ]Reply {answer_code}.",
               vals({{P::headline, "H"}, {P::answerCode, "7"}})) == "H. Reply 7.");
    CHECK(fill("{headline} {{x}} [[y]]", vals({{P::headline, "H"}})) == "H {x} [y]");
    CHECK(fill("{headline}[（{sender}）]", vals({{P::headline, "H"}, {P::sender, "S"}})) == "H（S）");
  }
  SECTION("a message without a headline gets one made from event and colour") {
    TemplateSet set = shipped();
    Msg x;
    typhoon(x, schema::Colour::RED);
    x.m.getPayload().getWarning()[0].setHeadline("");
    auto r = render(set, x.r(), zhCtx());
    CHECK(r.text.rfind("台风红色预警。", 0) == 0);
    CHECK_FALSE(r.problems.empty());
  }
}

TEST_CASE("templates: long values are bounded so the answer request survives", "[sms][templates]") {
  TemplateSet set = shipped();
  Msg x;
  typhoon(x);
  auto info = x.m.getPayload().getWarning()[0];
  std::string longHeadline;
  for (int i = 0; i < 70; ++i) longHeadline += "风";
  info.setHeadline(longHeadline);
  std::string longInstruction;
  for (int i = 0; i < 300; ++i) longInstruction += "防";
  info.setInstruction(longInstruction);
  const char* names[] = {"海曙区", "江北区", "北仑区", "镇海区", "鄞州区", "奉化区", "余姚市", "慈溪市", "宁海县", "象山县"};
  auto areas = info.initAreas(10);
  for (unsigned i = 0; i < 10; ++i) areas[i].setDescription(names[i]);
  RenderContext c = zhCtx();
  auto r = render(set, x.r(), c);
  std::string cutHeadline;
  for (int i = 0; i < 59; ++i) cutHeadline += "风";
  CHECK(r.text.rfind(cutHeadline + "…。影响区域：海曙区、江北区、北仑区、", 0) == 0);
  CHECK(r.text.find("宁海县、象山县。有效期至") != std::string::npos);  // 10 areas fit in 50 characters
  CHECK(r.problems.size() == 2);  // headline and instruction cut
  Segmentation seg = segment(r.text, set.settings.maxParts);
  CHECK_FALSE(seg.truncated);
  CHECK(seg.parts.back().find("回复1234确认收到。") != std::string::npos);
  SECTION("areas bound from the context") {
    c.maxAreasChars = 20;
    CHECK(render(set, x.r(), c).text.find("影响区域：海曙区、江北区、北仑区、镇海区等10地。") != std::string::npos);
    c.language = "en";
    c.maxAreasChars = 14;
    CHECK(render(set, x.r(), c).text.find("Areas: 海曙区 and 9 more.") != std::string::npos);
  }
}

TEST_CASE("templates: nothing configured falls back to the built-in Chinese default", "[sms][templates]") {
  TemplateSet set = loadOk("[sms]\nmax_parts = 4\n");
  Msg x;
  typhoon(x);
  x.m.getPayload().getWarning()[0].setExpiresMs(0);
  auto r = render(set, x.r(), zhCtx());
  CHECK(r.templateName == "builtin:warning:zh-CN");
  CHECK(r.text == "宁波市气象台发布台风橙色预警信号。影响区域：北仑区、象山县。停止室外作业。请于8月10日01时30分前回复1234确认收到。");
  CHECK_FALSE(r.problems.empty());
  RenderContext en = zhCtx();
  en.language = "en";
  auto e = render(set, x.r(), en);
  CHECK(e.templateName == "builtin:warning:en");
  CHECK(e.text == "宁波市气象台发布台风橙色预警信号. Areas: 北仑区, 象山县. 停止室外作业. Reply 1234 to confirm by 10 Aug 01:30.");
  RenderContext none;
  CHECK(render(set, x.r(), none).templateName == "builtin:warning:zh-CN");
}

TEST_CASE("templates: every config error is reported with file and line in one pass", "[sms][templates]") {
  auto errors = loadBad(R"([sms]
max_parts = 11
timezone = "+8"
colour = "red"
default_language = "chinese"
[[template]]
name = "a"
event = ["typhoon"]
min_colour = "purple"
text = "{headline}。{foo}"
[[template]]
name = "b"
kind = "alert"
event = ["1*1"]
min_level = "V"
text = "{headline"
[[template]]
name = "c"
kind = "fused_alert"
event = ["*"]
min_colour = "red"
text = "{headline}}"
[[template]]
name = "d"
event = ["*"]
min_colour = "red"
min_level = "I"
text = "[{headline}[{areas}]"
[[template]]
name = "e"
event = ["*"]
text = "[{headline}"
[[template]]
name = "f"
event = ["*"]
text = "{areas}"
[[template]]
name = "g"
event = ["*"]
text = "这是一段很长的前言文字超过了二十个字符的限制然后才是{headline}"
[[template]]
event = ["*"]
text = "{headline}"
[[template]]
name = "h"
text = "{headline}"
[[template]]
name = "i"
event = []
text = "{headline}"
[[template]]
name = "j"
event = ["*"]
min_level = "II"
text = "{headline}"
[[template]]
name = "k"
event = ["*"]
language = "zh_CN"
text = "{headline}"
extra = 1
[[template]]
name = "l"
event = ["*"]
text = 5
templates = 1
)");
  expectError(errors, 2, "sms.max_parts = 11: must be in 1..10");
  expectError(errors, 3, "sms.timezone = \"+8\"");
  expectError(errors, 4, "unknown key 'sms.colour'");
  expectError(errors, 5, "sms.default_language = \"chinese\"");
  expectError(errors, 9, "template 'a': min_colour = \"purple\"");
  expectError(errors, 10, "unknown placeholder {foo}");
  expectError(errors, 13, "template 'b': kind = \"alert\": unknown");
  expectError(errors, 14, "event \"1*1\"");
  expectError(errors, 15, "min_level = \"V\"");
  expectError(errors, 16, "is not closed by '}'");
  expectError(errors, 21, "a fused_alert has a response level, not a colour");
  expectError(errors, 22, "'}' at byte 10 without '{'");
  expectError(errors, 27, "not both");
  expectError(errors, 28, "optional groups cannot nest");
  expectError(errors, 32, "'[' is never closed");
  expectError(errors, 36, "{headline} is missing");
  expectError(errors, 40, "must start within the first 20 characters");
  expectError(errors, 41, "name is required");
  expectError(errors, 44, "template 'h': event is required");
  expectError(errors, 49, "event must not be empty");
  expectError(errors, 54, "a warning has a colour, not a response level");
  expectError(errors, 59, "language = \"zh_CN\"");
  expectError(errors, 61, "unknown key 'template[11].extra'");
  expectError(errors, 65, "template[12].text: expected a string");
  expectError(errors, 66, "unknown key 'template[12].templates'");  // keys after [[template]] belong to it
}

TEST_CASE("templates: duplicate and shadowed and oversized templates are config errors", "[sms][templates]") {
  SECTION("cross-field checks name the template's line") {
    auto errors = loadBad(R"([sms]
max_parts = 1
max_headline_chars = 20
[[template]]
name = "short"
event = ["typhoon"]
text = "{headline}。[回复{answer_code}确认收到。]"
[[template]]
name = "short"
event = ["gale"]
text = "{headline}"
[[template]]
name = "shadowed"
event = ["typhoon"]
text = "{headline}"
[[template]]
name = "long"
event = ["rainstorm"]
text = "{headline}。[影响区域：{areas}。][有效期至{expires}。][{instruction}。]回复{answer_code}确认收到。"
)");
    expectError(errors, 8, "template 'short': duplicate name (first at line 4)");
    expectError(errors, 12, "template 'shadowed': never used: template 'short' (line 4)");
    expectError(errors, 16, "template 'long': oversized template");
    CHECK(errors.size() == 3);
  }
  SECTION("oversized with the default four parts") {
    auto errors = loadBad(R"([[template]]
name = "huge"
event = ["*"]
text = "{headline}{instruction}{instruction}{instruction}"
)");
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].str() ==
          "t.toml:1: template 'huge': oversized template: with worst-case values (headline 60 characters, 10 "
          "areas in 50 characters, instruction 80 characters) it needs 5 SMS parts (304 UCS-2 units), more than "
          "sms.max_parts = 4; shorten the text or lower the max_*_chars bounds");
  }
  SECTION("raising max_parts or lowering the bounds makes it fit") {
    loadOk("[sms]\nmax_parts = 5\n[[template]]\nname = \"huge\"\nevent = [\"*\"]\n"
           "text = \"{headline}{instruction}{instruction}{instruction}\"\n");
    loadOk("[sms]\nmax_instruction_chars = 60\n[[template]]\nname = \"huge\"\nevent = [\"*\"]\n"
           "text = \"{headline}{instruction}{instruction}{instruction}\"\n");
  }
  SECTION("bad TOML and a missing file") {
    auto errors = loadBad("[sms]\nmax_parts = \n");
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].line == 2);
    TemplateSet set;
    std::vector<ConfigError> missing;
    CHECK_FALSE(loadTemplateSet("/nonexistent/sms-templates.toml", set, missing));
    CHECK(missing.size() == 1);
    expectError(loadBad("templates = 1\n[sms]\n"), 1, "unknown key 'templates' (known: sms, template)");
    expectError(loadBad("template = 1\n"), 1, "template: expected [[template]] tables");
  }
}

TEST_CASE("templates: preview of a Chinese typhoon warning shows every SMS part", "[sms][templates]") {
  TemplateSet set = shipped();
  std::ifstream in(std::string(ALERTBUS_SOURCE_DIR) + "/config/samples/typhoon-orange.json");
  std::stringstream json;
  json << in.rdbuf();
  capnp::MallocMessageBuilder arena;
  auto m = arena.initRoot<schema::Message>();
  messageFromJson(json.str(), m, "typhoon-orange.json");
  m.getPayload().getWarning()[0].setExpiresMs(kExpiresMs);
  const std::string text =
      "宁波市气象台发布台风橙色预警信号。影响区域：北仑区、象山县。有效期至8月10日02时。停止室内外大型集会；高空、"
      "水上作业人员撤离；加固门窗及临时搭建物。请加强值班，落实防台措施。请于8月10日01时30分前回复1234确认收到。";
  auto r = render(set, m.asReader(), zhCtx());
  CHECK(r.text == text);
  CHECK(r.problems.empty());
  std::string p = preview(set, m.asReader(), zhCtx());
  INFO(p);
  int line = 0;
  for (auto& t : set.templates)
    if (t.name == "typhoon-orange") line = t.line;
  CHECK(p.find("template: typhoon-orange (" + kConfig + ":" + std::to_string(line) + ")\n") == 0);
  CHECK(p.find("text: " + text + "\n") != std::string::npos);
  CHECK(p.find("encoding: UCS-2, 114 units in 2 SMS parts (max_parts 4)\n") != std::string::npos);
  CHECK(p.find("part 1/2 (67 UCS-2 units): 宁波市气象台发布台风橙色预警信号。影响区域：北仑区、象山县。有效期至8月10日02时。"
               "停止室内外大型集会；高空、水上作业人员撤离；加固\n") != std::string::npos);
  CHECK(p.find("part 2/2 (47 UCS-2 units): 门窗及临时搭建物。请加强值班，落实防台措施。请于8月10日01时30分前回复1234确认收到。\n") !=
        std::string::npos);
  CHECK(p.find("WARNING") == std::string::npos);
}

TEST_CASE("templates: preview warns about truncation", "[sms][templates]") {
  TemplateSet set;  // not loaded: the loader would reject built-in texts that do not fit one part
  set.settings.maxParts = 1;
  Msg x;
  typhoon(x);
  std::string longHeadline;
  for (int i = 0; i < 70; ++i) longHeadline += "风";
  x.m.getPayload().getWarning()[0].setHeadline(longHeadline);
  std::string p = preview(set, x.r(), zhCtx());
  INFO(p);
  CHECK(p.find("template: builtin:warning:zh-CN\n") == 0);
  CHECK(p.find("part 1/1 (70 UCS-2 units): ") != std::string::npos);
  CHECK(p.find("…\n") != std::string::npos);
  CHECK(p.find("WARNING: truncated") != std::string::npos);
  CHECK(p.find("note: headline cut to 60 characters") != std::string::npos);
}

TEST_CASE("templates: built-in texts that could be used must fit max parts too", "[sms][templates]") {
  auto errors = loadBad("[sms]\nmax_parts = 1\nmax_headline_chars = 20\n");
  CHECK(errors.size() == 6);  // one per kind but reminder, whose built-in text fits one SMS
  expectError(errors, 2, "the built-in Chinese warning text is used when no template matches, and with worst-case");
  expectError(errors, 2, "add a [[template]] with kind = \"observation\" and event = [\"*\"] that fits");
  // A Chinese catch-all of a kind that fits covers it; a catch-all with a minimum does not.
  errors = loadBad(R"([sms]
max_parts = 1
max_headline_chars = 20
[[template]]
name = "warning-any"
event = ["*"]
text = "{headline}。[回复{answer_code}确认收到。]"
[[template]]
name = "cancel-red"
kind = "cancel"
event = ["*"]
min_colour = "red"
text = "{headline}。[回复{answer_code}确认收到。]"
)");
  CHECK(errors.size() == 5);
  for (auto& e : errors) CHECK(e.reason.find(" warning text") == std::string::npos);
  expectError(errors, 2, "the built-in Chinese cancel text");
}

TEST_CASE("templates: drills and tests are marked as such", "[sms][templates]") {
  TemplateSet set = shipped();
  Msg x;
  typhoon(x);
  x.m.setStatus(schema::Status::EXERCISE);
  CHECK(render(set, x.r(), zhCtx()).text.rfind("【演练】宁波市气象台发布台风橙色预警信号。", 0) == 0);
  x.m.setStatus(schema::Status::TEST);
  CHECK(render(set, x.r(), zhCtx()).text.rfind("【测试】宁波市气象台", 0) == 0);
  RenderContext en = zhCtx();
  en.language = "en";
  x.m.setStatus(schema::Status::EXERCISE);
  CHECK(render(set, x.r(), en).text.rfind("[EXERCISE] 宁波市气象台", 0) == 0);
  SECTION("a headline that already says so is not marked twice") {
    x.m.getPayload().getWarning()[0].setHeadline("【演练】宁波市气象台发布暴雨黄色预警信号");
    CHECK(render(set, x.r(), zhCtx()).text.rfind("【演练】宁波市气象台发布暴雨黄色预警信号。", 0) == 0);
    CHECK(render(set, x.r(), en).text.rfind("【演练】宁波市气象台发布暴雨黄色预警信号. ", 0) == 0);
    x.m.getPayload().getWarning()[0].setHeadline("Exercise: rainstorm warning");
    CHECK(render(set, x.r(), zhCtx()).text.rfind("Exercise: rainstorm warning。", 0) == 0);
  }
  SECTION("real traffic has no marker") {
    x.m.setStatus(schema::Status::ACTUAL);
    CHECK(render(set, x.r(), zhCtx()).text.rfind("宁波市气象台", 0) == 0);
  }
}

TEST_CASE("templates: hostile message content renders bounded and clean", "[sms][templates]") {
  TemplateSet set = shipped();
  Msg x;
  typhoon(x);
  auto info = x.m.getPayload().getWarning()[0];
  info.setHeadline("宁波\xff市气象台\n发布\t台风\x01预警");  // invalid UTF-8, newline, tab, control
  std::string huge(1 << 20, 'x');
  info.setInstruction(huge);
  auto areas = info.initAreas(20000);
  for (unsigned i = 0; i < areas.size(); ++i) areas[i].setDescription(i % 2 ? "北仑区" : std::to_string(i));
  auto r = render(set, x.r(), zhCtx());
  CHECK(r.text.rfind("宁波\uFFFD市气象台 发布 台风预警。影响区域：0、北仑区、2、4、", 0) == 0);
  CHECK(r.text.find("等10001地。") != std::string::npos);  // duplicates counted once
  Segmentation seg = segment(r.text, set.settings.maxParts);
  CHECK_FALSE(seg.truncated);
  CHECK(r.text.size() - r.text.rfind("回复1234确认收到。") == std::string("回复1234确认收到。").size());
  SECTION("a payload with no SMS kind still renders, with a note") {
    Msg s;
    s.m.setId("x");
    s.m.getPayload().initSitrep().setNarrative("n");
    auto rs = render(set, s.r(), zhCtx());
    CHECK(rs.templateName == "warning-any");  // "*" takes a message without any event too
    CHECK(rs.text == "预警。回复1234确认收到。");
    CHECK(rs.problems.size() >= 2);
  }
}
