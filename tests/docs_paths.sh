#!/bin/sh
# docs_paths.sh - every repository path and relative link named in README.md
# and docs/ exists (docs/check_paths.py), so the references do not go stale.
command -v python3 >/dev/null 2>&1 || { echo "SKIP: python3 not found"; exit 77; }
cd "${top_srcdir:?}" && python3 docs/check_paths.py
