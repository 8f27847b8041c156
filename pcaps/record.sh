#!/usr/bin/env bash
# Records hubcap's sample captures from real traffic between Linux network namespaces.
#
#   sudo pcaps/record.sh              # every scenario
#   sudo pcaps/record.sh starwars     # only the named scenarios
#   pcaps/record.sh --list
#
# Each scenario is one function, scenario_<name>, that builds its own namespaces, starts real
# servers (pcaps/httpd.py on Python's http.server, dnsmasq) and real clients (curl, dig, ping),
# records with tcpdump and writes its captures into pcaps/. Namespace names start with
# $HUBCAP_NS_PREFIX (default "hc-"); every namespace, process and /etc/netns entry the script
# creates is removed on exit (trap), and leftovers of an interrupted run are removed at start, so
# the script can be run again at any time. HUBCAP_RECORD_KEEP=1 keeps the work directory (tcpdump,
# server and dnsmasq logs) for debugging. Needs root, iproute2, tcpdump, editcap, mergecap and
# tshark (wireshark), nft (nftables), openssl, socat, nc (netcat-openbsd), dnsmasq, dig, curl, wget,
# ping and python3. Only recording needs them: the captures are committed.
#
# To add a scenario: write scenario_<name>() (dashes in <name> become underscores) using the
# helpers below (ns_create, link_pair, start_bg, capture_start/capture_stop, wait_tcp, wait_udp53;
# for Cilium-style clusters cnode, cpod, lan_create/lan_port, socklb, cluster_dns, coredns) and add
# <name> to SCENARIOS.
set -euo pipefail

SCENARIOS=(foundation starwars netpol-recipes deny-over-allow connectivity edge seed-talk)

PCAPS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PREFIX="${HUBCAP_NS_PREFIX:-hc-}"
WORK=""
CREATED_NS=()
BG_PIDS=()

log() { printf '[record] %s\n' "$*" >&2; }
die() { printf 'record.sh: %s\n' "$*" >&2; exit 1; }

# --------------------------------------------------------------------------------------------
# Cleanup: processes we started (by pid), then our namespaces, then /etc/netns entries.

