#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Checks that the translations are complete and that none can go missing.

check-l10n.py po-complete PO_FILE SOURCE_ROOT
    msgfmt --check (formats, header, plurals, mnemonics) must pass and
    report every message translated: no fuzzy, no untranslated message.
    Date formats (messages like "%e %b %H:%M") must stay valid, and the mnemonics of each menu
    in the .ui files must not collide in this language.
check-l10n.py potfiles SOURCE_ROOT
    po/POTFILES.in lists, sorted, every file of client-gtk/ that has
    translatable strings, and every file it lists exists.
"""

import os
import re
import subprocess
import sys
import xml.dom.minidom

# What marks a user-visible string in C and in GtkBuilder files.
TRANSLATABLE = re.compile(
    r'\b(?:N?C?_) ?\("|\bn?gettext ?\(|dngettext ?\(|translatable="yes"')
# g_date_time_format: optional flag, optional O/E, then the conversion.
STRFTIME = re.compile(r"%([-_0]?)([OE]?)(.)")
# A message that is only conversions and separators is a date format.
DATE_FORMAT = re.compile(r"^(?:%[-_0]?[OE]?[A-Za-z]|[\s:,./-])+$")
STRFTIME_CONVERSIONS = set("aAbBcCdeFgGhHIjklmMpPrRsSTuVwxXyYzZ%")


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def po_unescape(s):
    return (s.replace('\\"', '"').replace("\\n", "\n").replace("\\t", "\t")
            .replace("\\\\", "\\"))


def parse_po(path):
    """Entries as dicts: ctxt, id, plural, strs (list), comments, flags."""
    entries = []
    cur = None
    field = None

    def finish():
        if cur is not None and cur.get("id") is not None:
            entries.append(cur)

    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line.strip():
                finish()
                cur, field = None, None
                continue
            if cur is None:
                cur = {"ctxt": None, "id": None, "plural": None, "strs": {},
                       "comments": [], "flags": set(), "obsolete": False}
            if line.startswith("#~"):
                cur["obsolete"] = True
                continue
            if line.startswith("#,"):
                cur["flags"].update(x.strip() for x in line[2:].split(","))
                continue
            if line.startswith("#"):
                cur["comments"].append(line)
                continue
            m = re.match(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?) "(.*)"$', line)
            if m:
                key, index, text = m.group(1), m.group(2), po_unescape(m.group(3))
                if key == "msgctxt":
                    field = ("ctxt", None)
                elif key == "msgid":
                    field = ("id", None)
                elif key == "msgid_plural":
                    field = ("plural", None)
                else:
                    field = ("strs", int(index) if index is not None else 0)
                if field[0] == "strs":
                    cur["strs"][field[1]] = text
                else:
                    cur[field[0]] = text
                continue
            m = re.match(r'^"(.*)"$', line)
            if m and field is not None:
                text = po_unescape(m.group(1))
                if field[0] == "strs":
                    cur["strs"][field[1]] += text
                else:
                    cur[field[0]] += text
                continue
            fail(f"{path}: cannot parse line {line!r}")
    finish()
    return [e for e in entries if not e["obsolete"]]


def check_strftime(fmt, where):
    for m in STRFTIME.finditer(fmt):
        if m.group(3) not in STRFTIME_CONVERSIONS:
            fail(f"{where}: {fmt!r} has %{m.group(0)[1:]}, not a strftime conversion")


def mnemonic(label):
    m = re.search(r"_(\w)", label)
    return m.group(1).lower() if m else None


def check_menus(source_root, catalogue, lang):
    ui_files = []
    for top, _dirs, files in os.walk(os.path.join(source_root, "client-gtk")):
        ui_files += [os.path.join(top, f) for f in files if f.endswith(".ui")]
    menus = 0
    for path in sorted(ui_files):
        doc = xml.dom.minidom.parse(path)
        for menu in doc.getElementsByTagName("menu"):
            seen = {}
            for attr in menu.getElementsByTagName("attribute"):
                if attr.getAttribute("name") != "label":
                    continue
                english = "".join(n.data for n in attr.childNodes
                                  if n.nodeType == n.TEXT_NODE)
                label = catalogue.get((attr.getAttribute("context") or None,
                                       english), english)
                key = mnemonic(label)
                if key is None:
                    continue
                if key in seen:
                    fail(f"{path}: menu {menu.getAttribute('id')}: "
                         f"{seen[key]!r} and {label!r} share the mnemonic "
                         f"'{key}' in {lang}")
                seen[key] = label
            menus += 1
    print(f"ok: the mnemonics of {menus} menus are distinct in {lang}")


def po_complete(path, source_root):
    lang = os.path.splitext(os.path.basename(path))[0]
    run = subprocess.run(
        ["msgfmt", "--check", "--check-accelerators=_", "--statistics",
         "-o", os.devnull, path],
        capture_output=True, text=True, env=dict(os.environ, LC_ALL="C"))
    report = (run.stdout + run.stderr).strip()
    if run.returncode != 0:
        fail(f"msgfmt --check rejects {path}:\n{report}")
    stats = report.splitlines()[-1] if report else ""
    m = re.fullmatch(r"(\d+) translated messages?\.", stats)
    if m is None:
        fail(f"{path} is not completely translated: {stats}")

    entries = parse_po(path)
    catalogue = {}
    for e in entries:
        if e["id"] == "":
            continue
        if "fuzzy" in e["flags"]:
            fail(f"{path}: {e['id']!r} is fuzzy")
        if not e["strs"] or any(s == "" for s in e["strs"].values()):
            fail(f"{path}: {e['id']!r} is untranslated")
        if DATE_FORMAT.match(e["id"]):
            for s in e["strs"].values():
                check_strftime(s, f"{path}: translation of {e['id']!r}")
        catalogue[(e["ctxt"], e["id"])] = e["strs"][0]
    if len(catalogue) != int(m.group(1)):
        fail(f"{path}: read {len(catalogue)} messages, msgfmt counts {m.group(1)}")
    print(f"ok: {path}: {stats}")
    check_menus(source_root, catalogue, lang)


def potfiles(source_root):
    potfiles_in = os.path.join(source_root, "po", "POTFILES.in")
    with open(potfiles_in, encoding="utf-8") as f:
        listed = [l.strip() for l in f
                  if l.strip() and not l.lstrip().startswith("#")]
    if listed != sorted(listed):
        fail(f"{potfiles_in} is not sorted")
    if len(set(listed)) != len(listed):
        fail(f"{potfiles_in} lists a file twice")
    for rel in listed:
        if not os.path.isfile(os.path.join(source_root, rel)):
            fail(f"{potfiles_in} lists {rel}, which does not exist")

    needed = []
    for top, _dirs, files in os.walk(os.path.join(source_root, "client-gtk")):
        for name in files:
            if not name.endswith((".c", ".h", ".ui")):
                continue
            path = os.path.join(top, name)
            with open(path, encoding="utf-8") as f:
                if TRANSLATABLE.search(f.read()):
                    needed.append(os.path.relpath(path, source_root))
    if not needed:
        fail("no file in client-gtk/ has translatable strings: the pattern is broken")
    missing = sorted(set(needed) - set(listed))
    if missing:
        fail(f"{potfiles_in} does not list {', '.join(missing)}")
    print(f"ok: {potfiles_in} lists all {len(needed)} client-gtk files "
          f"with translatable strings")


def main(argv):
    if len(argv) == 4 and argv[1] == "po-complete":
        po_complete(argv[2], argv[3])
    elif len(argv) == 3 and argv[1] == "potfiles":
        potfiles(argv[2])
    else:
        print(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main(sys.argv)
