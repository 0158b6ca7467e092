# lib.sh - helpers sourced by the end-to-end test scripts.
# Environment (set by make check): STEPSTONE, top_srcdir, top_builddir, REALDATA.
: "${STEPSTONE:=./stepstone}"
: "${top_srcdir:=.}"
: "${REALDATA:=$top_srcdir/../shared/realdata}"

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*" >&2; exit 77; }
need_realdata() { [ -d "$REALDATA" ] || skip "real captures not found at $REALDATA (set REALDATA)"; }
tmpdir_make() { TMPD=$(mktemp -d "${TMPDIR:-/tmp}/stepstone-test.XXXXXX"); trap 'rm -rf "$TMPD"' EXIT; }
