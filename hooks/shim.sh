#!/bin/sh
# letta-memfs-hooks managed hook (@ROLE@ @HOOK@). `$LMH_SELF uninstall` restores what was here before.
# It runs the hook runtime init installed for every repo of this machine (not the package that ran init, which may
# be an npx cache or a clone that goes away), with the node init ran on, else the first node on PATH.
LMH_NODE=@NODE@
LMH_ENTRY=@ENTRY@
LMH_RUNTIME=@RUNTIME@
LMH_SELF=@SELF@
LMH_STATE=@STATE@
LMH_HOOK=@HOOK@
LMH_ROLE=@ROLE@
LMH_STDIN=@STDIN@

# git feeds some hooks on stdin; keep it (trailing newlines too) so that both the chained hook and ours can read it.
# A local-backend checkout's reference-transaction runs twice in every commit: with no chained hook it reads git's
# stdin itself, with builtins only (the capture forks a subshell and cat).
LMH_IN=
lmh_kept=
if [ -n "$LMH_STDIN" ] && { [ "$LMH_ROLE:$LMH_HOOK" != client:reference-transaction ] || [ -f "$LMH_STATE/chained/$LMH_HOOK" ]; }; then
  LMH_IN=$(cat; echo .); LMH_IN=${LMH_IN%.}; lmh_kept=1
fi

# The hook that was here before we installed runs first, with the same arguments and stdin. Shell scripts are sourced
# with $0 set to this path, because some (husky's) find their siblings and their own name through $0.
lmh_status=0
LMH_CHAINED="$LMH_STATE/chained/$LMH_HOOK"
if [ -f "$LMH_CHAINED" ]; then
  export LMH_CHAINED
  case "$(head -n 1 "$LMH_CHAINED" 2>/dev/null)" in
    '#!/bin/sh'*|'#!/usr/bin/env sh'*) set -- -c '. "$LMH_CHAINED"' "$0" "$@"; lmh_cmd=sh ;;
    *) lmh_cmd=$LMH_CHAINED ;;
  esac
  if [ -n "$LMH_STDIN" ]; then printf '%s' "$LMH_IN" | "$lmh_cmd" "$@" || lmh_status=$?
  else "$lmh_cmd" "$@" </dev/null || lmh_status=$?; fi
  [ "$lmh_cmd" = sh ] && shift 3
fi
[ "$lmh_status" -ne 0 ] && exit "$lmh_status"

# Our part. LETTA_MEMFS_INTERNAL marks git calls made by letta-memfs-hooks itself, which handles their effects.
[ "${LETTA_MEMFS_HOOKS:-1}" = 0 ] && exit 0
[ -n "$LETTA_MEMFS_INTERNAL" ] && exit 0

# Decide in shell whether there is anything to do: starting node costs ~55 ms, more than a no-op git pull.
case "$LMH_ROLE:$LMH_HOOK" in
  client:post-merge|client:post-checkout)
    # A client pull or checkout changes nothing outside the checkout; only note it for `status` (which reads the
    # file's mtime). A builtin redirection, not `date`: a fork costs ~4 ms, most of this hook's time. printf, not
    # `:`: a failed redirection makes sh exit from a special builtin, and must stay silent (2>/dev/null comes first).
    printf '' 2>/dev/null > "$LMH_STATE/last-$LMH_HOOK"
    exit 0 ;;
  client:pre-push)
    # Node runs only for what it validates (src/client/pre-push.ts): an update that sets the remote's main (the
    # content the server reads; src/validate/push.ts mainUpdates), or a push URL still aimed at Letta's /v1/git/
    # proxy (checkPushUrl, refused for every branch). git writes `<ref> <oid> <ref> <oid>` lines, and ref names hold
    # no whitespace (git-check-ref-format); any other line goes to node too. Builtins only: no fork.
    lmh_node=
    lmh_u=${2%/}
    case $lmh_u in */state.git)
      lmh_p=${lmh_u%/state.git}
      case ${lmh_p%/*} in */v1/git) [ -n "${lmh_p##*/}" ] && lmh_node=1 ;; esac ;;
    esac
    lmh_ifs=$IFS
    IFS='
