#!/bin/sh
# Renames the keys an engine before Redis Cluster support wrote into today's
# layout, on one redis-server (the old layout never ran on a cluster). The keys
# the apply script writes now share one hash slot: their prefix became a hash
# tag ("rw:alerts:DATE" -> "{rw}:alerts:DATE"). Windows (rw:w:*) and
# watchlists (rw:list:*) keep their names; windows of that age are sorted
# sets, which today's engines do not read (they keep windows as lists under
# rw:wl:*): `riskwarn rebuild` refills them from Kafka.
#
#   scripts/redis_upgrade_keys.sh [redis-cli options] [-- PREFIX...]
#
# Stop every engine first (SIGTERM: each stores and commits what it read), run
# this once, then start the new engines. PREFIX defaults to "rw:" and its
# shadow prefix "rw:shadow:". Example:
#   scripts/redis_upgrade_keys.sh -h 10.0.0.5 -p 6379 -a "$PASS" -- rw: rw:shadow:
set -eu

cli_args=""
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
    cli_args="$cli_args '$(printf '%s' "$1" | sed "s/'/'\\\\''/g")'"
    shift
done
[ $# -gt 0 ] && shift
[ $# -gt 0 ] || set -- "rw:" "rw:shadow:"

cli() { eval "redis-cli $cli_args" '"$@"'; }

renamed=0
for prefix in "$@"; do
    case "$prefix" in *"{"* | *"}"*)
        echo "redis_upgrade_keys: $prefix: a prefix must not hold { or }" >&2
        exit 2 ;;
    esac
    tagged="{${prefix%:}}"
    [ "${prefix%:}" = "$prefix" ] || tagged="$tagged:"
    for kind in alerts: rule: events: suppressed: fence: d: cd:; do
        # --scan lists the keys first; renaming while scanning could list one twice.
        keys=$(cli --scan --pattern "$prefix$kind*")
        [ -n "$keys" ] || continue
        printf '%s\n' "$keys" | while IFS= read -r key; do
            [ -n "$key" ] || continue
            cli RENAME "$key" "$tagged${key#"$prefix"}" >/dev/null
        done
        renamed=$((renamed + $(printf '%s\n' "$keys" | grep -c .)))
    done
done
echo "redis_upgrade_keys: renamed $renamed keys"
