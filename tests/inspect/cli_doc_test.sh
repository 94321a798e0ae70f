#!/usr/bin/env bash
# docs/cli.md must be what scripts/gen_cli_doc.sh generates from the built tessera's --help,
# and every subcommand must answer --help.
# usage: cli_doc_test.sh BIN_DIR SOURCE_DIR
set -euo pipefail
BIN=$1; SRC=$2
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
"$SRC/scripts/gen_cli_doc.sh" "$BIN/tessera" "$WORK/cli.md"
for s in compile run inspect explain compare; do
  grep -q "^## tessera $s\$" "$WORK/cli.md" || { echo "no --help section for '$s'"; exit 1; }
done
if ! diff -u "$SRC/docs/cli.md" "$WORK/cli.md"; then
  echo "docs/cli.md is out of date: run scripts/gen_cli_doc.sh $BIN/tessera"
  exit 1
fi
