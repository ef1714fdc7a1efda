"""Through the real chain and store: a question about a document that is not there is refused, naming what is unknown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from qa.answer.providers import ExtractiveAnswerer
from qa.config import load_settings
from qa.ingest.pipeline import ingest_documents
from qa.runtime import Runtime, build_runtime, open_client, open_store
from qa.types import REFUSAL, Document

ROOT = Path(__file__).resolve().parents[2]
CANAL = Document(
    source="canal",
    text=(
        "# The Caledonian Canal\n\n"
        "The Caledonian Canal links Inverness on the east coast of Scotland with Corpach near Fort William on the west coast. "
        "Thomas Telford designed it, and the canal opened in 1822 after nineteen years of work. Only a third of its length "
        "was dug by hand: the rest runs through Loch Ness, Loch Oich and Loch Lochy."
    ),
)
LIGHTHOUSE = Document(
    source="lighthouse",
    text=(
        "# The Bell Rock Lighthouse\n\n"
        "Robert Stevenson built the Bell Rock Lighthouse off the coast of Angus between 1807 and 1810. It is the oldest "
        "surviving sea-washed lighthouse in the world. The light was first shown on 1 February 1811, and its keepers "
        "lived in the tower until the light was automated in 1988."
    ),
)
# About neither document: every word of its name is in the store, never together.
OUTSIDE = "Who designed Fort Stevenson?"
INSIDE = "Who designed the Caledonian Canal?"


@pytest.fixture(scope="module")
def two_documents(tmp_path_factory: pytest.TempPathFactory, real_embedder: Any) -> Runtime:
    settings = load_settings(ROOT / "config.yaml", environ={"QA_PATHS__DATA_DIR": str(tmp_path_factory.mktemp("unknown-names"))})
    client = open_client(settings)
    store = open_store(settings, real_embedder, client, create=True)
    ingest_documents([CANAL, LIGHTHOUSE], store, real_embedder, progress=False)
    return build_runtime(settings, embedder=real_embedder, client=client)


def test_a_question_about_a_document_not_in_the_store_is_refused_naming_the_unknown_name(two_documents: Runtime) -> None:
    answer = two_documents.chain.ask(OUTSIDE)
    assert answer.refused and answer.answer == REFUSAL and answer.citations == ()
    (removed,) = answer.removed
    assert removed.reason == "The documents do not mention “Fort Stevenson”."
    assert answer.to_dict()["removed"][0]["reason"] == removed.reason, "the API shows why, beside the standard refusal"


def test_without_the_corpus_the_same_question_gets_a_wrong_answer(two_documents: Runtime) -> None:
    # Shows the refusal above is this rule's: the support of the best sentence alone would have answered.
    chain = build_runtime(two_documents.settings, embedder=two_documents.embedder, answerer=ExtractiveAnswerer(two_documents.settings.answer)).chain
    answer = chain.ask(OUTSIDE)
    assert not answer.refused and "Telford" in answer.answer


def test_a_question_about_an_indexed_document_is_answered(two_documents: Runtime) -> None:
    answer = two_documents.chain.ask(INSIDE)
    assert not answer.refused and "Thomas Telford" in answer.answer and answer.citations[0].source == "canal"
