#!/usr/bin/env bash
# Writes demo inputs, timestamped now, into the adapters' watched directories (var/inbox/<adapter>/), the
# way partner systems deliver them: written as .tmp, then renamed in. Used by scripts/run.sh.
#   scripts/demo-inputs.sh [inbox-root]     default var/inbox
set -euo pipefail
cd "$(dirname "$0")/.."
root=${1:-var/inbox}
run=$(date +%s)
iso() { date -u -d "@$(($(date +%s) + $1))" +%Y-%m-%dT%H:%M:%S+00:00; }
cst() { TZ=Asia/Shanghai date -d "@$(($(date +%s) - $1 * 60))" "+%Y-%m-%d %H:%M"; }
put() { mkdir -p "$(dirname "$1")"; cat > "$1.tmp"; mv "$1.tmp" "$1"; }

# Meteorology: a CAP 1.2 typhoon warning and a GB/T 35965-style gale warning.
put "$root/met/typhoon-$run.xml" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>NBMB-TY-$run</identifier><sender>nbqx@nbmb.gov.cn</sender><sent>$(iso -60)</sent>
  <status>Actual</status><msgType>Alert</msgType><scope>Public</scope>
  <info>
    <language>zh-CN</language><category>Met</category><event>台风</event>
    <urgency>Immediate</urgency><severity>Severe</severity><certainty>Likely</certainty>
    <eventCode><valueName>GB/T 35965</valueName><value>11B01</value></eventCode>
    <expires>$(iso 21600)</expires>
    <senderName>宁波市气象台</senderName><headline>宁波市气象台发布台风橙色预警信号</headline>
    <description>受台风影响，预计未来24小时内沿海海面风力将达10级以上。</description>
    <parameter><valueName>预警颜色</valueName><value>橙色</value></parameter>
    <area><areaDesc>北仑区、象山县、宁海县及沿海海面</areaDesc>
      <polygon>29.00,121.90 29.00,122.50 29.80,122.50 29.80,121.90 29.00,121.90</polygon>
      <geocode><valueName>GB2260</valueName><value>330206</value></geocode>
      <geocode><valueName>GB2260</valueName><value>330225</value></geocode>
      <geocode><valueName>GB2260</valueName><value>330226</value></geocode></area>
  </info>
</alert>
XML
put "$root/met/gale-$run.xml" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<alert>
  <identifier>33020041600000_$run</identifier><sender>宁波市气象台</sender><senderCode>330200000000</senderCode>
  <sendTime>$(iso -30)</sendTime><status>Actual</status><msgType>Alert</msgType><scope>Public</scope>
  <info>
    <eventType>11B06</eventType><severity>Yellow</severity><urgency>Expected</urgency><certainty>Likely</certainty>
    <effective>$(iso -30)</effective><expires>$(iso 43200)</expires><senderName>宁波市气象台</senderName>
    <headline>宁波市气象台发布大风黄色预警信号</headline>
    <description>预计今天夜里到明天，沿海海面将出现8~9级大风。</description>
    <area><areaDesc>宁波沿海海面</areaDesc><geocode>330206000000</geocode><geocode>330225000000</geocode></area>
  </info>
</alert>
XML

# Water: hourly gauge readings (China Standard Time) rising over the warning level (WRZ 2.93 m).
put "$root/water/readings-$run.csv" <<CSV
STCD,STNM,TM,Z,Q
70110400,余姚,$(cst 180),2.41,120.5
70110400,余姚,$(cst 120),2.62,150
70110400,余姚,$(cst 60),2.98,185
70120200,北渡,$(cst 60),3.10,350
70130100,皎口水库,$(cst 60),-99999,
CSV

# Fire: a 119 dispatch report (one JSON object per line).
put "$root/fire/dispatch-$run.jsonl" <<JSON
{"id":"NB-$run","updateNumber":0,"type":"building-fire","position":{"lat":29.8683,"lon":121.5440},"adminCode":"330203","address":"宁波市海曙区中山西路","alarmLevel":2,"reportedAt":"$(iso -300)","status":"dispatched","statusAt":"$(iso -240)","resources":{"personnel":24,"vehicles":5},"narrative":"商住楼三层起火，已调派海曙、江北中队。"}
JSON
# Maritime: an AIS receiver log (two fishing boats at sea off Xiangshan, one in Shipu harbour, one in
# the Yong river; static reports with names) and a NAVTEX navigational warning from Shanghai (station Q).
put "$root/maritime/ais-$run.nmea" <<'NMEA'
!AIVDM,1,1,,A,169EEh@P0t8gWKP@jm43Q2lD0000,0*3C
!AIVDM,1,1,,A,169EEhPP008f?RP@eEP3Q2lD0000,0*5B
!AIVDM,1,1,,A,169EEhhP1E8e6C0@r9l3Q2lD0000,0*3B
!AIVDM,1,1,,A,169EEi0P0`8gn50@ac83Q2lD0000,0*77
!AIVDM,2,1,1,A,569EEh@000009H4;401`PF1PT4pN1UF337;?@00N2P:4440Ht7SRCQhSh000,0*0C
!AIVDM,2,2,1,A,00000000000,2*25
!AIVDM,2,1,1,A,569EEi0000009H<C800lTr1<PV1UF33GKOP0000N2P:4440Ht7SRCQhSh000,0*68
!AIVDM,2,2,1,A,00000000000,2*25
NMEA
put "$root/maritime/navtex-$run.txt" <<TXT
ZCZC QA$(printf '%02d' $((run % 100)))
$(date -u +%d%H%M) UTC $(date -u +%b | tr '[:lower:]' '[:upper:]')
SHANGHAI NAV WARNING $((run % 1000))/$(date -u +%y)
EAST CHINA SEA. ZHOUSHAN ISLANDS.
DRIFTING FISHING NETS REPORTED IN POSITION 29-59.0N 122-12.0E.
VESSELS ARE ADVISED TO NAVIGATE WITH CAUTION.
NNNN
TXT
echo "demo-inputs: wrote met, water, fire and maritime inputs into $root/"
