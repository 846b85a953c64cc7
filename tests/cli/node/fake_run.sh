#!/bin/sh
# Stand-in for `nodelocaldns run` in the workflow tests, so install/status/stop/teardown are
# exercised end to end whatever state the real daemon is in: takes run's flags, serves DNS on the
# -localip addresses with dnsmasq (forwarding to the Corefile's first `forward .` target), writes
# the pidfile once dnsmasq is up, removes it on SIGTERM. Like `run -skipteardown` it never touches
# the interface or the rules.
[ "$1" = run ] || { echo "usage: $0 run -localip IPS -basecorefile F -pidfile F ..." >&2; exit 2; }
shift
while [ $# -gt 0 ]; do
  case $1 in
    -localip) ips=$2; shift ;;
    -pidfile) pidfile=$2; shift ;;
    -basecorefile) base=$2; shift ;;
  esac
  shift
done
upstream=$(awk '$1 == "forward" && $2 == "." { print $3; exit }' "$base")
listen=""
for ip in $(echo "$ips" | tr , ' '); do listen="$listen --listen-address=$ip"; done
dnsmasq --keep-in-foreground --no-resolv --no-hosts --bind-interfaces \
  $listen --server="$upstream" --pid-file= --user=root --group=root --log-facility=- &
child=$!
echo $child > "$pidfile.child"  # for the test to clean up after kill -9
trap 'kill $child 2>/dev/null; wait $child; rm -f "$pidfile" "$pidfile.child"; exit 0' TERM INT
echo $$ > "$pidfile"
wait $child
