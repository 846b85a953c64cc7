# fish completion for nodelocaldns(8).
#
# Layout: global flags, then one block per subcommand (in --help order): the subcommand itself
# (condition __fish_use_subcommand) and its flags (condition __fish_seen_subcommand_from NAME).
# Adding a subcommand = adding one block; nothing else changes.
# tests/cli/docs checks that every subcommand and flag of `nodelocaldns --help` is here.

complete -c nodelocaldns -f
complete -c nodelocaldns -n __fish_use_subcommand -s h -l help -d 'Print help and exit'
complete -c nodelocaldns -n __fish_use_subcommand -l version -d 'Print the version and exit'
complete -c nodelocaldns -n __fish_use_subcommand -l log-level -x \
    -a 'trace debug info warn error critical off' -d 'Log level'

# ---- render-manifest -------------------------------------------------------------------------
complete -c nodelocaldns -n __fish_use_subcommand -a render-manifest \
    -d 'Print the NodeLocal DNSCache manifest for kubectl'
complete -c nodelocaldns -n '__fish_seen_subcommand_from render-manifest' -s h -l help \
    -d 'Print help and exit'
complete -c nodelocaldns -n '__fish_seen_subcommand_from render-manifest' -l kube-dns -x \
    -d 'kube-dns Service ClusterIP'
complete -c nodelocaldns -n '__fish_seen_subcommand_from render-manifest' -l domain -x \
    -d 'Cluster domain'
complete -c nodelocaldns -n '__fish_seen_subcommand_from render-manifest' -l local-ip -x \
    -d 'Node-local listen address'
complete -c nodelocaldns -n '__fish_seen_subcommand_from render-manifest' -l mode -x \
    -a 'iptables ipvs nftables' -d 'kube-proxy mode'
complete -c nodelocaldns -n '__fish_seen_subcommand_from render-manifest' -l image -x \
    -d 'Container image'
complete -c nodelocaldns -n '__fish_seen_subcommand_from render-manifest' -l template -r -F \
    -d 'Template file to render'
complete -c nodelocaldns -n '__fish_seen_subcommand_from render-manifest' -l only -x \
    -a 'kube-dns-upstream serviceaccount/node-local-dns configmap/node-local-dns daemonset/node-local-dns service/node-local-dns' \
    -d 'Print one object'
complete -c nodelocaldns -n '__fish_seen_subcommand_from render-manifest' -s o -l output -r -F \
    -d 'Write to FILE atomically'
# ---- end render-manifest ---------------------------------------------------------------------
# ---- install ---------------------------------------------------------------------------------
complete -c nodelocaldns -n __fish_use_subcommand -a install \
    -d 'Set up the node (interface, cache daemon, rules, kubelet in ipvs mode)'
complete -c nodelocaldns -n '__fish_seen_subcommand_from install' -s h -l help \
    -d 'Print help and exit'
complete -c nodelocaldns -n '__fish_seen_subcommand_from install' -l kube-dns -x \
    -d 'kube-dns Service ClusterIP'
complete -c nodelocaldns -n '__fish_seen_subcommand_from install' -l local-ip -x \
    -d 'Node-local address'
complete -c nodelocaldns -n '__fish_seen_subcommand_from install' -l domain -x \
    -d 'Cluster domain'
complete -c nodelocaldns -n '__fish_seen_subcommand_from install' -l mode -x -a 'auto iptables ipvs nftables' \
    -d 'kube-proxy mode'
complete -c nodelocaldns -n '__fish_seen_subcommand_from install' -l kube-proxy-address -x \
    -d 'kube-proxy metrics address for /proxyMode'
complete -c nodelocaldns -n '__fish_seen_subcommand_from install' -l interface-name -x \
    -d 'Name of the node-local interface'
complete -c nodelocaldns -n '__fish_seen_subcommand_from install' -l link-kind -x -a 'auto dummy bridge' \
    -d 'Interface kind'
