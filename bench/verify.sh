#!/bin/sh
# Relying-party verification rate: soter-verify (a pinned RSA-2048 key, a
# SOTER resultJSON, RSA-PSS salt 20, base64 signature) against OpenSSL's own
# RSA-2048 verify rate (openssl speed), measured in the same run, in
# alternating rounds so that both see the same machine. Prints the medians
# and the ratio. Target: soter-verify at least 90 % of OpenSSL's rate.
#
#   bench/verify.sh [ROUNDS] [SECONDS]        (default 5 rounds of 2 s each)
set -eu
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
SECONDS_PER=${2:-2}
[ -f build/build.ninja ] || meson setup build >/dev/null
meson compile -C build bench/bench-verify >/dev/null

ours="" theirs=""
i=0
while [ "$i" -lt "$ROUNDS" ]; do
  ours="$ours $(build/bench/bench-verify tests/data/tencent-soter-samples "$SECONDS_PER")"
  theirs="$theirs $(openssl speed -seconds "$SECONDS_PER" rsa2048 2>/dev/null |
                   awk '/^rsa 2048/ { print $NF }')"
  i=$((i + 1))
done

median() { printf '%s\n' $1 | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
m_ours=$(median "$ours")
m_theirs=$(median "$theirs")
ratio=$(awk -v a="$m_ours" -v b="$m_theirs" 'BEGIN { printf "%.1f", 100 * a / b }')

printf '| measure (median of %s × %s s) | verifications/s |\n|---|---|\n' "$ROUNDS" "$SECONDS_PER"
printf '| soter-verify, resultJSON, pinned key | %.0f |\n' "$m_ours"
printf '| openssl speed rsa2048 verify | %.0f |\n' "$m_theirs"
printf '| ratio (target ≥ 90 %%) | %s %% |\n' "$ratio"
