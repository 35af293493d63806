"""``fastnst models``: the catalogue of published style networks, and its cache.

    fastnst models                          # list: kind, licence, cached or not
    fastnst models show candy               # URLs, licence, size and SHA-256 once cached
    fastnst models fetch candy              # download (once) and check
    fastnst models fetch all --accept-license
    fastnst models remove candy             # delete its files and their records
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Sequence

from fastnst.errors import FastNSTError


def models_parser() -> argparse.ArgumentParser:
    """``fastnst models [list|show|fetch|remove] ...``."""
    parser = argparse.ArgumentParser(
        prog="fastnst models",
        description="Published style networks, downloaded on first use into $FASTNST_CACHE.",
    )
    parser.add_argument(
        "action", nargs="?", default="list", choices=["list", "show", "fetch", "remove"]
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help="catalogue names, or 'all'")
    parser.add_argument(
        "--accept-license", action="store_true",
        help="accept a licence that forbids commercial use (Johnson et al.'s models), once",
    )  # fmt: skip
    return parser


def _names(words: list[str], action: str) -> list[str]:
    from fastnst.models.catalog import catalog_model, load_catalog

    if not words:
        raise FastNSTError(f"fastnst models {action} needs NAME or 'all' ('fastnst models' lists)")
    if words == ["all"]:
        return list(load_catalog())
    return [catalog_model(word).name for word in words]


def list_models() -> None:
    """One line per model: name, kind, licence, cached (with size) or not."""
    from fastnst.io.pretrained import is_cached
    from fastnst.io.pretrained_cache import Manifest, cache_root
    from fastnst.models.catalog import load_catalog

    rows = [(model, is_cached(model)) for model in load_catalog().values()]
    manifest = Manifest(cache_root())
    width = max(len(model.name) for model, _ in rows)
    print(f"{'NAME':<{width}}  {'KIND':<12}  {'LICENCE':<32}  CACHED")
    for model, cached in rows:
        lic = model.license.name + ("" if model.license.commercial else " *")
        records = [manifest.record(d.key) for d in model.downloads]
        size = sum(r.size for r in records if r is not None) / 1e6
        cell = f"yes ({size:.1f} MB downloaded)" if cached else "-"
        print(f"{model.name:<{width}}  {model.kind_words:<12}  {lic:<32}  {cell}")
    print(f"\ncache: {cache_root()}   * needs --accept-license (no commercial use)")
    print("fetch: fastnst models fetch NAME|all")
    print("use:   fastnst stylize photo.jpg --model NAME -o out.jpg")


def show_model(name: str) -> None:
    """Everything the catalogue and the manifest say about ``name``."""
    from fastnst.io.pretrained_cache import Manifest, cache_root
    from fastnst.models.catalog import catalog_model

    model, manifest = catalog_model(name), Manifest(cache_root())
    print(f"{model.name}: {model.title}\n  kind: {model.kind_words}", end="")
    print(f" ({model.num_styles} styles)" if model.num_styles else "")
    print(f"  reference: {model.reference}")
    print(f"  format: {model.format}\n  licence: {model.license.text} ({model.license.url})")
    for d in model.downloads:
        record = manifest.record(d.key)
        print(f"  {d.url}\n    -> {cache_root() / d.key}")
        if d.sha256:
            print(f"    published: {d.size} bytes, sha256 {d.sha256} ({d.hash_source})")
        if record is not None:
            print(f"    cached {record.placed}: {record.size} bytes, sha256 {record.sha256}")
        else:
            print("    not cached")


def remove_model(name: str) -> None:
    """Delete ``name``'s downloads (and what was unpacked or converted from them)."""
    from fastnst.io.pretrained_cache import Manifest, cache_root
    from fastnst.models.catalog import catalog_model

    model, root = catalog_model(name), cache_root()
    manifest = Manifest(root)
    keys = [d.key for d in model.downloads] + [k for k in (model.file,) if k]
    for key in keys:
        for path in (root / key, root / f"{key}.unzip"):
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
        manifest.forget(key)
        manifest.forget(f"{key}.unzip")
        for parent in (root / key).parents:  # folders left empty
            if parent == root or not parent.is_dir() or any(parent.iterdir()):
                break
            parent.rmdir()
    print(f"removed {name} ({', '.join(keys)})")


def models_command(argv: Sequence[str]) -> None:
    """Parse ``argv`` and run the action; errors are one line and exit status 1."""
    args = models_parser().parse_args(argv)
    try:
        if args.action == "list":
            list_models()
        elif args.action == "show":
            for name in _names(args.names, "show"):
                show_model(name)
        elif args.action == "remove":
            for name in _names(args.names, "remove"):
                remove_model(name)
        else:
            _fetch(_names(args.names, "fetch"), args.accept_license)
    except FastNSTError as err:
        sys.exit(f"error: {err}")


def _fetch(names: list[str], accept_license: bool) -> None:
    """Fetch each name; with several, go on past failures and exit 1 if any failed."""
    from fastnst.io.pretrained import fetch_model
    from fastnst.models.catalog import catalog_model

    failed = []
    for name in names:
        try:
            path = fetch_model(catalog_model(name), accept_license=accept_license)
        except FastNSTError as err:
            if len(names) == 1:
                raise
            print(f"error: {name}: {err}", file=sys.stderr)
            failed.append(name)
            continue
        print(f"{name}: {path}")
    if failed:
        sys.exit(f"error: {len(failed)} of {len(names)} not fetched: {', '.join(failed)}")