complete -c nodelocaldns -n '__fish_seen_subcommand_from install' -l cluster-upstream -x \
    -d 'Forward target of the cluster zone in iptables and nftables mode'
complete -c nodelocaldns -n '__fish_seen_subcommand_from install' -l upstream-servers -x \
    -d 'Forward target of all other names'
complete -c nodelocaldns -n '__fish_seen_subcommand_from install' -l kubelet-config -r -F \
    -d 'KubeletConfiguration file'
complete -c nodelocaldns -n '__fish_seen_subcommand_from install' -l kubelet-extra-args -r -F \
    -d 'KUBELET_EXTRA_ARGS file whose --cluster-dns is also edited in ipvs mode'
complete -c nodelocaldns -n '__fish_seen_subcommand_from install' -l skip-kubelet \
    -d 'Never edit kubelet files'
complete -c nodelocaldns -n '__fish_seen_subcommand_from install' -l config-dir -r -F \
    -d 'Directory of Corefile.base'
complete -c nodelocaldns -n '__fish_seen_subcommand_from install' -l run-dir -r -F \
    -d 'Directory of the daemons generated Corefile'
complete -c nodelocaldns -n '__fish_seen_subcommand_from install' -l log-file -r -F \
    -d 'Log file of the daemon'
complete -c nodelocaldns -n '__fish_seen_subcommand_from install' -l wait -x \
    -d 'How long to wait for the daemon to answer DNS before rolling back'
complete -c nodelocaldns -n '__fish_seen_subcommand_from install' -l dry-run \
    -d 'Print the full plan and change nothing'
complete -c nodelocaldns -n '__fish_seen_subcommand_from install' -l state-file -r -F \
    -d 'State file where install records what it did'
complete -c nodelocaldns -n '__fish_seen_subcommand_from install' -l pidfile -r -F \
    -d 'Pidfile of the cache daemon'
complete -c nodelocaldns -n '__fish_seen_subcommand_from install' -l rules-backend -x \
    -a 'auto iptables nftables' -d 'Where the rules go: auto, iptables (legacy), nftables'
complete -c nodelocaldns -n '__fish_seen_subcommand_from install' -l xtables-lock -r -F \
    -d 'xtables lock taken around rule changes, as iptables-legacy does'
# ---- end install -----------------------------------------------------------------------------
# ---- status ----------------------------------------------------------------------------------
complete -c nodelocaldns -n __fish_use_subcommand -a status \
    -d 'Show the NodeLocal DNSCache state of this node'
complete -c nodelocaldns -n '__fish_seen_subcommand_from status' -s h -l help \
    -d 'Print help and exit'
complete -c nodelocaldns -n '__fish_seen_subcommand_from status' -l json \
    -d 'Print one JSON object instead of text'
complete -c nodelocaldns -n '__fish_seen_subcommand_from status' -l kubelet-config -r -F \
    -d 'KubeletConfiguration file to read clusterDNS from'
complete -c nodelocaldns -n '__fish_seen_subcommand_from status' -l state-file -r -F \
    -d 'State file where install records what it did'
complete -c nodelocaldns -n '__fish_seen_subcommand_from status' -l pidfile -r -F \
    -d 'Pidfile of the cache daemon'
complete -c nodelocaldns -n '__fish_seen_subcommand_from status' -l rules-backend -x \
    -a 'auto iptables nftables' -d 'Backend whose rules are checked'
complete -c nodelocaldns -n '__fish_seen_subcommand_from status' -l xtables-lock -r -F \
    -d 'xtables lock taken around rule changes, as iptables-legacy does'
# ---- end status ------------------------------------------------------------------------------
# ---- run -------------------------------------------------------------------------------------
complete -c nodelocaldns -n __fish_use_subcommand -a run \
    -d 'Run the node-local DNS cache daemon'
complete -c nodelocaldns -n '__fish_seen_subcommand_from run' -s h -l help \
    -d 'Print help and exit'
