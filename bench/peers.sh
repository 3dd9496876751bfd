#!/usr/bin/env bash
# Installs the peers bench/all.sh measures loadtape against, those that are missing, each from
# its own registry: Debian (nginx-light, wrk, hey, nghttp2-client for h2load, GNU time,
# openssl, curl), crates.io (oha, drill), npm (Artillery, without its browser download and
# install scripts), PyPI (mitmproxy, Locust). Prints each tool's version at the end.
set -euo pipefail

debs=()
need_deb() { command -v "$1" >/dev/null 2>&1 || debs+=("$2"); }
need_deb nginx nginx-light
need_deb wrk wrk
need_deb hey hey
need_deb h2load nghttp2-client
need_deb openssl openssl
need_deb curl curl
[ -x /usr/bin/time ] || debs+=(time)
command -v pip3 >/dev/null 2>&1 || debs+=(python3-pip)
command -v npm >/dev/null 2>&1 || debs+=(npm)
if [ "${#debs[@]}" -gt 0 ]; then
  echo "installing (Debian): ${debs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${debs[@]}" >/dev/null
fi

export PATH="$HOME/.cargo/bin:$PATH"
for crate in oha drill; do
  command -v "$crate" >/dev/null 2>&1 || { echo "installing (crates.io): $crate"; cargo install --locked --quiet "$crate"; }
done

if ! command -v artillery >/dev/null 2>&1; then
  echo "installing (npm): artillery"
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install -g --silent --ignore-scripts artillery >/dev/null
fi

for pkg in mitmproxy:mitmdump locust:locust; do
  command -v "${pkg#*:}" >/dev/null 2>&1 && continue
  echo "installing (PyPI): ${pkg%%:*}"
  # Debian marks its Python as externally managed (PEP 668); a benchmark machine is ours.
  pip3 install --quiet "${pkg%%:*}" 2>/dev/null || pip3 install --quiet --break-system-packages "${pkg%%:*}"
done

echo "peers:"
echo "  $(nginx -v 2>&1)"
echo "  $(wrk -v 2>&1 | head -1)"
echo "  hey $(dpkg-query -W -f '${Version}' hey 2>/dev/null)"
echo "  $(h2load --version 2>&1 | head -1)"
echo "  $(oha --version)"
echo "  $(drill --version)"
echo "  artillery $(artillery version 2>/dev/null | awk '/Artillery:/ {print $2}')"
echo "  $(mitmdump --version 2>/dev/null | head -1)"
echo "  $(locust --version 2>/dev/null | cut -d' ' -f1-2)"