kill_pid() {
  local pid="$1"
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

ns_destroy() {
  local ns="$1" pid
  if ip netns list | awk '{print $1}' | grep -qx -- "$ns"; then
    # Anything still running inside one of our namespaces was started by this script.
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill_pid "$pid"; done
    ip netns del "$ns" 2>/dev/null || true
  fi
  rm -rf "/etc/netns/$ns"
}

cleanup() {
  local pid ns
  for pid in "${BG_PIDS[@]}"; do kill_pid "$pid" || true; done
  BG_PIDS=()
  for ns in "${CREATED_NS[@]}"; do ns_destroy "$ns" || true; done
  CREATED_NS=()
  if [[ -n "$WORK" && -d "$WORK" ]]; then
    if [[ -n "${HUBCAP_RECORD_KEEP:-}" ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
  fi
  WORK=""
}

# --------------------------------------------------------------------------------------------
# Helpers shared by scenarios.

nsx() { local ns="$1"; shift; ip netns exec "$PREFIX$ns" "$@"; }

# ns_create NAME: a fresh namespace with lo up, no router solicitations and no IPv6 DAD delay,
# so captures start quiet.
ns_create() {
  local ns="$PREFIX$1"
  ns_destroy "$ns"
  ip netns add "$ns"
  CREATED_NS+=("$ns")
  ip -n "$ns" link set lo up
  nsx "$1" sysctl -qw net.ipv6.conf.all.router_solicitations=0 \
    net.ipv6.conf.default.router_solicitations=0 \
    net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
    net.ipv6.conf.all.dad_transmits=0 net.ipv6.conf.default.dad_transmits=0 >/dev/null
}

# link_pair NS_A IF_A MAC_A NS_B IF_B: a veth pair with one end in each namespace, both up.
link_pair() {
  local a="$PREFIX$1" ifa="$2" mac="$3" b="$PREFIX$4" ifb="$5"
  ip link add "$ifa" netns "$a" address "$mac" type veth peer name "$ifb" netns "$b"
  ip -n "$a" link set "$ifa" up
  ip -n "$b" link set "$ifb" up
}

# start_bg NS LOGNAME CMD...: runs CMD inside NS in the background; its pid is remembered.
start_bg() {
  local ns="$1" name="$2"; shift 2
  ip netns exec "$PREFIX$ns" "$@" >"$WORK/$name.log" 2>&1 &
  BG_PIDS+=("$!")
  LAST_PID=$!
}

declare -A TCPDUMP_LOGS=()
tcpdump_log() { printf '%s' "${TCPDUMP_LOGS[$1]}"; }

# capture_start NS NAME TCPDUMP-ARGS...: starts tcpdump writing $WORK/NAME and waits until it
# listens. Sets LAST_PID.
capture_start() {
  local ns="$1" name="$2"; shift 2
  # --immediate-mode: without it TPACKET_V3 holds packets in a block until a timeout, and the
  # SIGINT of capture_stop would discard the last ones. Immediate mode uses a ring of
  # snaplen-sized slots: with the default 262144-byte snaplen and 2 MiB buffer that is 8 slots and
  # bursts get dropped, hence -s 65535 -B 16384 (256 slots).
  start_bg "$ns" "tcpdump-$name" tcpdump -n -U --immediate-mode -s 65535 -B 16384 -Z root \
    -w "$WORK/$name" "$@"
  local pid=$LAST_PID
  TCPDUMP_LOGS[$pid]="$WORK/tcpdump-$name.log"
  for _ in $(seq 50); do
    grep -q 'listening on' "$WORK/tcpdump-$name.log" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  cat "$WORK/tcpdump-$name.log" >&2
  die "tcpdump for $name did not start"
}

# capture_stop PID...: stops tcpdump with SIGINT so it flushes and writes its totals. SIGINT
# makes tcpdump discard what it has not read yet, so first ask for its counters (SIGUSR1) until it
# has written every packet its filter received; fail when the tail of a capture was still lost.
capture_stop() {
  local pid logf line captured received
  for pid in "$@"; do
    logf=$(tcpdump_log "$pid")
    for _ in $(seq 50); do
      kill -USR1 "$pid" 2>/dev/null || break
      sleep 0.1
      line=$(grep 'packets captured,' "$logf" | tail -n 1)
      captured=$(sed -n 's/.* \([0-9]*\) packets\{0,1\} captured,.*/\1/p' <<<"$line")
      received=$(sed -n 's/.* \([0-9]*\) packets\{0,1\} received by filter.*/\1/p' <<<"$line")
      [[ -n "$captured" && "$captured" == "$received" ]] && break
    done
  done
  for pid in "$@"; do kill -INT "$pid" 2>/dev/null || true; done
  for pid in "$@"; do wait "$pid" 2>/dev/null || true; done
  for pid in "$@"; do
    logf=$(tcpdump_log "$pid")
    captured=$(sed -n 's/^\([0-9]*\) packets\{0,1\} captured$/\1/p' "$logf")
    received=$(sed -n 's/^\([0-9]*\) packets\{0,1\} received by filter$/\1/p' "$logf")
    [[ -n "$captured" && "$captured" == "$received" ]] ||
      die "$(basename "$logf" .log): captured ${captured:-?} of ${received:-?} packets"
  done
}

# wait_tcp NS ADDR PORT: until something accepts connections there.
wait_tcp() {
  local ns="$1" addr="$2" port="$3"
  for _ in $(seq 50); do
    if nsx "$ns" bash -c "exec 3<>/dev/tcp/$addr/$port" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  die "nothing listens on $addr:$port in $PREFIX$ns"
}

# wait_udp53 NS SERVER: until the DNS server answers.
wait_udp53() {
  local ns="$1" server="$2"
  for _ in $(seq 50); do
    if nsx "$ns" dig +time=1 +tries=1 +short "@$server" version.bind CH TXT >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.1
  done
  die "no DNS answer from $server in $PREFIX$ns"
}

# settle: let link-up chatter (MLD reports, ND) finish before a capture starts.
settle() { sleep "${1:-1}"; }

# publish NAME...: moves finished captures from $WORK into pcaps/, checks their size.
publish() {
  local name size
  for name in "$@"; do
    size=$(stat -c %s "$WORK/$name")
    (( size > 24 )) || die "$name is empty"
    (( size <= 150000 )) || die "$name is $size bytes; keep samples small"
    install -m 0644 "$WORK/$name" "$PCAPS_DIR/$name"
    log "wrote pcaps/$name ($size bytes)"
  done
}

# merge OUT IN...: merges captures taken at different points of one run into $WORK/OUT (classic
# pcap, frames in time order). Use it only for points no packet passes twice.
merge() {
  local out="$1"; shift
  local ins=() f
  for f in "$@"; do ins+=("$WORK/$f"); done
  mergecap -F pcap -w "$WORK/$out" "${ins[@]}"
}

# resolver NS ADDR: the namespace's resolv.conf (glibc: curl, getent) names ADDR as nameserver.
resolver() {
  mkdir -p "/etc/netns/$PREFIX$1"
  printf 'nameserver %s\noptions timeout:2 attempts:1\n' "$2" >"/etc/netns/$PREFIX$1/resolv.conf"
}

# --------------------------------------------------------------------------------------------
# Cilium-style nodes and pods, as the starwars scenario wires them by hand: a node namespace
# holds the cilium_host/cilium_net veth pair with the router address; each pod's eth0 is a veth
# whose peer (an lxc device) sits in the node; the pod has a /32 (/128) address and a default
# route via the router address (IPv6: via fe80::1 set on the lxc device); the node routes each
# pod address to its lxc device with the router address as source, as Cilium's routes do (so
# host-originated traffic to a local pod comes from cilium_host's address).

declare -A NODE_R4=() NODE_R6=()

# cni_mac IPV4: the CNI convention for pod MACs, 0a:58 + the IPv4 address.
cni_mac() {
  local a b c d
  IFS=. read -r a b c d <<<"$1"
  printf '0a:58:%02x:%02x:%02x:%02x' "$a" "$b" "$c" "$d"
}

# cnode NODE ROUTER4 [ROUTER6]: a node namespace with cilium_host carrying the router address;
# forwarding on, reverse-path filtering off (pods answer through the node from any source).
cnode() {
  local node="$1" r4="$2" r6="${3:-}"
  ns_create "$node"
  ip -n "$PREFIX$node" link add cilium_host type veth peer name cilium_net
  ip -n "$PREFIX$node" link set cilium_net up
  ip -n "$PREFIX$node" link set cilium_host up
  ip -n "$PREFIX$node" addr add "$r4/32" dev cilium_host
  [[ -z "$r6" ]] || ip -n "$PREFIX$node" addr add "$r6/128" dev cilium_host nodad
  nsx "$node" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
    net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
  NODE_R4[$node]="$r4"
  NODE_R6[$node]="$r6"
}

# cpod POD NODE LXC IP4 [IP6]: a pod on NODE (interface LXC in the node, at most 15 characters).
cpod() {
  local pod="$1" node="$2" lxc="$3" ip4="$4" ip6="${5:-}"
  local r4="${NODE_R4[$node]}" r6="${NODE_R6[$node]}"
  ns_create "$pod"
  link_pair "$pod" eth0 "$(cni_mac "$ip4")" "$node" "$lxc"
  ip -n "$PREFIX$pod" addr add "$ip4/32" dev eth0
  ip -n "$PREFIX$pod" route add "$r4/32" dev eth0 scope link
  ip -n "$PREFIX$pod" route add default via "$r4" dev eth0
  ip -n "$PREFIX$node" route add "$ip4/32" dev "$lxc" src "$r4"
  if [[ -n "$ip6" ]]; then
    ip -n "$PREFIX$pod" addr add "$ip6/128" dev eth0 nodad
    ip -n "$PREFIX$node" addr add fe80::1/64 dev "$lxc" nodad
    ip -n "$PREFIX$pod" -6 route add default via fe80::1 dev eth0
    if [[ -n "$r6" ]]; then
      ip -n "$PREFIX$node" -6 route add "$ip6/128" dev "$lxc" src "$r6"
    else
      ip -n "$PREFIX$node" -6 route add "$ip6/128" dev "$lxc"
    fi
  fi
}

# uplink_stub NODE ADDR/PLEN: an eth0 holding the node's InternalIP that carries no traffic (a
# veth whose peer stays down, IPv6 off): for scenarios whose traffic never uses the address.
uplink_stub() {
  ip -n "$PREFIX$1" link add eth0 type veth peer name eth0-stub
  nsx "$1" sysctl -qw net.ipv6.conf.eth0.disable_ipv6=1 net.ipv6.conf.eth0-stub.disable_ipv6=1
  ip -n "$PREFIX$1" addr add "$2" dev eth0
  ip -n "$PREFIX$1" link set eth0 up
}

# socklb POD RULE...: what Cilium's socket-level load balancer does for a pod: connect() and
# sendmsg() to a ClusterIP go to a backend, so the pod's packets carry the backend address. Here an
# nftables output-hook DNAT inside the pod does it; each RULE is
# "PROTO CLUSTERIP:PORT BACKEND:PORT" (replies are translated back by conntrack in the pod).
socklb() {
  local pod="$1"; shift
  local rules="" r proto front back
  for r in "$@"; do
    read -r proto front back <<<"$r"
    rules+="    ip daddr ${front%:*} $proto dport ${front##*:} dnat to $back"$'\n'
  done
  nsx "$pod" nft -f - <<NFT
table ip socklb {
  chain output {
    type nat hook output priority -100; policy accept;
$rules  }
}
NFT
}

# cluster_dns POD SEARCH...: the pod resolves through the kube-dns ClusterIP 10.96.0.10 with the
# search list and ndots:5 of a Kubernetes pod (ClusterFirst).
cluster_dns() {
  local pod="$1"; shift
  mkdir -p "/etc/netns/$PREFIX$pod"
  printf 'search %s\nnameserver 10.96.0.10\noptions ndots:5 timeout:2 attempts:1\n' "$*" \
    >"/etc/netns/$PREFIX$pod/resolv.conf"
}

# coredns POD ADDR HOSTS-FILE DOMAIN...: dnsmasq standing in for CoreDNS on ADDR: names from the
# hosts file, NXDOMAIN for other names under DOMAIN (TTL 30, as CoreDNS's kubernetes plugin).
coredns() {
  local pod="$1" addr="$2" hosts="$3"; shift 3
  local d locals=()
  for d in "$@"; do locals+=("--local=/$d/"); done
  start_bg "$pod" "dnsmasq-$pod" dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv \
    --no-hosts --addn-hosts="$hosts" "${locals[@]}" --local-ttl=30 --listen-address="$addr" \
    --bind-interfaces --user=root --group=root --pid-file= --log-queries --log-facility=-
}

# lan_create LAN: an L2 switch namespace (bridge br0 without addresses, no multicast snooping)
# joining node uplinks and hosts outside the cluster.
lan_create() {
  ns_create "$1"
  ip -n "$PREFIX$1" link add br0 type bridge mcast_snooping 0
  nsx "$1" sysctl -qw net.ipv6.conf.br0.disable_ipv6=1
  ip -n "$PREFIX$1" link set br0 up
}

# lan_port LAN PORT NS IF MAC: connects interface IF of NS to the switch (its port named PORT).
lan_port() {
  local lan="$1" port="$2" ns="$3" ifn="$4" mac="$5"
  link_pair "$ns" "$ifn" "$mac" "$lan" "$port"
  ip -n "$PREFIX$lan" link set "$port" master br0
}

# host_addrs NS IF ADDR/PLEN...: adds addresses to IF (IPv6 ones without DAD).
host_addrs() {
  local ns="$1" ifn="$2"; shift 2
  local a
  for a in "$@"; do
    if [[ "$a" == *:* ]]; then
      ip -n "$PREFIX$ns" addr add "$a" dev "$ifn" nodad
    else
      ip -n "$PREFIX$ns" addr add "$a" dev "$ifn"
    fi
  done
}

# self_signed NAME: a throwaway key and self-signed certificate in $WORK/NAME.pem (for TLS ports).
self_signed() {
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=$1" \
    -keyout "$WORK/$1.key" -out "$WORK/$1.crt" >/dev/null 2>&1
  cat "$WORK/$1.key" "$WORK/$1.crt" >"$WORK/$1.pem"
}

# --------------------------------------------------------------------------------------------
# Scenario "foundation": a client, an HTTP server and a DNS server on one Linux bridge.
#
#   client 10.10.0.10 fd00:10::10  ----+
#   server 10.10.0.20 fd00:10::20  ----+-- br0 in namespace "node" (plain L2 switch, no address)
#   dns    10.10.0.53 fd00:10::53  ----+
#
# The same traffic is recorded four ways at once: on the client (Ethernet, microseconds), on the
# server (Ethernet, nanoseconds), on the DNS server (pcapng via editcap), and on every port of
# the node (tcpdump -i any, Linux cooked v2).
scenario_foundation() {
  local n
  for n in node client server dns; do ns_create "$n"; done

  ip -n "${PREFIX}node" link add br0 type bridge mcast_snooping 0
  nsx node sysctl -qw net.ipv6.conf.br0.disable_ipv6=1
  ip -n "${PREFIX}node" link set br0 up

  link_pair client eth0 02:00:0a:0a:00:0a node veth-client
  link_pair server eth0 02:00:0a:0a:00:14 node veth-server
  link_pair dns eth0 02:00:0a:0a:00:35 node veth-dns
  for n in client server dns; do
    ip -n "${PREFIX}node" link set "veth-$n" master br0
  done
  ip -n "${PREFIX}client" addr add 10.10.0.10/24 dev eth0
  ip -n "${PREFIX}client" addr add fd00:10::10/64 dev eth0 nodad
  ip -n "${PREFIX}server" addr add 10.10.0.20/24 dev eth0
  ip -n "${PREFIX}server" addr add fd00:10::20/64 dev eth0 nodad
  ip -n "${PREFIX}dns" addr add 10.10.0.53/24 dev eth0
  ip -n "${PREFIX}dns" addr add fd00:10::53/64 dev eth0 nodad

  # DNS: dnsmasq answers from a hosts file and one CNAME; names under the two local domains that
  # are not listed get NXDOMAIN. TTL 300 so FQDN policies have a real TTL to honour.
  cat >"$WORK/dns-hosts" <<'EOF'
10.10.0.20    api.example.com
fd00:10::20   api.example.com
192.0.2.10    cilium.io
2001:db8::10  cilium.io
192.0.2.30    cilium.readthedocs.io
EOF
  start_bg dns dnsmasq dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts \
    --addn-hosts="$WORK/dns-hosts" --cname=docs.cilium.io,cilium.readthedocs.io \
    --local=/example.com/ --local=/cilium.io/ --local=/readthedocs.io/ --local-ttl=300 \
    --listen-address=10.10.0.53,fd00:10::53 --bind-interfaces --user=root --group=root \
    --pid-file= --log-queries --log-facility=-
  start_bg server httpd python3 "$PCAPS_DIR/httpd.py" --profile foundation --port 8000

  # The client's resolver (glibc, used by curl) asks the DNS namespace: `ip netns exec` bind-mounts
  # /etc/netns/<ns>/resolv.conf over /etc/resolv.conf.
  mkdir -p "/etc/netns/${PREFIX}client"
  printf 'nameserver 10.10.0.53\noptions timeout:2 attempts:1\n' \
    >"/etc/netns/${PREFIX}client/resolv.conf"

  wait_tcp client 10.10.0.20 8000
  wait_udp53 client 10.10.0.53
  settle 1

  local pids=()
  capture_start client foundation-client.pcap -i eth0
  pids+=("$LAST_PID")
  capture_start server foundation-server-ns.pcap -i eth0 --time-stamp-precision=nano
  pids+=("$LAST_PID")
  capture_start dns foundation-dns.pcap -i eth0
  pids+=("$LAST_PID")
  capture_start node foundation-node-sll2.pcap -i any -y LINUX_SLL2
  pids+=("$LAST_PID")

  log "foundation: ping"
  nsx client ping -n -c 2 -i 0.2 10.10.0.20 >/dev/null
  nsx client ping -n -6 -c 2 -i 0.2 fd00:10::20 >/dev/null
  log "foundation: dig over UDP and TCP"
  local dig=(dig +time=2 +tries=1 +nocookie)
  nsx client "${dig[@]}" @10.10.0.53 api.example.com A +short
  nsx client "${dig[@]}" @fd00:10::53 api.example.com AAAA +short
  nsx client "${dig[@]}" @10.10.0.53 docs.cilium.io A +short
  nsx client "${dig[@]}" +tcp @10.10.0.53 cilium.io AAAA +short
  nsx client "${dig[@]}" @10.10.0.53 nothere.example.com A | grep -q 'status: NXDOMAIN' ||
    die "expected NXDOMAIN for nothere.example.com"
  log "foundation: curl GET and POST (names resolved through the dns namespace)"
  nsx client curl -sS -4 --max-time 5 -o /dev/null -w '%{http_code} %{remote_ip}\n' \
    http://api.example.com:8000/hello.txt
  nsx client curl -sS -6 --max-time 5 -o /dev/null -w '%{http_code} %{remote_ip}\n' \
    http://api.example.com:8000/
  nsx client curl -sS -4 --max-time 5 -o /dev/null -w '%{http_code} %{remote_ip}\n' \
    -X POST -H 'Content-Type: application/json' -d '{"name":"x-wing","count":2}' \
    http://api.example.com:8000/api/v1/items
  nsx client curl -sS -4 --max-time 5 -o /dev/null -w '%{http_code} %{remote_ip}\n' \
    http://10.10.0.20:8000/missing
  capture_stop "${pids[@]}"
  editcap -F pcapng "$WORK/foundation-dns.pcap" "$WORK/foundation-dns.pcapng"
  publish foundation-client.pcap foundation-server-ns.pcap foundation-dns.pcapng \
    foundation-node-sll2.pcap
}

# --------------------------------------------------------------------------------------------
# Scenario "starwars": the Cilium Star Wars demo (docs.cilium.io, "Getting Started with the Star
# Wars Demo") as pods on one node, wired the way Cilium wires pods: each pod's eth0 is a veth
# whose peer (lxc-<pod>) sits in the node namespace, the pod has a /32 (/128) address and a
# default route via the node's cilium_host address, and the node routes each pod address to its
# lxc device (no bridge).
#
#   deathstar  10.0.1.10  fd00:10:0:1::10   HTTP on port 80 (pcaps/httpd.py --profile deathstar)
#   tiefighter 10.0.1.20  fd00:10:0:1::20   curl client (org=empire)
#   xwing      10.0.1.30  fd00:10:0:1::30   curl client (org=alliance)
#   node       cilium_host 10.0.1.1, fd00:10:0:1::1; gateway fe80::1 on every lxc device
#
# Recorded without any policy, as the demo runs before the first policy is applied: both ships
# land, tiefighter's PUT /v1/exhaust-port reaches the deathstar (503, "Panic: deathstar
# exploded"), and xwing pings the deathstar. Captures: the node (tcpdump -i any, SLL2: every
# packet twice, on the source and the destination lxc device) and the deathstar's eth0 (Ethernet).
scenario_starwars() {
  local pod ip6 idx
  ns_create sw-node
  for pod in deathstar tiefighter xwing; do ns_create "$pod"; done

  # Cilium's cilium_host/cilium_net veth pair carries the node's router address.
  ip -n "${PREFIX}sw-node" link add cilium_host type veth peer name cilium_net
  ip -n "${PREFIX}sw-node" link set cilium_net up
  ip -n "${PREFIX}sw-node" link set cilium_host up
  ip -n "${PREFIX}sw-node" addr add 10.0.1.1/32 dev cilium_host
  ip -n "${PREFIX}sw-node" addr add fd00:10:0:1::1/128 dev cilium_host nodad
  nsx sw-node sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1

  declare -A ip4=([deathstar]=10.0.1.10 [tiefighter]=10.0.1.20 [xwing]=10.0.1.30)
  declare -A mac=([deathstar]=0a:58:0a:00:01:0a [tiefighter]=0a:58:0a:00:01:14
    [xwing]=0a:58:0a:00:01:1e)
  for pod in deathstar tiefighter xwing; do
    idx=${ip4[$pod]##*.}
    ip6="fd00:10:0:1::$idx"
    link_pair "$pod" eth0 "${mac[$pod]}" sw-node "lxc-$pod"
    ip -n "${PREFIX}$pod" addr add "${ip4[$pod]}/32" dev eth0
    ip -n "${PREFIX}$pod" addr add "$ip6/128" dev eth0 nodad
    ip -n "${PREFIX}$pod" route add 10.0.1.1/32 dev eth0 scope link
    ip -n "${PREFIX}$pod" route add default via 10.0.1.1 dev eth0
    ip -n "${PREFIX}sw-node" addr add fe80::1/64 dev "lxc-$pod" nodad
    ip -n "${PREFIX}$pod" -6 route add default via fe80::1 dev eth0
    ip -n "${PREFIX}sw-node" route add "${ip4[$pod]}/32" dev "lxc-$pod"
    ip -n "${PREFIX}sw-node" -6 route add "$ip6/128" dev "lxc-$pod"
  done

  # The node's InternalIP (examples/starwars/cluster) on an uplink that leads nowhere (a veth
  # whose peer stays down; this kernel may lack the dummy device): no traffic uses it.
  uplink_stub sw-node 192.168.20.11/24

  start_bg deathstar deathstar python3 "$PCAPS_DIR/httpd.py" --profile deathstar --port 80
  wait_tcp tiefighter 10.0.1.10 80
  wait_tcp xwing 10.0.1.10 80
  settle 1

  local pids=()
  capture_start sw-node starwars-node-sll2.pcap -i any -y LINUX_SLL2
  pids+=("$LAST_PID")
  capture_start deathstar starwars-deathstar.pcap -i eth0
  pids+=("$LAST_PID")

  # The demo's requests, addressed like the demo (Host: deathstar.default.svc.cluster.local) but
  # sent to the pod address: the capture shows pod-to-pod traffic after service translation.
  local svc=deathstar.default.svc.cluster.local
  local curl=(curl -sS --max-time 5 -w ' [%{http_code}]\n' --resolve "$svc:80:10.0.1.10")
  log "starwars: tiefighter lands"
  nsx tiefighter "${curl[@]}" -XPOST "$svc/v1/request-landing"
  log "starwars: xwing lands"
  nsx xwing "${curl[@]}" -XPOST "$svc/v1/request-landing"
  log "starwars: tiefighter hits the exhaust port"
  local out
  out=$(nsx tiefighter "${curl[@]}" -XPUT "$svc/v1/exhaust-port")
  printf '%s ... %s\n' "${out%%$'\n'*}" "${out##*$'\n'}"
  log "starwars: tiefighter lands over IPv6"
  nsx tiefighter curl -sS --max-time 5 -w ' [%{http_code}]\n' -g -6 \
    --resolve "$svc:80:[fd00:10:0:1::10]" -XPOST "$svc/v1/request-landing"
  log "starwars: xwing pings the deathstar"
  nsx xwing ping -n -c 2 -i 0.2 10.0.1.10 >/dev/null
  capture_stop "${pids[@]}"
  publish starwars-node-sll2.pcap starwars-deathstar.pcap

  # Second part: the demo's requests through the deathstar Service (ClusterIP 10.96.120.80:80),
  # as the demo sends them. Cilium translates a ClusterIP before policy, at the client's lxc
  # device (or in its socket); here the node DNATs it in prerouting (nftables), so what the
  # clients' eth0 devices see is what a capture inside the client pods shows: the ClusterIP in
  # both directions. Recorded on tiefighter's and xwing's eth0 and merged (no packet passes both).
  nsx sw-node nft -f - <<'NFT'
table ip hubcap_svc {
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    ip daddr 10.96.120.80 tcp dport 80 dnat to 10.0.1.10:80
  }
}
NFT
  wait_tcp tiefighter 10.96.120.80 80
  settle 1
  pids=()
  capture_start tiefighter starwars-svc-tiefighter.pcap -i eth0
  pids+=("$LAST_PID")
  capture_start xwing starwars-svc-xwing.pcap -i eth0
  pids+=("$LAST_PID")
  curl=(curl -sS --max-time 5 -w ' [%{http_code}]\n' --resolve "$svc:80:10.96.120.80")
  log "starwars: tiefighter lands through the ClusterIP"
  nsx tiefighter "${curl[@]}" -XPOST "$svc/v1/request-landing"
  log "starwars: xwing lands through the ClusterIP"
  nsx xwing "${curl[@]}" -XPOST "$svc/v1/request-landing"
  log "starwars: tiefighter hits the exhaust port through the ClusterIP"
  out=$(nsx tiefighter "${curl[@]}" -XPUT "$svc/v1/exhaust-port")
  printf '%s ... %s\n' "${out%%$'\n'*}" "${out##*$'\n'}"
  capture_stop "${pids[@]}"
  merge starwars-service.pcap starwars-svc-tiefighter.pcap starwars-svc-xwing.pcap
  publish starwars-service.pcap
}

# --------------------------------------------------------------------------------------------
# Scenario "netpol-recipes": the traffic of the common NetworkPolicy recipes
# (github.com/ahmetb/kubernetes-network-policy-recipes: 01, 06, 07, 09, 11) and of the
# NetworkPolicy example of kubernetes.io (ipBlock with except), on one Cilium-style node
# (examples/netpol-recipes/cluster). Each recipe's requests are recorded into their own capture,
# without any policy, as the recipes run them before applying theirs; the clients are the
# recipes' own commands (wget -qO- --timeout=2 http://web, ping). Pods resolve names through the
# kube-dns ClusterIP and reach ClusterIPs through socket-level load balancing (socklb), so every
# packet on the wire carries pod addresses. Hosts outside the cluster sit behind the node's eth0.
#
#   node r-node: eth0 192.168.30.11/24, cilium_host 10.1.0.1, pods 10.1.0.0/24
#   outside: 192.168.30.100 plus 172.17.0.5, 172.17.1.5 (ipBlock sources), 10.0.0.5 (ipBlock egress
#            target, TCP 5978 and 80), 203.0.113.80 (www.example.com, TCP 80)
#
# Captures: tcpdump -i any on the node with the filter "inbound": every packet once, as the node
# receives it from a pod's lxc device or from eth0 (Linux cooked v2).
scenario_netpol_recipes() {
  local p
  cnode r-node 10.1.0.1
  ns_create r-outside
  link_pair r-node eth0 02:00:c0:a8:1e:0b r-outside eth0 02:00:c0:a8:1e:64
  nsx r-node sysctl -qw net.ipv6.conf.eth0.disable_ipv6=1
  nsx r-outside sysctl -qw net.ipv6.conf.eth0.disable_ipv6=1
  ip -n "${PREFIX}r-node" addr add 192.168.30.11/24 dev eth0
  host_addrs r-outside eth0 192.168.30.100/24 172.17.0.5/32 172.17.1.5/32 10.0.0.5/32 203.0.113.80/32
  for p in 172.17.0.0/16 10.0.0.0/24 203.0.113.0/24; do
    ip -n "${PREFIX}r-node" route add "$p" via 192.168.30.100
  done
  ip -n "${PREFIX}r-outside" route add 10.1.0.0/24 via 192.168.30.11

  # name (netns r-<name>)  lxc           IPv4         Kubernetes pod (examples/netpol-recipes/cluster)
  cpod r-coredns   r-node lxc-coredns  10.1.0.53  # kube-system/coredns-76f75df574-x8kzn
  cpod r-web       r-node lxc-web      10.1.0.10  # default/web (app=web)
  cpod r-apiserver r-node lxc-apiserver 10.1.0.20 # default/apiserver (app=apiserver)
  cpod r-t3185     r-node lxc-t3185    10.1.0.31  # default/test-3185 (run=test-3185)
  cpod r-t7421     r-node lxc-t7421    10.1.0.32  # default/test-7421 (role=monitoring)
  cpod r-t5236     r-node lxc-t5236    10.1.0.33  # default/test-5236 (type=monitoring)
  cpod r-t1208     r-node lxc-t1208    10.1.0.41  # prod/test-1208
  cpod r-t9014     r-node lxc-t9014    10.1.0.42  # dev/test-9014
  cpod r-t6130     r-node lxc-t6130    10.1.0.51  # other/test-6130
  cpod r-t2801     r-node lxc-t2801    10.1.0.52  # other/test-2801 (type=monitoring)
  cpod r-foo       r-node lxc-foo      10.1.0.60  # default/test (app=foo)
  cpod r-db        r-node lxc-db       10.1.0.70  # default/db (role=db)
  cpod r-frontend  r-node lxc-frontend 10.1.0.71  # default/frontend (role=frontend)
  cpod r-worker    r-node lxc-worker   10.1.0.72  # myproject/worker

  # kube-dns: Service 10.96.0.10 -> coredns; the recipes' Services web (80) and apiserver
  # (8001 -> 8000, 5001 -> 5000); www.example.com outside.
  cat >"$WORK/recipes-hosts" <<'HOSTS'
10.96.0.10    kube-dns.kube-system.svc.cluster.local
10.96.10.10   web.default.svc.cluster.local
10.96.20.20   apiserver.default.svc.cluster.local
203.0.113.80  www.example.com
HOSTS
  coredns r-coredns 10.1.0.53 "$WORK/recipes-hosts" cluster.local example.com
  start_bg r-web web python3 "$PCAPS_DIR/httpd.py" --profile echo --port 80
  start_bg r-apiserver apiserver python3 "$PCAPS_DIR/httpd.py" --profile echo --port 8000 --port 5000
  start_bg r-outside outside python3 "$PCAPS_DIR/httpd.py" --profile echo --port 80 --port 5978
  # default/db: a Redis-speaking stub on 6379 (reads the inline command PING, answers +PONG).
  printf '#!/bin/sh\nhead -c 6 >/dev/null\nprintf "+PONG\\r\\n"\n' >"$WORK/redis-pong.sh"
  start_bg r-db redis socat TCP-LISTEN:6379,reuseaddr,fork EXEC:"sh $WORK/redis-pong.sh"
  local ns_of=([31]=default [32]=default [33]=default [41]=prod [42]=dev [51]=other [52]=other
    [60]=default [70]=default [71]=default [72]=myproject [10]=default [20]=default)
  for p in t3185:31 t7421:32 t5236:33 t1208:41 t9014:42 t6130:51 t2801:52 foo:60 db:70 \
    frontend:71 worker:72 web:10 apiserver:20; do
    local pod=r-${p%%:*} ns=${ns_of[${p##*:}]}
    cluster_dns "$pod" "$ns.svc.cluster.local" svc.cluster.local cluster.local
    socklb "$pod" "udp 10.96.0.10:53 10.1.0.53:53" "tcp 10.96.0.10:53 10.1.0.53:53" \
      "tcp 10.96.10.10:80 10.1.0.10:80" "tcp 10.96.20.20:8001 10.1.0.20:8000" \
      "tcp 10.96.20.20:5001 10.1.0.20:5000"
  done
  wait_udp53 r-t3185 10.1.0.53
  wait_tcp r-t3185 10.1.0.10 80
  wait_tcp r-t3185 10.1.0.20 5000
  wait_tcp r-t3185 10.1.0.70 6379
  wait_tcp r-db 10.0.0.5 5978
  # Let every pod learn its router's MAC before the captures (ARP is not what the recipes test).
  for p in t3185 t7421 t5236 t1208 t9014 t6130 t2801 foo db frontend worker web apiserver coredns; do
    nsx "r-$p" ping -n -c 1 -W 1 10.1.0.1 >/dev/null
  done
  nsx r-outside ping -n -c 1 -W 1 192.168.30.11 >/dev/null
  settle 1

  local wget=(wget -qO- --timeout=2 --tries=1)
  # recipe_capture NAME: starts the node capture for one recipe.
  recipe_start() { capture_start r-node "$1" -i any -y LINUX_SLL2 inbound; }

  log "netpol-recipes: 01 deny all traffic to an application"
  recipe_start netpol-01-deny-all.pcap; p=$LAST_PID
  nsx r-t3185 "${wget[@]}" http://web                     # blocked by web-deny-all
  nsx r-t3185 "${wget[@]}" http://apiserver:8001/         # apiserver is not selected
  nsx r-web "${wget[@]}" http://apiserver:8001/           # web's egress is not isolated
  capture_stop "$p"

  log "netpol-recipes: 06 allow all traffic from a namespace"
  recipe_start netpol-06-allow-from-namespace.pcap; p=$LAST_PID
  nsx r-t9014 "${wget[@]}" http://web.default             # dev: blocked
  nsx r-t1208 "${wget[@]}" http://web.default             # prod: allowed
  capture_stop "$p"

  log "netpol-recipes: 07 allow traffic from some pods in another namespace"
  recipe_start netpol-07-namespace-and-pod.pcap; p=$LAST_PID
  nsx r-t3185 "${wget[@]}" http://web.default             # default, unlabelled: blocked
  nsx r-t5236 "${wget[@]}" http://web.default             # default, type=monitoring: blocked
  nsx r-t6130 "${wget[@]}" http://web.default             # other, unlabelled: blocked
  nsx r-t2801 "${wget[@]}" http://web.default             # other, type=monitoring: allowed
  capture_stop "$p"

  log "netpol-recipes: 09 allow traffic only to a port of an application"
  recipe_start netpol-09-port-only.pcap; p=$LAST_PID
  nsx r-t3185 "${wget[@]}" http://apiserver:8001          # no labels: blocked
  nsx r-t3185 "${wget[@]}" http://apiserver:5001/metrics  # no labels: blocked
  nsx r-t7421 "${wget[@]}" http://apiserver:8001          # role=monitoring, port 8000: blocked
  nsx r-t7421 "${wget[@]}" http://apiserver:5001/metrics  # role=monitoring, port 5000: allowed
  capture_stop "$p"

  log "netpol-recipes: 11 deny egress traffic from an application"
  recipe_start netpol-11-deny-egress.pcap; p=$LAST_PID
  nsx r-foo "${wget[@]}" http://web:80/                   # DNS allowed, TCP blocked
  nsx r-foo "${wget[@]}" http://www.example.com/          # DNS allowed, TCP blocked
  nsx r-foo ping -n -c 2 -i 0.2 www.example.com >/dev/null # DNS allowed, ICMP blocked
  capture_stop "$p"

  log "netpol-recipes: kubernetes.io NetworkPolicy example (ipBlock with except)"
  recipe_start netpol-ipblock-except.pcap; p=$LAST_PID
  local ping=(nc -N -w 2)
  printf 'PING\r\n' | nsx r-outside "${ping[@]}" -s 172.17.0.5 10.1.0.70 6379   # in 172.17.0.0/16
  printf 'PING\r\n' | nsx r-outside "${ping[@]}" -s 172.17.1.5 10.1.0.70 6379   # in the except
  printf 'PING\r\n' | nsx r-frontend "${ping[@]}" 10.1.0.70 6379               # role=frontend
  printf 'PING\r\n' | nsx r-worker "${ping[@]}" 10.1.0.70 6379                 # project=myproject
  printf 'PING\r\n' | nsx r-t3185 "${ping[@]}" 10.1.0.70 6379                  # none of them
  nsx r-db "${wget[@]}" http://10.0.0.5:5978/                                  # egress 10.0.0.0/24:5978
  nsx r-db "${wget[@]}" http://10.0.0.5:80/                                    # egress, other port
  capture_stop "$p"

  publish netpol-01-deny-all.pcap netpol-06-allow-from-namespace.pcap \
    netpol-07-namespace-and-pod.pcap netpol-09-port-only.pcap netpol-11-deny-egress.pcap \
    netpol-ipblock-except.pcap
}

# --------------------------------------------------------------------------------------------
# Scenario "deny-over-allow": the client/server pair of docs.cilium.io "Deny Policies" on one
# Cilium-style node (examples/deny-over-allow/cluster), plus a second client and a host outside
# the cluster. Recorded without policies: every request succeeds here; the policies decide later.
#
#   node d-node: eth0 192.168.40.11/24, cilium_host 10.2.0.1, pods 10.2.0.0/24
#   demo/server  10.2.0.10  HTTP on 80 and 81
#   demo/client  10.2.0.20  curl :81, curl :80, ping
#   demo/client2 10.2.0.21  curl :81, ping
#   outside      198.51.100.20 (via 192.168.40.100): curl :81, curl :80
#
# Capture: tcpdump -i any inbound on the node (Linux cooked v2, every packet once).
scenario_deny_over_allow() {
  cnode d-node 10.2.0.1
  ns_create d-outside
  link_pair d-node eth0 02:00:c0:a8:28:0b d-outside eth0 02:00:c0:a8:28:64
  nsx d-node sysctl -qw net.ipv6.conf.eth0.disable_ipv6=1
  nsx d-outside sysctl -qw net.ipv6.conf.eth0.disable_ipv6=1
  ip -n "${PREFIX}d-node" addr add 192.168.40.11/24 dev eth0
  host_addrs d-outside eth0 192.168.40.100/24 198.51.100.20/32
  ip -n "${PREFIX}d-node" route add 198.51.100.0/24 via 192.168.40.100
  ip -n "${PREFIX}d-outside" route add 10.2.0.0/24 via 192.168.40.11 src 198.51.100.20
  cpod d-server  d-node lxc-server  10.2.0.10
  cpod d-client  d-node lxc-client  10.2.0.20
  cpod d-client2 d-node lxc-client2 10.2.0.21
  start_bg d-server server python3 "$PCAPS_DIR/httpd.py" --profile echo --port 80 --port 81
  wait_tcp d-client 10.2.0.10 81
  wait_tcp d-outside 10.2.0.10 80
  local p
  for p in d-server d-client d-client2; do nsx "$p" ping -n -c 1 -W 1 10.2.0.1 >/dev/null; done
  nsx d-outside ping -n -c 1 -W 1 192.168.40.11 >/dev/null
  settle 1

  capture_start d-node deny-over-allow.pcap -i any -y LINUX_SLL2 inbound
  p=$LAST_PID
  local curl=(curl -sS --max-time 3 -o /dev/null -w '%{http_code}\n')
  log "deny-over-allow: client -> server :81, :80, ping"
  nsx d-client "${curl[@]}" http://10.2.0.10:81/
  nsx d-client "${curl[@]}" http://10.2.0.10:80/
  nsx d-client ping -n -c 2 -i 0.2 10.2.0.10 >/dev/null
  log "deny-over-allow: client2 -> server :81, ping"
  nsx d-client2 "${curl[@]}" http://10.2.0.10:81/
  nsx d-client2 ping -n -c 2 -i 0.2 10.2.0.10 >/dev/null
  log "deny-over-allow: outside 198.51.100.20 -> server :81, :80"
  nsx d-outside "${curl[@]}" http://10.2.0.10:81/
  nsx d-outside "${curl[@]}" http://10.2.0.10:80/
  capture_stop "$p"
  publish deny-over-allow.pcap
}

# --------------------------------------------------------------------------------------------
# Scenario "connectivity": the pods and requests of `cilium connectivity test` (cilium-cli,
# connectivity/check/deployment.go and connectivity/tests) on a two-node, dual-stack cluster named
# like a kind cluster (examples/connectivity/cluster), with the test's outside world on TEST-NET
# addresses (the test's --external-* flags):
#
#   kind-worker  (c-w1) eth0 172.18.0.2, fc00:f853:ccd:e793::2; cilium_host 10.244.1.1, fd00:10:244:1::1
#     cilium-test/client           10.244.1.10  fd00:10:244:1::10  kind=client
#     cilium-test/client2          10.244.1.11  fd00:10:244:1::11  kind=client, other=client
#     cilium-test/echo-same-node   10.244.1.20  fd00:10:244:1::20  kind=echo, HTTP 8080
#     kube-system/coredns          10.244.1.53  (kube-dns 10.96.0.10)
#   kind-worker2 (c-w2) eth0 172.18.0.3, fc00:f853:ccd:e793::3; cilium_host 10.244.2.1, fd00:10:244:2::1
#     cilium-test/echo-other-node  10.244.2.20  fd00:10:244:2::20  kind=echo, HTTP 8080
#   world: --external-ip 203.0.113.10 (also www.example.com, the --external-target),
#          --external-other-ip 203.0.113.20, --external-ipv6 2001:db8:ff::10,
#          --external-other-ipv6 2001:db8:ff::20; HTTP 80 and HTTPS 443 on all of them
#
# Nodes and world share one L2 segment (namespace c-lan); nodes route each other's pod CIDRs
# natively. Each group of test actions, run with the test's own commands (curl --silent --fail
# --show-error --connect-timeout 2 --max-time 10 -4|-6 ..., ping -c 1 -W 2), is one capture,
# taken on kind-worker with tcpdump -i any and the filter "inbound or src host <kind-worker>": every
# packet once (as kind-worker receives it from a pod or from eth0, or as it sends it from itself).
scenario_connectivity() {
  lan_create c-lan
  cnode c-w1 10.244.1.1 fd00:10:244:1::1
  cnode c-w2 10.244.2.1 fd00:10:244:2::1
  ns_create world
  lan_port c-lan p-w1 c-w1 eth0 02:42:ac:12:00:02
  lan_port c-lan p-w2 c-w2 eth0 02:42:ac:12:00:03
  lan_port c-lan p-world world eth0 02:42:ac:12:00:64
  host_addrs c-w1 eth0 172.18.0.2/16 fc00:f853:ccd:e793::2/64
  host_addrs c-w2 eth0 172.18.0.3/16 fc00:f853:ccd:e793::3/64
  host_addrs world eth0 172.18.0.100/16 fc00:f853:ccd:e793::100/64 203.0.113.10/32 203.0.113.20/32 \
    2001:db8:ff::10/128 2001:db8:ff::20/128
  ip -n "${PREFIX}c-w1" route add 10.244.2.0/24 via 172.18.0.3
  ip -n "${PREFIX}c-w1" -6 route add fd00:10:244:2::/64 via fc00:f853:ccd:e793::3
  ip -n "${PREFIX}c-w1" route add 203.0.113.0/24 via 172.18.0.100
  ip -n "${PREFIX}c-w1" -6 route add 2001:db8:ff::/96 via fc00:f853:ccd:e793::100
  ip -n "${PREFIX}c-w2" route add 10.244.1.0/24 via 172.18.0.2
  ip -n "${PREFIX}c-w2" -6 route add fd00:10:244:1::/64 via fc00:f853:ccd:e793::2
  ip -n "${PREFIX}world" route add 10.244.1.0/24 via 172.18.0.2
  ip -n "${PREFIX}world" -6 route add fd00:10:244:1::/64 via fc00:f853:ccd:e793::2

  cpod c-client    c-w1 lxc-client    10.244.1.10 fd00:10:244:1::10
  cpod c-client2   c-w1 lxc-client2   10.244.1.11 fd00:10:244:1::11
  cpod c-echo-same c-w1 lxc-echo-same 10.244.1.20 fd00:10:244:1::20
  cpod c-coredns   c-w1 lxc-coredns   10.244.1.53 fd00:10:244:1::53
  cpod c-echo-other c-w2 lxc-echo-oth 10.244.2.20 fd00:10:244:2::20

  printf '203.0.113.10 www.example.com\n10.96.0.10 kube-dns.kube-system.svc.cluster.local\n' \
    >"$WORK/conn-hosts"
  coredns c-coredns 10.244.1.53 "$WORK/conn-hosts" cluster.local example.com
  local c
  for c in c-client c-client2; do
    cluster_dns "$c" cilium-test.svc.cluster.local svc.cluster.local cluster.local
    socklb "$c" "udp 10.96.0.10:53 10.244.1.53:53" "tcp 10.96.0.10:53 10.244.1.53:53"
  done
  self_signed www.example.com
  start_bg c-echo-same echo-same python3 "$PCAPS_DIR/httpd.py" --profile echo --port 8080
  start_bg c-echo-other echo-other python3 "$PCAPS_DIR/httpd.py" --profile echo --port 8080
  start_bg world world python3 "$PCAPS_DIR/httpd.py" --profile echo --port 80 --tls-port 443 \
    --cert "$WORK/www.example.com.pem"
  wait_udp53 c-client 10.244.1.53
  wait_tcp c-client 10.244.1.20 8080
  wait_tcp c-client 10.244.2.20 8080
  wait_tcp c-client 203.0.113.10 443
  wait_tcp c-client 2001:db8:ff::20 80
  # Neighbour caches warm (ARP and ND are not what the tests look at).
  for c in c-client c-client2 c-echo-same c-coredns; do
    nsx "$c" ping -n -c 1 -W 1 10.244.1.1 >/dev/null
    nsx "$c" ping -n -6 -c 1 -W 1 fd00:10:244:1::1 >/dev/null
  done
  nsx c-echo-other ping -n -c 1 -W 1 10.244.2.1 >/dev/null
  nsx c-echo-other ping -n -6 -c 1 -W 1 fd00:10:244:2::1 >/dev/null
  nsx c-w1 ping -n -c 1 -W 1 172.18.0.3 >/dev/null
  nsx c-w1 ping -n -6 -c 1 -W 1 fc00:f853:ccd:e793::3 >/dev/null
  nsx c-w1 ping -n -c 1 -W 1 172.18.0.100 >/dev/null
  nsx c-w1 ping -n -6 -c 1 -W 1 fc00:f853:ccd:e793::100 >/dev/null
  settle 1

  local curl=(curl --silent --fail --show-error --connect-timeout 2 --max-time 10
    -w '%{local_ip}:%{local_port} -> %{remote_ip}:%{remote_port} = %{response_code}\n'
    --output /dev/null)
  local clients=(c-client c-client2)
  conn_start() {
    capture_start c-w1 "$1" -i any -y LINUX_SLL2 \
      inbound or src host 172.18.0.2 or src host fc00:f853:ccd:e793::2
  }
  # tests.PodToPod(): every client to every echo pod, IPv4 then IPv6 (curl http://ADDR:8080).
  pod_to_pod() {
    local c e
    for c in "${clients[@]}"; do
      for e in 10.244.1.20,fd00:10:244:1::20 10.244.2.20,fd00:10:244:2::20; do
        nsx "$c" "${curl[@]}" -4 "http://${e%,*}:8080"
        nsx "$c" "${curl[@]}" -6 "http://[${e#*,}]:8080"
      done
    done
  }
  # tests.ClientToClient(): ping between the client pods, both ways, IPv4 then IPv6.
  client_to_client() {
    nsx c-client ping -c 1 -W 2 10.244.1.11 >/dev/null
    nsx c-client ping -c 1 -6 -W 2 fd00:10:244:1::11 >/dev/null
    nsx c-client2 ping -c 1 -W 2 10.244.1.10 >/dev/null
    nsx c-client2 ping -c 1 -6 -W 2 fd00:10:244:1::10 >/dev/null
  }
  # tests.PodToWorld(): http, https and https /index.html to the external target (IPv4; the
  # target is not IPv6-capable by default), name resolved through kube-dns.
  pod_to_world() {
    local c
    for c in "${clients[@]}"; do
      nsx "$c" "${curl[@]}" -4 -H 'Host: www.example.com' http://www.example.com.:80
      nsx "$c" "${curl[@]}" --insecure -4 -H 'Host: www.example.com' https://www.example.com.:443
      nsx "$c" "${curl[@]}" --insecure -4 -H 'Host: www.example.com' \
        https://www.example.com.:443/index.html
    done
  }
  # tests.PodToCIDR(): https to the external IP and the other external IP, IPv4 and IPv6
  # (--external-target-ipv6-capable).
  pod_to_cidr() {
    local ip c
    for ip in 203.0.113.10 203.0.113.20 '[2001:db8:ff::10]' '[2001:db8:ff::20]'; do
      for c in "${clients[@]}"; do
        if [[ "$ip" == \[* ]]; then
          nsx "$c" "${curl[@]}" --insecure -6 "https://$ip:443"
        else
          nsx "$c" "${curl[@]}" --insecure -4 "https://$ip:443"
        fi
      done
    done
  }
  # tests.PodToHost(): ping every InternalIP of every node from every client.
  pod_to_host() {
    local c
    for c in "${clients[@]}"; do
      nsx "$c" ping -c 1 -W 2 172.18.0.2 >/dev/null
      nsx "$c" ping -c 1 -6 -W 2 fc00:f853:ccd:e793::2 >/dev/null
      nsx "$c" ping -c 1 -W 2 172.18.0.3 >/dev/null
      nsx "$c" ping -c 1 -6 -W 2 fc00:f853:ccd:e793::3 >/dev/null
    done
  }
  local p groups=(
    "connectivity-pod-to-pod.pcap:pod_to_pod"
    "connectivity-pod-to-pod-client-to-client.pcap:pod_to_pod client_to_client"
    "connectivity-client-to-client.pcap:client_to_client"
    "connectivity-pod-to-world.pcap:pod_to_world"
    "connectivity-pod-to-cidr.pcap:pod_to_cidr"
    "connectivity-pod-to-host.pcap:pod_to_host"
    "connectivity-pod-to-pod-pod-to-cidr.pcap:pod_to_pod pod_to_cidr"
  ) g f names=()
  for g in "${groups[@]}"; do
    log "connectivity: ${g#*:} -> ${g%%:*}"
    conn_start "${g%%:*}"; p=$LAST_PID
    for f in ${g#*:}; do "$f"; done
    capture_stop "$p"
    names+=("${g%%:*}")
  done
  publish "${names[@]}"
}

# --------------------------------------------------------------------------------------------
# Scenario "edge": datapath edge cases on two Cilium-style nodes (examples/edge/cluster).
#
#   edge-a (e-a): eth0 192.168.50.11/24; cilium_host 10.3.1.1, fd00:10:3:1::1; pods 10.3.1.0/24
#     edge/server   10.3.1.10 fd00:10:3:1::10  HTTP 80, a UDP sink on 9000
#     edge/client   10.3.1.20 fd00:10:3:1::20
#     edge/intruder 10.3.1.30 fd00:10:3:1::30
#   edge-b (e-b): eth0 192.168.50.12/24; cilium_host 10.3.2.1 (no pods); a direct link to edge-a
#
# edge.pcap: the node edge-a reaching its own pod (from cilium_host's address, as its routes
# choose, and from its InternalIP), the other node reaching it, 3000-byte UDP datagrams and a
# 3000-byte ping across the 1500-byte MTU (IPv4 fragments), IPv6 requests from client and
# intruder. Captured on edge-a with tcpdump -i any and the filter "inbound or src host <edge-a>":
# every packet once. edge-frag-first-lost.pcap: client's fragmented datagrams recorded the same
# way, then every first fragment cut away (editcap), so the later fragments arrive without it.
scenario_edge() {
  cnode e-a 10.3.1.1 fd00:10:3:1::1
  cnode e-b 10.3.2.1 fd00:10:3:2::1
  link_pair e-a eth0 02:00:c0:a8:32:0b e-b eth0 02:00:c0:a8:32:0c
  nsx e-a sysctl -qw net.ipv6.conf.eth0.disable_ipv6=1
  nsx e-b sysctl -qw net.ipv6.conf.eth0.disable_ipv6=1
  ip -n "${PREFIX}e-a" addr add 192.168.50.11/24 dev eth0
  ip -n "${PREFIX}e-b" addr add 192.168.50.12/24 dev eth0
  ip -n "${PREFIX}e-b" route add 10.3.1.0/24 via 192.168.50.11
  ip -n "${PREFIX}e-a" route add 10.3.2.0/24 via 192.168.50.12
  cpod e-server   e-a lxc-server   10.3.1.10 fd00:10:3:1::10
  cpod e-client   e-a lxc-client   10.3.1.20 fd00:10:3:1::20
  cpod e-intruder e-a lxc-intruder 10.3.1.30 fd00:10:3:1::30
  start_bg e-server server python3 "$PCAPS_DIR/httpd.py" --profile echo --port 80
  start_bg e-server udpsink socat -u UDP-RECV:9000 OPEN:/dev/null
  wait_tcp e-client 10.3.1.10 80
  wait_tcp e-b 10.3.1.10 80
  local p
  for p in e-server e-client e-intruder; do
    nsx "$p" ping -n -c 1 -W 1 10.3.1.1 >/dev/null
    nsx "$p" ping -n -6 -c 1 -W 1 fd00:10:3:1::1 >/dev/null
  done
  nsx e-a ping -n -c 1 -W 1 192.168.50.12 >/dev/null
  nsx e-a ping -n -c 1 -W 1 10.3.1.10 >/dev/null
  nsx e-a ping -n -6 -c 1 -W 1 fd00:10:3:1::10 >/dev/null
  settle 1

  local curl=(curl -sS --max-time 3 -o /dev/null -w '%{http_code} %{local_ip} -> %{remote_ip}\n')
  local udp='import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(b"x" * 3000, ("10.3.1.10", 9000))'
  local filter=(inbound or src host 10.3.1.1 or src host 192.168.50.11 or src host fd00:10:3:1::1)
  capture_start e-a edge.pcap -i any -y LINUX_SLL2 "${filter[@]}"
  p=$LAST_PID
  log "edge: the node reaches its own pod (cilium_host address, then InternalIP)"
  nsx e-a "${curl[@]}" http://10.3.1.10/
  nsx e-a "${curl[@]}" --interface 192.168.50.11 http://10.3.1.10/
  log "edge: the other node reaches the pod"
  nsx e-b "${curl[@]}" http://10.3.1.10/
  log "edge: 3000-byte UDP datagrams (fragmented) from client and intruder, a 3000-byte ping"
  nsx e-client python3 -c "$udp"
  nsx e-intruder python3 -c "$udp"
  nsx e-client ping -n -c 1 -s 3000 -W 2 10.3.1.10 >/dev/null
  log "edge: IPv6 from client and intruder"
  nsx e-client "${curl[@]}" 'http://[fd00:10:3:1::10]/'
  nsx e-intruder "${curl[@]}" 'http://[fd00:10:3:1::10]/'
  capture_stop "$p"

  capture_start e-a edge-frag-full.pcap -i any -y LINUX_SLL2 "${filter[@]}"
  p=$LAST_PID
  log "edge: two fragmented datagrams whose first fragments will be cut away"
  nsx e-client python3 -c "$udp"
  nsx e-client python3 -c "$udp"
  capture_stop "$p"
  # Every fragment with offset 0 and more-fragments set is a first fragment: delete those frames.
  local firsts
  firsts=$(tshark -r "$WORK/edge-frag-full.pcap" -o ip.defragment:FALSE \
    -Y 'ip.frag_offset == 0 && ip.flags.mf == 1' -T fields -e frame.number | tr '\n' ' ')
  [[ -n "$firsts" ]] || die "edge: no first fragments found"
  # shellcheck disable=SC2086
  editcap "$WORK/edge-frag-full.pcap" "$WORK/edge-frag-first-lost.pcap" $firsts
  publish edge.pcap edge-frag-first-lost.pcap
}

# --------------------------------------------------------------------------------------------
# Scenario "seed-talk": traffic on the cluster of examples/seed-talk (Philip Schmid's talk "Turn
# Your Kubernetes Cluster Into a Castle Using Advanced Cilium Network Policies"): four nodes on
# one L2 segment with Cilium's VXLAN overlay between them, the jumphost of the talk's host policy
# and another machine next to it.
#
#   node      netns     eth0            cilium_host  pods recorded here
#   cp-1      cp-1      192.168.10.11   10.0.0.1     kube-apiserver (hostNetwork): HTTPS 6443
#   infra-1   infra-1   192.168.10.12   10.0.1.1     ingress-nginx controller 10.0.1.10, prometheus-0 10.0.1.20
#   worker-1  worker-1  192.168.10.13   10.0.2.1     web 10.0.2.50 (HTTP 8080); the node: SSH 22, kubelet HTTPS 10250
#   worker-2  worker-2  192.168.10.14   10.0.3.1     coredns 10.0.3.21, api 10.0.3.51 (metrics 9100), other-ns/client 10.0.3.60 (HTTP 8080)
#   jumphost  st-jump   10.1.101.110    (the talk's SSH jumphost)
#   outsider  st-out    10.1.101.120    (another machine in the jumphost's network)
#
# Overlay: every node has cilium_vxlan (Linux vxlan, external/collect-metadata mode, UDP 8472) and
# routes each remote pod CIDR into it with a lightweight-tunnel encap to the remote InternalIP (as
# Cilium's tunnel map does); VNI 0 (the recording does not put security identities into the VNI).
# Pod traffic to node addresses is routed natively. Capture: every frame once, as the switch
# receives it (tcpdump -i any inbound in the switch namespace st-lan, Linux cooked v2): so every
# connection below crosses nodes.
scenario_seed_talk() {
  local n
  lan_create st-lan
  declare -A nip=([cp-1]=192.168.10.11 [infra-1]=192.168.10.12 [worker-1]=192.168.10.13
    [worker-2]=192.168.10.14)
  declare -A rtr=([cp-1]=10.0.0.1 [infra-1]=10.0.1.1 [worker-1]=10.0.2.1 [worker-2]=10.0.3.1)
  declare -A vmac=([cp-1]=02:c1:00:00:00:0b [infra-1]=02:c1:00:00:00:0c [worker-1]=02:c1:00:00:00:0d
    [worker-2]=02:c1:00:00:00:0e)
  for n in cp-1 infra-1 worker-1 worker-2; do
    cnode "$n" "${rtr[$n]}"
    lan_port st-lan "p-$n" "$n" eth0 "02:00:c0:a8:0a:${nip[$n]##*.}"
    nsx "$n" sysctl -qw net.ipv6.conf.eth0.disable_ipv6=1
    ip -n "$PREFIX$n" addr add "${nip[$n]}/24" dev eth0
    ip -n "$PREFIX$n" route add 10.1.101.0/24 dev eth0
    ip -n "$PREFIX$n" link add cilium_vxlan address "${vmac[$n]}" type vxlan external dstport 8472
    nsx "$n" sysctl -qw net.ipv6.conf.cilium_vxlan.disable_ipv6=1
    ip -n "$PREFIX$n" link set cilium_vxlan up
  done
  local m
  for n in cp-1 infra-1 worker-1 worker-2; do
    for m in cp-1 infra-1 worker-1 worker-2; do
      [[ "$n" != "$m" ]] || continue
      ip -n "$PREFIX$n" route add "${rtr[$m]%.1}.0/24" via "${rtr[$m]}" dev cilium_vxlan onlink \
        src "${rtr[$n]}" encap ip id 0 src "${nip[$n]}" dst "${nip[$m]}"
      ip -n "$PREFIX$n" neigh add "${rtr[$m]}" lladdr "${vmac[$m]}" dev cilium_vxlan nud permanent
    done
  done
  for n in st-jump:10.1.101.110:6e st-out:10.1.101.120:78; do
    IFS=: read -r m a mac <<<"$n"
    ns_create "$m"
    lan_port st-lan "p-$m" "$m" eth0 "02:00:0a:01:65:$mac"
    nsx "$m" sysctl -qw net.ipv6.conf.eth0.disable_ipv6=1
    ip -n "$PREFIX$m" addr add "$a/24" dev eth0
    ip -n "$PREFIX$m" route add 192.168.10.0/24 dev eth0
  done

  cpod st-nginx      infra-1  lxc-nginx  10.0.1.10
  cpod st-prometheus infra-1  lxc-prom   10.0.1.20
  cpod st-web        worker-1 lxc-web    10.0.2.50
  cpod st-coredns    worker-2 lxc-coredns 10.0.3.21
  cpod st-api        worker-2 lxc-api    10.0.3.51
  cpod st-client     worker-2 lxc-client 10.0.3.60

  self_signed kube-apiserver
  self_signed kubelet
  printf '#!/bin/sh\nprintf "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\\r\\n"\nhead -n 1 >/dev/null\n' \
    >"$WORK/sshd-banner.sh"
  start_bg worker-1 sshd socat TCP-LISTEN:22,reuseaddr,fork EXEC:"sh $WORK/sshd-banner.sh"
  start_bg worker-1 kubelet python3 "$PCAPS_DIR/httpd.py" --profile echo --tls-port 10250 \
    --cert "$WORK/kubelet.pem"
  start_bg cp-1 kube-apiserver python3 "$PCAPS_DIR/httpd.py" --profile echo --tls-port 6443 \
    --cert "$WORK/kube-apiserver.pem"
  start_bg st-web web python3 "$PCAPS_DIR/httpd.py" --profile echo --port 8080
  start_bg st-api api python3 "$PCAPS_DIR/httpd.py" --profile echo --port 8080 --port 9100
  start_bg st-client client python3 "$PCAPS_DIR/httpd.py" --profile echo --port 8080
  printf '10.96.200.20 web.my-namespace-xy.svc.cluster.local\n10.96.0.10 kube-dns.kube-system.svc.cluster.local\n' \
    >"$WORK/seed-hosts"
  coredns st-coredns 10.0.3.21 "$WORK/seed-hosts" cluster.local
  for n in st-web st-client; do
    socklb "$n" "udp 10.96.0.10:53 10.0.3.21:53" "tcp 10.96.0.10:53 10.0.3.21:53" \
      "tcp 10.96.200.20:80 10.0.2.50:8080"
  done
  wait_tcp st-jump 192.168.10.13 22
  wait_tcp cp-1 192.168.10.13 10250
  wait_tcp st-nginx 192.168.10.11 6443
  wait_tcp st-nginx 10.0.2.50 8080
  wait_tcp st-prometheus 10.0.3.51 9100
  wait_tcp st-nginx 10.0.3.60 8080
  wait_udp53 st-web 10.96.0.10
  for n in st-nginx:10.0.1.1 st-prometheus:10.0.1.1 st-web:10.0.2.1 st-coredns:10.0.3.1 \
    st-api:10.0.3.1 st-client:10.0.3.1; do
    nsx "${n%%:*}" ping -n -c 1 -W 1 "${n#*:}" >/dev/null
  done
  for n in cp-1 infra-1 worker-2 st-jump st-out; do
    nsx "$n" ping -n -c 1 -W 1 192.168.10.13 >/dev/null
  done
  nsx infra-1 ping -n -c 1 -W 1 192.168.10.11 >/dev/null
  nsx infra-1 ping -n -c 1 -W 1 192.168.10.14 >/dev/null
  settle 1

  capture_start st-lan seed-talk.pcap -i any -y LINUX_SLL2 inbound
  local p=$LAST_PID
  local curl=(curl -sS --max-time 3 -o /dev/null -w '%{http_code} %{local_ip} -> %{remote_ip}:%{remote_port}\n')
  local ssh=(nc -N -w 3 192.168.10.13 22)
  log "seed-talk: SSH to worker-1 from the jumphost, then from another machine"
  printf 'SSH-2.0-OpenSSH_9.6\r\n' | nsx st-jump "${ssh[@]}"
  printf 'SSH-2.0-OpenSSH_9.6\r\n' | nsx st-out "${ssh[@]}"
  log "seed-talk: ping worker-1 from the jumphost"
  nsx st-jump ping -n -c 2 -i 0.2 192.168.10.13 >/dev/null
  log "seed-talk: kubelet on worker-1 from the kube-apiserver node, then from a pod"
  nsx cp-1 "${curl[@]}" -k https://192.168.10.13:10250/containerLogs/my-namespace-xy/web-6b7f9c8d4-r2k9m/web
  nsx st-client "${curl[@]}" -k https://192.168.10.13:10250/pods
  log "seed-talk: ingress-nginx controller to the Kubernetes API on cp-1"
  nsx st-nginx "${curl[@]}" -k https://192.168.10.11:6443/version
  log "seed-talk: ingress-nginx controller to web (exposed) and to other-ns/client"
  nsx st-nginx "${curl[@]}" http://10.0.2.50:8080/
  nsx st-nginx "${curl[@]}" http://10.0.3.60:8080/
  log "seed-talk: Prometheus scrapes api's metrics port"
  nsx st-prometheus "${curl[@]}" http://10.0.3.51:9100/metrics
  log "seed-talk: other-ns/client to web through its Service"
  nsx st-client "${curl[@]}" http://10.96.200.20/
  log "seed-talk: web asks CoreDNS"
  nsx st-web dig +time=2 +tries=1 +nocookie @10.96.0.10 web.my-namespace-xy.svc.cluster.local A +short
  capture_stop "$p"
  publish seed-talk.pcap
}

# --------------------------------------------------------------------------------------------

main() {
  if [[ "${1:-}" == "--list" ]]; then printf '%s\n' "${SCENARIOS[@]}"; return 0; fi
  [[ $EUID -eq 0 ]] || die "must run as root (network namespaces and packet capture)"
  local tool
  for tool in ip tcpdump editcap mergecap tshark nft openssl socat nc dnsmasq dig curl wget ping python3; do
    command -v "$tool" >/dev/null || die "missing tool: $tool"
  done

  local wanted=("$@")
  (( ${#wanted[@]} > 0 )) || wanted=("${SCENARIOS[@]}")
  local s
  for s in "${wanted[@]}"; do
    declare -F "scenario_${s//-/_}" >/dev/null || die "unknown scenario: $s (try --list)"
  done

  # One run at a time: scenarios reuse fixed namespace names.
  exec 9>"/tmp/hubcap-record-${PREFIX}.lock"
  flock -n 9 || die "another record.sh run holds /tmp/hubcap-record-${PREFIX}.lock"

  trap cleanup EXIT
  trap 'exit 130' INT TERM

  for s in "${wanted[@]}"; do
    log "scenario $s"
    [[ -n "$WORK" ]] || WORK="$(mktemp -d /tmp/hubcap-record.XXXXXX)"
    "scenario_${s//-/_}"
    cleanup
  done
}

main "$@"
