#!/usr/bin/env python3
"""Checks the conventions of docs/conventions.md that a script can see, in engine/ and rules/:

  errors  no `char *err, size_t errlen` text out-parameter outside the module interface
          (include/riskwarn/module.h and the modules' init callbacks); no positive status
          macro (RW_DECLINED of module.h aside); no `char last_error[]` member; exit codes
          (RW_EXIT_*) only in main.c and the files of command functions (rw_cmd_*); a
          function that fills an rw_error_t (takes a non-const rw_error_t *) returns a code
          of error.h, never a bare -1 or 1.
  names   every function with external linkage, rw_<subsystem>_..., is defined in the file
          named for its subsystem (engine/<subsystem>.c), or in a file that SUBSYSTEMS below
          says holds it.

A subsystem may be named in the singular or the plural of its file (modules.c: rw_module_check).
Prints each finding as "file:line: what" and exits 1 when there is one. KNOWN would list
what is not converted yet (it is empty: everything is): a known case is counted, not
reported, and an entry that no longer occurs is reported, so that the list only shrinks.
Usage: scripts/check_conventions.py [ROOT]
"""
import glob
import os
import re
import sys

# Files that hold subsystems other than their own name, and which ones. Keep it short: a
# new subsystem gets its own file.
SUBSYSTEMS = {
    "util": ["backoff", "buf", "now", "monotonic", "days", "civil", "utc", "time", "date",
             "number", "duration", "sha256", "hex", "hash64", "malloc", "calloc", "realloc",
             "strdup", "strndup", "file", "log"],
    "error": ["errors", "strerror"],
    "main": ["cmd", "help", "usage", "signals", "stop"],
    "store": ["memstore", "redisstore"],
    "jparse": ["json", "jtop"],
    "jwrite": ["json"],
    "modules": ["module"],
    "eval": ["batch", "window", "case", "cool"],
    "ruleset": ["level", "rule", "mask", "key"],
}

# Command functions (rw_cmd_NAME) live in the file of their command, or in main.c.
CMD_FILES = {"check", "demo", "replay", "stats", "tail", "pseudonym_cmd", "rebuild", "main", "cli"}

# Not converted yet: (kind, file, name). Empty: every case is converted; keep it so.
KNOWN = set()

ERR_PARAM = re.compile(r"char\s*\*\s*err\w*\s*,\s*size_t\s+\w+")
POSITIVE_STATUS = re.compile(
    r"#define\s+(RW_\w*(?:CONFLICT|LOST|DECLINED|FAIL\w*|ERR\w*|AGAIN|BUSY|DONE|NONE|FOUND))"
    r"\s+\(?\s*([1-9]\d*)")
FUNC_DEF = re.compile(r"^(?!static\b)[a-z][^\n;=(]*?\b(rw_[a-z0-9_]+)\(", re.M)
STATIC_DEF = re.compile(r"^static\b[^\n;=(]*?\b([a-z_][a-z0-9_]*)\(", re.M)
FUNC_HEAD = re.compile(r"^(?:static\s+)?[a-z][^\n;=(]*?\b(\w+)\(([^;{]*?)\)\s*\{", re.M | re.S)
ERR_OUT = re.compile(r"(?<!const )\brw_error_t\s*\*")
BARE_STATUS = re.compile(r"\breturn\s+(-1|1)\s*;")
MODULE_INIT = re.compile(r"\(\s*rw_setup_t\s*\*\s*\w+\s*,\s*void\s*\*\s*\w+\s*,\s*char\s*\*\s*"
                         r"err\w*\s*,\s*size_t\s+\w+\s*\)")


def line_of(text, pos):
    return text.count("\n", 0, pos) + 1


def enclosing_function(text, pos):
    """The name of the function whose definition starts last before pos (or None)."""
    best = None
    for m in re.finditer(r"^[a-z][^\n;=(]*?\b(\w+)\([^;{]*?\)\s*\{", text[:pos], re.M | re.S):
        best = m.group(1)
    return best


