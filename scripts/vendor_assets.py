"""Vendor the browser assets the map needs into ``static/vendor`` (reproducibly).

The dashboard must draw its map on an offline intranet, so Leaflet and every Leaflet
plugin are committed to the repository instead of being loaded from a CDN. This script
fetches the pinned npm packages with ``npm pack`` (the npm client's configured registry),
checks each tarball against its pinned integrity hash, copies only the files the map
needs plus each package's licence into ``static/vendor/<package>-<version>/`` and writes
``static/vendor/MANIFEST.json`` (file -> sha256, package, version, licence).

Usage::

    python scripts/vendor_assets.py            # (re)fetch and rewrite static/vendor
    python scripts/vendor_assets.py --verify   # offline: check files against MANIFEST.json

Which folium/branca defaults are vendored and which are dropped (and why) is documented
in ``maps/offline.py``; that module reads MANIFEST.json to find the versions.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
VENDOR_DIR = REPO_ROOT / "static" / "vendor"
MANIFEST_PATH = VENDOR_DIR / "MANIFEST.json"

#: Pinned packages. ``integrity`` is the npm tarball's SRI hash (as ``npm pack --json``
#: reports it); ``files`` maps a path inside the tarball's ``package/`` folder to the
#: path inside ``static/vendor/<name>-<version>/``.
PACKAGES: dict[str, dict[str, Any]] = {
    "leaflet": {
        "version": "1.9.4",
        "license": "BSD-2-Clause",
        "integrity": (
            "sha512-nxS1ynzJOmOlHp+iL3FyWqK89GtNL8U8rvlMOsQdTTssxZwCXh8N2NB3GDQOL+YR3XnWyZAxwQix"
            "URb+FA74PA=="
        ),
        "files": {
            "dist/leaflet.js": "leaflet.js",
            "dist/leaflet.css": "leaflet.css",
            "dist/images/marker-icon.png": "images/marker-icon.png",
            "dist/images/marker-icon-2x.png": "images/marker-icon-2x.png",
            "dist/images/marker-shadow.png": "images/marker-shadow.png",
            "dist/images/layers.png": "images/layers.png",
            "dist/images/layers-2x.png": "images/layers-2x.png",
            "LICENSE": "LICENSE",
        },
    },
    "leaflet.markercluster": {
        "version": "1.5.3",
        "license": "MIT",
        "integrity": (
            "sha512-vPTw/Bndq7eQHjLBVlWpnGeLa3t+3zGiuM7fJwCkiMFq+nmRuG3RI3f7f4N4TDX7T4NpbAXpR2+N"
            "TRSEGfCSeA=="
        ),
        "files": {
            "dist/leaflet.markercluster.js": "leaflet.markercluster.js",
            "dist/MarkerCluster.css": "MarkerCluster.css",
            "dist/MarkerCluster.Default.css": "MarkerCluster.Default.css",
            "MIT-LICENCE.txt": "LICENSE",
        },
    },
    # folium.Popup (any ``popup=`` on a Marker/CircleMarker) builds its content with
    # jQuery's ``$(...)``; offline.localize() links it only for maps that need it.
    "jquery": {
        "version": "3.7.1",
        "license": "MIT",
        "integrity": (
            "sha512-m4avr8yL8kmFN8psrbFFFmB/If14iN5o9nw/NgnnM+kybDJpRsAynV2BsfpTYrTRysYUdADVD7Ck"
            "UUizgkpLfg=="
        ),
        "files": {
            "dist/jquery.min.js": "jquery.min.js",
            "LICENSE.txt": "LICENSE",
        },
    },
}


def package_dir_name(name: str, version: str) -> str:
    """Folder of one vendored package inside ``static/vendor``."""
    return f"{name}-{version}"


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _sri_sha512(path: Path) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


def npm_pack(name: str, version: str, dest: Path) -> Path:
    """Download ``name@version`` as a tarball into ``dest`` with ``npm pack``."""
    result = subprocess.run(
        ["npm", "pack", f"{name}@{version}", "--json", "--pack-destination", str(dest)],
        cwd=dest,
        check=True,
        capture_output=True,
        text=True,
    )
    info = json.loads(result.stdout)[0]
    return dest / info["filename"]


def _safe_extract(tarball: Path, dest: Path) -> Path:
    with tarfile.open(tarball, "r:gz") as tar:
        tar.extractall(dest, filter="data")
    return dest / "package"


def vendor_package(name: str, spec: dict[str, Any], workdir: Path) -> dict[str, dict[str, Any]]:
    """Fetch, verify and copy one package; return its MANIFEST file entries."""
    version = spec["version"]
    tarball = npm_pack(name, version, workdir)
    integrity = _sri_sha512(tarball)
    if integrity != spec["integrity"]:
        raise SystemExit(f"{name}@{version}: tarball integrity {integrity} != pinned")
    pkg_root = _safe_extract(tarball, workdir / f"x-{name}")
    meta = json.loads((pkg_root / "package.json").read_text(encoding="utf-8"))
    if meta.get("version") != version or meta.get("license") != spec["license"]:
        raise SystemExit(f"{name}: package.json says {meta.get('version')}/{meta.get('license')}")

    out_dir = VENDOR_DIR / package_dir_name(name, version)
    shutil.rmtree(out_dir, ignore_errors=True)
    entries: dict[str, dict[str, Any]] = {}
    for src_rel, dst_rel in spec["files"].items():
        src = pkg_root / src_rel
        dst = out_dir / dst_rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
        entries[f"{package_dir_name(name, version)}/{dst_rel}"] = {
            "sha256": sha256_file(dst),
            "bytes": dst.stat().st_size,
            "package": name,
            "version": version,
            "license": spec["license"],
        }
    return entries


def _remove_stale_versions() -> None:
    """Delete vendored folders of managed packages whose version is no longer pinned."""
    if not VENDOR_DIR.is_dir():
        return
    wanted = {package_dir_name(n, s["version"]) for n, s in PACKAGES.items()}
    for child in VENDOR_DIR.iterdir():
        if not child.is_dir() or child.name in wanted:
            continue
        if any(child.name.startswith(f"{n}-") for n in PACKAGES):
            shutil.rmtree(child)


def build_manifest(files: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "generated_by": "scripts/vendor_assets.py",
        "packages": {
            name: {
                "version": spec["version"],
                "license": spec["license"],
                "integrity": spec["integrity"],
                "dir": package_dir_name(name, spec["version"]),
            }
            for name, spec in sorted(PACKAGES.items())
        },
        "files": dict(sorted(files.items())),
    }


def vendor_all() -> dict[str, Any]:
    """Fetch every pinned package and rewrite ``static/vendor`` and its MANIFEST."""
    if shutil.which("npm") is None:
        raise SystemExit("npm is required (apt-get install npm)")
    VENDOR_DIR.mkdir(parents=True, exist_ok=True)
    _remove_stale_versions()
    files: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="vendor-assets-") as tmp:
        for name, spec in PACKAGES.items():
            files.update(vendor_package(name, spec, Path(tmp)))
    manifest = build_manifest(files)
    MANIFEST_PATH.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def verify() -> list[str]:
    """Offline check of ``static/vendor`` against MANIFEST.json; return the problems."""
    manifest = json.loads(MANIFEST_PATH.read_text(encoding="utf-8"))
    problems = []
    for rel, entry in manifest["files"].items():
        path = VENDOR_DIR / rel
        if not path.is_file():
            problems.append(f"missing: {rel}")
        elif sha256_file(path) != entry["sha256"]:
            problems.append(f"sha256 mismatch: {rel}")
    for name, spec in PACKAGES.items():
        if manifest["packages"].get(name, {}).get("version") != spec["version"]:
            problems.append(f"MANIFEST version of {name} differs from the pin in this script")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--verify", action="store_true", help="only check files against MANIFEST.json"
    )
    args = parser.parse_args(argv)
    if args.verify:
        problems = verify()
        for p in problems:
            print(p, file=sys.stderr)
        print("ok" if not problems else f"{len(problems)} problem(s)")
        return 1 if problems else 0
    manifest = vendor_all()
    total = sum(e["bytes"] for e in manifest["files"].values())
    for rel, entry in manifest["files"].items():
        print(f"{entry['bytes']:>9}  {rel}")
    print(f"{total:>9}  total bytes in {len(manifest['files'])} files")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
