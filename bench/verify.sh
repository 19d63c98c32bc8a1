#!/bin/sh
# Relying-party verification rate: soter-verify (a pinned RSA-2048 key, a
# SOTER resultJSON, RSA-PSS salt 20, base64 signature) against OpenSSL's own
# RSA-2048 verify rate (openssl speed: PKCS#1 v1.5 over a fixed 36-byte
# buffer, no hashing) and against OpenSSL's RSA-PSS verify of the same
# document (EVP_DigestVerify, the floor for any PSS verifier), all measured
# in the same run, in alternating rounds so that each sees the same machine.
# Prints the medians of the rates and of the per-round ratios (each round's
# three figures are taken back to back, so a round's ratio compares runs that
# saw the same machine; the cloud machines this runs on change speed by 10-20 %
# over minutes). Target: soter-verify at least 90 % of openssl speed's rate.
#
#   bench/verify.sh [ROUNDS] [SECONDS]        (default 5 rounds of 2 s each)
set -eu
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
SECONDS_PER=${2:-2}
[ -f build/build.ninja ] || meson setup build >/dev/null
meson compile -C build bench/bench-verify >/dev/null

ours="" theirs="" pss="" r_theirs="" r_pss=""
i=0
while [ "$i" -lt "$ROUNDS" ]; do
  o=$(build/bench/bench-verify tests/data/tencent-soter-samples "$SECONDS_PER")
  p=$(build/bench/bench-verify tests/data/tencent-soter-samples "$SECONDS_PER" openssl-pss)
  t=$(openssl speed -seconds "$SECONDS_PER" rsa2048 2>/dev/null | awk '/^rsa 2048/ { print $NF }')
  ours="$ours $o" pss="$pss $p" theirs="$theirs $t"
  r_theirs="$r_theirs $(awk -v a="$o" -v b="$t" 'BEGIN { printf "%.1f", 100 * a / b }')"
  r_pss="$r_pss $(awk -v a="$o" -v b="$p" 'BEGIN { printf "%.1f", 100 * a / b }')"
  i=$((i + 1))
done

median() { printf '%s\n' $1 | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
m_ours=$(median "$ours")
m_theirs=$(median "$theirs")
m_pss=$(median "$pss")
ratio=$(median "$r_theirs")
ratio_pss=$(median "$r_pss")

printf '| measure (median of %s × %s s) | verifications/s |\n|---|---|\n' "$ROUNDS" "$SECONDS_PER"
printf '| soter-verify, resultJSON, pinned key | %.0f |\n' "$m_ours"
printf '| OpenSSL alone: RSA-PSS verify of the same resultJSON | %.0f |\n' "$m_pss"
printf '| openssl speed rsa2048 verify (PKCS#1 v1.5, no hashing) | %.0f |\n' "$m_theirs"
printf '| soter-verify / openssl speed, median of per-round ratios (target ≥ 90 %%) | %s %% |\n' "$ratio"
printf '| soter-verify / OpenSSL RSA-PSS of the same bytes, median of per-round ratios | %s %% |\n' "$ratio_pss"
printf '\nper-round ratios to openssl speed (%%):%s\n' "$r_theirs"