def strip_comments(text):
    """text with its comments blanked out, newlines kept (so that line numbers hold)."""
    return re.sub(r"/\*.*?\*/|//[^\n]*", lambda m: re.sub(r"[^\n]", " ", m.group(0)), text,
                  flags=re.S)


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
    os.chdir(root)
    module_h = open("include/riskwarn/module.h").read()
    abi_names = set(re.findall(r"\b(rw_[a-z0-9_]+)\s*\(", module_h))
    findings, known_seen = [], set()

    def report(kind, path, pos_text, pos, name, what):
        key = (kind, os.path.basename(path), name)
        if key in KNOWN:
            known_seen.add(key)
            return
        findings.append("%s:%d: %s" % (path, line_of(pos_text, pos), what))

    files = sorted(glob.glob("engine/*.[ch]") + glob.glob("rules/*.[ch]"))
    for path in files:
        text = strip_comments(open(path).read())
        base = os.path.basename(path)[:-2]
        for m in ERR_PARAM.finditer(text):
            fn = enclosing_function(text, m.start()) if path.endswith(".c") else None
            decl = text[text.rfind("\n", 0, text.rfind("(", 0, m.start())) + 1:m.start()]
            names = re.findall(r"\b(rw_[a-z0-9_]+|\w+)\s*\(", decl)
            name = names[-1] if names else fn or "?"
            if name in abi_names:
                continue
            close = text.find(")", m.start())
            if MODULE_INIT.search(text[text.rfind("(", 0, m.start()):close + 1]):
                continue
            report("errparam", path, text, m.start(), name,
                   "%s: an error text out-parameter (%s); take an rw_error_t *" %
                   (name, " ".join(m.group(0).split())))
        for m in POSITIVE_STATUS.finditer(text):
            if m.group(1) == "RW_DECLINED":
                continue
            report("positive", path, text, m.start(), m.group(1),
                   "%s: a positive status code; use a negative code of error.h" % m.group(1))
        for m in re.finditer(r"char\s+last_error\s*\[", text):
            report("lasterror", path, text, m.start(), "last_error",
                   "last_error: an error kept in the object; fill the caller's rw_error_t")
        if base not in CMD_FILES and base not in ("util", "commands"):
            for m in re.finditer(r"\bRW_EXIT_\w+", text):
                fn = enclosing_function(text, m.start()) or "?"
                report("exitcode", path, text, m.start(), fn,
                       "%s: returns an exit code (%s) outside main.c and the commands" %
                       (fn, m.group(0)))
        if not path.endswith(".c"):
            continue
        heads = list(FUNC_HEAD.finditer(text))
        for i, h in enumerate(heads):
            if not ERR_OUT.search(h.group(2)):
                continue
            end = heads[i + 1].start() if i + 1 < len(heads) else len(text)
            for m in BARE_STATUS.finditer(text, h.end(), end):
                report("barestatus", path, text, m.start(), h.group(1),
                       "%s: returns %s with an rw_error_t to fill; return the code (RW_ERR_...)" %
                       (h.group(1), m.group(1)))
        for m in FUNC_DEF.finditer(text):
            name = m.group(1)
            sub = name.split("_")[1]
            if sub in (base, base + "s") or base == sub + "s" or sub in SUBSYSTEMS.get(base, ()):
                continue
            if sub == "cmd" and base in CMD_FILES:
                continue
            report("name", path, text, m.start(1), name,
                   "%s: subsystem \"%s\" defined in %s" % (name, sub, os.path.basename(path)))

    for f in findings:
        print(f)
    stale = sorted(KNOWN - known_seen)
    for kind, f, name in stale:
        print("scripts/check_conventions.py: note: %s %s %s no longer occurs: take it off KNOWN" %
              (kind, f, name))
    if known_seen:
        print("check_conventions: %d known cases not converted yet (KNOWN)" % len(known_seen))
    if findings:
        print("check_conventions: %d findings" % len(findings))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
