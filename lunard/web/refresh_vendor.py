"""Refresh the dashboard's vendored third-party files from the npm registry.

Run as `python -m lunard.web.refresh_vendor` (`make web-vendor`). It is a maintainer tool,
never run at install or serve time: its output is committed under `lunard/web/vendor/`.

- Mithril and uPlot: the exact pinned tarballs, checked against the registry's `integrity`
  (SHA-512), from which a few files are copied.
- CodeMirror 6 ships as many ES modules with bare imports, so it is bundled once, here, with
  a pinned esbuild, into one ES module. `vendor_build/package.json` pins every direct package
  and `vendor_build/package-lock.json` every transitive one (`npm ci` when the lock exists).
- Every written file's SHA-256 and the licences go to `vendor/README.md`; the served paths go
  to `js/vendor.js` so the pages never hard-code a version.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx

WEB = Path(__file__).resolve().parent
VENDOR = WEB / "vendor"
BUILD = WEB / "vendor_build"
REGISTRY = "https://registry.npmjs.org"

CODEMIRROR_PACKAGES = {
    "@codemirror/autocomplete": "6.20.4",
    "@codemirror/commands": "6.11.1",
    "@codemirror/lang-sql": "6.10.0",
    "@codemirror/language": "6.13.1",
    "@codemirror/legacy-modes": "6.5.5",
    "@codemirror/search": "6.7.2",
    "@codemirror/state": "6.7.6",
    "@codemirror/theme-one-dark": "6.1.3",
    "@codemirror/view": "6.43.15",
    "@lezer/highlight": "1.2.5",
}
ESBUILD = "0.28.2"
CODEMIRROR_ENTRY = """\
export {EditorState, Compartment} from "@codemirror/state";
export {EditorView, keymap, lineNumbers, highlightActiveLine, highlightActiveLineGutter,
  drawSelection, placeholder} from "@codemirror/view";
export {defaultKeymap, history, historyKeymap, indentWithTab} from "@codemirror/commands";
export {StreamLanguage, syntaxHighlighting, defaultHighlightStyle, bracketMatching,
  indentOnInput, foldGutter, indentUnit} from "@codemirror/language";
export {autocompletion, completionKeymap, closeBrackets, closeBracketsKeymap,
  snippetCompletion} from "@codemirror/autocomplete";
