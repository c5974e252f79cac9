#!/bin/sh
# Makes the TLS fixtures of this folder with real software on loopback (run as root, from the
# project folder, after `cargo build --release --example poolsim`):
#
#   XMRIG=/path/to/xmrig tests/data/tls/make-tls.sh
#
# Mining sessions (each must be found at least `suspect`): XMRig over TLS to an unnamed pool,
# by address (no SNI) and by a private name (SNI), and the project's Stratum V1 miner over TLS,
# both ways; the pool is `poolsim pool` (tests/common/pool.rs). Benign sessions (none may be
# `suspect`): MQTT over TLS (mosquitto, subscriber and publisher), Redis over TLS (commands and
# pub/sub), PostgreSQL with SSL, a WebSocket over TLS behind nginx, HTTPS polling on a kept-alive
# connection, a line protocol inside stunnel, OpenVPN over TCP, syslog over TLS (rsyslog).
# Everything runs at once for $SECONDS_BENIGN seconds under one tcpdump on lo; each session is
# then cut out by its port. Versions and commands go to PROVENANCE.md.
set -eu
OUT=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$OUT/../../.." && pwd)
POOLSIM=${POOLSIM:-$ROOT/target/release/examples/poolsim}
XMRIG=${XMRIG:?set XMRIG to an XMRig binary built from its public source}
LONG=${SECONDS_BENIGN:-150}
SHORT=65
W=$(mktemp -d)
chmod 755 "$W"
trap 'for j in $(jobs -p); do kill "$j" 2>/dev/null; done; sleep 1; rm -rf "$W"' EXIT
cd "$W"

# One CA and one server certificate (localhost, 127.0.0.1) for every server.
openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=fixture-ca \
  -keyout ca.key -out ca.crt 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout srv.key -out srv.csr 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > ext
openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
  -extfile ext -out srv.crt 2>/dev/null
chmod 644 srv.key

tcpdump -i lo -U -s 0 -w all.pcap 'tcp and (portrange 14441-14446 or portrange 18440-18445 or port 18883 or port 16380 or port 15432 or port 18500 or port 11194 or port 16514)' 2>/dev/null &
TCPDUMP=$!
sleep 2

# --- mining ---
"$POOLSIM" pool 127.0.0.1:14441 --tls pool.private.test --job-every 30 --cn-difficulty 150 --seconds $((LONG + 20)) &
"$POOLSIM" pool 127.0.0.1:14442 --tls pool.private.test --job-every 40 --cn-difficulty 150 --seconds $((LONG + 20)) &
"$POOLSIM" pool 127.0.0.1:14443 --tls pool.private.test --job-every 30 --cn-difficulty 120 --seconds $((LONG + 20)) &
"$POOLSIM" pool 127.0.0.1:14444 --tls pool.private.test --job-every 30 --seconds $((LONG + 20)) &
"$POOLSIM" pool 127.0.0.1:14445 --tls pool.private.test --job-every 45 --seconds $((LONG + 20)) &
"$POOLSIM" pool 127.0.0.1:14446 --tls pool.private.test --job-every 20 --seconds $((LONG + 20)) &
sleep 1
WALLET=44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A
XM="--no-color -a rx/0 --randomx-mode=light -t 1 -p x -u $WALLET"
timeout $LONG "$XMRIG" $XM --log-file=$W/xmrig-ip.log --tls -o 127.0.0.1:14441 > /dev/null 2>&1 &
printf '127.0.0.1 localhost\n127.0.0.1 pool.private.test\n' > hosts
# XMRig sends the pool's name as SNI only when its pool entry says "sni": true (config file).
cat > xmrig-sni.json <<EOF
{"autosave": false, "randomx": {"mode": "light"},
 "pools": [{"algo": "rx/0", "url": "pool.private.test:14442", "user": "$WALLET", "pass": "x",
            "keepalive": true, "tls": true, "sni": true}]}
EOF
timeout $LONG unshare -m sh -c "mount --bind $W/hosts /etc/hosts && exec $XMRIG --no-color -c $W/xmrig-sni.json -t 1 --log-file=$W/xmrig-sni.log" > /dev/null 2>&1 &
timeout $SHORT "$XMRIG" $XM --log-file=$W/xmrig-short.log --tls -o 127.0.0.1:14443 > /dev/null 2>&1 &
"$POOLSIM" miner 127.0.0.1:14444 --tls --seconds $LONG --share-every 12 --seed 3 > stratum-ip.log 2>&1 &
"$POOLSIM" miner 127.0.0.1:14445 --tls --sni pool.private.test --seconds $LONG --share-every 20 --seed 5 > stratum-sni.log 2>&1 &
"$POOLSIM" miner 127.0.0.1:14446 --tls --sni stratum.private.test --seconds $SHORT --share-every 8 --seed 7 > stratum-short.log 2>&1 &

