#!/bin/sh
# The programs the local fleet and the tests really run, checked before
# `npm test` (mode `test`), `npm run demo` (mode `demo`) and .ci/run:
#   rsync, GNU tar (gtar or tar), gzip (tar xf of a .tgz runs it), curl (the
#   nodes' reporting commands), pigz (packing on every core), serf (HashiCorp's
#   agent: the local Serf fleet's nodes, Debian's and Ubuntu's serf package);
#   test mode with REQUIRE_GO_YAML=1: go and Debian's gopkg.in/yaml.v2, for the
#   round trip through stretcher's own YAML reader (__tests__/go-yaml).
# All present: silent, a few `command -v` (and one `tar --version`).
# Missing: installed when that needs no question (root, or `sudo -n`; with
# apt-get, dnf, apk or brew), saying what; otherwise one line naming the command
# to run, and exit 1 so that nothing after it runs.
# Builtins only until something is missing: the tests run it with a PATH of stand-ins.
set -u

mode=${1:-test}
gocode=${ENSURE_TOOLS_GOCODE:-/usr/share/gocode}

say() { printf 'ensure-tools: %s\n' "$*" >&2; }
have() { command -v "$1" >/dev/null 2>&1; }

gnu_tar() {
  for t in gtar tar; do
    if have "$t"; then
      case $("$t" --version 2>/dev/null) in *"GNU tar"*) return 0 ;; esac
    fi
  done
  return 1
}

go_yaml() { have go && [ -d "$gocode/src/gopkg.in/yaml.v2" ]; }

# what is missing, as words: rsync gnu-tar gzip curl pigz serf go-yaml
missing() {
  out=''
  have rsync || out="$out rsync"
  gnu_tar || out="$out gnu-tar"
  have gzip || out="$out gzip"
  have curl || out="$out curl"
  have pigz || out="$out pigz"
  have serf || out="$out serf"
  if [ "$mode" = test ] && [ "${REQUIRE_GO_YAML:-}" = 1 ]; then
    go_yaml || out="$out go-yaml"
  fi
  printf '%s' "${out# }"
}

need=$(missing)
if [ "$mode" = test ] && [ "${REQUIRE_GO_YAML:-}" != 1 ] && ! go_yaml; then
  say 'go or gopkg.in/yaml.v2 not installed: the Go yaml.v2 round trip is skipped (REQUIRE_GO_YAML=1 npm test installs golang-go golang-gopkg-yaml.v2-dev)'
fi
[ -z "$need" ] && exit 0

manager=''
for m in apt-get dnf apk brew; do
  if have "$m"; then
    manager=$m
    break
  fi
done

# the tools' names for people, and the manager's package names
names=''
packages=''
for tool in $need; do
  case $tool in
    gnu-tar) names="$names, GNU tar" ;;
    go-yaml) names="$names, go + yaml.v2" ;;
    *) names="$names, $tool" ;;
  esac
  case $manager:$tool in
    brew:gnu-tar) packages="$packages gnu-tar" ;;
    *:gnu-tar) packages="$packages tar" ;;
    apt-get:go-yaml)
      have go || packages="$packages golang-go"
      [ -d "$gocode/src/gopkg.in/yaml.v2" ] || packages="$packages golang-gopkg-yaml.v2-dev"
      ;;
    # Debian and Ubuntu package HashiCorp's serf agent as serf; elsewhere it
    # is a release binary put on PATH by hand.
    apt-get:serf) packages="$packages serf" ;;
    ?*:serf)
      say "missing serf: the local Serf fleet runs HashiCorp's serf agent: Debian's and Ubuntu's serf package, elsewhere a release from releases.hashicorp.com/serf on PATH"
      exit 1
      ;;
    *:go-yaml)
      say "missing go + yaml.v2: the Go yaml.v2 round trip needs Debian's golang-go and golang-gopkg-yaml.v2-dev (gopkg.in/yaml.v2 under $gocode); unset REQUIRE_GO_YAML to skip it"
      exit 1
      ;;
    *) packages="$packages $tool" ;;
  esac
done
names=${names#, }
packages=${packages# }

if [ -z "$manager" ]; then
  say "missing $names: install them with the system's package manager (none of apt-get, dnf, apk, brew is on PATH)"
  exit 1
fi

case $manager in
  apt-get) install="apt-get install -y $packages" ;;
  dnf) install="dnf install -y $packages" ;;
  apk) install="apk add $packages" ;;
  brew) install="brew install $packages" ;;
esac

# Homebrew installs as the user (it refuses root); the others need root.
as=''
if [ "$manager" != brew ] && [ "$(id -u 2>/dev/null)" != 0 ]; then
  if have sudo && sudo -n true >/dev/null 2>&1; then
    as='sudo -n'
  elif have sudo; then
    say "missing $names: run: sudo $install"
    exit 1
  else
    say "missing $names: run as root: $install"
    exit 1
  fi
fi

say "installing $names: ${as:+$as }$install"
# as root, or through sudo -n
privileged() {
  if [ -n "$as" ]; then sudo -n "$@"; else "$@"; fi
}
apt_get() {
  if [ -n "$as" ]; then
    sudo -n DEBIAN_FRONTEND=noninteractive apt-get "$@"
  else
    DEBIAN_FRONTEND=noninteractive apt-get "$@"
  fi
}
case $manager in
  apt-get) apt_get update -qq && apt_get install -y -qq --no-install-recommends $packages >/dev/null ;;
  dnf) privileged dnf install -y -q $packages ;;
  apk) privileged apk add --no-cache -q $packages ;;
  brew) brew install -q $packages ;;
esac
status=$?

left=$(missing)
if [ "$status" != 0 ] || [ -n "$left" ]; then
  say "$install failed (exit status $status)${left:+, still missing: $left}: install them by hand"
  exit 1
fi
