#!/bin/sh
# make dist: release archives and Debian packages in dist/, for linux amd64 and arm64:
#   maas-region_<v>_linux_<arch>.tar.gz       the region, with the agent builds for both
#                                             architectures beside it (its default --agent-dir)
#   maas-run-scripts_<v>_linux_<arch>.tar.gz  the agent
#   maas-cli_<v>_linux_<arch>.tar.gz          the CLI
#   maas-region_<debv>_<arch>.deb             the region, both agent builds, the systemd unit
#   maas-run-scripts_<debv>_<arch>.deb        the agent, as /usr/bin/maas-run-scripts
#   maas-cli_<debv>_<arch>.deb                the CLI, as /usr/bin/maas
#   SHA256SUMS
# <v> is VERSION (the Makefile's: git describe); <debv> is it made a Debian version
# (`hack/dist.sh deb-version V` prints it). The Debian packages are built by nfpm (a tool in
# go.mod) from packaging/nfpm-*.yaml. File times are the last commit's (SOURCE_DATE_EPOCH).
#
# Settings: GO (default go), VERSION, LDFLAGS (default the Makefile's), ARCHS.
set -eu
cd "$(dirname "$0")/.."

# deb_version turns a git describe output into a Debian version (no revision; only
# [A-Za-z0-9.+~], starting with a digit) that sorts the way the commits do:
#   v1.2.3 -> 1.2.3, v1.2.3-4-gabc123-dirty -> 1.2.3+4.gabc123.dirty, 1.2.3-rc1 -> 1.2.3~rc1,
#   abc123-dirty (no tag) -> 0.0~git<commit count>.abc123+dirty
deb_version() {
	v=${1#v}
	# A tag starts with digits and a dot; an abbreviated commit hash has no dot.
	if ! expr "$v" : '[0-9][0-9]*\.' >/dev/null; then
		v="0.0~git$(git rev-list --count HEAD 2>/dev/null || echo 0).$v"
	fi
	printf '%s\n' "$v" | sed -e 's/-\(alpha\|beta\|pre\|rc\)/~\1/' -e 's/-/+/' -e 's/-/./g' \
		-e 's/[^A-Za-z0-9.+~]/./g'
}

if [ "${1:-}" = deb-version ]; then
	deb_version "$2"
	exit 0
fi

GO=${GO:-go}
VERSION=${VERSION:-$(git describe --always --dirty 2>/dev/null || echo dev)}
LDFLAGS=${LDFLAGS:--s -w -X main.version=$VERSION}
ARCHS=${ARCHS:-amd64 arm64}
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
export SOURCE_DATE_EPOCH
debv=$(deb_version "$VERSION")
dist=dist
build=$dist/build

rm -rf "$dist"
mkdir -p "$build/agent"

for arch in $ARCHS; do
	echo "==> build linux/$arch"
	mkdir -p "$build/linux_$arch"
	GOOS=linux GOARCH=$arch CGO_ENABLED=0 "$GO" build -trimpath -ldflags "$LDFLAGS" \
		-o "$build/agent/maas-run-scripts-linux-$arch" ./cmd/maas-run-scripts
	GOOS=linux GOARCH=$arch CGO_ENABLED=0 "$GO" build -trimpath -ldflags "$LDFLAGS" \
		-o "$build/linux_$arch/maas-region" ./cmd/maas-region
	GOOS=linux GOARCH=$arch CGO_ENABLED=0 "$GO" build -trimpath -ldflags "$LDFLAGS" \
		-o "$build/linux_$arch/maas" ./cmd/maas
done

# archive NAME FILE...: dist/NAME.tar.gz holding NAME/ with the files, owned by root, sorted,
# dated SOURCE_DATE_EPOCH, so the same commit gives the same bytes.
archive() {
	name=$1
	shift
	mkdir -p "$build/$name"
	cp -p "$@" "$build/$name/"
	tar -C "$build" --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" \
		-cf - "$name" | gzip -9n >"$dist/$name.tar.gz"
}

top=$PWD
for arch in $ARCHS; do
	echo "==> package linux/$arch"
	archive "maas-region_${VERSION}_linux_$arch" "$build/linux_$arch/maas-region" "$build"/agent/maas-run-scripts-linux-* README.md
	cp -p "$build/agent/maas-run-scripts-linux-$arch" "$build/linux_$arch/maas-run-scripts"
	archive "maas-run-scripts_${VERSION}_linux_$arch" "$build/linux_$arch/maas-run-scripts"
	archive "maas-cli_${VERSION}_linux_$arch" "$build/linux_$arch/maas"
	for pkg in maas-region maas-run-scripts maas-cli; do
		MAAS_VERSION=$debv MAAS_ARCH=$arch MAAS_BIN=$top/$build/linux_$arch MAAS_AGENTS=$top/$build/agent \
			"$GO" tool nfpm pkg --packager deb --config "packaging/nfpm-$pkg.yaml" --target "$dist/"
	done
done

(cd "$dist" && sha256sum ./*.tar.gz ./*.deb | sed 's| \./| |' >SHA256SUMS)
rm -rf "$build"
echo "==> $dist/"
ls -l "$dist"