# Random waits for the benign clients: 2-15 s.
cat > pace.py <<'EOF'
import random, sys, time
random.seed(int(sys.argv[1]))
end = time.time() + float(sys.argv[2])
lines = sys.argv[3:]
i = 0
while time.time() < end:
    print(lines[i % len(lines)].replace("{i}", str(i)), flush=True)
    i += 1
    time.sleep(random.uniform(2, 15))
EOF

# --- MQTT over TLS (mosquitto) ---
cat > mosquitto.conf <<EOF
listener 18883 127.0.0.1
cafile $W/ca.crt
certfile $W/srv.crt
keyfile $W/srv.key
allow_anonymous true
EOF
mosquitto -c mosquitto.conf > mosquitto.log 2>&1 &
sleep 1
timeout $LONG mosquitto_sub -h 127.0.0.1 -p 18883 --cafile ca.crt -t 'plant/#' -q 1 -k 30 -i sub1 > /dev/null 2>&1 &
python3 pace.py 11 $LONG '{"sensor":"boiler-3","temp_c":71.{i},"pressure_kpa":212,"ts":{i}}' | \
  timeout $LONG mosquitto_pub -h 127.0.0.1 -p 18883 --cafile ca.crt -t plant/boiler3 -q 1 -l -k 30 -i pub1 > /dev/null 2>&1 &

# --- Redis over TLS ---
redis-server --port 0 --tls-port 16380 --tls-cert-file srv.crt --tls-key-file srv.key \
  --tls-ca-cert-file ca.crt --tls-auth-clients no --save '' --appendonly no > redis.log 2>&1 &
sleep 1
python3 pace.py 12 $LONG 'SET session:{i} {"user":"u{i}","cart":[1,2,3],"seen":{i}}' 'GET session:{i}' 'INCR counter' 'PUBLISH events "order {i} paid"' | \
  timeout $LONG redis-cli --tls --cacert ca.crt -p 16380 > /dev/null 2>&1 &
timeout $LONG redis-cli --tls --cacert ca.crt -p 16380 SUBSCRIBE events > /dev/null 2>&1 &

# --- PostgreSQL with SSL ---
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | tail -1)
mkdir pg && chown postgres pg && cp srv.crt srv.key pg/ && chown postgres pg/srv.* && chmod 600 pg/srv.key
su postgres -c "$PGBIN/initdb -D $W/pg/data -A trust" > /dev/null
su postgres -c "$PGBIN/pg_ctl -D $W/pg/data -o '-p 15432 -k $W/pg -c ssl=on -c ssl_cert_file=$W/pg/srv.crt -c ssl_key_file=$W/pg/srv.key -c listen_addresses=127.0.0.1' -l $W/pg/log start" > /dev/null
sleep 2
python3 pace.py 13 $LONG 'SELECT now(), {i};' "SELECT count(*) FROM pg_stat_activity WHERE state = 'active';" 'SELECT pg_sleep(0.01), {i} AS poll;' | \
  timeout $LONG su postgres -c "psql 'host=127.0.0.1 port=15432 sslmode=require dbname=postgres' -q" > /dev/null 2>&1 &

