# alertbus wire protocol: every ZeroMQ frame between a client (DEALER) and the broker (ROUTER) is exactly
# one `Frame`, serialised as a standard unpacked Cap'n Proto flat array (segment table + segments).
# One ZeroMQ message per Frame, single part. docs/protocol.md gives the state machine and error meanings.
#
# Never reuse or renumber an ordinal; member 0 of every union/enum is `unspecified`.
@0xe3ba7219cedabee2;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("alertbus::schema");

const protocolVersion :UInt16 = 1;

enum Role {
  unspecified @0;
  adapter @1;                  # publishes messages
  outlet @2;                   # subscribes to an outlet's deliveries and acknowledges them
  admin @3;                    # admin commands, tail, and may publish
}

struct Hello {                 # first frame of every connection (and after every reconnect)
  protocolVersion @0 :UInt16;  # must equal `protocolVersion`
  clientName @1 :Text;         # free text for status displays, e.g. "alertbus-met@host"
  heartbeatMs @2 :UInt32;      # how often this client will send when otherwise idle; 0 = broker default
  agency @3 :Text;             # only read when the broker runs with CURVE off (insecure dev mode);
                               # with CURVE the agency comes from the authenticated public key
}

struct Welcome {               # broker's answer to Hello
  protocolVersion @0 :UInt16;
  agency @1 :Text;             # the agency this connection speaks for
  role @2 :Role;
  heartbeatMs @3 :UInt32;      # broker will send a heartbeat at least this often; a peer silent for
                               # 3 x heartbeatMs is dead
  brokerId @4 :Text;
  maxFrameBytes @5 :UInt32;    # frames larger than this are refused
}

struct Publish {
  token @0 :UInt64;            # client-chosen correlation number, echoed in PublishAck or Reject
  message @1 :Data;            # a serialised message.capnp:Message (unpacked flat array)
}

struct PublishAck {            # sent only after the message is durably journaled (fsync)
  token @0 :UInt64;
  seq @1 :UInt64;              # journal sequence number, > 0, unique broker-wide
  duplicate @2 :Bool;          # (sender, id) was already journaled; seq is the original's
}

enum RejectCode {
  unspecified @0;
  malformed @1;                # bytes are not a valid Cap'n Proto message or exceed traversal/nesting limits
  tooLarge @2;                 # frame larger than Welcome.maxFrameBytes
  invalid @3;                  # the Message violates a field rule (field/value/reason say which)
  notPermitted @4;             # the agency's permissions forbid this kind or event (field names the permission)
  notReady @5;                 # no Hello yet, or wrong role for this frame
  expired @6;                  # every info has expired
  overloaded @7;               # broker at its bound; retry later with backoff
  internal @8;                 # the broker could not journal it (disk); retry later
}

struct Reject {                # the Publish was NOT journaled; resending unchanged gives the same answer
  token @0 :UInt64;            # except for overloaded/internal
  code @1 :RejectCode;
  field @2 :Text;              # e.g. "payload.warning[0].areas[1].polygons[0]" or "permission.publish_events"
  value @3 :Text;              # the offending value, truncated to 200 bytes
  reason @4 :Text;             # one line for humans
}

struct Subscribe {             # outlet role: start (or resume) receiving deliveries
  outlet @0 :Text;             # outlet name, e.g. "sms"; "*" = tail every message (admin only, not durable)
  credit @1 :UInt32;           # how many unacknowledged deliveries may be in flight (1..10000)
  fromSeq @2 :UInt64;          # tail only: first seq to send; 0 = only new messages
}

struct Subscribed {
  outlet @0 :Text;
  cursor @1 :UInt64;           # every seq <= cursor is acknowledged for this outlet
  backlog @2 :UInt64;          # deliveries waiting, at the time of subscribing
}

