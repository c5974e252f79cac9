#!/bin/sh
# Produces tests/data/realops/nat/ with the Linux kernel's conntrack doing source NAT (an
# nftables port block per subscriber) in network namespaces this script makes, and two real
# loggers of its events: `conntrack -E -o timestamp,extended` and ulogd2's NFCT plugin with
# JSON output. The ground truth comes from the endpoints, not from the logs: each client
# sends its flow's tag, and the server writes the tag with the public address and port it saw.
# Nothing leaves the namespaces. Run as root on Debian 12:
#   apt-get install conntrack ulogd2 ulogd2-json nftables iproute2 python3
#   sh tests/data/realops/make-nat.sh
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$HERE/nat
W=$(mktemp -d)
N="ip netns exec"
cleanup() {
	for p in $W/*.pid; do [ -f "$p" ] && kill $(cat $p) 2>/dev/null || true; done
	for ns in mt_c1 mt_c2 mt_r mt_s; do ip netns del $ns 2>/dev/null || true; done
	[ -n "${KEEP:-}" ] || rm -rf $W
}
trap cleanup EXIT
for ns in mt_c1 mt_c2 mt_r mt_s; do ip netns add $ns; $N $ns ip link set lo up; done
# Two subscribers behind the router, the "internet" server beyond it.
for i in 1 2; do
	ip link add c$i type veth peer name r$i
	ip link set c$i netns mt_c$i; ip link set r$i netns mt_r
	$N mt_c$i ip addr add 100.64.4$i.2/24 dev c$i; $N mt_c$i ip link set c$i up
	$N mt_c$i ip route add default via 100.64.4$i.1
	$N mt_r ip addr add 100.64.4$i.1/24 dev r$i; $N mt_r ip link set r$i up
done
ip link add wan type veth peer name inet
ip link set wan netns mt_r; ip link set inet netns mt_s
$N mt_r ip addr add 198.18.40.1/24 dev wan; $N mt_r ip addr add 198.18.40.2/32 dev wan; $N mt_r ip link set wan up
$N mt_s ip addr add 198.18.40.254/24 dev inet; $N mt_s ip link set inet up
$N mt_r sysctl -qw net.ipv4.ip_forward=1
$N mt_r sysctl -qw net.netfilter.nf_conntrack_udp_timeout=5 net.netfilter.nf_conntrack_udp_timeout_stream=5 \
	net.netfilter.nf_conntrack_tcp_timeout_time_wait=3 net.netfilter.nf_conntrack_tcp_timeout_fin_wait=3 \
	net.netfilter.nf_conntrack_tcp_timeout_close_wait=3 net.netfilter.nf_conntrack_tcp_timeout_last_ack=3 \
	net.netfilter.nf_conntrack_timestamp=1
cat > $W/cgnat.nft <<'NFT'
table ip cgnat {
	chain post {
		type nat hook postrouting priority srcnat;
		ip saddr 100.64.41.2 oifname "wan" meta l4proto { tcp, udp } snat to 198.18.40.2:1024-2047
		ip saddr 100.64.42.2 oifname "wan" meta l4proto { tcp, udp } snat to 198.18.40.2:2048-3071
	}
}
NFT
$N mt_r nft -f $W/cgnat.nft
cat > $W/ulogd.conf <<CONF
[global]
logfile="$W/ulogd.log"
loglevel=3
plugin="/usr/lib/x86_64-linux-gnu/ulogd/ulogd_inpflow_NFCT.so"
plugin="/usr/lib/x86_64-linux-gnu/ulogd/ulogd_filter_IP2STR.so"
plugin="/usr/lib/x86_64-linux-gnu/ulogd/ulogd_output_JSON.so"
stack=ct1:NFCT,ip2str1:IP2STR,json1:JSON
[ct1]
event_mask=0x00000005
[json1]
sync=1
file="$W/ulogd_nfct.json"
CONF
$N mt_r sh -c "stdbuf -oL conntrack -E -e NEW,DESTROY -o timestamp,extended > $W/conntrack-events.log 2> $W/conntrack.err & echo \$! > $W/conntrack.pid"
$N mt_r sh -c "ulogd -c $W/ulogd.conf > $W/ulogd.out 2>&1 & echo \$! > $W/ulogd.pid"
cat > $W/server.py <<'PY'
import socket, sys, threading, time
log = open(sys.argv[1], "w", buffering=1)
def tcp():
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("198.18.40.254", 3333)); s.listen(16)
    while True:
        c, (ip, port) = s.accept()
        tag = c.recv(64).decode()
        log.write(f"{tag}\ttcp\t{ip}:{port}\t{time.time():.3f}\n")
        c.sendall(b"ok"); c.close()
def udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("198.18.40.254", 5353))
    while True:
        data, (ip, port) = s.recvfrom(64)
        log.write(f"{data.decode()}\tudp\t{ip}:{port}\t{time.time():.3f}\n")
        s.sendto(b"ok", (ip, port))
threading.Thread(target=tcp, daemon=True).start()
udp()
PY
cat > $W/client.py <<'PY'
import socket, sys, time
name, log = sys.argv[1], open(sys.argv[2], "a", buffering=1)
for n in range(3):
    for proto in ("tcp", "udp"):
        tag = f"{name}-{proto}-{n}"
        s = socket.socket() if proto == "tcp" else socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        t0 = time.time()
        if proto == "tcp":
            s.connect(("198.18.40.254", 3333)); s.sendall(tag.encode()); time.sleep(2); s.recv(8)
        else:
            s.connect(("198.18.40.254", 5353)); s.send(tag.encode()); s.recv(8); time.sleep(2)
        ip, port = s.getsockname(); s.close()
        log.write(f"{tag}\t{proto}\t{ip}:{port}\t{t0:.3f}\t{time.time():.3f}\n")
        time.sleep(1)
PY
$N mt_s sh -c "python3 $W/server.py $W/server-peers.tsv & echo \$! > $W/server.pid"
sleep 2
$N mt_c1 python3 $W/client.py h1 $W/clients.tsv &
$N mt_c2 python3 $W/client.py h2 $W/clients.tsv &
wait %1 %2 2>/dev/null || wait
# Let every entry time out and be destroyed (the kernel's collector can take a while).
i=0
while [ $i -lt 90 ] && [ -n "$($N mt_r conntrack -L 2>/dev/null)" ]; do sleep 1; i=$((i + 1)); done
sleep 2
kill $(cat $W/conntrack.pid) $(cat $W/ulogd.pid) 2>/dev/null || true
sleep 1
rm -rf $OUT
mkdir -p $OUT
cp $W/conntrack-events.log $W/ulogd_nfct.json $OUT/
python3 - $W/clients.tsv $W/server-peers.tsv > $OUT/ground_truth.tsv <<'PY'
import sys, datetime
def iso(t): return datetime.datetime.fromtimestamp(float(t), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
peers = {}
for l in open(sys.argv[2]):
    tag, proto, pub, t = l.rstrip("\n").split("\t"); peers[tag] = pub
print("kind\tidentity\taddress\tstart\tend\tnotes")
for l in sorted(open(sys.argv[1]), key=lambda l: float(l.split("\t")[3])):
    tag, proto, priv, t0, t1 = l.rstrip("\n").split("\t")
    print(f"nat-flow-{proto}\t{priv}\t{peers[tag]}\t{iso(t0)}\t{iso(t1)}\t{tag}: private side from the client, public side as the server saw it")
PY
{
	echo "Written by: the Linux kernel $(uname -r) conntrack, recorded by $(conntrack --version 2>&1 | head -1) and ulogd2 (NFCT, IP2STR, JSON)."
	echo "Debian packages: $(dpkg-query -W -f '${Package} ${Version}; ' conntrack ulogd2 ulogd2-json nftables iproute2 python3)"
	echo "Run: $(date -u +%Y-%m-%dT%H:%M:%SZ) by tests/data/realops/make-nat.sh in network namespaces it made and removed."
	echo "NAT: 100.64.41.2 -> 198.18.40.2:1024-2047, 100.64.42.2 -> 198.18.40.2:2048-3071 (tcp, udp), nftables snat."
	echo "conntrack-events.log: conntrack -E -e NEW,DESTROY -o timestamp,extended; ulogd_nfct.json: ulogd2 NFCT event_mask 5 (NEW, DESTROY)."
	echo "Ground truth: the clients' own socket addresses and times, paired by tag with the peer addresses the server saw."
	echo "No file was edited after the loggers wrote it."
} > $OUT/PROVENANCE.txt
