"""Vendor the book's JavaScript (MathJax 3, mermaid, the ipywidgets renderer) into `_vendor/`.

The HTML book would otherwise load them from CDNs and show raw LaTeX without internet.
Run this once before `jupyter-book build` (it is a no-op when `_vendor/` is up to date):

    python tools/vendor_book_assets.py            # needs `npm` and the npm registry
    python tools/vendor_book_assets.py --check    # only say whether _vendor/ is complete

The Sphinx extension `_ext/offline_assets.py` serves `_vendor/` as the build's `_static/`,
so `_vendor/mathjax/tex-mml-chtml.js` is `_build/html/_static/mathjax/tex-mml-chtml.js`.
"""
import argparse
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VENDOR_DIR = Path(__file__).resolve().parent.parent / "_vendor"
MANIFEST = "MANIFEST.json"

# npm package -> {path inside the package: path under _vendor/}. Versions are pinned so that
# every build serves the same bytes; mermaid matches sphinxcontrib-mermaid's default.
PACKAGES = {
    "mathjax@3.2.2": {
        # MathJax finds its fonts and lazily loaded parts relative to the combined script.
        "es5/tex-mml-chtml.js": "mathjax/tex-mml-chtml.js",
        "es5/input": "mathjax/input",
        "es5/output": "mathjax/output",
        "es5/ui": "mathjax/ui",
        "es5/a11y": "mathjax/a11y",
        "es5/sre": "mathjax/sre",
        "LICENSE": "mathjax/LICENSE",
    },
    # The classic (non-module) build: module imports are blocked on pages opened as files.
    "mermaid@11.12.1": {
        "dist/mermaid.min.js": "mermaid/mermaid.min.js",
        "LICENSE": "mermaid/LICENSE",
    },
    "requirejs@2.3.8": {"require.js": "widgets/require.js"},
    # embed-amd.js needs RequireJS; it loads its icon fonts (dist/<hash>.woff2, ...) from
    # beside itself. A key with `*` copies every match into the folder it maps to.
    "@jupyter-widgets/html-manager@1.0.15": {
        "dist/embed-amd.js": "widgets/embed-amd.js",
        **{f"dist/*.{font}": "widgets" for font in ("woff2", "woff", "ttf", "eot", "svg")},
    },
}

# mermaid.min.js sets `globalThis.mermaid`; sphinxcontrib-mermaid imports it from this module.
MERMAID_SHIM = "mermaid/mermaid-global.mjs"
MERMAID_SHIM_SOURCE = "export default globalThis.mermaid;\n"


def wanted_manifest() -> dict:
    """What a complete `_vendor/` records: the pinned packages."""
    return {"packages": sorted(PACKAGES)}


def is_current(vendor_dir: Path = VENDOR_DIR) -> bool:
    """True when `vendor_dir` holds exactly the pinned packages (its manifest says so)."""
    manifest = vendor_dir / MANIFEST
    if not manifest.is_file():
        return False
    recorded = json.loads(manifest.read_text())
    return recorded.get("packages") == wanted_manifest()["packages"] and all(
        (vendor_dir / path).exists() for path in recorded.get("files", [])
    )


def npm_pack(spec: str, into: Path) -> Path:
    """Download one npm package's tarball (integrity-checked by npm) and unpack it."""
    npm = shutil.which("npm")
    if npm is None:
        sys.exit("vendor_book_assets: `npm` not found; install Node.js (e.g. apt-get install npm)")
    out = subprocess.run([npm, "pack", spec, "--silent", "--pack-destination", str(into)],
                         check=True, capture_output=True, text=True).stdout.split()[-1]
    unpacked = into / out.removesuffix(".tgz")
    with tarfile.open(into / out) as tar:
        # The "data" filter refuses links and paths outside `unpacked` (Python >= 3.10.12).
        tar.extractall(unpacked, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    return unpacked / "package"


def copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.map"))
    else:
        shutil.copy2(src, dst)


def vendor(vendor_dir: Path = VENDOR_DIR) -> None:
    """Rebuild `vendor_dir` from the pinned npm packages, then write its manifest."""
    staging = vendor_dir.with_name(vendor_dir.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    files = []
    with tempfile.TemporaryDirectory() as tmp:
        for spec, mapping in PACKAGES.items():
            package = npm_pack(spec, Path(tmp))
            for pattern, dst in mapping.items():
                matches = sorted(package.glob(pattern)) if "*" in pattern else [package / pattern]
                for src in matches:
                    target = f"{dst}/{src.name}" if "*" in pattern else dst
                    copy(src, staging / target)
                    files.append(target)
    (staging / MERMAID_SHIM).write_text(MERMAID_SHIM_SOURCE)
    files.append(MERMAID_SHIM)
    size = sum(p.stat().st_size for p in staging.rglob("*") if p.is_file())
    manifest = {**wanted_manifest(), "files": sorted(files), "bytes": size}
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    shutil.rmtree(vendor_dir, ignore_errors=True)
    staging.rename(vendor_dir)  # only a complete copy ever takes the real name
    print(f"vendor_book_assets: {len(PACKAGES)} packages, {size / 2**20:.1f} MiB in {vendor_dir}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if _vendor/ is incomplete")
    parser.add_argument("--force", action="store_true", help="re-download even if up to date")
    args = parser.parse_args(argv)
    if is_current() and not args.force:
        print(f"vendor_book_assets: {VENDOR_DIR} is up to date")
        return 0
    if args.check:
        print(f"vendor_book_assets: {VENDOR_DIR} is missing or stale; run "
              "`python tools/vendor_book_assets.py`")
        return 1
    vendor()
    return 0


if __name__ == "__main__":
    sys.exit(main())