# --- WebSocket over TLS behind nginx, and HTTPS polling ---
cat > ws-server.js <<'EOF'
const { WebSocketServer } = require('/usr/share/nodejs/ws');
const wss = new WebSocketServer({ port: 18440, host: '127.0.0.1' });
wss.on('connection', (ws) => {
  let n = 0;
  const tick = () => { ws.send(JSON.stringify({ type: 'notification', id: ++n, text: 'You have a new message' }));
    t = setTimeout(tick, 5000 + Math.random() * 20000); };
  let t = setTimeout(tick, 3000);
  ws.on('message', (m) => ws.send(JSON.stringify({ type: 'ack', for: String(m).length })));
  ws.on('close', () => clearTimeout(t));
});
EOF
cat > ws-client.js <<'EOF'
const WebSocket = require('/usr/share/nodejs/ws');
const ws = new WebSocket('wss://127.0.0.1:18441/live', { rejectUnauthorized: false });
ws.on('open', () => {
  const typing = () => { ws.send(JSON.stringify({ type: 'typing', room: 'ops' })); setTimeout(typing, 4000 + Math.random() * 16000); };
  setTimeout(typing, 2000);
  setInterval(() => ws.ping(), 30000);
});
ws.on('message', () => {});
EOF
mkdir -p www && printf '{"status":"ok","queue":3,"version":"2.4.1"}\n' > www/status.json
cat > nginx.conf <<EOF
pid $W/nginx.pid;
error_log $W/nginx-error.log;
events {}
http {
  access_log off;
  map \$http_upgrade \$connection_upgrade { default upgrade; '' close; }
  server {
    listen 127.0.0.1:18441 ssl;
    listen 127.0.0.1:18442 ssl;
    ssl_certificate $W/srv.crt;
    ssl_certificate_key $W/srv.key;
    keepalive_timeout 300s;
    keepalive_requests 10000;
    location /live { proxy_pass http://127.0.0.1:18440; proxy_http_version 1.1;
      proxy_set_header Upgrade \$http_upgrade; proxy_set_header Connection \$connection_upgrade;
      proxy_read_timeout 600s; }
    location / { root $W/www; default_type application/json; }
  }
}
EOF
nginx -c "$W/nginx.conf"
timeout $((LONG + 5)) node ws-server.js > ws-server.log 2>&1 &
sleep 1
timeout $LONG node ws-client.js > ws-client.log 2>&1 &
cat > poll.py <<'EOF'
import http.client, random, ssl, sys, time
random.seed(14)
ctx = ssl._create_unverified_context()
c = http.client.HTTPSConnection("127.0.0.1", 18442, context=ctx)
end = time.time() + float(sys.argv[1])
while time.time() < end:
    c.request("GET", "/status.json", headers={"Accept": "application/json"})
    c.getresponse().read()
    time.sleep(random.uniform(2, 15))
EOF
python3 poll.py $LONG > poll.log 2>&1 &

# --- a line protocol inside stunnel ---
cat > chat.py <<'EOF'
import random, socket, threading, time
random.seed(15)
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 18501)); s.listen()
def serve(c):
    def push():
        while True:
            time.sleep(random.uniform(3, 25))
            try: c.sendall(b"MSG #ops alice: deploy of build %d finished\r\n" % random.randint(1, 999))
            except OSError: return
    threading.Thread(target=push, daemon=True).start()
    f = c.makefile("rb")
    for line in f:
        c.sendall(b"OK " + line[:8].strip() + b"\r\n")
while True:
    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
EOF
timeout $((LONG + 5)) python3 chat.py > chat.log 2>&1 &
cat > stunnel-server.conf <<EOF
foreground = yes
pid =
[chat]
accept = 127.0.0.1:18500
connect = 127.0.0.1:18501
cert = $W/srv.crt
key = $W/srv.key
EOF
cat > stunnel-client.conf <<EOF
foreground = yes
pid =
[chat]
client = yes
accept = 127.0.0.1:18502
connect = 127.0.0.1:18500
EOF
timeout $((LONG + 5)) stunnel stunnel-server.conf > stunnel-s.log 2>&1 &
timeout $((LONG + 5)) stunnel stunnel-client.conf > stunnel-c.log 2>&1 &
sleep 1
python3 pace.py 16 $LONG 'PRIVMSG #ops :looking at ticket {i} now' 'PING :keepalive' | \
  timeout $LONG python3 -c '
import socket, sys, threading
c = socket.create_connection(("127.0.0.1", 18502))
threading.Thread(target=lambda: [None for _ in iter(lambda: c.recv(4096), b"")], daemon=True).start()
for line in sys.stdin: c.sendall(line.encode())
' > chat-client.log 2>&1 &

# --- OpenVPN over TCP (static key), a ping through the tunnel now and then ---
openvpn --genkey secret vpn.key 2>/dev/null || openvpn --genkey --secret vpn.key
timeout $((LONG + 5)) openvpn --dev tun9 --proto tcp-server --lport 11194 --local 127.0.0.1 \
  --secret vpn.key --cipher AES-256-CBC --ifconfig 10.99.0.1 10.99.0.2 --keepalive 10 60 > vpn-s.log 2>&1 &
sleep 2
timeout $LONG openvpn --dev tun10 --proto tcp-client --remote 127.0.0.1 11194 \
  --secret vpn.key --cipher AES-256-CBC --ifconfig 10.99.0.2 10.99.0.1 --keepalive 10 60 > vpn-c.log 2>&1 &
sleep 4
python3 pace.py 17 $((LONG - 10)) x | while read -r _; do ping -c 1 -W 1 -I tun10 10.99.0.1 > /dev/null 2>&1 || true; done &

