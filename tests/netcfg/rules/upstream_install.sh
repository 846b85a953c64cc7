#!/bin/sh
# upstream_install.sh BIN IP... : what upstream node-cache does on a fresh node (spec §4.1/4.2):
# one `BIN -w 5 -I <chain> -t <table> <args>` per rule, in list order. Used to make the golden
# files (tests/golden/ip*tables-*.save) and by the adoption tests.
BIN=$1; shift
C1="NodeLocal DNS Cache: skip conntrack"; C2="NodeLocal DNS Cache: allow DNS traffic"; P=53; H=8080
for L in "$@"; do
$BIN -w 5 -I PREROUTING -t raw -p tcp -d $L --dport $P -j NOTRACK -m comment --comment "$C1"
$BIN -w 5 -I PREROUTING -t raw -p udp -d $L --dport $P -j NOTRACK -m comment --comment "$C1"
$BIN -w 5 -I INPUT -t filter -p tcp -d $L --dport $P -j ACCEPT -m comment --comment "$C2"
$BIN -w 5 -I INPUT -t filter -p udp -d $L --dport $P -j ACCEPT -m comment --comment "$C2"
$BIN -w 5 -I OUTPUT -t raw -p tcp -s $L --sport $P -j NOTRACK -m comment --comment "$C1"
$BIN -w 5 -I OUTPUT -t raw -p udp -s $L --sport $P -j NOTRACK -m comment --comment "$C1"
$BIN -w 5 -I OUTPUT -t filter -p tcp -s $L --sport $P -j ACCEPT -m comment --comment "$C2"
$BIN -w 5 -I OUTPUT -t filter -p udp -s $L --sport $P -j ACCEPT -m comment --comment "$C2"
$BIN -w 5 -I OUTPUT -t raw -p tcp -d $L --dport $P -j NOTRACK -m comment --comment "$C1"
$BIN -w 5 -I OUTPUT -t raw -p udp -d $L --dport $P -j NOTRACK -m comment --comment "$C1"
$BIN -w 5 -I OUTPUT -t raw -p tcp -d $L --dport $H -j NOTRACK -m comment --comment "$C1"
$BIN -w 5 -I OUTPUT -t raw -p tcp -s $L --sport $H -j NOTRACK -m comment --comment "$C1"
done
