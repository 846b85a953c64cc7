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
