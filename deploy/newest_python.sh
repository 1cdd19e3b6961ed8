#!/usr/bin/env bash
# Prints the path of the newest CPython >= 3.11 installed here: on PATH (python3,
# python3.N) or under pyenv's versions, whose shims answer only for the selected one.
# `make test-newest` runs the unit suites with it, so that a behaviour that changed in a
# patch release (as email.utils.getaddresses did) fails here and not in an image.
set -uo pipefail

candidates=(python3)
for minor in $(seq 11 20); do candidates+=("python3.$minor"); done
if root="$(pyenv root 2>/dev/null)"; then
    candidates+=("$root"/versions/3.*/bin/python3)
fi
candidates+=(/usr/bin/python3.* /usr/local/bin/python3.*)

best="" best_version=""
for candidate in "${candidates[@]}"; do
    version="$("$candidate" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3]) if sys.version_info >= (3, 11) and sys.implementation.name == "cpython" else None' 2>/dev/null)" || continue
    [ -n "$version" ] && [ "$version" != None ] || continue
    if [ -z "$best" ] || [ "$(printf '%s\n%s\n' "$best_version" "$version" | sort -V | tail -n 1)" != "$best_version" ]; then
        best="$(command -v "$candidate")" best_version="$version"
    fi
done
[ -n "$best" ] || { echo "newest_python: no CPython >= 3.11 found" >&2; exit 1; }
echo "$best"
