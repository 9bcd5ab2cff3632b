# alertbus message model: the application payload every agency publishes.
# Aligned with OASIS CAP 1.2 so a CAP alert maps in and out without loss, extended with observations,
# situation reports, defence orders, fused alerts and acknowledgements. Partner agencies serialise a
# `Message` with standard Cap'n Proto (unpacked, flat array with segment table) and put those bytes in
# `Publish.message` (see protocol.capnp and docs/protocol.md).
#
# Rules for evolving this file: never reuse or renumber an ordinal; add fields at the end; member 0 of
# every union and enum is `unspecified` so a forgotten field is caught. Times are milliseconds since the
# Unix epoch, UTC; 0 means "absent".
@0x80bd6bc3b52bb2d8;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("alertbus::schema");
using Json = import "/capnp/compat/json.capnp";

enum Status {            # CAP status
  unspecified @0;
  actual @1;
  exercise @2;
  system @3;
  test @4;
  draft @5;
}

enum MsgType {           # CAP msgType
  unspecified @0;
  alert @1;
  update @2;
  cancel @3;
  ack @4;
  error @5;
}

enum Category {          # CAP category
  unspecified @0;
  geo @1;
  met @2;
  safety @3;
  security @4;
  rescue @5;
  fire @6;
  health @7;
  env @8;
  transport @9;
  infra @10;
  cbrne @11;
  other @12;
}

enum Urgency {
  unspecified @0;
  immediate @1;
  expected @2;
  future @3;
  past @4;
  unknown @5;
}

enum Severity {          # ordered: a higher ordinal is NOT more severe; use alertbus::severityRank()
  unspecified @0;
  extreme @1;
  severe @2;
  moderate @3;
  minor @4;
  unknown @5;
}

enum Certainty {
  unspecified @0;
  observed @1;
  likely @2;
  possible @3;
  unlikely @4;
  unknown @5;
}

enum ResponseType {
  unspecified @0;
  shelter @1;
  evacuate @2;
  prepare @3;
  execute @4;
  avoid @5;
  monitor @6;
  assess @7;
  allClear @8;
  none @9;
}

enum Colour {            # Chinese warning colour; red is the highest. Mapping to CAP severity: red=extreme,
  unspecified @0;        # orange=severe, yellow=moderate, blue=minor (documented in docs/protocol.md).
  blue @1;
  yellow @2;
  orange @3;
  red @4;
}

enum ResponseLevel {     # the bureau's emergency response level; I is the highest
  unspecified @0;
  levelIV @1;
  levelIII @2;
  levelII @3;
  levelI @4;
}

struct KeyValue {
  key @0 :Text;          # CAP valueName, e.g. "GB2260" or "SAME"
  value @1 :Text;
}

struct Reference {       # CAP references entry: "sender,identifier,sent"
  sender @0 :Text;       # agency (alertbus sender) or the original CAP sender
  id @1 :Text;
  sentMs @2 :Int64;
}

struct Point {
  lat @0 :Float64;       # WGS 84 degrees, -90..90
  lon @1 :Float64;       # WGS 84 degrees, -180..180
}

struct Polygon {
  points @0 :List(Point);  # closed ring: first == last, at least 4 points
}

struct Circle {
  center @0 :Point;
  radiusKm @1 :Float64;  # kilometres; 0 means the point itself
}

struct Area {
  description @0 :Text;        # CAP areaDesc
  polygons @1 :List(Polygon);
  circles @2 :List(Circle);
  geocodes @3 :List(KeyValue); # every CAP geocode as received, any valueName
  adminCodes @4 :List(Text);   # GB/T 2260 administrative codes, 6 or 12 digits, e.g. "330212"
  altitudeM @5 :Float64;       # metres; NaN if absent
  ceilingM @6 :Float64;        # metres; NaN if absent
}

struct Resource {
  description @0 :Text;
  mimeType @1 :Text;
  sizeBytes @2 :UInt64;
  uri @3 :Text;
  digest @4 :Text;             # SHA-1 hex, as CAP
}

struct Info {                  # one per language (CAP info)
  language @0 :Text;           # RFC 3066, e.g. "zh-CN"; CAP default "en-US"
  categories @1 :List(Category);
  event @2 :Text;              # human-readable event name
  eventCode @3 :Text;          # normative code used for routing and fusion, e.g. "11B06" or "typhoon"
  eventCodes @4 :List(KeyValue);  # every CAP eventCode as received
  responseTypes @5 :List(ResponseType);
  urgency @6 :Urgency;
  severity @7 :Severity;
  certainty @8 :Certainty;
  colour @9 :Colour;
  audience @10 :Text;
  effectiveMs @11 :Int64;
  onsetMs @12 :Int64;
  expiresMs @13 :Int64;
  senderName @14 :Text;
  headline @15 :Text;
  description @16 :Text;
  instruction @17 :Text;
  web @18 :Text;
  contact @19 :Text;
  parameters @20 :List(KeyValue);
  resources @21 :List(Resource);
  areas @22 :List(Area);
}

struct Threshold {
  name @0 :Text;               # e.g. "FRZ" precaution, "WRZ" warning, "GRZ" guaranteed
  value @1 :Float64;           # same unit as the observation
}

