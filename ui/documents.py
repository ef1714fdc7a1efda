"""The chat's Documents panel: drop files, watch them being read and embedded, see the list, delete with confirmation.

Every change goes through the serving process's one writer (qa.documents.service); the panel
only translates clicks into its calls. Documents are shown by title (qa.documents.title), the
file name beside it; every selector's value is the document id. The HTML is built by pure
functions below.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

import gradio as gr

from qa.documents.registry import DocumentRecord, Job
from qa.errors import InputError, QAError
from qa.ingest.formats import SUPPORTED_SUFFIXES

POLL_S = 0.25
# Listings the page refreshes by itself: no spinner, not offered as an API endpoint.
BACKGROUND: dict[str, Any] = {"show_progress": "hidden", "api_visibility": "undocumented"}

CSS = """
#qa-docs .qa-doc-list { width: 100%; font-size: 0.9em; border-collapse: collapse; border: none !important; }
#qa-docs .qa-doc-list tr { border: none !important; }
#qa-docs .qa-doc-list td, #qa-docs .qa-doc-list th {
  padding: 2px 6px; text-align: left; border: none !important; border-bottom: 1px solid var(--border-color-primary) !important;
}
#qa-docs .qa-doc-title { display: block; font-weight: 500; }
#qa-docs .qa-doc-file { display: block; font-size: 0.85em; opacity: 0.7; word-break: break-all; }
#qa-docs .qa-progress { height: 10px; border-radius: 5px; background: var(--border-color-primary); overflow: hidden; margin: 4px 0; }
#qa-docs .qa-progress-bar { height: 100%; background: var(--color-accent); }
#qa-docs .qa-job-error { color: var(--error-text-color, #b91c1c); }
#qa-scope-note .qa-scope-note { font-size: 0.9em; color: var(--error-text-color, #b45309); margin: 0; }
"""


def document_labels(docs: Sequence[DocumentRecord], titles: Mapping[str, str | None]) -> dict[str, str]:
    """Return each document's label by id: its title (its file name when it has none), the file name added where titles are shared."""
    first = {d.id: titles.get(d.id) or d.name for d in docs}
    shared = Counter(first.values())
    labels = {d.id: first[d.id] if shared[first[d.id]] == 1 else f"{first[d.id]} ({d.name})" for d in docs}
    # File names are unique, so only a title that reads like another's "title (name)" is left to tell apart: by id.
    again = Counter(labels.values())
    return {i: label if again[label] == 1 else f"{label} [{i}]" for i, label in labels.items()}


@dataclass(frozen=True)
class Listing:
    """The documents as the chat shows them: records ordered by label, with their titles and unique labels."""

    docs: tuple[DocumentRecord, ...]
    titles: Mapping[str, str | None]
    labels: Mapping[str, str]

    @classmethod
    def of(cls, docs: Sequence[DocumentRecord], titles: Mapping[str, str | None]) -> Listing:
        """Return the listing of these documents, ordered by label."""
        labels = document_labels(docs, titles)
        ordered = sorted(docs, key=lambda d: (labels[d.id].casefold(), d.name))
        return cls(tuple(ordered), dict(titles), labels)

    def choices(self) -> list[tuple[str, str]]:
        """Return the selectors' choices: (label, document id)."""
        return [(self.labels[d.id], d.id) for d in self.docs]

    def kept(self, selected: Sequence[str] | None) -> list[str]:
        """Return the selected ids that are still listed, in their order."""
        return [s for s in selected or [] if s in self.labels]

    def signature(self) -> tuple[tuple[str, str | None, int, str], ...]:
        """Return what the list shows, to tell whether it changed."""
        return tuple((d.id, d.sha256, d.passages, self.labels[d.id]) for d in self.docs)


class DocumentCatalog:
    """The document service seen by the chat: listings with titles, each title read once per document version."""

    def __init__(self, service: Any) -> None:
        self.service = service
        # Every label shown so far, so that a document deleted since can still be named.
        self._seen: dict[str, str] = {}

    def title(self, rec: DocumentRecord) -> str | None:
        """Return a document's title, or None when it has none (or cannot be read: logged); the service caches it."""
        return self.service.title_of(rec)  # type: ignore[no-any-return]

    def listing(self) -> Listing:
        """Return the committed documents with their titles and labels."""
        docs = self.service.documents()
        listing = Listing.of(docs, {d.id: self.title(d) for d in docs})
        self._seen.update(listing.labels)
        return listing

    def scope(self, ids: Sequence[str]) -> list[tuple[str, str]]:
        """Return (id, label) of the chosen documents, for an answer to say what it searched in.

        Raises InputError naming those deleted since they were chosen (another tab, the API), in
        words for the chat rather than the API's "no document with id".
        """
        labels = self.listing().labels
        gone = [i for i in ids if i not in labels]
        if gone:
            names = ", ".join(f"“{self._seen.get(i, i)}”" for i in gone)
            raise InputError(
                f"{names} {'was' if len(gone) == 1 else 'were'} deleted after being chosen in “Search in”: "
                "check the choice (it is updated in a few seconds) and ask again."
            )
        return [(i, labels[i]) for i in ids]


