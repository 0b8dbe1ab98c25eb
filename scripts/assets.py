#!/usr/bin/env python3
"""Copy the front-end libraries' dist files from node_modules/ into app/static/vendor/.

Run by scripts/setup after `npm ci`. No build step and never a CDN: the app serves these
files itself, so it works on a closed network.

app/static/vendor/ is generated (and git-ignored): files there that this manifest does not
name are removed. Templates refer to the paths on the right-hand side, for example
``url_for('static', filename='vendor/htmx/htmx.min.js')``. The versions actually copied are
written to app/static/vendor/versions.json (handy for cache-busting query strings).

Usage: python3 scripts/assets.py [--list]
Standard library only: it runs before (and without) the virtualenv.
"""
from __future__ import annotations

import filecmp
import json
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = ROOT / "node_modules"
VENDOR = ROOT / "app" / "static" / "vendor"

# vendor folder -> (npm package, {source inside the package: destination inside the folder}).
# A source ending in "/" is a directory, copied whole.
LIBS: dict[str, tuple[str, dict[str, str]]] = {
    "bootstrap": ("bootstrap", {
        "dist/css/bootstrap.min.css": "bootstrap.min.css",
        "dist/css/bootstrap.min.css.map": "bootstrap.min.css.map",
        "dist/js/bootstrap.bundle.min.js": "bootstrap.bundle.min.js",
        "dist/js/bootstrap.bundle.min.js.map": "bootstrap.bundle.min.js.map",
        "LICENSE": "LICENSE",
    }),
    "bootstrap-icons": ("bootstrap-icons", {
        "font/bootstrap-icons.min.css": "bootstrap-icons.min.css",
        "font/fonts/bootstrap-icons.woff2": "fonts/bootstrap-icons.woff2",
        "font/fonts/bootstrap-icons.woff": "fonts/bootstrap-icons.woff",
        "LICENSE": "LICENSE",
    }),
    "htmx": ("htmx.org", {
        "dist/htmx.min.js": "htmx.min.js",
        "LICENSE": "LICENSE",
    }),
    "bpmn-js": ("bpmn-js", {
        "dist/bpmn-viewer.production.min.js": "bpmn-viewer.production.min.js",
        "dist/bpmn-navigated-viewer.production.min.js": "bpmn-navigated-viewer.production.min.js",
        "dist/bpmn-modeler.production.min.js": "bpmn-modeler.production.min.js",
        # diagram-js.css, bpmn-js.css and bpmn-font/{css,font}/ (bpmn.css loads ../font/*)
        "dist/assets/": "assets/",
        "LICENSE": "LICENSE",
    }),
    "frappe-gantt": ("frappe-gantt", {
        "dist/frappe-gantt.umd.js": "frappe-gantt.umd.js",
        "dist/frappe-gantt.css": "frappe-gantt.css",
        "license.txt": "LICENSE",
    }),
    "chart.js": ("chart.js", {
        "dist/chart.umd.min.js": "chart.umd.min.js",
        "dist/chart.umd.min.js.map": "chart.umd.min.js.map",
        "LICENSE.md": "LICENSE.md",
    }),
    # flask-smorest's API docs page (/api/v1/docs) loads these from OPENAPI_SWAGGER_UI_URL.
    "swagger-ui": ("swagger-ui-dist", {
        "swagger-ui.css": "swagger-ui.css",
        "swagger-ui-bundle.js": "swagger-ui-bundle.js",
        "swagger-ui-standalone-preset.js": "swagger-ui-standalone-preset.js",
        "favicon-32x32.png": "favicon-32x32.png",
        "favicon-16x16.png": "favicon-16x16.png",
        "LICENSE": "LICENSE",
        "NOTICE": "NOTICE",
    }),
}


class AssetError(Exception):
    pass


def planned_copies() -> tuple[dict[Path, Path], dict[str, str]]:
    """{destination: source} for every file, and {vendor folder: package version}."""
    plan: dict[Path, Path] = {}
    versions: dict[str, str] = {}
    for folder, (package, files) in LIBS.items():
        pkg_dir = NODE_MODULES / package
        pkg_json = pkg_dir / "package.json"
        if not pkg_json.is_file():
            raise AssetError(f"{pkg_dir.relative_to(ROOT)} is missing: run `npm ci` (scripts/setup does)")
        versions[folder] = json.loads(pkg_json.read_text(encoding="utf-8"))["version"]
        for src_name, dest_name in files.items():
            src = pkg_dir / src_name
            dest = VENDOR / folder / dest_name
            if src_name.endswith("/"):
                if not src.is_dir():
                    raise AssetError(f"{src.relative_to(ROOT)}/ is missing from {package} {versions[folder]}")
                for path in sorted(p for p in src.rglob("*") if p.is_file()):
                    plan[dest / path.relative_to(src)] = path
            else:
                if not src.is_file():
                    raise AssetError(f"{src.relative_to(ROOT)} is missing from {package} {versions[folder]}")
                plan[dest] = src
    return plan, versions


def _same(src: Path, dest: Path) -> bool:
    try:
        return filecmp.cmp(src, dest, shallow=False)  # ~7 MB in all: cheap enough to compare
    except FileNotFoundError:
        return False


def copy_assets() -> tuple[int, int, int]:
    """Bring app/static/vendor/ in line with the manifest. Returns (files, copied, removed)."""
    plan, versions = planned_copies()
    copied = 0
    for dest, src in plan.items():
        if not _same(src, dest):
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest)
            copied += 1
    versions_file = VENDOR / "versions.json"
    text = json.dumps(versions, indent=2, sort_keys=True) + "\n"
    if not versions_file.is_file() or versions_file.read_text(encoding="utf-8") != text:
        versions_file.write_text(text, encoding="utf-8")
    keep = set(plan) | {versions_file}
    removed = 0
    for path in sorted(VENDOR.rglob("*"), reverse=True):  # children before their folders
        if path.is_file() or path.is_symlink():
            if path not in keep:
                path.unlink()
                removed += 1
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    return len(plan), copied, removed


def main(argv: list[str]) -> int:
    try:
        if "--list" in argv:
            plan, versions = planned_copies()
            for dest in sorted(plan):
                print(dest.relative_to(ROOT))
            return 0
        files, copied, removed = copy_assets()
    except AssetError as exc:
        print(f"assets: {exc}", file=sys.stderr)
        return 1
    if copied or removed or os.environ.get("STAGEDESK_VERBOSE"):
        print(f"assets: {files} files in {VENDOR.relative_to(ROOT)} ({copied} copied, {removed} removed)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
