#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Checks on the installed desktop data that the stock validators miss.

check-data.py desktop-translated FILE LANG
check-data.py metainfo-translated FILE LANG
check-data.py icon FILE SIZE [symbolic]
check-data.py flatpak FILE
"""

import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import xml.dom.minidom

SVG = "http://www.w3.org/2000/svg"


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def desktop_translated(path, lang):
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    if not lines or lines[0] != "[Desktop Entry]":
        fail(f"{path}: does not start with [Desktop Entry]")
    entry = {}
    for line in lines[1:]:
        if line.startswith("["):
            break
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            entry[key] = value
    # The name is a brand and may stay as it is; the rest must be translated.
    for key in ("Name", "GenericName", "Comment", "Keywords"):
        local = f"{key}[{lang}]"
        if not entry.get(local):
            fail(f"{path}: no {local}")
        if key != "Name" and entry[local] == entry[key]:
            fail(f"{path}: {local} is the untranslated text")
    print(f"ok: {path} has Name, GenericName, Comment and Keywords in {lang}")


def metainfo_translated(path, lang):
    doc = xml.dom.minidom.parse(path)
    found = set()
    for el in doc.getElementsByTagName("*"):
        if el.getAttribute("xml:lang") == lang:
            found.add(el.tagName)
    for tag in ("name", "summary", "p", "li", "caption"):
        if tag not in found:
            fail(f"{path}: no <{tag} xml:lang=\"{lang}\">")
    print(f"ok: {path} has {', '.join(sorted(found))} in {lang}")


def check_no_external(el, path):
    for i in range(el.attributes.length if el.attributes else 0):
        attr = el.attributes.item(i)
        if attr.localName == "href" or attr.name.endswith(":href"):
            if not attr.value.startswith("#"):
                fail(f"{path}: external reference {attr.value!r}")
        for ref in re.findall(r"url\(([^)]*)\)", attr.value):
            if not ref.strip().startswith("#"):
                fail(f"{path}: external url({ref})")
    if el.tagName in ("image", "script", "foreignObject", "style"):
        fail(f"{path}: <{el.tagName}> is not allowed in an icon")


def render(path, size):
    rsvg = shutil.which("rsvg-convert")
    if rsvg is None:
        print(f"note: rsvg-convert not installed, {path} not rendered")
        return
    with tempfile.TemporaryDirectory() as tmp:
        png = os.path.join(tmp, "icon.png")
        subprocess.run([rsvg, "-w", str(size), "-h", str(size), "-o", png, path],
                       check=True)
        with open(png, "rb") as f:
            head = f.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        fail(f"{path}: rsvg-convert did not write a PNG")
    width, height = struct.unpack(">II", head[16:24])
    if (width, height) != (size, size):
        fail(f"{path}: rendered {width}x{height}, expected {size}x{size}")
    print(f"ok: {path} renders at {size}x{size}")


def icon(path, size, symbolic):
    doc = xml.dom.minidom.parse(path)
    root = doc.documentElement
    if root.tagName != "svg" or root.namespaceURI != SVG:
        fail(f"{path}: root is not an SVG element")
    if root.getAttribute("viewBox").split() != ["0", "0", str(size), str(size)]:
        fail(f"{path}: viewBox is not 0 0 {size} {size}")
    for el in [root] + root.getElementsByTagName("*"):
        check_no_external(el, path)
        if symbolic:
            for attr in ("fill", "stroke"):
                value = el.getAttribute(attr)
                if value and value not in ("none", "#2e3436"):
                    fail(f"{path}: symbolic icon uses {attr}={value}")
    render(path, size)
    print(f"ok: {path} is a {size}x{size} SVG without external references")


def flatpak(path):
    with open(path, encoding="utf-8") as f:
        manifest = json.load(f)
    want = ["--share=network", "--share=ipc", "--socket=wayland",
            "--socket=fallback-x11", "--device=dri",
            "--talk-name=org.freedesktop.Notifications"]
    if manifest.get("finish-args") != want:
        fail(f"{path}: finish-args {manifest.get('finish-args')} != {want}")
    if manifest.get("id") != "io.github.securechat.SecureChat":
        fail(f"{path}: wrong id")
    if manifest.get("command") != "securechat":
        fail(f"{path}: wrong command")
    modules = manifest.get("modules", [])
    names = [m.get("name") for m in modules]
    if not names or names[-1] != "securechat":
        fail(f"{path}: securechat is not the last module ({names})")
    for m in modules:
        for src in m.get("sources", []):
            kind = src.get("type")
            if kind in ("archive", "file"):
                if not src.get("url", "").startswith("https://"):
                    fail(f"{path}: {m['name']} source is not an https URL")
                if not re.fullmatch(r"[0-9a-f]{64}", src.get("sha256", "")):
                    fail(f"{path}: {m['name']} source has no sha256")
            elif kind == "git":
                if not re.fullmatch(r"[0-9a-f]{40}", src.get("commit", "")):
                    fail(f"{path}: {m['name']} git source is not pinned to a commit")
            elif kind != "dir":
                fail(f"{path}: {m['name']} has an unexpected source type {kind}")
    app = modules[-1]
    if "-Dtests=false" not in app.get("config-opts", []):
        fail(f"{path}: securechat module does not pass -Dtests=false")
    print(f"ok: {path}: modules {', '.join(names)}; finish-args as expected")


def main(argv):
    if len(argv) < 3:
        fail(__doc__)
    mode = argv[1]
    if mode == "desktop-translated" and len(argv) == 4:
        desktop_translated(argv[2], argv[3])
    elif mode == "metainfo-translated" and len(argv) == 4:
        metainfo_translated(argv[2], argv[3])
    elif mode == "icon" and len(argv) in (4, 5):
        icon(argv[2], int(argv[3]), len(argv) == 5 and argv[4] == "symbolic")
    elif mode == "flatpak" and len(argv) == 3:
        flatpak(argv[2])
    else:
        fail(__doc__)


if __name__ == "__main__":
    main(sys.argv)
