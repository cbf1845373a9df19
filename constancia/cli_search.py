"""`constancia search` and `constancia index`: finding testimony, and the index behind it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from constancia.cli import ARCHIVE_OPT, JSON_OPT, QUIET_OPT, _emit, _n, _open, _say, cli
from constancia.errors import ExitCode


def _print_results(results: Any, as_json: bool) -> None:
    if as_json:
        for h in results.hits:
            _emit(
                {
                    "id": h.id,
                    "title": h.title,
                    "kind": h.kind,
                    "date": h.date,
                    "score": round(h.score, 4),
                    "snippet": h.snippet,
                }
            )
        if results.facets is not None:
            _emit({"facets": results.facets, "total": results.total})
        return
    if not results.hits:
        click.echo("No artefact matches.")
    for h in results.hits:
        date = f", {h.date}" if h.date else ""
        click.echo(f"{h.id[:12]}  {h.title or '(untitled)'}  [{h.kind}{date}]  score {h.score:.2f}")
        if h.snippet:
            click.echo(f"    {h.snippet}")
    click.echo(
        f"{_n(results.total, 'match')} ({results.took_ms:.0f} ms)".replace("matchs", "matches")
    )
    if results.facets:
        for name, counts in results.facets.items():
            shown = ", ".join(f"{k} {v}" for k, v in counts.items())
            click.echo(f"  {name}: {shown}")


@cli.command()
@click.argument("query", default="*")
@click.option("--kind", help="testimony, document, photo, audio, video or other.")
@click.option("--lang", help="Language (BCP 47), e.g. es or en.")
@click.option("--place", help="A place named in the metadata.")
@click.option("--person", help="A person's name; misspellings and variants are found too.")
@click.option("--tag", help="A tag.")
@click.option("--sensitivity", help="public, restricted or confidential.")
@click.option(
    "--from",
    "date_from",
    metavar="DATE",
    help="Events on or after DATE (1973, 1973-09 or 1973-09-11).",
)
@click.option("--to", "date_to", metavar="DATE", help="Events on or before DATE.")
@click.option("--limit", type=click.IntRange(1, 1000), default=10, show_default=True)
@click.option("--page", type=click.IntRange(1), default=1, show_default=True)
@click.option(
    "--facets", is_flag=True, help="Also count matches by kind, language, place and decade."
)
@ARCHIVE_OPT
@JSON_OPT
def search(
    query: str,
    kind: str | None,
    lang: str | None,
    place: str | None,
    person: str | None,
    tag: str | None,
    sensitivity: str | None,
    date_from: str | None,
    date_to: str | None,
    limit: int,
    page: int,
    facets: bool,
    archive_path: Path | None,
    as_json: bool,
) -> None:
    """Find artefacts: words (accents and word forms do not matter), "phrases", AND, OR,
    NOT, field:value, wildcards*, fuzzy~; a query of * with filters lists what they match."""
    from index.query import SearchQuery
    from ingest.indexing import search as run_search

    archive = _open(archive_path)
    q = SearchQuery(
        text=query,
        kind=kind,
        lang=lang,
        place=place,
        person=person,
        tag=tag,
        sensitivity=sensitivity,
        date_from=date_from,
        date_to=date_to,
        limit=limit,
        page=page,
        facets=facets,
    )
    results, note = run_search(archive, q)
    if note is not None:
        _say(f"note: {note.message}")
    _print_results(results, as_json)


@cli.group("index")
def index_group() -> None:
    """The search index (a cache of the archive, always rebuildable)."""


@index_group.command("rebuild")
@click.option(
    "--ocr",
    is_flag=True,
    help="Also run OCR on artefacts whose OCR was skipped at "
    "ingest (adds a version with the text; needs the custodian's key).",
)
@ARCHIVE_OPT
@QUIET_OPT
@click.pass_context
def index_rebuild(ctx: click.Context, ocr: bool, archive_path: Path | None, quiet: bool) -> None:
    """Rebuild the index from the archive, in a new folder swapped in at the end.

    Artefacts without derived files (ingested before text extraction existed) get them first,
    as a new version with a re-signed record; that needs the custodian's key."""
    from constancia.cli import _custodian_signer
    from constancia.progress import Bar
    from ingest.indexing import rebuild
    from ingest.revise import add_missing_derived, needing_derived

    archive = _open(archive_path)
    quiet = quiet or ctx.obj["quiet"]
    pending = needing_derived(archive, ocr=ocr)
    signer = _custodian_signer(archive) if pending else None
    bar = Bar.for_stderr("index ", quiet)
    with archive.lock(on_wait=None if quiet else _say):
        archive.recover()
        if pending and signer is not None:
            extract_bar = Bar.for_stderr("extract", quiet)
            extract_bar.start(len(pending), 0)
            try:
                added = add_missing_derived(
                    archive, signer, pending, ocr=ocr, progress=extract_bar.advance_files
                )
            finally:
                extract_bar.close()
            _say(
                f"added derived files to {_n(added, 'artefact')} "
                f"(of {len(pending)} that lacked them)"
            )
        bar.start(len(archive.artefact_ids()), 0)
        try:
            count = rebuild(archive, progress=bar.advance_files)
        finally:
            bar.close()
    click.echo(f"Rebuilt the search index: {_n(count, 'artefact')}.")


@index_group.command("check")
@ARCHIVE_OPT
@JSON_OPT
def index_check(archive_path: Path | None, as_json: bool) -> None:
    """Compare the index's artefacts and digests with the archive's; report any drift."""
    from ingest.indexing import check

    archive = _open(archive_path)
    drift = check(archive)
    if as_json:
        _emit({"ok": not drift, "drift": drift})
    else:
        for line in drift:
            click.echo(line)
        click.echo(
            "The index matches the archive."
            if not drift
            else f"{_n(len(drift), 'difference')}: run `constancia index rebuild`."
        )
    if drift:
        sys.exit(ExitCode.PROBLEMS)
