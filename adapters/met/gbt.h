// Chinese national early-warning XML in the style of GB/T 35965.1 (国家突发事件预警信息发布系统) -> one alertbus
// Message. Pure: no I/O, no globals; safe on distinct builders from any thread. Never throws on bad input.
//
// No public samples exist; the shape below is designed from the standard's structure (a CAP-like alert
// with info and area blocks) and what provincial systems emit. Assumptions, all checked by tests/data/gbt/:
//  * Root: <alert> in no namespace or any namespace other than CAP's (a CAP-namespaced <alert> is CAP).
//  * Element names: where practice differs, each of these is accepted (first one present wins):
//      identifier | msgId;  sender | senderName (root level);  senderCode | senderId (12-digit
//      organisation/area code);  sendTime | sent;  status;  msgType;  scope;  references;  note.
//      info: language; eventType | eventCode (code "11B01" or a CAP-style valueName/value pair);
//      event | eventName | eventTypeName (name, e.g. 台风); urgency; severity | severityLevel | color |
//      colour | level; certainty; effective | effectiveTime; onset | onsetTime; expires | expireTime |
//      expiredTime; senderName; headline | title; description | content; instruction | guide |
//      defenseGuide; web; contact; msgContent (per channel, below); area.
//      area: areaDesc | areaName; polygon; circle; geocode | areaCode | adminCode.
//  * Times: "2019-08-09 20:00:00+08:00", ISO 8601 "2019-08-09T20:00:00+08:00" / "...Z", fraction allowed;
//    without an offset Beijing time (+08:00) is assumed, with a warning.
//  * status: Actual/Exercise/System/Test (also 实际/演练/系统/测试); msgType: Alert/Update/Cancel (also
//    首次/更新/撤销 and 发布/解除 for Alert/Cancel). scope is optional (default Public).
//  * references: "sender,identifier,sendTime" triples separated by whitespace; a sendTime written with a
//    space ("2019-08-09 20:00:00+08:00") is rejoined. Reference.sender = the triple's sender,
//    Reference.id = its identifier: an Update replaces and a Cancel withdraws exactly what it names (an
//    Update or Cancel without a usable reference is an error, as for CAP).
//  * Severity is a colour: Red/Orange/Yellow/Blue (any case), 红色/橙色/黄色/蓝色 (also with 预警, or just
//    红/橙/黄/蓝), or the level 1..4 (Ⅰ级 = red ... Ⅳ级 = blue, also I..IV / Ⅰ..Ⅳ). Mapped per
//    docs/protocol.md: red=extreme, orange=severe, yellow=moderate, blue=minor; Info.colour is set too.
//    A CAP severity word (Extreme...) is also accepted and gives the colour the same way; "Unknown" is
//    kept as severity unknown with no colour; anything else (or no severity at all) is an error.
//  * Event codes (eventType): the 11B meteorological codes below map to the alertbus family code, which
//    becomes Info.eventCode (routing, like every adapter's plain family codes); the national code is kept
//    in Info.eventCodes as {"GB/T 35965", "11B01"} (rules may match either). An 11B/other code not in the
//    table becomes Info.eventCode itself. A Chinese event name alone (台风) is mapped through the same table.
//        11B01 台风 typhoon        11B03 暴雨 rainstorm     11B04 暴雪 snowstorm     11B05 寒潮 cold-wave
//        11B06 大风 gale           11B07 沙尘暴 sandstorm   11B09 高温 heat          11B14 雷电 thunderstorm
//        11B15 冰雹 hail           11B16 霜冻 frost         11B17 大雾 fog           11B19 霾 haze
//        11B20 雷雨大风 thunderstorm  11B21 道路结冰 road-icing  11B22 干旱 drought   11B25 森林火险 fire-weather
//  * Per-channel texts: <msgContent channel="sms">…</msgContent>, <msgContent><channel>sms</channel>
//    <content>…</content></msgContent> or <channel name|type="sms">…</channel> become info parameters
//    "text.<channel>" (channel lower-cased, [a-z0-9_-] kept, else "other"), so outlets can pick the text
//    written for them; a msgContent without channel is the description when there is none.
//  * Areas: every 6- or 12-digit code (GB/T 2260, e.g. 330212 or 330212000000) in geocode/areaCode/adminCode
//    (plain text or valueName/value) goes to adminCodes and to geocodes as {"GB/T 2260", code}; other
//    geocodes are kept as received. polygon/circle use CAP syntax ("lat,lon lat,lon ...", "lat,lon km").
//  * senderCode is kept as the info parameter "senderCode" (the Message has no field for it); a code that
//    is not 12 digits is kept with a warning.
//  * Message.id = identifier; provenance = {contentType "application/vnd.gbt35965+xml", the bytes as
//    received (GB18030 stays GB18030), source, receivedMs}.
//  * Encoding: UTF-8/16 and declared GB2312/GBK/GB18030 (converted with iconv, see loadXml).
// Implementation: the document is rewritten as a CAP 1.2 alert and mapped by parseCap, so every CAP rule
// (polygon checks, time parsing, references) applies identically. Problems found while rewriting name the
// GB/T element as written (sendTime, color, expireTime ...); problems parseCap finds name the CAP element of
// the rewrite at the same alert/info[i]/area[j] path (sent is renamed back to the sendTime/sent used), and
// geocode[k] indexes count the rewrite's geocodes (each plain code becomes one).
#pragma once

#include <cstdint>
#include <string_view>

#include <capnp/message.h>

#include "adapters/met/cap.h"

namespace alertbus::met {

constexpr std::string_view kGbtContentType = "application/vnd.gbt35965+xml";

// Maps one GB/T 35965-style warning document to one Message, the root of `out`. Same contract as parseCap
// (CapResult.accepted, problems with element paths, capSender = <sender>); CapResult.capVersion is
// "GB/T 35965". Errors: everything parseCap refuses, plus a root that is not <alert>, a CAP-namespaced
// root (use parseCap), an unparsable sendTime, an info without a recognisable severity colour. Cost:
// linear in the size; parses twice (the rewritten CAP document is re-parsed).
CapResult parseGbt(std::string_view bytes, std::string_view source, int64_t receivedMs, capnp::MessageBuilder& out);

// The alertbus family code for a national event code ("11B06" -> "gale") or name ("大风" -> "gale");
// "" when not in the table.
std::string_view gbtEventFamily(std::string_view codeOrName);

}  // namespace alertbus::met
