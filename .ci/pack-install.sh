#!/usr/bin/env bash
# The npm package as users get it: packed into a tarball, installed into an empty folder from the
# registry (no devDependencies, no repository beside it), and `npx settee serve` answering there.
# Catches what the test suite cannot: a file missing from package.json "files", a runtime import
# of a devDependency, a broken `bin`.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
repo=$(pwd)

# `npm pack` runs `prepare` (the build) and prints the tarball's name last.
tarball="$work/$(npm pack --silent --pack-destination "$work" | tail -n 1)"
mkdir "$work/app"
cd "$work/app"
npm init -y >/dev/null
npm install --no-audit --no-fund --omit=dev "$tarball"

# Node's fetch rather than curl: nothing beyond Node is assumed on the machine.
node "$repo/.ci/pack-check.mjs"
