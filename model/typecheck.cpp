// Typed traversal of a Message; see typecheck.h. Keep in step with message.capnp: every pointer field
// (Text, Data, List, struct) of every struct must be read here.
#include "model/typecheck.h"

#include <capnp/any.h>
#include <kj/debug.h>

#include <type_traits>

namespace alertbus {
namespace {

using namespace schema;

void touch(capnp::Text::Reader) {}
void touch(capnp::Data::Reader) {}
void touch(KeyValue::Reader kv) {
  touch(kv.getKey());
  touch(kv.getValue());
}
void touch(Reference::Reader r) {
  touch(r.getSender());
  touch(r.getId());
}
void touch(Point::Reader) {}
void touch(Circle::Reader c) { touch(c.getCenter()); }
// Every struct in our schemas has fields and an encoder gives each element of a struct list its full
// size, so a list of zero-sized structs is never legitimate: it is the one way to claim millions of
// elements in a few bytes, each of which a reader would then visit.
void touch(Polygon::Reader p);
void touch(Area::Reader a);
void touch(Resource::Reader r);
void touch(Info::Reader i);
void touch(Threshold::Reader t);
void touch(ResourceCount::Reader r);
void touch(Vessel::Reader v);
void touch(schema::FeedStatus::Reader f);

template <typename L>
void touchList(L list) {
  if constexpr (!std::is_same_v<L, capnp::List<capnp::Text>::Reader>) {
    if (list.size() > 0) {
      auto any = capnp::AnyList::Reader(list).template as<capnp::List<capnp::AnyStruct>>();
      auto first = any[0];
      KJ_REQUIRE(first.getDataSection().size() != 0 || first.getPointerSection().size() != 0,
                 "list of zero-sized structs (amplification)", list.size());
    }
  }
  for (auto e : list) touch(e);
}
void touch(Polygon::Reader p) { touchList(p.getPoints()); }
void touch(Area::Reader a) {
  touch(a.getDescription());
  touchList(a.getPolygons());
  touchList(a.getCircles());
  touchList(a.getGeocodes());
  touchList(a.getAdminCodes());
}
void touch(Resource::Reader r) {
  touch(r.getDescription());
  touch(r.getMimeType());
  touch(r.getUri());
  touch(r.getDigest());
}
void touch(Info::Reader i) {
  touch(i.getLanguage());
  (void)i.getCategories().size();
  touch(i.getEvent());
  touch(i.getEventCode());
  touchList(i.getEventCodes());
  (void)i.getResponseTypes().size();
  touch(i.getAudience());
  touch(i.getSenderName());
  touch(i.getHeadline());
  touch(i.getDescription());
  touch(i.getInstruction());
  touch(i.getWeb());
  touch(i.getContact());
  touchList(i.getParameters());
  touchList(i.getResources());
  touchList(i.getAreas());
}
void touch(Threshold::Reader t) { touch(t.getName()); }
void touch(ResourceCount::Reader r) { touch(r.getKind()); }
void touch(schema::FeedStatus::Reader f) {
  touch(f.getName());
  touch(f.getDetail());
}
void touch(Vessel::Reader v) {
  touch(v.getName());
  touch(v.getCallsign());
  touch(v.getPosition());
  touchList(v.getAreas());
}

}  // namespace

void touchMessage(Message::Reader m) {
  touch(m.getId());
  touch(m.getSender());
  touchList(m.getReferences());
  touch(m.getIncident());
  auto p = m.getPayload();
  switch (p.which()) {
    case Message::Payload::WARNING:
      touchList(p.getWarning());
      break;
    case Message::Payload::FORECAST:
      touchList(p.getForecast());
      break;
    case Message::Payload::OBSERVATION: {
      auto o = p.getObservation();
      touch(o.getStation());
      touch(o.getStationName());
      touch(o.getQuantity());
      touch(o.getUnit());
      touchList(o.getThresholds());
      touch(o.getPosition());
      touch(o.getAdminCode());
      touch(o.getEvent());
      break;
    }
    case Message::Payload::SITREP: {
      auto s = p.getSitrep();
      touchList(s.getResources());
      touch(s.getNarrative());
      touch(s.getEvent());
      touchList(s.getAreas());
      touchList(s.getVessels());
      break;
    }
    case Message::Payload::INSTRUCTION: {
      auto i = p.getInstruction();
      touch(i.getOrderNumber());
      touch(i.getHeadline());
      touch(i.getText());
      touchList(i.getRecipients());
      touch(i.getEvent());
      touchList(i.getAreas());
      break;
    }
    case Message::Payload::FUSED_ALERT: {
      auto f = p.getFusedAlert();
      touch(f.getIncident());
      touchList(f.getContributing());
      touchList(f.getAreas());
      touch(f.getHeadline());
      touch(f.getSummary());
      touchList(f.getRecommendedActions());
      touchList(f.getRequiredAcks());
      touch(f.getEvent());
      break;
    }
    case Message::Payload::ACK: {
      auto a = p.getAck();
      touch(a.getRef());
      touch(a.getBy());
      touch(a.getChannel());
      touch(a.getCode());
      touch(a.getText());
      break;
    }
    default:
      break;
  }
  auto pv = m.getProvenance();
  touch(pv.getContentType());
  touch(pv.getOriginal());
  touch(pv.getSource());
  touch(m.getOrigin());
}

}  // namespace alertbus

namespace alertbus {

namespace {
void touchDeliver(schema::Deliver::Reader d) {
  (void)d.getSender();
  for (auto t : d.getTargets()) (void)t;
  (void)d.getMessage();
  (void)d.getFollows();
  (void)d.getReferences();
}
}  // namespace

void touchFrame(schema::Frame::Reader f) {
  using F = schema::Frame;
  switch (f.which()) {
    case F::HELLO: {
      auto h = f.getHello();
      (void)h.getClientName();
      (void)h.getAgency();
      break;
    }
    case F::WELCOME: {
      auto w = f.getWelcome();
      (void)w.getAgency();
      (void)w.getBrokerId();
      break;
    }
    case F::PUBLISH:
      (void)f.getPublish().getMessage();
      break;
    case F::REJECT: {
      auto r = f.getReject();
      (void)r.getField();
      (void)r.getValue();
      (void)r.getReason();
      break;
    }
    case F::SUBSCRIBE:
      (void)f.getSubscribe().getOutlet();
      break;
    case F::SUBSCRIBED:
      (void)f.getSubscribed().getOutlet();
      break;
    case F::DELIVER:
      touchDeliver(f.getDeliver());
      break;
    case F::DELIVERIES:
      for (auto d : f.getDeliveries()) touchDeliver(d);
      break;
    case F::PUBLISH_ACKS:
      (void)f.getPublishAcks().size();
      break;
    case F::DELIVER_ACK:
      (void)f.getDeliverAck().getSeqs().size();
      break;
    case F::ADMIN_REQUEST: {
      auto a = f.getAdminRequest();
      (void)a.getCommand();
      (void)a.getJson();
      break;
    }
    case F::ADMIN_REPLY:
      (void)f.getAdminReply().getJson();
      break;
    case F::HEARTBEAT:
      touchList(f.getHeartbeat().getFeeds());
      break;
    case F::ERROR: {
      auto e = f.getError();
      (void)e.getField();
      (void)e.getValue();
      (void)e.getReason();
      break;
    }
    default:
      break;
  }
}

}  // namespace alertbus
