#!/bin/sh
# The GitHub Action's step: fetch the kubeguard release for this runner,
# verify it against the release's SHA256SUMS, scan, and report the SARIF
# file and exit code as step outputs. The scan's exit code is the step's.
set -eu

version=${KUBEGUARD_VERSION:-latest}
base=${KUBEGUARD_DOWNLOAD_URL:-https://github.com/kubeguard/kubeguard/releases}
case "${RUNNER_OS:-Linux}" in
Linux) os=linux ;;
macOS) os=darwin ;;
Windows) os=windows ;;
*) echo "kubeguard: unsupported runner OS ${RUNNER_OS}" >&2; exit 2 ;;
esac
case "${RUNNER_ARCH:-X64}" in
X64) arch=amd64 ;;
ARM64) arch=arm64 ;;
*) echo "kubeguard: unsupported runner architecture ${RUNNER_ARCH}" >&2; exit 2 ;;
esac
if [ "$version" = latest ]; then
	url=$base/latest/download
else
	url=$base/download/$version
fi
archive=kubeguard_${os}_${arch}.tar.gz
dir=${RUNNER_TEMP:-${TMPDIR:-/tmp}}/kubeguard-$version-$os-$arch
mkdir -p "$dir"
curl -fsSL --retry 3 -o "$dir/$archive" "$url/$archive"
curl -fsSL --retry 3 -o "$dir/SHA256SUMS" "$url/SHA256SUMS"
(cd "$dir" && grep " $archive\$" SHA256SUMS | sha256sum -c - >/dev/null) || {
	echo "kubeguard: $archive does not match the release's SHA256SUMS" >&2
	exit 2
}
tar -xzf "$dir/$archive" -C "$dir"
bin=$dir/kubeguard
[ "$os" = windows ] && bin=$bin.exe
"$bin" version

sarif=${KUBEGUARD_SARIF:-kubeguard.sarif}
set +e
# KUBEGUARD_PATHS and KUBEGUARD_ARGS are split on spaces on purpose
# shellcheck disable=SC2086
"$bin" scan ${KUBEGUARD_PATHS:-.} -o table -o "sarif=$sarif" --fail-on "${KUBEGUARD_FAIL_ON:-high}" ${KUBEGUARD_ARGS:-}
code=$?
set -e
if [ -n "${GITHUB_OUTPUT:-}" ]; then
	[ -f "$sarif" ] && echo "sarif-file=$sarif" >>"$GITHUB_OUTPUT"
	echo "exit-code=$code" >>"$GITHUB_OUTPUT"
fi
exit $code