complete -c nodelocaldns -n '__fish_seen_subcommand_from run' -l localip -x \
    -d 'Comma-separated local addresses to bind and intercept; IPv4 and IPv6 may be mixed (required)'
complete -c nodelocaldns -n '__fish_seen_subcommand_from run' -l conf -r -F \
    -d 'Corefile written from -basecorefile and served; served as is when there is no base'
complete -c nodelocaldns -n '__fish_seen_subcommand_from run' -l corefile -r -F \
    -d 'Ignored, as in node-cache (-conf wins)'
complete -c nodelocaldns -n '__fish_seen_subcommand_from run' -l basecorefile -r -F \
    -d 'Template Corefile with __PILLAR__ placeholders; its directory is watched (default /etc/coredns/Corefile.base)'
complete -c nodelocaldns -n '__fish_seen_subcommand_from run' -l kubednscm -r -F \
    -d 'kube-dns ConfigMap directory (stubDomains, upstreamNameservers), watched; default /etc/kube-dns if it exists'
complete -c nodelocaldns -n '__fish_seen_subcommand_from run' -l upstreamsvc -x \
    -d 'Service whose $NAME_SERVICE_HOST fills __PILLAR__CLUSTER__DNS__ (default kube-dns)'
complete -c nodelocaldns -n '__fish_seen_subcommand_from run' -l health-port -x \
    -d 'Health port used in the NOTRACK rules (default 8080)'
complete -c nodelocaldns -n '__fish_seen_subcommand_from run' -l setupinterface \
    -d 'Create and keep the interface; -setupinterface=false skips it'
complete -c nodelocaldns -n '__fish_seen_subcommand_from run' -l setupiptables \
    -d 'Install and keep the rules; -setupiptables=false skips them'
complete -c nodelocaldns -n '__fish_seen_subcommand_from run' -l skipteardown \
    -d 'Leave interface and rules in place on exit'
complete -c nodelocaldns -n '__fish_seen_subcommand_from run' -l reloadwithsignal \
    -d 'Accepted for compatibility (changes are always applied at once)'
complete -c nodelocaldns -n '__fish_seen_subcommand_from run' -l quiet \
    -d 'Accepted for compatibility'
complete -c nodelocaldns -n '__fish_seen_subcommand_from run' -l interfacename -x \
    -d 'Interface name (default nodelocaldns)'
complete -c nodelocaldns -n '__fish_seen_subcommand_from run' -l syncinterval -x \
    -d 'Rule and interface re-check period: 60, 60s, 1m (default 60)'
complete -c nodelocaldns -n '__fish_seen_subcommand_from run' -l metrics-listen-address -x \
    -d 'HTTP address of /metrics, /health and /ready (default 0.0.0.0:9353; empty = off)'
complete -c nodelocaldns -n '__fish_seen_subcommand_from run' -l prometheus-listen-address -x \
    -d 'Replaces __PROMETHEUS__ENDPOINT__ in the Corefile (default :9253)'
complete -c nodelocaldns -n '__fish_seen_subcommand_from run' -l pidfile -r -F \
    -d 'Write the pid here once every listener is bound'
complete -c nodelocaldns -n '__fish_seen_subcommand_from run' -l dns.port -x \
    -d 'Port of server blocks without one, and of the rules (default 53); also -p'
complete -c nodelocaldns -n '__fish_seen_subcommand_from run' -l link-kind -x -a 'auto dummy bridge' \
    -d 'Interface kind: auto, dummy, bridge (default auto)'
complete -c nodelocaldns -n '__fish_seen_subcommand_from run' -l rules-backend -x \
    -a 'auto iptables nftables' -d 'Where the rules go: auto, iptables (legacy), nftables'
complete -c nodelocaldns -n '__fish_seen_subcommand_from run' -l xtables-lock -r -F \
    -d 'xtables lock taken around rule changes, as iptables-legacy does (default /run/xtables.lock)'
complete -c nodelocaldns -n '__fish_seen_subcommand_from run' -l workers -x \
    -d 'DNS worker threads (default 0 = one per CPU, capped by the cgroup CPU limit)'
