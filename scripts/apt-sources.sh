# Reading the machine's apt sources (sourced by scripts/test.sh; tests/cli/papercuts.rs runs it
# on sample files). Bash functions only: nothing runs when this file is sourced.

# Prints "URI SUITE SIGNED_BY" of the machine's main Debian package entry — the first enabled
# `deb` entry whose suite is not a -security, -updates or -backports one — read from ROOT's
# (default /) /etc/apt/sources.list.d/*.sources (deb822), then the one-line form in
# /etc/apt/sources.list and /etc/apt/sources.list.d/*.list. SIGNED_BY is "-" when the entry
# names no keyring. Prints nothing and fails when there is no such entry.
debian_package_entry() {
  local root=${1:-} files=() f
  for f in "$root"/etc/apt/sources.list.d/*.sources; do [ -f "$f" ] && files+=("$f"); done
  for f in "$root"/etc/apt/sources.list "$root"/etc/apt/sources.list.d/*.list; do [ -f "$f" ] && files+=("$f"); done
  [ "${#files[@]}" -gt 0 ] || return 1
  awk '
    function main_suite(s) { return s !~ /-(security|updates|backports|proposed-updates)$/ }
    function flush(   i, n, suites) {
      if (types ~ /(^|[ \t])deb([ \t]|$)/ && enabled != "no" && uris != "") {
        n = split(suites_field, suites, /[ \t]+/)
        for (i = 1; i <= n; i++) if (suites[i] != "" && main_suite(suites[i])) {
          split(uris, u, /[ \t]+/)
          print u[2], suites[i], (signed == "" ? "-" : signed); found = 1; exit
        }
      }
      types = uris = suites_field = signed = enabled = ""
    }
    FNR == 1 { if (NR > 1) flush(); deb822 = (FILENAME ~ /\.sources$/) }
    deb822 {
      if ($0 ~ /^[ \t]*#/) next
      if ($0 ~ /^[ \t]*$/) { flush(); key = ""; next }
      value = $0
      if ($0 ~ /^[ \t]/) {
        # A continuation line adds to the field above; a Signed-By holding a whole key block
        # is not a keyring path, so it is left out (the default keyring is used).
        if (key == "signed-by" || key == "") next
      } else if (match($0, /^[A-Za-z-]+:/)) {
        key = tolower(substr($0, 1, RLENGTH - 1)); value = substr($0, RLENGTH + 1)
        if (key == "types") types = ""; else if (key == "uris") uris = ""; else if (key == "suites") suites_field = ""
      } else next
      gsub(/^[ \t]+|[ \t]+$/, "", value)
      if (key == "types") types = types " " value
      else if (key == "uris") uris = uris " " value
      else if (key == "suites") suites_field = suites_field " " value
      else if (key == "signed-by") signed = value
      else if (key == "enabled") enabled = tolower(value)
      next
    }
    # One-line form: deb [opt=value ...] URI SUITE COMPONENT...
    $1 == "deb" {
      line = $0; sub(/^[ \t]*deb[ \t]+/, "", line); opts = ""
      if (line ~ /^\[/) { opts = substr(line, 2, index(line, "]") - 2); line = substr(line, index(line, "]") + 1) }
      n = split(line, w, /[ \t]+/); i = (w[1] == "" ? 2 : 1)
      if (n < i + 1 || !main_suite(w[i + 1])) next
      signed = "-"
      if (match(opts, /signed-by=[^ \t]+/)) signed = substr(opts, RSTART + 10, RLENGTH - 10)
      print w[i], w[i + 1], signed; found = 1; exit
    }
    END { if (!found && deb822) flush(); exit !found }
  ' "${files[@]}"
}

# Prints the deb822 `deb-src` entry matching the machine's main Debian entry (same URI and
# suite, so a mirror or proxy the machine uses serves the sources too), or fails saying which
# files were read and what to do.
debian_source_entry() {
  local root=${1:-} entry uri suite signed
  entry=$(debian_package_entry "$root") || {
    echo "no Debian package entry (Types: deb) found in $root/etc/apt/sources.list.d/*.sources," \
      "$root/etc/apt/sources.list or $root/etc/apt/sources.list.d/*.list: add a deb-src entry for" \
      "your Debian mirror by hand (see man sources.list), then run this again" >&2
    return 1
  }
  read -r uri suite signed <<<"$entry"
  [ "$signed" != - ] || signed=/usr/share/keyrings/debian-archive-keyring.gpg
  printf 'Types: deb-src\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: %s\n' "$uri" "$suite" "$signed"
}