struct Observation {
  station @0 :Text;            # station code (STCD)
  stationName @1 :Text;
  quantity @2 :Text;           # e.g. "waterLevel", "discharge", "rainfall1h"
  value @3 :Float64;
  unit @4 :Text;               # UCUM-like, e.g. "m", "m3/s", "mm"
  timeMs @5 :Int64;
  thresholds @6 :List(Threshold);
  position @7 :Point;
  adminCode @8 :Text;
  event @9 :Text;              # event family code the observation informs, e.g. "river-level"
}

struct ResourceCount {
  kind @0 :Text;               # e.g. "personnel", "vehicles", "boats"
  count @1 :UInt32;
}

struct Sitrep {                # EDXL-SitRep-like situation report
  reportNumber @0 :UInt32;
  version @1 :UInt32;
  periodStartMs @2 :Int64;
  periodEndMs @3 :Int64;
  evacuated @4 :UInt32;        # persons
  rescued @5 :UInt32;
  injured @6 :UInt32;
  dead @7 :UInt32;
  missing @8 :UInt32;
  resources @9 :List(ResourceCount);
  narrative @10 :Text;
  event @11 :Text;             # event code the report is about
  areas @12 :List(Area);
  vessels @13 :List(Vessel);   # e.g. vessels at sea inside a warning area (maritime adapter)
}

struct Vessel {                # one ship as last reported by AIS
  mmsi @0 :UInt32;             # 9-digit Maritime Mobile Service Identity
  name @1 :Text;               # "" if not yet reported
  callsign @2 :Text;
  shipType @3 :UInt8;          # AIS ship type 1..99; 0 = unknown
  position @4 :Point;
  sogKnots @5 :Float64;        # speed over ground; NaN if unknown
  cogDeg @6 :Float64;          # course over ground 0..360; NaN if unknown
  lastSeenMs @7 :Int64;        # time of the position report
  imo @8 :UInt32;              # 0 = unknown
  areas @9 :List(Text);        # descriptions of the areas it is inside (warning areas)
}

struct Instruction {           # defence order (防御指令)
  orderNumber @0 :Text;
  level @1 :ResponseLevel;
  headline @2 :Text;
  text @3 :Text;
  recipients @4 :List(Text);   # organisations or roles addressed
  event @5 :Text;
  effectiveMs @6 :Int64;
  expiresMs @7 :Int64;
  areas @8 :List(Area);
}

enum IncidentState {
  unspecified @0;
  opened @1;
  levelChanged @2;
  updated @3;
  closed @4;
}

struct FusedAlert {            # emitted by fusion for each open, level change and close
  incident @0 :Text;
  level @1 :ResponseLevel;
  previousLevel @2 :ResponseLevel;
  state @3 :IncidentState;
  contributing @4 :List(Reference);  # the messages that make up the incident
  areas @5 :List(Area);
  headline @6 :Text;
  summary @7 :Text;
  recommendedActions @8 :List(Text);
  requiredAcks @9 :List(Text);       # destinations that must answer, e.g. "dashboard:city-desk"
  ackDeadlineMs @10 :Int64;
  event @11 :Text;                   # event family
}

struct Ack {                   # an answer (叫应) or acknowledgement of an earlier message
  ref @0 :Reference;           # what is answered
  by @1 :Text;                 # person or desk, e.g. "sms:+8613800000000" or "dashboard:city-desk/alice"
  channel @2 :Text;            # "sms", "dashboard", ...
  answeredMs @3 :Int64;
  code @4 :Text;               # reply code as received
  text @5 :Text;
}

struct Provenance {            # what the adapter received, byte for byte
  contentType @0 :Text;        # e.g. "application/cap+xml", "text/csv"
  original @1 :Data $Json.base64;         # the original bytes (may be a slice: one CSV line, one NMEA sentence)
  source @2 :Text;             # file path, URL or "stdin"
  receivedMs @3 :Int64;
}

struct Message {
  id @0 :Text;                 # unique per sender; 1..200 bytes, no whitespace, no ','
  sender @1 :Text;             # agency; stamped by the broker from the authenticated key. Publishers
                               # leave it empty or set their own agency; anything else is rejected.
  sentMs @2 :Int64;
  status @3 :Status;
  msgType @4 :MsgType;
  references @5 :List(Reference);  # earlier messages this one updates, cancels or acknowledges
  incident @6 :Text;           # optional incident id
  payload :union {
    unspecified @7 :Void;
    warning @8 :List(Info);    # one Info per language
    forecast @9 :List(Info);
    observation @10 :Observation;
    sitrep @11 :Sitrep;
    instruction @12 :Instruction;
    fusedAlert @13 :FusedAlert;
    ack @14 :Ack;
  }
  provenance @15 :Provenance;
  origin @16 :Text;            # the originating system's own sender as its source wrote it: CAP <sender>
                               # ("nbqx@nbmb.gov.cn") or a GB/T 35965 sender ("宁波市气象台"); "" when the
                               # agency itself is the origin. A Reference.sender names either this or the
                               # agency, so an update resolves to its original whichever agency relays it.
                               # At most 200 bytes of UTF-8, no whitespace, no ",".
}