export {searchKeymap, highlightSelectionMatches} from "@codemirror/search";
export {oneDark} from "@codemirror/theme-one-dark";
export {sql, PostgreSQL} from "@codemirror/lang-sql";
export {lua} from "@codemirror/legacy-modes/mode/lua";
export {shell} from "@codemirror/legacy-modes/mode/shell";
export {javascript} from "@codemirror/legacy-modes/mode/javascript";
export {python} from "@codemirror/legacy-modes/mode/python";
export {go} from "@codemirror/legacy-modes/mode/go";
"""


@dataclass(frozen=True)
class TarballLib:
    """One library copied from its npm tarball: which files, under which names."""

    name: str
    version: str
    files: dict[str, str]  # path inside the tarball's `package/` -> name under vendor dir
    licence: str


TARBALL_LIBS = (
    TarballLib(
        "mithril",
        "2.3.8",
        {"mithril.min.js": "mithril.min.js", "LICENSE": "LICENSE"},
        "MIT",
    ),
    TarballLib(
        "uplot",
        "1.6.32",
        {
            "dist/uPlot.iife.min.js": "uPlot.iife.min.js",
            "dist/uPlot.min.css": "uPlot.min.css",
            "LICENSE": "LICENSE",
        },
        "MIT",
    ),
)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch_tarball(client: httpx.Client, name: str, version: str) -> bytes:
    """The registry tarball of `name@version`, refused unless it matches `dist.integrity`."""
    meta = client.get(f"{REGISTRY}/{name}/{version}")
    meta.raise_for_status()
    dist = meta.json()["dist"]
    data = client.get(dist["tarball"]).content
    algo, _, expected = dist["integrity"].partition("-")
    if algo != "sha512" or base64.b64decode(expected) != hashlib.sha512(data).digest():
        raise SystemExit(f"{name}@{version}: tarball does not match the registry integrity")
    return data


def vendor_tarball_lib(client: httpx.Client, lib: TarballLib) -> dict[str, str]:
    """Write the chosen files of one library; their vendor-relative paths -> SHA-256."""
    target = VENDOR / f"{lib.name}@{lib.version}"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    written: dict[str, str] = {}
    with tarfile.open(fileobj=io.BytesIO(fetch_tarball(client, lib.name, lib.version))) as tar:
        for inner, out in lib.files.items():
            member = tar.extractfile(f"package/{inner}")
            if member is None:
                raise SystemExit(f"{lib.name}@{lib.version}: {inner} missing from the tarball")
            data = member.read()
            (target / out).write_bytes(data)
            written[f"{target.name}/{out}"] = sha256(data)
    return written


def npm(args: list[str], cwd: Path) -> None:
    subprocess.run(["npm", *args], cwd=cwd, check=True)


def bundle_codemirror() -> tuple[str, dict[str, str], dict[str, str]]:
    """Bundle CM6 into one minified ES module: (vendor dir name, files -> SHA-256, versions)."""
    BUILD.mkdir(exist_ok=True)
    package = {
        "name": "lunard-vendor-build",
        "private": True,
        "description": "Inputs of lunard/web/refresh_vendor.py (not served).",
        "dependencies": dict(sorted(CODEMIRROR_PACKAGES.items())),
        "devDependencies": {"esbuild": ESBUILD},
    }
    (BUILD / "package.json").write_text(json.dumps(package, indent=2) + "\n")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        shutil.copy(BUILD / "package.json", work / "package.json")
        lock = BUILD / "package-lock.json"
        if lock.exists():
            shutil.copy(lock, work / "package-lock.json")
            npm(["ci", "--ignore-scripts", "--no-audit", "--no-fund"], work)
        else:
            npm(["install", "--ignore-scripts", "--no-audit", "--no-fund"], work)
            shutil.copy(work / "package-lock.json", lock)
        (work / "entry.js").write_text(CODEMIRROR_ENTRY)
        out = work / "codemirror.min.js"
        subprocess.run(
            [
                "node",
                "node_modules/esbuild/bin/esbuild",
                "entry.js",
                "--bundle",
                "--format=esm",
                "--minify",
                "--legal-comments=none",
                f"--outfile={out}",
            ],
            cwd=work,
            check=True,
        )
        data = out.read_bytes()
        licence = (work / "node_modules/@codemirror/view/LICENSE").read_bytes()
        versions = installed_versions(json.loads(lock.read_text()))
    # The bundle's name carries its content hash: a new lock gives a new immutable URL.
    name = f"codemirror@6.0.0-{sha256(data)[:12]}"
    for old in VENDOR.glob("codemirror@*"):
        shutil.rmtree(old)
    (VENDOR / name).mkdir(parents=True)
    (VENDOR / name / "codemirror.min.js").write_bytes(data)
    (VENDOR / name / "LICENSE").write_bytes(licence)
    files = {f"{name}/codemirror.min.js": sha256(data), f"{name}/LICENSE": sha256(licence)}
    return name, files, versions


def installed_versions(lock: dict[str, object]) -> dict[str, str]:
    """Every package in the bundle (not the build tool), from the lock file: name -> version."""
    packages = lock.get("packages", {})
    assert isinstance(packages, dict)
    result: dict[str, str] = {}
    for path, info in packages.items():
        if path.startswith("node_modules/") and isinstance(info, dict) and not info.get("dev"):
            result[path.removeprefix("node_modules/")] = str(info.get("version"))
    return dict(sorted(result.items()))


def write_paths_module(codemirror_dir: str) -> None:
    """`js/vendor.js`: the served URLs of the vendored files, the one place naming versions."""
    mithril, uplot = (f"{lib.name}@{lib.version}" for lib in TARBALL_LIBS)
    update_index(f"/vendor/{mithril}/mithril.min.js")
    (WEB / "js" / "vendor.js").write_text(
        "// Written by lunard/web/refresh_vendor.py: URLs of the vendored files.\n"
        f'export const MITHRIL_JS = "/vendor/{mithril}/mithril.min.js";\n'
        f'export const UPLOT_JS = "/vendor/{uplot}/uPlot.iife.min.js";\n'
        f'export const UPLOT_CSS = "/vendor/{uplot}/uPlot.min.css";\n'
        f'export const CODEMIRROR_JS = "/vendor/{codemirror_dir}/codemirror.min.js";\n'
    )


def update_index(mithril_url: str) -> None:
    """Point index.html's one vendored script tag at the current Mithril file."""
    index = WEB / "index.html"
    if index.exists():
        text = re.sub(r"/vendor/mithril@[^/\"]+/mithril\.min\.js", mithril_url, index.read_text())
        index.write_text(text)


def write_readme(hashes: dict[str, str], cm_versions: dict[str, str]) -> None:
    lines = [
        "# Vendored dashboard libraries",
        "",
        "Written by `python -m lunard.web.refresh_vendor` (`make web-vendor`); do not edit.",
        "Files are served as `/vendor/<lib>@<version>/...` with an immutable cache header.",
        "",
        "| Library | Version | Licence | Source |",
        "|---|---|---|---|",
    ]
    for lib in TARBALL_LIBS:
        lines.append(
            f"| {lib.name} | {lib.version} | {lib.licence} | npm tarball (integrity checked) |"
        )
    lines.append(
        "| CodeMirror 6 (bundle) | see below | MIT | npm (`npm ci` from the lock file), bundled "
        f"with esbuild {ESBUILD} into one minified ES module |"
    )
    lines += ["", "## CodeMirror bundle contents (from `vendor_build/package-lock.json`)", ""]
    lines += [f"- `{name}` {version}" for name, version in cm_versions.items()]
    lines += ["", "## SHA-256 of every vendored file", "", "| File | SHA-256 |", "|---|---|"]
    lines += [f"| `{path}` | `{digest}` |" for path, digest in sorted(hashes.items())]
    (VENDOR / "README.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    """Download, verify, bundle and record every vendored library."""
    VENDOR.mkdir(exist_ok=True)
    hashes: dict[str, str] = {}
    with httpx.Client(timeout=60, follow_redirects=True) as client:
        for lib in TARBALL_LIBS:
            hashes.update(vendor_tarball_lib(client, lib))
    cm_dir, cm_hashes, cm_versions = bundle_codemirror()
    hashes.update(cm_hashes)
    write_paths_module(cm_dir)
    write_readme(hashes, cm_versions)
    print(f"vendored {len(hashes)} files into {VENDOR}", file=sys.stderr)


if __name__ == "__main__":
    main()