'
    set -f
    for lmh_l in $LMH_IN; do
      case $lmh_l in
        *' '*' '*' '*' '*) lmh_node=1 ;;
        ?*' '*' '*' '?*)
          lmh_r=${lmh_l#* }; lmh_o=${lmh_r%% *}; lmh_r=${lmh_r#* }
          if [ "${lmh_r%% *}" = refs/heads/main ]; then case $lmh_o in ''|*[!0]*) lmh_node=1 ;; esac; fi ;;
        *) lmh_node=1 ;;
      esac
    done
    set +f
    IFS=$lmh_ifs
    if [ -z "$lmh_node" ]; then
      # For `status`, as node records last-push.json: the push URL, user info redacted like src/core/redact.ts
      # redactUrl, and the time as the file's mtime.
      lmh_u=$2
      case $lmh_u in [A-Za-z]*://*)
        lmh_r=${lmh_u#*://}
        case ${lmh_r%%/*} in *@*) lmh_u="${lmh_u%%://*}://***@${lmh_r#*@}" ;; esac ;;
      esac
      printf '%s\n' "$lmh_u" 2>/dev/null > "$LMH_STATE/last-push"
      exit 0
    fi ;;
  client:reference-transaction)
    # Only local-backend checkouts get this hook: a commit that moves main starts the background push
    # (src/client/background-push-run.ts) detached from here, so the commit never waits for node to start. A line
    # `<old> <new> refs/heads/main` with old = new (`git reset` with nothing to do) or new = zeros (a deletion)
    # moves nothing. Builtins only, then one fork for the runner, whose output goes to push.log, not to git.
    [ "$1" = committed ] || exit 0
    lmh_go=
    lmh_moved() {
      while IFS=' ' read -r lmh_o lmh_n lmh_r; do
        if [ "$lmh_r" = refs/heads/main ] && [ "$lmh_o" != "$lmh_n" ]; then case $lmh_n in *[!0]*) lmh_go=1 ;; esac; fi
      done
    }
    if [ -n "$lmh_kept" ]; then lmh_moved <<LMH_EOF
$LMH_IN
LMH_EOF
    else lmh_moved; fi
    [ -n "$lmh_go" ] || exit 0
    [ -x "$LMH_NODE" ] || LMH_NODE=$(command -v node) || LMH_NODE=
    if [ -z "$LMH_NODE" ] || [ ! -f "${LMH_ENTRY%/*}/background-push.mjs" ]; then
      echo "letta-memfs-hooks: background push skipped: node or the hook runtime (${LMH_ENTRY%/*}) is gone (fix: re-run $LMH_SELF init)" >&2
      exit 0
    fi
    "$LMH_NODE" "${LMH_ENTRY%/*}/background-push.mjs" "$LMH_STATE" </dev/null >>"$LMH_STATE/push.log" 2>&1 &
    exit 0 ;;
  *:reference-transaction)
    [ "$1" = committed ] || exit 0
    case "$LMH_IN" in *" refs/heads/main
"*) ;; *) exit 0 ;; esac ;;
  *:post-checkout)
    # Only a branch checkout can move main; a file checkout ($3 = 0) cannot.
    [ "$3" = 1 ] || exit 0 ;;
esac

# pre-push has an entry of its own next to hook.mjs: one CommonJS file, which node loads faster (build-runtime.mjs).
[ "$LMH_HOOK" = pre-push ] && LMH_ENTRY=${LMH_ENTRY%/*}/pre-push.cjs
[ -x "$LMH_NODE" ] || LMH_NODE=$(command -v node) || LMH_NODE=
# Fail closed: a pre-push that cannot run its checks refuses the push; other hooks refuse nothing (git makes a
# post-checkout's status the checkout's own), so they say they did not run.
if [ -z "$LMH_NODE" ]; then
  if [ "$LMH_HOOK" = pre-push ]; then echo "letta-memfs-hooks: push refused: node is gone (fix: install node, or re-run $LMH_SELF init)" >&2; exit 1; fi
  echo "letta-memfs-hooks: $LMH_HOOK not run: node is gone (fix: install node, or re-run $LMH_SELF init)" >&2
  exit 0
fi
export LMH_SELF
# The guard (src/cli/hooks/guard.ts, embedded here at install) loads the entry only from a runtime whose content
# matches its name, owned by this user, private, with no symlink on its path; otherwise it says why and runs nothing.
LMH_GUARD=@GUARD@
if [ -n "$LMH_STDIN" ]; then printf '%s' "$LMH_IN" | "$LMH_NODE" -e "$LMH_GUARD" -- "$LMH_RUNTIME" "$LMH_ENTRY" "$LMH_HOOK" "$@"
else "$LMH_NODE" -e "$LMH_GUARD" -- "$LMH_RUNTIME" "$LMH_ENTRY" "$LMH_HOOK" "$@" </dev/null; fi
