#!/bin/sh
# The checks every commit passes before its tests: go vet, gofmt, go.mod and go.sum as
# go mod tidy leaves them, and staticcheck (pinned as a tool in go.mod).
set -eu
cd "$(dirname "$0")/.."
go vet ./...
files=$(git ls-files --cached --others --exclude-standard '*.go')
test -z "$(gofmt -l $files)" || { echo "gofmt would change:"; gofmt -l $files; exit 1; }
go mod tidy -diff >/dev/null 2>&1 || { echo "go mod tidy would change go.mod or go.sum:"; go mod tidy -diff; exit 1; }
go tool staticcheck ./...