complete -c nodelocaldns -n '__fish_seen_subcommand_from run' -l cache-max-bytes -x \
    -d 'Memory bound of all caches together (default 64 MiB)'
complete -c nodelocaldns -n '__fish_seen_subcommand_from run' -l max-upstream-queries -x \
    -d 'Upstream queries in flight per worker; beyond it SERVFAIL at once (default 1024)'
complete -c nodelocaldns -n '__fish_seen_subcommand_from run' -l udp-wait -x -a 'auto epoll' \
    -d 'How workers wait for UDP queries: auto (block in recvmmsg while one socket carries the load), epoll (default auto)'
complete -c nodelocaldns -n '__fish_seen_subcommand_from run' -l handover -x -a 'auto always never' \
    -d 'On SIGTERM: auto (hand over without teardown when a successor shares our DNS sockets), always, never (default auto)'
complete -c nodelocaldns -n '__fish_seen_subcommand_from run' -l shutdown-timeout -x \
    -d 'Upper bound of the shutdown (default 10s)'
complete -c nodelocaldns -n '__fish_seen_subcommand_from run' -l http-max-connections -x \
    -d 'HTTP connections open at once; at the cap the oldest still sending its request is closed (default 128)'
complete -c nodelocaldns -n '__fish_seen_subcommand_from run' -l http-max-header-bytes -x \
    -d 'Longest HTTP request head; longer gets 431 (default 8192)'
complete -c nodelocaldns -n '__fish_seen_subcommand_from run' -l http-header-timeout -x \
    -d 'Time to send the HTTP request head, and to take the answer (default 1s)'
complete -c nodelocaldns -n '__fish_seen_subcommand_from run' -l health-cache -x \
    -d 'How long one health probe answers /health and /ready, 0s to 1s (default 1s)'
complete -c nodelocaldns -n '__fish_seen_subcommand_from run' -l tcp-idle-timeout -x \
    -d 'Close a TCP connection without a complete query or whose answers are not read (default 10s)'
complete -c nodelocaldns -n '__fish_seen_subcommand_from run' -l tcp-query-timeout -x \
    -d 'Close a TCP connection whose started or first query is not complete (default 2s)'
complete -c nodelocaldns -n '__fish_seen_subcommand_from run' -l tcp-max-connections -x \
    -d 'TCP client connections per worker, least recently useful evicted at the cap (default 1024)'
complete -c nodelocaldns -n '__fish_seen_subcommand_from run' -l tcp-max-in-flight -x \
    -d 'Queries of one TCP connection awaiting upstream answers (default 64)'
complete -c nodelocaldns -n '__fish_seen_subcommand_from run' -l tcp-output-high-bytes -x \
    -d 'Queued answers at which a TCP connection stops reading (default 262144)'
complete -c nodelocaldns -n '__fish_seen_subcommand_from run' -l tcp-worker-max-bytes -x \
    -d 'Bytes all TCP buffers of one worker may hold (default 33554432)'
complete -c nodelocaldns -n '__fish_seen_subcommand_from run' -s p -x \
    -d 'Same as --dns.port'
# ---- end run ---------------------------------------------------------------------------------
# ---- stop ------------------------------------------------------------------------------------
complete -c nodelocaldns -n __fish_use_subcommand -a stop \
    -d 'Stop the cache daemon only'
complete -c nodelocaldns -n '__fish_seen_subcommand_from stop' -s h -l help \
    -d 'Print help and exit'
complete -c nodelocaldns -n '__fish_seen_subcommand_from stop' -l grace -x \
    -d 'Seconds to wait after SIGTERM before SIGKILL'
complete -c nodelocaldns -n '__fish_seen_subcommand_from stop' -l state-file -r -F \
    -d 'State file where install records what it did'
complete -c nodelocaldns -n '__fish_seen_subcommand_from stop' -l pidfile -r -F \
    -d 'Pidfile of the cache daemon'