def documents_html(listing: Listing) -> str:
    """Return the document list as a table (title over file name, type, pages, passages)."""
    if not listing.docs:
        return '<p class="qa-doc-empty">No documents yet: drop PDF, Word, HTML, Markdown or text files above.</p>'
    # The file name under each title tells apart two documents of one title; a document without a title is its file name.
    rows = "".join(
        f'<tr class="qa-doc" data-name="{escape(d.name)}" data-id="{escape(d.id)}">'
        f'<td class="qa-doc-name"><span class="qa-doc-title">{escape(listing.titles.get(d.id) or d.name)}</span>'
        + (f'<span class="qa-doc-file">{escape(d.name)}</span>' if listing.titles.get(d.id) else "")
        + f"</td><td>{escape(d.type)}</td>"
        f'<td>{d.pages if d.pages is not None else ""}</td><td class="qa-doc-passages">{d.passages}</td></tr>'
        for d in listing.docs
    )
    return f'<table class="qa-doc-list"><tr><th>document</th><th>type</th><th>pages</th><th>passages</th></tr>{rows}</table>'


def _outcome(state: str, document_id: str | None, labels: Mapping[str, str]) -> str:
    """Return what happened to one uploaded file, naming the document it became (or already was) by its label."""
    label = labels.get(document_id or "")
    if label is None:
        return escape(state)
    if state == "duplicate":
        return f"duplicate: the same file is already here as “{escape(label)}”"
    if state in ("added", "replaced", "unchanged"):
        return f"{escape(state)} as “{escape(label)}”"
    return escape(state)


def job_html(job: Job, labels: Mapping[str, str] | None = None) -> str:
    """Return a job's progress bar and the outcome of each file (with the label of its document, where given)."""
    d = job.to_dict()
    p = d["progress"]
    share = p["passages_embedded"] / p["passages_total"] if p["passages_total"] else (1.0 if job.state in ("done", "failed") else 0.0)
    files = "".join(
        f'<li class="qa-job-file qa-job-{escape(f["state"])}">{escape(f["name"])}: {_outcome(f["state"], f["document_id"], labels or {})}'
        + (f' <span class="qa-job-error">{escape(f["error"])}</span>' if f["error"] else "")
        + "</li>"
        for f in d["files"]
    )
    return (
        f'<div class="qa-job" data-state="{escape(job.state)}"><div class="qa-job-state">{escape(job.state)}: '
        f'{p["passages_embedded"]} of {p["passages_total"]} passages embedded, {p["files_done"]} of {p["files_total"]} files</div>'
        f'<div class="qa-progress"><div class="qa-progress-bar" style="width: {share * 100:.0f}%"></div></div><ul>{files}</ul></div>'
    )


def scope_note_html(dropped: Sequence[str], kept: int) -> str:
    """Return the note under "Search in" when a reopened conversation's documents were deleted since ("" when none were)."""
    if not dropped:
        return ""
    names = ", ".join(f"“{escape(label)}”" for label in dropped)
    was = "was" if len(dropped) == 1 else "were"
    if kept:
        then = "the conversation searches the rest of its documents."
    else:
        then = "questions now search <b>every document</b>."
    return f'<p class="qa-scope-note">This conversation searched in {names}, which {was} deleted since: {then}</p>'


def restored_scope(scope: Sequence[tuple[str, str]], listing: Listing) -> tuple[list[str], str]:
    """Return the "Search in" ids of a reopened conversation that still exist, and the note naming those deleted since."""
    kept = listing.kept([i for i, _ in scope])
    dropped = [label for i, label in scope if i not in listing.labels]
    return kept, scope_note_html(dropped, len(kept))


def build_search_selector(listing: Listing) -> gr.Dropdown:
    """Render the multi-select of the documents a question searches (none chosen: every document)."""
    return gr.Dropdown(
        label="Search in",
        info="Leave empty to search every document.",
        choices=listing.choices(),
        value=[],
        multiselect=True,
        elem_id="qa-docs-search",
    )


