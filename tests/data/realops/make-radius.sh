#!/bin/sh
# Produces tests/data/realops/radius/ with FreeRADIUS itself: the Debian freeradius daemon
# receives real Accounting-Request packets from radclient on loopback and writes its detail
# files, a linelog CSV (no header line: linelog cannot write one) and its SQL accounting table
# (SQLite). The scenario (what was sent) is the ground truth. Run as root on Debian 12:
#   apt-get install freeradius freeradius-utils sqlite3
#   sh tests/data/realops/make-radius.sh
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$HERE/radius
W=$(mktemp -d)
trap 'kill $(cat $W/pid 2>/dev/null) 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf $W' EXIT
cp -a /etc/freeradius/3.0 $W/raddb
R=$W/raddb
mkdir -p $W/log $W/run
sed -i -e "s|^logdir = .*|logdir = $W/log|" -e "s|^run_dir = .*|run_dir = $W/run|" \
       -e "s|^\(\s*\)user = freerad|\1# user = freerad|" -e "s|^\(\s*\)group = freerad|\1# group = freerad|" \
       -e "s|^\(\s*\)proxy_requests = yes|\1proxy_requests = no|" $R/radiusd.conf
# One accounting listener on 127.0.0.1; no authentication.
rm -f $R/sites-enabled/* $R/mods-enabled/eap
cat > $R/sites-enabled/acct <<CONF
server default {
	listen {
		type = acct
		ipaddr = 127.0.0.1
		port = 1813
	}
	preacct {
		preprocess
		acct_unique
	}
	accounting {
		detail
		acct_csv
		sql
	}
}
CONF
cat >> $R/clients.conf <<CONF
client bras-test {
	ipaddr = 127.0.0.2
	secret = fixture-s3cret
	shortname = bras-test
}
CONF
cat > $R/mods-enabled/acct_csv <<'CONF'
linelog acct_csv {
	filename = ${logdir}/acct-csv/acct-%Y%m%d.csv
	format = "%{integer:Event-Timestamp},%{Acct-Status-Type},%{User-Name},%{Acct-Session-Id},%{Framed-IP-Address},%{Framed-IPv6-Prefix},%{Delegated-IPv6-Prefix},%{Acct-Session-Time},%{Calling-Station-Id}"
}
CONF
sqlite3 $W/radacct.sqlite < $R/mods-config/sql/main/sqlite/schema.sql
sed -e 's|^\(\s*\)driver = "rlm_sql_null"|\1driver = "rlm_sql_sqlite"|' \
    -e 's|^\(\s*\)dialect = "sqlite"|\1dialect = "sqlite"|' \
    -e "s|^\(\s*\)filename = \"/tmp/freeradius.db\"|\1filename = \"$W/radacct.sqlite\"|" \
    $R/mods-available/sql > $R/mods-enabled/sql
grep -q 'rlm_sql_sqlite' $R/mods-enabled/sql
freeradius -X -d $R > $W/radiusd.log 2>&1 &
echo $! > $W/pid
sleep 3
# The scenario, 2026-11-29 UTC: time (UTC), status, user, session, then attributes.
day=$(date -u -d 2026-11-29 +%s)
send() { # hh:mm status user session [attr=value...]
	h=$(echo $1 | cut -d: -f1 | sed 's/^0//') m=$(echo $1 | cut -d: -f2 | sed 's/^0//')
	t=$((day + h * 3600 + m * 60))
	st=$2 user=$3 sid=$4
	shift 4
	{
		echo "Packet-Src-IP-Address = 127.0.0.2"
		echo "Acct-Status-Type = $st"
		[ "$user" = - ] || echo "User-Name = \"$user\""
		echo "Acct-Session-Id = \"$sid\""
		echo "NAS-IP-Address = 10.255.9.1"
		echo "Event-Timestamp = $t"
		for a in "$@"; do echo "$a"; done
	} > $W/pkt
	radclient -x -r 3 -t 3 -f $W/pkt 127.0.0.1:1813 acct fixture-s3cret >> $W/radclient.log 2>&1
}
send 00:30 Accounting-On - 00000000
send 01:00 Start alpha@pppoe a001 "Framed-IP-Address = 198.51.100.10" "Calling-Station-Id = \"00:1b:21:00:00:0a\""
send 02:00 Start delta@ipoe d004 "Framed-IP-Address = 198.51.100.30" "Calling-Station-Id = \"3C-52-82-00-00-30\""
send 03:00 Interim-Update alpha@pppoe a001 "Framed-IP-Address = 198.51.100.10" "Acct-Session-Time = 7200"
send 04:30 Stop alpha@pppoe a001 "Framed-IP-Address = 198.51.100.10" "Acct-Session-Time = 12600" "Acct-Terminate-Cause = User-Request"
send 05:00 Start beta@pppoe b002 "Framed-IP-Address = 198.51.100.10" "Framed-IPv6-Prefix = 2001:db8:55:2::/64" "Delegated-IPv6-Prefix = 2001:db8:5500:200::/56"
send 07:00 Interim-Update beta@pppoe b002 "Framed-IP-Address = 198.51.100.10" "Framed-IPv6-Prefix = 2001:db8:55:2::/64" "Delegated-IPv6-Prefix = 2001:db8:5500:200::/56" "Acct-Session-Time = 7200"
send 09:00 Interim-Update gamma@ipoe g003 "Framed-IP-Address = 198.51.100.20" "Acct-Session-Time = 7200"
send 10:00 Stop gamma@ipoe g003 "Framed-IP-Address = 198.51.100.20" "Acct-Session-Time = 10800" "Acct-Terminate-Cause = Lost-Carrier"
send 12:00 Stop delta@ipoe d004 "Framed-IP-Address = 198.51.100.30" "Acct-Session-Time = 36000" "Acct-Delay-Time = 15" "Acct-Terminate-Cause = Admin-Reset"
sleep 1
kill $(cat $W/pid)
sleep 1
rm -rf $OUT
mkdir -p $OUT/radacct $OUT/acct-csv $OUT/sql
cp -a $W/log/radacct/127.0.0.2 $OUT/radacct/
cp -a $W/log/acct-csv/. $OUT/acct-csv/
cp -a $W/radacct.sqlite $OUT/sql/
grep -c "Received Accounting-Response" $W/radclient.log > $OUT/responses.txt
cat > $OUT/ground_truth.tsv <<'TSV'
kind	identity	address	start	end	notes
radius-framed-ipv4	alpha@pppoe	198.51.100.10	2026-11-29T01:00:00Z	2026-11-29T04:30:00Z	Start, Interim, Stop
radius-framed-ipv4	beta@pppoe	198.51.100.10	2026-11-29T05:00:00Z	OPEN	same address again; no Stop
radius-framed-ipv6-prefix	beta@pppoe	2001:db8:55:2::/64	2026-11-29T05:00:00Z	OPEN	no Stop
radius-delegated-ipv6-prefix	beta@pppoe	2001:db8:5500:200::/56	2026-11-29T05:00:00Z	OPEN	no Stop
radius-framed-ipv4	gamma@ipoe	198.51.100.20	2026-11-29T07:00:00Z	2026-11-29T10:00:00Z	Start lost: first Interim at 09:00 with Acct-Session-Time 7200
radius-framed-ipv4	delta@ipoe	198.51.100.30	2026-11-29T02:00:00Z	2026-11-29T12:00:00Z	Stop with Acct-Delay-Time 15
TSV
{
	echo "Written by: $(freeradius -v | head -1)"
	echo "Debian packages: $(dpkg-query -W -f '${Package} ${Version}; ' freeradius freeradius-utils sqlite3)"
	echo "Run: $(date -u +%Y-%m-%dT%H:%M:%SZ) by tests/data/realops/make-radius.sh (radclient over 127.0.0.1 UDP/1813 from 127.0.0.2)."
	echo "The detail header lines and file names are the daemon's clock at the run; Event-Timestamp is the scenario's."
	echo "acct-csv has no header line; its columns: event_ts_epoch,status,user_name,acct_session_id,framed_ip,framed_ipv6_prefix,delegated_ipv6_prefix,session_time,calling_station_id"
	echo "No file was edited after the daemon wrote it."
} > $OUT/PROVENANCE.txt
