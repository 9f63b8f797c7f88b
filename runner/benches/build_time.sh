#!/usr/bin/env bash
# Cold release build time and `hoist --help` start-up time, per git revision.
#
#   runner/benches/build_time.sh [REV ...]      (default: HEAD)
#
# For each REV: a clean checkout in a temporary worktree, an empty target
# dir, `cargo build --release --timings` (which also builds the embedded
# plugins and hoist-proxy) timed by /usr/bin/time (wall and CPU), then
# `hoist --help` run 20 times (the median). Prints one row per revision and,
# with two or more, each one's ratio to the first. The crate downloads are
# cargo's cache, not the build: run `cargo fetch` first on a fresh machine.
# The cargo timings report of each build is kept in $OUT (default
# /var/tmp/hoist-build-time/<rev>/cargo-timing.html).
set -euo pipefail
repo="$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"
out="${OUT:-/var/tmp/hoist-build-time}"
runs="${HELP_RUNS:-20}"
[ $# -gt 0 ] || set -- HEAD
mkdir -p "$out"

declare -a names builds cpus helps
for rev in "$@"; do
  sha="$(git -C "$repo" rev-parse --short "$rev")"
  dir="$out/$sha"
  rm -rf "$dir"; mkdir -p "$dir"
  git -C "$repo" worktree add --detach "$dir/src" "$sha" >/dev/null 2>&1
  target="$dir/target"
  echo "==> $rev ($sha): cold cargo build --release" >&2
  ( cd "$dir/src" && CARGO_TARGET_DIR="$target" /usr/bin/time -f '%e %U %S' -o "$dir/time" \
      cargo build --release --timings -q ) >"$dir/build.log" 2>&1 \
    || { cat "$dir/build.log" >&2; exit 1; }
  read -r build user sys <"$dir/time"
  cpu=$(echo "$user + $sys" | bc)
  cp "$target"/cargo-timings/cargo-timing.html "$dir/" 2>/dev/null || true
  bin="$target/release/hoist"
  "$bin" --help >/dev/null
  samples=()
  for _ in $(seq 1 "$runs"); do
    s=$(date +%s%N); "$bin" --help >/dev/null; e=$(date +%s%N)
    samples+=( $(( (e - s) / 1000 )) )
  done
  median=$(printf '%s\n' "${samples[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  names+=("$rev ($sha)"); builds+=("$build"); cpus+=("$cpu"); helps+=("$median")
  git -C "$repo" worktree remove --force "$dir/src" >/dev/null 2>&1 || true
  rm -rf "$target"
done

printf '\n%-28s %14s %14s %16s\n' "revision" "cold build" "build CPU" "hoist --help"
for i in "${!names[@]}"; do
  b=${builds[$i]}; c=${cpus[$i]}; h=${helps[$i]}
  line=$(printf '%-28s %12.0f s %12.0f s %13.1f ms' "${names[$i]}" "$b" "$c" "$(echo "$h / 1000" | bc -l)")
  if [ "$i" -gt 0 ]; then
    line+=$(printf '   (%.2fx build, %.2fx CPU, %.2fx help vs %s)' "$(echo "$b / ${builds[0]}" | bc -l)" \
      "$(echo "$c / ${cpus[0]}" | bc -l)" "$(echo "$h / ${helps[0]}" | bc -l)" "${names[0]}")
  fi
  echo "$line"
done
