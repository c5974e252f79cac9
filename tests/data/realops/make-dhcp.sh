#!/bin/sh
# Produces tests/data/realops/kea/ and tests/data/realops/dhcpd/: ISC Kea (memfile) and ISC
# dhcpd, v4 and v6, each serving two real DHCP clients (ISC dhclient) in network namespaces this
# script makes. One v4 address in each pool, so the second client gets the first one's address
# after it is released. The ground truth comes from the clients' hook scripts, not from the
# servers' files. Nothing leaves the namespaces. Run as root on Debian 12:
#   apt-get install kea-dhcp4-server kea-dhcp6-server isc-dhcp-server isc-dhcp-client iproute2 python3
#   sh tests/data/realops/make-dhcp.sh
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
W=$(mktemp -d)
chmod 755 $W
N="ip netns exec"
NSS="mt_ks mt_kc1 mt_kc2 mt_ds mt_dc1 mt_dc2"
cleanup() {
	for p in $W/*.pid; do [ -f "$p" ] && kill $(cat $p) 2>/dev/null || true; done
	for ns in $NSS; do ip netns del $ns 2>/dev/null || true; done
	[ -n "${KEEP:-}" ] || rm -rf $W
}
trap cleanup EXIT
LIFE=30
# k: Kea, d: dhcpd. Server namespace with a bridge, two client namespaces on it.
topo() { # tag v4net v6net
	t=$1
	ip netns add mt_${t}s; $N mt_${t}s ip link set lo up
	$N mt_${t}s ip link add ${t}br0 type bridge
	$N mt_${t}s ip link set ${t}br0 address 70:7b:e8:00:00:0$2
	$N mt_${t}s ip addr add 100.64.$2.1/24 dev ${t}br0
	$N mt_${t}s ip addr add 2001:db8:$2::1/64 dev ${t}br0 nodad
	$N mt_${t}s ip link set ${t}br0 up
	for i in 1 2; do
		ip netns add mt_${t}c$i; $N mt_${t}c$i ip link set lo up
		ip link add ${t}v$i type veth peer name ${t}s$i
		ip link set ${t}v$i netns mt_${t}c$i; ip link set ${t}s$i netns mt_${t}s
		$N mt_${t}c$i ip link set ${t}v$i address 02:00:00:$2:00:0$i
		$N mt_${t}c$i ip link set ${t}v$i up
		$N mt_${t}s ip link set ${t}s$i master ${t}br0; $N mt_${t}s ip link set ${t}s$i up
	done
}
topo k 52
topo d 53
sleep 3 # link-local addresses leave tentative state
cat > $W/kea4.json <<JSON
{"Dhcp4": {"interfaces-config": {"interfaces": ["kbr0"]},
 "lease-database": {"type": "memfile", "name": "$W/kea-leases4.csv", "lfc-interval": 0},
 "valid-lifetime": $LIFE, "renew-timer": 10, "rebind-timer": 20,
 "subnet4": [{"id": 52, "subnet": "100.64.52.0/24", "pools": [{"pool": "100.64.52.100 - 100.64.52.100"}]}],
 "loggers": [{"name": "kea-dhcp4", "output_options": [{"output": "$W/kea-dhcp4.log"}], "severity": "INFO"}]}}
JSON
cat > $W/kea6.json <<JSON
{"Dhcp6": {"interfaces-config": {"interfaces": ["kbr0"]}, "server-id": {"type": "LL", "persist": false},
 "lease-database": {"type": "memfile", "name": "$W/kea-leases6.csv", "lfc-interval": 0},
 "valid-lifetime": $LIFE, "preferred-lifetime": 20, "renew-timer": 10, "rebind-timer": 15,
 "subnet6": [{"id": 52, "subnet": "2001:db8:52::/64", "interface": "kbr0",
   "pools": [{"pool": "2001:db8:52::100 - 2001:db8:52::1ff"}],
   "pd-pools": [{"prefix": "2001:db8:5200::", "prefix-len": 48, "delegated-len": 56}]}],
 "loggers": [{"name": "kea-dhcp6", "output_options": [{"output": "$W/kea-dhcp6.log"}], "severity": "INFO"}]}}
JSON
cat > $W/dhcpd4.conf <<CONF
authoritative;
default-lease-time $LIFE; max-lease-time $LIFE;
subnet 100.64.53.0 netmask 255.255.255.0 { range 100.64.53.100 100.64.53.100; }
CONF
cat > $W/dhcpd6.conf <<CONF
default-lease-time $LIFE; max-lease-time $LIFE; preferred-lifetime 20;
subnet6 2001:db8:53::/64 { range6 2001:db8:53::100 2001:db8:53::1ff; prefix6 2001:db8:5300:: 2001:db8:5300:ff00:: /56; }
CONF
touch $W/dhcpd.leases $W/dhcpd6.leases
K="env KEA_PIDFILE_DIR=$W KEA_LOCKFILE_DIR=$W"
$N mt_ks sh -c "$K kea-dhcp4 -c $W/kea4.json > $W/kea4.out 2>&1 & echo \$! > $W/kea4.pid"
$N mt_ks sh -c "$K kea-dhcp6 -c $W/kea6.json > $W/kea6.out 2>&1 & echo \$! > $W/kea6.pid"
$N mt_ds sh -c "dhcpd -4 -f -d -cf $W/dhcpd4.conf -lf $W/dhcpd.leases -pf $W/d4.pidf dbr0 > $W/dhcpd4.out 2>&1 & echo \$! > $W/dhcpd4.pid"
$N mt_ds sh -c "dhcpd -6 -f -d -cf $W/dhcpd6.conf -lf $W/dhcpd6.leases -pf $W/d6.pidf dbr0 > $W/dhcpd6.out 2>&1 & echo \$! > $W/dhcpd6.pid"
sleep 2
# The clients' hook: set or drop the address, and log the event with its time.
cat > $W/hook.sh <<'HOOK'
#!/bin/sh
case $reason in *6) fam=v6 ;; *) fam=v4 ;; esac
EVENTS=__W__/events.tsv
CLIENT=$(echo $interface | sed 's/v/c/')-$fam
echo "$(date +%s.%N)	$CLIENT	$reason	$interface	${new_ip_address:-}	${new_ip6_address:-}	${new_ip6_prefix:-}	${old_ip_address:-}	${old_ip6_address:-}	${old_ip6_prefix:-}" >> $EVENTS
case $reason in
BOUND|RENEW|REBIND|REBOOT) ip addr replace $new_ip_address/24 dev $interface ;;
EXPIRE|FAIL|RELEASE|STOP) [ -n "${old_ip_address:-}" ] && ip addr del $old_ip_address/24 dev $interface 2>/dev/null ;;
BOUND6|RENEW6|REBIND6) [ -n "${new_ip6_address:-}" ] && ip -6 addr replace $new_ip6_address/128 dev $interface nodad ;;
esac
exit 0
HOOK
sed -i "s|__W__|$W|" $W/hook.sh
chmod +x $W/hook.sh
dhc() { # tag client family(4|6) action
	ns=mt_$1c$2; ifc=$1v$2; f=$W/$1c$2-v$3
	case $4 in
	start) echo "send host-name \"$1c$2\";" > $f.conf
		$N $ns sh -c "dhclient -d -$3 $( [ $3 = 6 ] && echo '-N -P -D LL' ) -cf $f.conf -lf $f.leases -pf $f.pidf -sf $W/hook.sh $ifc > $f.out 2>&1 & echo \$! > $f.pid" ;;
	release) kill $(cat $f.pid); sleep 0.5
		$N $ns dhclient -r -$3 $( [ $3 = 6 ] && echo '-N -P -D LL' ) -cf $f.conf -lf $f.leases -pf $f.pidf -sf $W/hook.sh $ifc >> $f.out 2>&1
		echo "$(date +%s.%N)	$1c$2-v$3	RELEASED" >> $W/events.tsv ;;
	stop) kill $(cat $f.pid); echo "$(date +%s.%N)	$1c$2-v$3	STOPPED" >> $W/events.tsv ;;
	esac
}
for t in k d; do dhc $t 1 4 start; dhc $t 1 6 start; done
sleep 25
for t in k d; do dhc $t 1 4 release; dhc $t 1 6 release; done
sleep 3
for t in k d; do dhc $t 2 4 start; dhc $t 2 6 start; done
sleep 27
for t in k d; do dhc $t 2 4 stop; dhc $t 2 6 stop; done
sleep $((LIFE + 20)) # the leases expire, and the servers write it
for p in kea4 kea6 dhcpd4 dhcpd6; do kill $(cat $W/$p.pid) 2>/dev/null || true; done
sleep 2
mkdir -p $HERE/kea $HERE/dhcpd
cp $W/kea-leases4.csv $W/kea-leases6.csv $HERE/kea/
cp $W/dhcpd.leases $W/dhcpd6.leases $HERE/dhcpd/
cp $W/events.tsv $HERE/kea/client-events.tsv
cp $W/events.tsv $HERE/dhcpd/client-events.tsv
for t in k d; do
	dir=$HERE/$( [ $t = k ] && echo kea || echo dhcpd )
	python3 - $W/events.tsv $t $LIFE > $dir/ground_truth.tsv <<'PY'
import sys, datetime
events, tag, life = sys.argv[1], sys.argv[2], int(sys.argv[3])
def iso(t): return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
rows = {}
for l in open(events):
    f = l.rstrip("\n").split("\t")
    t, client, reason = float(f[0]), f[1], f[2]
    if not client.startswith(tag): continue
    fam = client[-2:]
    mac = "02:00:00:%s:00:0%s" % ("52" if tag == "k" else "53", client[-4])
    ident = mac if fam == "v4" else "00:03:00:01:" + mac
    if reason in ("BOUND", "BOUND6", "RENEW", "RENEW6", "REBIND", "REBIND6"):
        addrs = [(a, "na" if fam == "v6" and "/" not in a else "pd" if "/" in a else "v4") for a in f[4:7] if a]
        for a, k in addrs:
            r = rows.setdefault((client, a), {"kind": k, "id": ident, "start": t, "last": t, "end": None})
            r["last"] = t
    elif reason in ("RELEASE", "RELEASE6", "RELEASED"):
        for (c, a), r in rows.items():
            if c == client and r["end"] is None: r["end"] = t
print("kind\tidentity\taddress\tstart\tend\tnotes")
for (c, a), r in sorted(rows.items(), key=lambda x: x[1]["start"]):
    end, note = (r["end"], "released") if r["end"] else (r["last"] + life, "stopped without release: last bind/renew + valid lifetime")
    kind = {"v4": "dhcpv4", "na": "dhcpv6-ia_na", "pd": "dhcpv6-ia_pd"}[r["kind"]]
    print(f"{kind}\t{r['id']}\t{a}\t{iso(r['start'])}\t{iso(end)}\t{c}: {note}")
PY
done
for d in kea dhcpd; do
{
	if [ $d = kea ]; then
		echo "Written by: $(kea-dhcp4 -V | head -1 | sed 's/^/Kea /') (memfile, lfc-interval 0), dhcp4 and dhcp6."
	else
		echo "Written by: $(dhcpd --version 2>&1 | head -1), -4 and -6."
	fi
	echo "Debian packages: $(dpkg-query -W -f '${Package} ${Version}; ' kea-dhcp4-server kea-dhcp6-server isc-dhcp-server isc-dhcp-client iproute2)"
	echo "Run: $(date -u +%Y-%m-%dT%H:%M:%SZ) by tests/data/realops/make-dhcp.sh in network namespaces it made and removed."
	echo "Lease lifetime $LIFE s; one v4 address in the pool. Client 1 (MAC 02:00:00:xx:00:01) binds, renews, releases at ~25 s;"
	echo "client 2 (02:00:00:xx:00:02) takes the same v4 address and is stopped without release. v6: dhclient -6 -N -P -D LL (DUID-LL)."
	echo "Ground truth: the dhclient hook events (client-events.tsv), not the server's file. No file was edited after the server wrote it."
} > $HERE/$d/PROVENANCE.txt
done