def build_documents_panel(catalog: DocumentCatalog, search: gr.Dropdown, blocks: gr.Blocks) -> None:
    """Render the panel inside the current Blocks context, wired to the document service (and the search selector)."""
    service = catalog.service

    def listing(selected: list[str] | None, chosen: str | None = None) -> tuple[str, Any, Any, Any]:
        now = catalog.listing()
        choices = now.choices()
        # A deleted document leaves the selections too; the rest of them stays.
        return (
            documents_html(now),
            gr.update(choices=choices, value=chosen if chosen in now.labels else None),
            gr.update(choices=choices, value=now.kept(selected)),
            now.signature(),
        )

    def on_upload(paths: list[str] | None, selected: list[str] | None) -> Iterator[tuple[Any, ...]]:
        if not paths:
            yield (gr.skip(),) * 6
            return
        files = [(Path(p).name, Path(p).read_bytes()) for p in paths]
        try:
            job = service.upload(files)
        except QAError as exc:
            yield f'<p class="qa-job-error">{escape(str(exc))}</p>', gr.skip(), gr.skip(), None, gr.skip(), gr.skip()
            return
        while True:
            job = service.job(job.id)
            if job.state in ("done", "failed"):
                break
            yield job_html(job), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            time.sleep(POLL_S)
        table, choices, searched, signature = listing(selected)
        yield job_html(job, catalog.listing().labels), table, choices, None, searched, signature

    def on_delete(doc_id: str | None, selected: list[str] | None) -> tuple[Any, ...]:
        if not doc_id:
            return '<p class="qa-job-error">Choose a document to delete.</p>', gr.skip(), gr.skip(), gr.skip(), gr.skip()
        label = catalog.listing().labels.get(doc_id, "this document")
        try:
            removed = service.delete(doc_id)
        except KeyError:
            message = "That document is already gone."
        else:
            message = f"Deleted “{label}”: {removed} passages removed."
        if doc_id in (selected or []):  # say so: the selector lets go of it, and may now mean every document
            rest = [s for s in selected or [] if s != doc_id]
            message += " It is no longer in “Search in”" + (", which now searches every document." if not rest else ".")
        return f'<p class="qa-deleted">{escape(message)}</p>', *listing(selected)

    def on_load() -> tuple[Any, ...]:
        # Choices only: a value sent back now could undo a choice the user made while this was on its way.
        now = catalog.listing()
        return documents_html(now), gr.update(choices=now.choices()), gr.update(choices=now.choices()), now.signature()

    def on_change(selected: list[str] | None, chosen: str | None, seen: Any) -> tuple[Any, ...]:
        # Another tab's upload or delete: refresh only when the list changed, so that an open selector
        # is not redrawn every few seconds.
        table, choices, searched, signature = listing(selected, chosen)
        if seen is not None and tuple(map(tuple, seen)) == signature:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        return table, choices, searched, signature

    with gr.Column(elem_id="qa-docs"):
        gr.Markdown("#### Documents")
        drop = gr.File(
            label="Add documents (drop files here)",
            file_count="multiple",
            file_types=list(SUPPORTED_SUFFIXES),
            type="filepath",
            elem_id="qa-docs-drop",
        )
        status = gr.HTML("", elem_id="qa-docs-status")
        first = catalog.listing()
        table = gr.HTML(documents_html(first), elem_id="qa-docs-list")
        with gr.Row():
            # Nothing chosen until the user picks one: Gradio would otherwise preselect the first document.
            choice = gr.Dropdown(
                label="Document to delete",
                choices=first.choices(),
                value=None,
                elem_id="qa-docs-choice",
                scale=3,
            )
            delete = gr.Button("Delete", variant="stop", elem_id="qa-docs-delete", scale=1)
        # What this page shows, so a refresh that would change nothing sends nothing.
        shown = gr.State(None)
        drop.upload(on_upload, inputs=[drop, search], outputs=[status, table, choice, drop, search, shown], concurrency_limit=1)
        # The browser asks first, naming the document; a cancelled confirmation sends no document, and nothing is deleted.
        delete.click(
            on_delete,
            inputs=[choice, search],
            outputs=[status, table, choice, search, shown],
            js="(id, sel) => { const name = document.querySelector('#qa-docs-choice input')?.value || 'this document';"
            " return [(id && window.confirm('Delete “' + name + '” and every passage of it?')) ? id : null, sel]; }",
        )
        # The page's first listing was drawn when the server started: bring it up to date on every page load.
        blocks.load(on_load, outputs=[table, choice, search, shown], **BACKGROUND)
        refresh = gr.Timer(5.0)
        refresh.tick(on_change, inputs=[search, choice, shown], outputs=[table, choice, search, shown], **BACKGROUND)
