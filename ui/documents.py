"""The chat's Documents panel: drop files, watch them being read and embedded, see the list, delete with confirmation.

Every change goes through the serving process's one writer (qa.documents.service); the panel
only translates clicks into its calls. The HTML is built by pure functions below.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from html import escape
from pathlib import Path
from typing import Any

import gradio as gr

from qa.documents.registry import DocumentRecord, Job
from qa.errors import QAError
from qa.ingest.formats import SUPPORTED_SUFFIXES

POLL_S = 0.25

CSS = """
#qa-docs .qa-doc-list { width: 100%; font-size: 0.9em; border-collapse: collapse; }
#qa-docs .qa-doc-list td, #qa-docs .qa-doc-list th {
  padding: 2px 6px; text-align: left; border-bottom: 1px solid var(--border-color-primary);
}
#qa-docs .qa-progress { height: 10px; border-radius: 5px; background: var(--border-color-primary); overflow: hidden; margin: 4px 0; }
#qa-docs .qa-progress-bar { height: 100%; background: var(--color-accent); }
#qa-docs .qa-job-error { color: var(--error-text-color, #b91c1c); }
"""


def documents_html(docs: list[DocumentRecord]) -> str:
    """Return the document list as a table (name, type, pages, passages)."""
    if not docs:
        return '<p class="qa-doc-empty">No documents yet: drop PDF, Word, HTML, Markdown or text files above.</p>'
    rows = "".join(
        f'<tr class="qa-doc" data-name="{escape(d.name)}"><td class="qa-doc-name">{escape(d.name)}</td><td>{escape(d.type)}</td>'
        f'<td>{d.pages if d.pages is not None else ""}</td><td class="qa-doc-passages">{d.passages}</td></tr>'
        for d in docs
    )
    return f'<table class="qa-doc-list"><tr><th>document</th><th>type</th><th>pages</th><th>passages</th></tr>{rows}</table>'


def job_html(job: Job) -> str:
    """Return a job's progress bar and the outcome of each file."""
    d = job.to_dict()
    p = d["progress"]
    share = p["passages_embedded"] / p["passages_total"] if p["passages_total"] else (1.0 if job.state in ("done", "failed") else 0.0)
    files = "".join(
        f'<li class="qa-job-file qa-job-{escape(f["state"])}">{escape(f["name"])}: {escape(f["state"])}'
        + (f' <span class="qa-job-error">{escape(f["error"])}</span>' if f["error"] else "")
        + "</li>"
        for f in d["files"]
    )
    return (
        f'<div class="qa-job" data-state="{escape(job.state)}"><div class="qa-job-state">{escape(job.state)}: '
        f'{p["passages_embedded"]} of {p["passages_total"]} passages embedded, {p["files_done"]} of {p["files_total"]} files</div>'
        f'<div class="qa-progress"><div class="qa-progress-bar" style="width: {share * 100:.0f}%"></div></div><ul>{files}</ul></div>'
    )


def build_search_selector(service: Any) -> gr.Dropdown:
    """Render the multi-select of the documents a question searches (none chosen: every document)."""
    return gr.Dropdown(
        label="Search in",
        info="Leave empty to search every document.",
        choices=[(d.name, d.id) for d in service.documents()],
        value=[],
        multiselect=True,
        elem_id="qa-docs-search",
    )


def build_documents_panel(service: Any, search: gr.Dropdown) -> None:
    """Render the panel inside the current Blocks context, wired to the document service (and the search selector)."""

    def listing(selected: list[str] | None) -> tuple[str, Any, Any]:
        docs = service.documents()
        choices = [(d.name, d.id) for d in docs]
        # A deleted document leaves the search selection too; the rest of the selection stays.
        kept = [s for s in selected or [] if any(s == d.id for d in docs)]
        return documents_html(docs), gr.update(choices=choices, value=None), gr.update(choices=choices, value=kept)

    def on_upload(paths: list[str] | None, selected: list[str] | None) -> Iterator[tuple[str, str, Any, Any, Any]]:
        if not paths:
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        files = [(Path(p).name, Path(p).read_bytes()) for p in paths]
        try:
            job = service.upload(files)
        except QAError as exc:
            yield f'<p class="qa-job-error">{escape(str(exc))}</p>', gr.skip(), gr.skip(), None, gr.skip()
            return
        while True:
            job = service.job(job.id)
            if job.state in ("done", "failed"):
                break
            yield job_html(job), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            time.sleep(POLL_S)
        table, choices, searched = listing(selected)
        yield job_html(job), table, choices, None, searched

    def on_delete(doc_id: str | None, selected: list[str] | None) -> tuple[str, str, Any, Any]:
        if not doc_id:
            return '<p class="qa-job-error">Choose a document to delete.</p>', gr.skip(), gr.skip(), gr.skip()
        try:
            removed = service.delete(doc_id)
        except KeyError:
            message = "That document is already gone."
        else:
            message = f"Deleted: {removed} passages removed."
        table, choices, searched = listing(selected)
        return f'<p class="qa-deleted">{escape(message)}</p>', table, choices, searched

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
        table = gr.HTML(documents_html(service.documents()), elem_id="qa-docs-list")
        with gr.Row():
            # Nothing chosen until the user picks one: Gradio would otherwise preselect the first document.
            choice = gr.Dropdown(
                label="Document to delete",
                choices=[(d.name, d.id) for d in service.documents()],
                value=None,
                elem_id="qa-docs-choice",
                scale=3,
            )
            delete = gr.Button("Delete", variant="stop", elem_id="qa-docs-delete", scale=1)
        drop.upload(on_upload, inputs=[drop, search], outputs=[status, table, choice, drop, search], concurrency_limit=1)
        # The browser asks first; a cancelled confirmation sends no document, and nothing is deleted.
        delete.click(
            on_delete,
            inputs=[choice, search],
            outputs=[status, table, choice, search],
            js="(id, sel) => [(id && window.confirm('Delete this document and every passage of it?')) ? id : null, sel]",
        )
        refresh = gr.Timer(5.0)
        refresh.tick(lambda: documents_html(service.documents()), outputs=table)