struct Deliver {
  seq @0 :UInt64;              # journal sequence; the idempotency key for the outlet
  sender @1 :Text;             # agency stamped by the broker (authoritative, overrides Message.sender)
  receivedMs @2 :Int64;        # when the broker journaled it
  targets @3 :List(Text);      # this outlet's targets from routing, e.g. ["flood-duty-officers"]
  urgent @4 :Bool;             # level I/II (red/orange, extreme/severe) traffic, delivered ahead
  message @5 :Data;            # the Message bytes exactly as published
  cursor @6 :UInt64;           # outlet's durable acknowledgement cursor when sent
  references @7 :List(UInt64); # an update or cancel: the journal seqs of the messages it references that
                               # reached this outlet (resolved by the broker by agency or by origin, the
                               # CAP sender), whose destinations it follows; empty otherwise
  follows @8 :List(UInt64);    # parallel to targets: the seq of the referenced message whose delivery the
                               # target follows, 0 = routed by the rules alone
}

struct DeliverAck {            # outlet has handled these deliveries; each seq returns one credit
  seqs @0 :List(UInt64);
}

struct Credit {                # outlet grants more in-flight deliveries
  credit @0 :UInt32;
}

struct Heartbeat {
  timeMs @0 :Int64;            # sender's clock
  feeds @1 :List(FeedStatus);  # adapters: the health of each input they watch (empty for others)
}

enum FeedState {
  unspecified @0;
  up @1;                       # the last attempt succeeded (with or without new alerts)
  down @2;                     # the last attempt failed: timeout, HTTP error, unreadable directory ...
  stale @3;                    # no successful attempt within the feed's expected interval (a watched
                               # directory or stdin: no input within its stale_after_s)
}

struct FeedStatus {            # "no alerts" (up, nothing new) is not "feed down"
  name @0 :Text;               # e.g. "cma-feed", "watch:/srv/in", "stdin"
  state @1 :FeedState;
  lastOkMs @2 :Int64;          # last successful read; 0 = never
  lastAttemptMs @3 :Int64;
  detail @4 :Text;             # why down or stale, e.g. "HTTP 503", "timeout after 10000 ms",
                               # "HTTP 200 body unreadable: ..."
  accepted @5 :UInt64;         # inputs accepted since the adapter started
  rejected @6 :UInt64;         # inputs rejected since the adapter started
}

struct AdminRequest {          # admin role only
  token @0 :UInt64;
  command @1 :Text;            # "status", "rules.check", "rules.test", ... (docs/protocol.md)
  json @2 :Text;               # arguments as a JSON object
}

struct AdminReply {
  token @0 :UInt64;
  ok @1 :Bool;
  json @2 :Text;               # result as JSON, or {"error": "..."} when !ok
}

enum ErrorCode {
  unspecified @0;
  malformed @1;                # frame could not be decoded at all
  tooLarge @2;
  protocolVersion @3;          # Hello.protocolVersion unsupported
  notReady @4;                 # frame before Hello
  notPermitted @5;             # role does not allow this frame (e.g. Subscribe from an adapter)
  unknownOutlet @6;
  sessionExpired @7;           # broker forgot this session (timeout); send Hello again
}

struct Error {                 # a frame (other than Publish) was refused; the connection stays open
  code @0 :ErrorCode;
  field @1 :Text;
  value @2 :Text;
  reason @3 :Text;
}

struct Frame {
  union {
    unspecified @0 :Void;
    hello @1 :Hello;
    welcome @2 :Welcome;
    publish @3 :Publish;
    publishAck @4 :PublishAck;
    reject @5 :Reject;
    subscribe @6 :Subscribe;
    subscribed @7 :Subscribed;
    deliver @8 :Deliver;
    deliverAck @9 :DeliverAck;
    credit @10 :Credit;
    heartbeat @11 :Heartbeat;
    adminRequest @12 :AdminRequest;
    adminReply @13 :AdminReply;
    error @14 :Error;
    publishAcks @15 :List(PublishAck);  # several acks in one frame: the broker sends the acks of one
                                        # durable batch for one connection together, in publish order
    deliveries @16 :List(Deliver);      # several deliveries in one frame, in delivery order; each
                                        # counts against the credit window like a single Deliver
  }
}
