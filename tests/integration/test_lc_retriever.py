"""The hybrid retriever as a LangChain BaseRetriever inside someone else's LCEL chain (real model, real Chroma)."""

from __future__ import annotations

from langchain_core.documents import Document
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda, RunnablePassthrough

from qa.lc_retriever import PassageRetriever
from qa.runtime import Runtime

SEED = "000_ff359896b2990186.txt"


def test_retriever_returns_documents_with_where_they_came_from(seed_runtime: Runtime) -> None:
    docs = PassageRetriever(retriever=seed_runtime.retriever, top_k=3).invoke("What did Wang Yi say about expanding military blocs?")
    assert len(docs) == 3 and all(isinstance(d, Document) for d in docs)
    assert "Wang Yi" in docs[0].page_content
    meta = docs[0].metadata
    assert set(meta) == {"passage_id", "source", "paragraph", "heading", "score"}
    assert meta["source"] == SEED and meta["paragraph"] >= 1 and docs[0].id == meta["passage_id"]
    assert [d.metadata["score"] for d in docs] == sorted((d.metadata["score"] for d in docs), reverse=True)
    assert seed_runtime.retriever.get(meta["passage_id"]).text == docs[0].page_content  # type: ignore[union-attr]


def test_retriever_inside_a_small_lcel_chain(seed_runtime: Runtime) -> None:
    seen: list[str] = []

    def format_docs(docs: list[Document]) -> str:
        return "\n\n".join(f"[{d.metadata['source']} ¶{d.metadata['paragraph']}] {d.page_content}" for d in docs)

    def record(prompt: object) -> object:
        seen.append(str(prompt))
        return prompt

    prompt = ChatPromptTemplate.from_messages([("system", "Answer from the context.\n\n{context}"), ("human", "{question}")])
    llm = FakeListChatModel(responses=["Wang Yi spoke about military blocs."])
    chain = (
        {"context": PassageRetriever(retriever=seed_runtime.retriever, top_k=2) | format_docs, "question": RunnablePassthrough()}
        | prompt
        | RunnableLambda(record)
        | llm
        | StrOutputParser()
    )
    assert chain.invoke("What did Wang Yi say about expanding military blocs?") == "Wang Yi spoke about military blocs."
    assert "expanding military blocs" in seen[0] and f"[{SEED} ¶" in seen[0], "the retrieved passages reached the prompt"