complete -c nodelocaldns -n '__fish_seen_subcommand_from stop' -l xtables-lock -r -F \
    -d 'xtables lock taken around rule changes, as iptables-legacy does'
# ---- end stop --------------------------------------------------------------------------------
# ---- teardown --------------------------------------------------------------------------------
complete -c nodelocaldns -n __fish_use_subcommand -a teardown \
    -d 'Remove everything install set up'
complete -c nodelocaldns -n '__fish_seen_subcommand_from teardown' -s h -l help \
    -d 'Print help and exit'
complete -c nodelocaldns -n '__fish_seen_subcommand_from teardown' -l interface-name -x \
    -d 'Interface to remove'
complete -c nodelocaldns -n '__fish_seen_subcommand_from teardown' -l local-ip -x \
    -d 'Also remove the rules of these addresses'
complete -c nodelocaldns -n '__fish_seen_subcommand_from teardown' -l kube-dns -x \
    -d 'Also remove the rules of this kube-dns IP'
complete -c nodelocaldns -n '__fish_seen_subcommand_from teardown' -l grace -x \
    -d 'Seconds to wait after SIGTERM before SIGKILL'
complete -c nodelocaldns -n '__fish_seen_subcommand_from teardown' -l keep-kubelet \
    -d 'Leave kubelets clusterDNS as it is'
complete -c nodelocaldns -n '__fish_seen_subcommand_from teardown' -l state-file -r -F \
    -d 'State file where install records what it did'
complete -c nodelocaldns -n '__fish_seen_subcommand_from teardown' -l pidfile -r -F \
    -d 'Pidfile of the cache daemon'
complete -c nodelocaldns -n '__fish_seen_subcommand_from teardown' -l rules-backend -x \
    -a 'auto iptables nftables' -d 'Backend removed first (rules go from both)'
complete -c nodelocaldns -n '__fish_seen_subcommand_from teardown' -l xtables-lock -r -F \
    -d 'xtables lock taken around rule changes, as iptables-legacy does'
# ---- end teardown ----------------------------------------------------------------------------
# ---- revert-kubelet --------------------------------------------------------------------------
complete -c nodelocaldns -n __fish_use_subcommand -a revert-kubelet \
    -d 'Put the clusterDNS of kubelet back to kube-dns'
complete -c nodelocaldns -n '__fish_seen_subcommand_from revert-kubelet' -s h -l help \
    -d 'Print help and exit'
complete -c nodelocaldns -n '__fish_seen_subcommand_from revert-kubelet' -l kube-dns -x \
    -d 'Set every local-address value to this IP instead of the recorded originals'
complete -c nodelocaldns -n '__fish_seen_subcommand_from revert-kubelet' -l local-ip -x \
    -d 'With --kube-dns'
complete -c nodelocaldns -n '__fish_seen_subcommand_from revert-kubelet' -l kubelet-config -r -F \
    -d 'KubeletConfiguration file'
complete -c nodelocaldns -n '__fish_seen_subcommand_from revert-kubelet' -l kubelet-extra-args -r -F \
    -d 'KUBELET_EXTRA_ARGS file'
complete -c nodelocaldns -n '__fish_seen_subcommand_from revert-kubelet' -l restart-kubelet \
    -d 'Run systemctl restart kubelet afterwards'
complete -c nodelocaldns -n '__fish_seen_subcommand_from revert-kubelet' -l dry-run \
    -d 'Print the diff and change nothing'
complete -c nodelocaldns -n '__fish_seen_subcommand_from revert-kubelet' -l state-file -r -F \
    -d 'State file where install records what it did'
complete -c nodelocaldns -n '__fish_seen_subcommand_from revert-kubelet' -l pidfile -r -F \
    -d 'Pidfile of the cache daemon'
complete -c nodelocaldns -n '__fish_seen_subcommand_from revert-kubelet' -l xtables-lock -r -F \
    -d 'xtables lock taken around rule changes, as iptables-legacy does'
# ---- end revert-kubelet ----------------------------------------------------------------------
