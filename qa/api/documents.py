"""/api/documents, /api/jobs and /api/reindex: add, list, read and delete documents through the one writer."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError

from qa.api.schemas import ErrorOut, Schema
from qa.errors import InputError, TooLarge, UnsupportedType
from qa.runtime import Runtime


class TextDocumentIn(Schema):
    name: str = Field(description="File name, ending in .txt or .md.", examples=["notes.md"])
    text: str = Field(description="The document's text.")


class JobOut(BaseModel):
    id: str
    kind: str = Field(description="upload | reindex")
    state: str = Field(description="queued | running | done | failed")
    created: str
    updated: str
    progress: dict[str, int] = Field(description="files_total, files_done, passages_total, passages_embedded")
    files: list[dict[str, Any]] = Field(
        description="Per file: name, state (added, replaced, unchanged, duplicate, failed), error, document_id, passages."
    )
    error: str | None = None


class DocumentOut(BaseModel):
    id: str
    name: str
    type: str = Field(description="pdf | docx | html | md | txt")
    bytes: int
    pages: int | None
    passages: int
    sha256: str | None
    added: str
    origin: str = Field(description="upload (through the API or the chat) | folder (`qa ingest`)")
    title: str | None = Field(
        None,
        description="What people know the document by: its first `# ` heading, else the heading it opens under, "
        "else its opening words; null while it has no passage.",
    )


_UPLOAD_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {"type": "object", "properties": {"files": {"type": "array", "items": {"type": "string", "format": "binary"}}}}
            },
            "application/json": {"schema": TextDocumentIn.model_json_schema()},
        },
    }
}
_STATUS = ((TooLarge, 413), (UnsupportedType, 415), (InputError, 422))


def _http_error(exc: InputError) -> HTTPException:
    status = next(code for cls, code in _STATUS if isinstance(exc, cls))
    return HTTPException(status, str(exc))


def router(runtime: Runtime) -> APIRouter:
    """Return the document routes (they answer 503 where no writer runs, e.g. in tests without one)."""
    r = APIRouter()

    def service() -> Any:
        if runtime.documents is None:
            raise HTTPException(503, "documents can be changed only through a running `qa serve`")
        return runtime.documents

    @r.post(
        "/documents",
        status_code=202,
        response_model=JobOut,
        responses={413: {"model": ErrorOut}, 415: {"model": ErrorOut}},
        openapi_extra=_UPLOAD_DOC,
        summary="Add documents",
    )
    async def upload(request: Request) -> JSONResponse:
        """Queue files (multipart 'files', one or many) or one JSON {name, text}; answer at once with the job."""
        svc = service()
        kind = request.headers.get("content-type", "")
        files: list[tuple[str, bytes]] = []
        if kind.startswith("multipart/form-data"):
            form = await request.form()
            for value in form.getlist("files") + form.getlist("file"):
                if isinstance(value, str):
                    raise HTTPException(422, "files: expected file parts, got a text field")
                files.append((value.filename or "", await value.read()))
        elif kind.startswith("application/json"):
            try:
                body = TextDocumentIn.model_validate_json(await request.body())
            except ValidationError as exc:
                first = exc.errors()[0]
                raise HTTPException(422, f"{'.'.join(str(p) for p in first['loc']) or 'body'}: {first['msg']}") from None
            files.append((body.name, body.text.encode("utf-8")))
        else:
            raise HTTPException(415, "send files as multipart/form-data ('files') or one JSON object {name, text}")
        try:
            job = svc.upload(files)
        except InputError as exc:
            raise _http_error(exc) from None
        return JSONResponse(job.to_dict(), status_code=202)

    @r.get("/jobs/{job_id}", response_model=JobOut, responses={404: {"model": ErrorOut}}, summary="Follow a job")
    def job(job_id: str) -> JSONResponse:
        """Return a job's state, progress and the outcome of each file."""
        found = service().job(job_id)
        if found is None:
            raise HTTPException(404, f"no job with id '{job_id}'")
        return JSONResponse(found.to_dict())

    @r.get("/documents", response_model=list[DocumentOut], summary="List documents")
    def documents() -> JSONResponse:
        """Return every document: id, name, title, type, bytes, pages, passages, sha256, added."""
        svc = service()
        return JSONResponse([d.to_dict() | {"title": svc.title_of(d)} for d in svc.documents()])

    @r.get("/documents/{doc_id}", responses={404: {"model": ErrorOut}}, summary="Get a document with its passages")
    def document(doc_id: str) -> JSONResponse:
        """Return one document and its passages in order."""
        found = service().document(doc_id)
        if found is None:
            raise HTTPException(404, f"no document with id '{doc_id}'")
        rec, passages = found
        body = rec.to_dict() | {"title": service().title_of(rec)}
        body["passages_list"] = [
            {"passage_id": p.passage_id, "paragraph": p.paragraph, "page": p.page, "heading": p.heading, "text": p.text} for p in passages
        ]
        return JSONResponse(body)

    @r.delete("/documents/{doc_id}", responses={404: {"model": ErrorOut}}, summary="Delete a document")
    def delete(doc_id: str) -> JSONResponse:
        """Remove the document and every row of it; the next question no longer finds it."""
        try:
            removed = service().delete(doc_id)
        except KeyError:
            raise HTTPException(404, f"no document with id '{doc_id}'") from None
        return JSONResponse({"deleted": doc_id, "passages_removed": removed})

    @r.post("/reindex", status_code=202, response_model=JobOut, summary="Re-embed every document")
    def reindex() -> JSONResponse:
        """Queue a re-embedding of every document from its kept original (after a model change); answer with the job."""
        return JSONResponse(service().reindex().to_dict(), status_code=202)

    return r
