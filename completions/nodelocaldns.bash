# bash completion for nodelocaldns(8).
#
# Layout: one block per subcommand (in --help order), each defining
# _nodelocaldns_cmd_<name with - as _> "cur" "prev" and appending its name to
# _nodelocaldns_subcommands. Adding a subcommand = adding one block; nothing else changes.
# tests/cli/docs checks that every subcommand and flag of `nodelocaldns --help` is here.

_nodelocaldns_subcommands=()
_nodelocaldns_global_flags="-h --help --version --log-level"

# ---- render-manifest -------------------------------------------------------------------------
_nodelocaldns_subcommands+=(render-manifest)
_nodelocaldns_cmd_render_manifest() {
    local cur=$1 prev=$2
    case $prev in
        --mode)
            COMPREPLY=($(compgen -W "iptables ipvs nftables" -- "$cur"))
            return ;;
        --only)
            COMPREPLY=($(compgen -W "kube-dns-upstream serviceaccount/node-local-dns \
                configmap/node-local-dns daemonset/node-local-dns service/node-local-dns" \
                -- "$cur"))
            return ;;
        --template | -o | --output)
            COMPREPLY=($(compgen -f -- "$cur"))
            return ;;
        --kube-dns | --domain | --local-ip | --image)
            return ;;  # free-form values
    esac
    COMPREPLY=($(compgen -W "-h --help --kube-dns --domain --local-ip --mode --image --template \
        --only -o --output" -- "$cur"))
}
# ---- end render-manifest ---------------------------------------------------------------------
# ---- install ---------------------------------------------------------------------------------
_nodelocaldns_subcommands+=(install)
_nodelocaldns_cmd_install() {
    local cur=$1 prev=$2
    case $prev in
        --rules-backend)
            COMPREPLY=($(compgen -W "auto iptables nftables" -- "$cur"))
            return ;;
        --mode)
            COMPREPLY=($(compgen -W "auto iptables ipvs nftables" -- "$cur"))
            return ;;
        --link-kind)
            COMPREPLY=($(compgen -W "auto dummy bridge" -- "$cur"))
            return ;;
        --kubelet-config | --kubelet-extra-args | --log-file | --state-file | --pidfile | --xtables-lock)
            COMPREPLY=($(compgen -f -- "$cur"))
            return ;;
        --config-dir | --run-dir)
            COMPREPLY=($(compgen -d -- "$cur"))
            return ;;
        --kube-dns | --local-ip | --domain | --kube-proxy-address | --interface-name | --cluster-upstream | --upstream-servers | --wait)
            return ;;  # free-form values
    esac
    COMPREPLY=($(compgen -W "-h --help --kube-dns --local-ip --domain --mode --kube-proxy-address --interface-name --link-kind --cluster-upstream --upstream-servers --kubelet-config --kubelet-extra-args --skip-kubelet --config-dir --run-dir --log-file --wait --dry-run --state-file --pidfile --xtables-lock --rules-backend" -- "$cur"))
}
# ---- end install -----------------------------------------------------------------------------
# ---- status ----------------------------------------------------------------------------------
_nodelocaldns_subcommands+=(status)
_nodelocaldns_cmd_status() {
    local cur=$1 prev=$2
    case $prev in
        --rules-backend)
            COMPREPLY=($(compgen -W "auto iptables nftables" -- "$cur"))
            return ;;
        --kubelet-config | --state-file | --pidfile | --xtables-lock)
            COMPREPLY=($(compgen -f -- "$cur"))
            return ;;
    esac
    COMPREPLY=($(compgen -W "-h --help --json --kubelet-config --state-file --pidfile --xtables-lock --rules-backend" -- "$cur"))
}
# ---- end status ------------------------------------------------------------------------------
# ---- run -------------------------------------------------------------------------------------
_nodelocaldns_subcommands+=(run)
_nodelocaldns_cmd_run() {
    local cur=$1 prev=$2
    case $prev in
        --rules-backend)
            COMPREPLY=($(compgen -W "auto iptables nftables" -- "$cur"))
            return ;;
        --basecorefile | --conf | --corefile | --kubednscm | --pidfile | --xtables-lock)
            COMPREPLY=($(compgen -f -- "$cur"))
            return ;;
        --link-kind)
            COMPREPLY=($(compgen -W "auto dummy bridge" -- "$cur"))
            return ;;
        --handover)
            COMPREPLY=($(compgen -W "auto always never" -- "$cur"))
            return ;;
        --udp-wait)
            COMPREPLY=($(compgen -W "auto epoll" -- "$cur"))
            return ;;
        --localip | --upstreamsvc | --health-port | --interfacename | --syncinterval | --metrics-listen-address | --prometheus-listen-address | --dns.port | --workers | --cache-max-bytes | --max-upstream-queries | --shutdown-timeout | --tcp-idle-timeout | --tcp-query-timeout | --tcp-max-connections | --tcp-max-in-flight | --tcp-output-high-bytes | --tcp-worker-max-bytes | --http-max-connections | --http-max-header-bytes | --http-header-timeout | --health-cache | -p)
            return ;;  # free-form values
    esac
    COMPREPLY=($(compgen -W "-h --help --localip --conf --corefile --basecorefile --kubednscm --upstreamsvc --health-port --setupinterface --setupiptables --skipteardown --reloadwithsignal --quiet --interfacename --syncinterval --metrics-listen-address --prometheus-listen-address --pidfile --dns.port --link-kind --xtables-lock --rules-backend --workers --cache-max-bytes --max-upstream-queries --udp-wait --handover --shutdown-timeout --http-max-connections --http-max-header-bytes --http-header-timeout --health-cache --tcp-idle-timeout --tcp-query-timeout --tcp-max-connections --tcp-max-in-flight --tcp-output-high-bytes --tcp-worker-max-bytes -p" -- "$cur"))
}
# ---- end run ---------------------------------------------------------------------------------
# ---- stop ------------------------------------------------------------------------------------
_nodelocaldns_subcommands+=(stop)
_nodelocaldns_cmd_stop() {
    local cur=$1 prev=$2
    case $prev in
        --state-file | --pidfile | --xtables-lock)
            COMPREPLY=($(compgen -f -- "$cur"))
            return ;;
        --grace)
            return ;;  # free-form values
    esac
    COMPREPLY=($(compgen -W "-h --help --grace --state-file --pidfile --xtables-lock" -- "$cur"))
}
# ---- end stop --------------------------------------------------------------------------------
# ---- teardown --------------------------------------------------------------------------------
_nodelocaldns_subcommands+=(teardown)
_nodelocaldns_cmd_teardown() {
    local cur=$1 prev=$2
    case $prev in
        --rules-backend)
            COMPREPLY=($(compgen -W "auto iptables nftables" -- "$cur"))
            return ;;
        --state-file | --pidfile | --xtables-lock)
            COMPREPLY=($(compgen -f -- "$cur"))
            return ;;
        --interface-name | --local-ip | --kube-dns | --grace)
            return ;;  # free-form values
    esac
    COMPREPLY=($(compgen -W "-h --help --interface-name --local-ip --kube-dns --grace --keep-kubelet --state-file --pidfile --xtables-lock --rules-backend" -- "$cur"))
}
# ---- end teardown ----------------------------------------------------------------------------
# ---- revert-kubelet --------------------------------------------------------------------------
_nodelocaldns_subcommands+=(revert-kubelet)
_nodelocaldns_cmd_revert_kubelet() {
    local cur=$1 prev=$2
    case $prev in
        --kubelet-config | --kubelet-extra-args | --state-file | --pidfile | --xtables-lock)
            COMPREPLY=($(compgen -f -- "$cur"))
            return ;;
        --kube-dns | --local-ip)
            return ;;  # free-form values
    esac
    COMPREPLY=($(compgen -W "-h --help --kube-dns --local-ip --kubelet-config --kubelet-extra-args --restart-kubelet --dry-run --state-file --pidfile --xtables-lock" -- "$cur"))
}
# ---- end revert-kubelet ----------------------------------------------------------------------

_nodelocaldns() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=""
    ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
    COMPREPLY=()

    # The subcommand is the first word that is neither a flag nor a global flag's value.
    local i sub=""
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
            --log-level) ((i++)) ;;
            -*) ;;
            *) sub=${COMP_WORDS[i]}; break ;;
        esac
    done

    if [[ -z $sub ]]; then
        case $prev in
            --log-level)
                COMPREPLY=($(compgen -W "trace debug info warn error critical off" -- "$cur"))
                return ;;
        esac
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "$_nodelocaldns_global_flags" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "${_nodelocaldns_subcommands[*]}" -- "$cur"))
        fi
        return
    fi
    local fn=_nodelocaldns_cmd_${sub//-/_}
    if declare -F "$fn" >/dev/null; then
        "$fn" "$cur" "$prev"
    fi
}
complete -F _nodelocaldns nodelocaldns