# --- syslog over TLS (rsyslog to rsyslog) ---
mkdir -p rs
cat > rs/server.conf <<EOF
global(DefaultNetstreamDriver="gtls" DefaultNetstreamDriverCAFile="$W/ca.crt"
       DefaultNetstreamDriverCertFile="$W/srv.crt" DefaultNetstreamDriverKeyFile="$W/srv.key"
       WorkDirectory="$W/rs")
module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="anon")
input(type="imtcp" port="16514" address="127.0.0.1")
*.* action(type="omfile" file="$W/rs/received.log")
EOF
cat > rs/client.conf <<EOF
global(DefaultNetstreamDriver="gtls" DefaultNetstreamDriverCAFile="$W/ca.crt" WorkDirectory="$W/rs")
module(load="imuxsock" SysSock.Use="off")
module(load="imfile")
input(type="imfile" File="$W/rs/app.log" Tag="app:")
*.* action(type="omfwd" target="127.0.0.1" port="16514" protocol="tcp"
           StreamDriver="gtls" StreamDriverMode="1" StreamDriverAuthMode="anon")
EOF
touch rs/app.log
timeout $((LONG + 5)) rsyslogd -n -f "$W/rs/server.conf" -i "$W/rs/server.pid" > rs/server.out 2>&1 &
sleep 1
timeout $LONG rsyslogd -n -f "$W/rs/client.conf" -i "$W/rs/client.pid" > rs/client.out 2>&1 &
python3 pace.py 18 $LONG 'order {i} shipped to warehouse 3' 'user u{i} logged in from branch office' >> rs/app.log &

sleep $((LONG + 8))
nginx -c "$W/nginx.conf" -s stop || true
su postgres -c "$PGBIN/pg_ctl -D $W/pg/data stop -m fast" > /dev/null || true
pkill -f "mosquitto -c mosquitto.conf" || true
pkill -f "redis-server.*16380" || true
sleep 2
kill "$TCPDUMP" || true
sleep 1

cut() { tcpdump -r all.pcap -w "$OUT/$1.pcap" "$2" 2>/dev/null; }
cut mining-xmrig-tls-ip 'port 14441'
cut mining-xmrig-tls-sni 'port 14442'
cut mining-xmrig-tls-65s 'port 14443'
cut mining-stratum-tls-ip 'port 14444'
cut mining-stratum-tls-sni 'port 14445'
cut mining-stratum-tls-65s 'port 14446'
cut benign-mqtt-tls 'port 18883'
cut benign-redis-tls 'port 16380'
cut benign-postgresql-ssl 'port 15432'
cut benign-websocket-tls 'port 18441'
cut benign-https-polling 'port 18442'
cut benign-stunnel-chat 'port 18500'
cut benign-openvpn-tcp 'port 11194'
cut benign-syslog-tls 'port 16514'

{
  echo "# TLS fixtures: how they were made"
  echo
  echo "Made by \`tests/data/tls/make-tls.sh\` on $(date -u +%Y-%m-%d), on loopback, ${LONG} s per session (${SHORT} s for the *-65s ones)."
  echo
  echo "| software | version |"
  echo "|---|---|"
  echo "| XMRig (built from its public source) | $("$XMRIG" --version | head -1) |"
  echo "| mosquitto | $(dpkg-query -W -f '${Version}' mosquitto) |"
  echo "| redis-server | $(dpkg-query -W -f '${Version}' redis-server) |"
  echo "| PostgreSQL | $(dpkg-query -W -f '${Version}' postgresql) |"
  echo "| nginx | $(dpkg-query -W -f '${Version}' nginx) |"
  echo "| node-ws | $(dpkg-query -W -f '${Version}' node-ws) |"
  echo "| stunnel4 | $(dpkg-query -W -f '${Version}' stunnel4) |"
  echo "| openvpn | $(dpkg-query -W -f '${Version}' openvpn) |"
  echo "| rsyslog-gnutls | $(dpkg-query -W -f '${Version}' rsyslog-gnutls) |"
  echo "| tcpdump | $(dpkg-query -W -f '${Version}' tcpdump) |"
  echo
  echo "XMRig's own account of its sessions (accepted shares, jobs):"
  echo
  for f in xmrig-ip xmrig-sni xmrig-short; do
    echo "- $f: $(grep -c accepted $f.log) accepted, $(grep -c 'new job' $f.log) new jobs"
  done
  for f in stratum-ip stratum-sni stratum-short; do
    echo "- $f (poolsim miner): $(tail -1 $f.log)"
  done
} > "$OUT/PROVENANCE.md"
ls -la "$OUT"
