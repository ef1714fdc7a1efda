"""The Gradio chat: Blocks built from an answer chain that is handed in; formatting lives in ui.format."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import gradio as gr
from gradio.context import get_blocks_context

from qa.answer.chain import AnswerChain
from qa.errors import QAError
from qa.types import Answer
from ui.feedback import FeedbackError, FeedbackLog, make_rate
from ui.format import EMPTY_PANEL, error_html, is_pending, message_html, message_panel, panel_html, pending_html
from ui.history import conversation_saved, conversation_scope, history_turns, role_and_text

log = logging.getLogger(__name__)

# Questions about the seed article, offered on an empty chat.
EXAMPLES = [
    "Who is the U.S. Secretary of State in the article?",
    "What did Wang Yi tell Blinken?",
    "Which demands did Blinken and Stoltenberg reject?",
    "What did Zhang Jun say about the Winter Olympics?",
]

# Page housekeeping: answered at once, no spinner, not offered as an API endpoint.
QUIET: dict[str, Any] = {"queue": False, "show_progress": "hidden", "api_visibility": "undocumented"}

# The browser's localStorage key of the saved conversations.
CONVERSATIONS_KEY = "qa-conversations"

# A click on any [n] (in any answer, old or new) shows that answer's sources in the panel and
# marks the card. Event delegation, because Gradio re-renders messages as they stream in.
HEAD = """
<script>
(() => {
  function openCitation(btn) {
    const msg = btn.closest('.qa-msg');
    const panel = document.querySelector('#qa-sources .qa-panel');
    if (!msg || !panel) return;
    const src = msg.querySelector('.qa-panel-src');
    if (src) panel.innerHTML = src.innerHTML;
    panel.querySelectorAll('.qa-card.qa-active').forEach((c) => c.classList.remove('qa-active'));
    const key = Array.from(btn.classList).find((c) => c.startsWith('qa-n-'));
    const card = key ? panel.querySelector('.qa-card-' + key.slice(5)) : null;
    if (card) {
      card.classList.add('qa-active');
      card.scrollIntoView({block: 'nearest'});
    }
  }
  document.addEventListener('click', (event) => {
    const btn = event.target instanceof Element ? event.target.closest('.qa-cite') : null;
    if (btn) {
      event.preventDefault();
      event.stopPropagation();
      openCitation(btn);
    }
  }, true);
})();
</script>
"""

CSS = """
#qa-sources .qa-panel { max-height: 78vh; overflow-y: auto; padding: 4px 8px; }
.qa-panel-src { display: none !important; }
.qa-panel-title { font-weight: 600; margin: 4px 0 8px; }
.qa-panel-hint { opacity: 0.75; }
.qa-cite { border: none; background: none; color: var(--color-accent); font-weight: 600; cursor: pointer; padding: 0 2px; font: inherit; }
.qa-cite:hover, .qa-cite:focus-visible { text-decoration: underline; }
.qa-open { font-weight: 500; }
.qa-searched { font-size: 0.85em; opacity: 0.7; margin-top: 0.5em; }
.qa-scope { font-size: 0.85em; opacity: 0.7; }
.qa-scope-doc { font-weight: 600; }
.qa-list-title { font-size: 0.75em; text-transform: uppercase; letter-spacing: 0.05em; opacity: 0.7; margin-top: 0.6em; }
.qa-sources ol, .qa-closest ul { margin: 0.2em 0 0 1.2em; padding: 0; font-size: 0.9em; }
.qa-snippet { opacity: 0.8; }
.qa-refusal { font-style: italic; }
.qa-refusal-reason { margin-top: 0.3em; }
.qa-refusal-closest { font-size: 0.85em; opacity: 0.8; margin-top: 0.3em; }
/* A cited document's title leads; its file name follows, quieter. */
.qa-card-head .qa-doc-title, .qa-sources .qa-doc-title { font-weight: 600; }
.qa-doc-title + .qa-source { opacity: 0.7; }
.qa-pending { opacity: 0.85; }
.qa-error-text { color: var(--error-text-color, #b91c1c); }
.qa-fallback { font-size: 0.85em; opacity: 0.7; }
.qa-flagged { font-size: 0.85em; color: var(--error-text-color, #b45309); }
.qa-card { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 8px 10px; margin: 8px 0; }
.qa-card.qa-active { border-color: var(--color-accent); box-shadow: 0 0 0 2px var(--color-accent-soft); }
.qa-card-head { font-size: 0.85em; display: flex; gap: 0.6em; flex-wrap: wrap; opacity: 0.9; }
.qa-card-n { font-weight: 700; }
.qa-passage { margin: 0.4em 0 0; line-height: 1.5; }
/* The saved conversations: wide enough that a first question reads on two or three lines, not six. */
.column:has(#qa-history):not(:has(.column)) { min-width: 200px !important; flex-grow: 2 !important; }
mark.qa-quote { background: #fde68a; color: #1f2937; padding: 0 1px; border-radius: 2px; }
"""

# System fonts only: the default theme would have the browser fetch Google Fonts.
THEME = gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])


def make_respond(
    chain: AnswerChain,
    scope: Callable[[Sequence[str]], list[tuple[str, str]]] | None = None,
    titled: Callable[[Answer], Answer] | None = None,
) -> Callable[..., Iterator[tuple[str, Any]]]:
    """Return the chat function: stream the answer into the chat, then fill the sources panel.

    ``scope`` labels the chosen documents (id -> (id, label)) for the answer to name what it searched in; it raises
    QAError for a choice that cannot be searched. ``titled`` gives the citations their documents' titles.
    """

    def respond(message: str, history: list[Any], documents: list[str] | None = None) -> Iterator[tuple[str, Any]]:
        turns = history_turns(history, chain.limits.max_history_turns)
        partial = ""
        try:
            # The answer names the documents it was restricted to, which also lets a reopened conversation choose them again.
            searched_in = (scope(documents) if scope is not None else [(d, d) for d in documents]) if documents else []
            # No document chosen in the "Search in" selector means every document.
            for item in chain.stream(message, turns, documents=documents or None):
                if isinstance(item, Answer):
                    item = titled(item) if titled is not None else item
                    yield message_html(item, scope=searched_in), panel_html(item)
                else:
                    partial += item
                    yield pending_html(partial), gr.skip()
        except QAError as exc:
            yield error_html(str(exc)), gr.skip()

    return respond


class SavingChatInterface(gr.ChatInterface):
    """A ChatInterface whose finished answer reaches the browser in the same message as the saved conversation.

    Gradio saves a conversation three round trips after its answer has streamed in (a state sync,
    a queued textbox reset, then the save): a reload in that window lost the last turn, and under
    load the window lasts seconds. Here the chat function also takes the conversation id and the
    saved conversations and returns them updated with its finished answer (see ``with_saving``),
    so the answer and its saving arrive together. Gradio's own save later writes the same turns
    at the same index.
    """

    def _setup_events(self) -> None:
        if not self.save_history:
            super()._setup_events()
            return
        saving = [self.conversation_id, self.saved_conversations]
        self.additional_inputs = [*self.additional_inputs, *saving]
        self.additional_outputs = [*self.additional_outputs, *saving]
        super()._setup_events()
        # The chat API has no browser to save into: it keeps its own inputs and outputs.
        context = get_blocks_context()  # the outermost Blocks, which holds the events
        assert context is not None, "a SavingChatInterface is built inside a gr.Blocks"
        api = next(fn for fn in context.fns.values() if fn.api_name == self.api_name)
        api.inputs = [c for c in api.inputs if c not in saving]
        api.outputs = [c for c in api.outputs if c not in saving]


def with_saving(
    respond: Callable[..., Iterator[tuple[str, Any]]], chatbot: gr.Chatbot, extra_inputs: int
) -> Callable[..., Iterator[tuple[Any, ...]]]:
    """Return the chat function of a SavingChatInterface: respond (given ``extra_inputs`` more inputs), then save when finished."""

    def respond_and_save(message: str, history: list[Any], *args: Any) -> Iterator[tuple[Any, ...]]:
        if len(args) == extra_inputs:  # the chat API: nothing to save into
            yield from respond(message, history, *args)
            return
        *inputs, index, saved = args
        for reply, panel in respond(message, history, *inputs):
            stored = None
            if not is_pending(reply):
                turn = [*history, {"role": "user", "content": message}, {"role": "assistant", "content": reply}]
                # Gradio's own shape of a saved message (content as a list of text parts), which its history list reads.
                stored = conversation_saved(index, chatbot.preprocess(chatbot.postprocess(turn)), saved)
            yield (reply, panel, *(stored or (gr.skip(), gr.skip())))

    return respond_and_save


def _reopened(index: int | None, saved: list[Any] | None) -> list[Any] | None:
    """Return the messages of the saved conversation clicked in the list, or None."""
    conversations = saved or []
    return list(conversations[index]) if index is not None and 0 <= index < len(conversations) else None


def reopened_panel(index: int | None, saved: list[Any] | None) -> str:
    """Return the sources panel of a reopened conversation: its last answer's sources (the hint when it has none)."""
    messages = _reopened(index, saved) or []
    return next((p for m in reversed(messages) if (p := message_panel(role_and_text(m)[1])) is not None), EMPTY_PANEL)


def make_reopen_scope(catalog: Any) -> Callable[[int | None, list[Any] | None], tuple[Any, Any]]:
    """Return the listener that gives a reopened conversation its "Search in" choice back, less deleted documents (with a note)."""
    from ui.documents import restored_scope

    def reopen_scope(index: int | None, saved: list[Any] | None) -> tuple[Any, Any]:
        messages = _reopened(index, saved)
        if messages is None:
            return gr.skip(), gr.update(value="", visible=False)
        listing = catalog.listing()
        kept, note = restored_scope(conversation_scope(messages), listing)
        return gr.update(choices=listing.choices(), value=kept), gr.update(value=note, visible=bool(note))

    return reopen_scope


def make_on_like(feedback: FeedbackLog, max_turns: int) -> Callable[[list[Any], gr.LikeData], None]:
    """Return the like/dislike listener: log the rated answer, tell the user when it cannot be."""
    rate = make_rate(feedback, max_turns, lambda: datetime.now(UTC))

    def on_like(messages: list[Any], like: gr.LikeData) -> None:
        try:
            rate(messages, like.index, like.liked)
        except FeedbackError as exc:
            log.warning("rating not recorded: %s", exc)
            gr.Warning(f"Rating not recorded: {exc}")
        except OSError as exc:
            log.error("rating not recorded: cannot write %s: %s", feedback.path, exc)
            raise gr.Error(f"Rating not recorded: cannot write the feedback file ({exc.strerror or exc})") from exc

    return on_like


def build_blocks(
    chain: AnswerChain, examples: Sequence[str] = EXAMPLES, documents: Any = None, feedback: FeedbackLog | None = None
) -> gr.Blocks:
    """Return the chat UI: saved conversations, the conversation, the sources panel; thumbs up/down when feedback is logged."""
    with gr.Blocks(title="qa: answers you can check", fill_height=True) as blocks:
        gr.Markdown(
            "### Ask the documents\n"
            "Every answer quotes the sentences it rests on. Click a **[n]** to see the passage, "
            "with the quoted sentence highlighted."
        )
        panel = gr.HTML(EMPTY_PANEL, elem_id="qa-sources", render=False)
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                search = catalog = scope_note = None
                if documents is not None:  # which documents a question searches, beside the Documents panel's list
                    from ui.documents import DocumentCatalog, build_search_selector

                    catalog = DocumentCatalog(documents)
                    search = build_search_selector(catalog.listing())
                    # Says when a reopened conversation's documents were deleted since.
                    scope_note = gr.HTML("", elem_id="qa-scope-note", padding=False, container=False, visible=False)
                    search.input(lambda: gr.update(value="", visible=False), None, scope_note, **QUIET)
                chatbot = gr.Chatbot(
                    elem_id="qa-chat",
                    label="Chat",
                    height="70vh",
                    latex_delimiters=[],
                    sanitize_html=True,
                    feedback_options=("Like", "Dislike") if feedback is not None else None,
                    placeholder="Ask a question about the documents.",
                )
                # Citations name their documents' titles where a document service knows them.
                respond = make_respond(chain, catalog.scope if catalog else None, documents.titled if documents is not None else None)
                chat = SavingChatInterface(
                    with_saving(respond, chatbot, extra_inputs=1 if search else 0),
                    chatbot=chatbot,
                    textbox=gr.Textbox(placeholder="Ask a question…", submit_btn=True, stop_btn=True, scale=7, elem_id="qa-input"),
                    # With an extra input Gradio wants each example as a list; None keeps the selector as it is.
                    examples=[[e, None] for e in examples] if search is not None else list(examples),
                    additional_inputs=[search] if search is not None else None,
                    additional_outputs=[panel],
                    api_name="chat",
                    api_description="Answer a question; returns the answer message as HTML and the sources panel.",
                    fill_height=True,
                    concurrency_limit=4,
                    # Past conversations stay in the browser's localStorage and are listed beside the chat.
                    save_history=True,
                )
                # Gradio keys the saved conversations by a block id and encrypts them with a secret drawn
                # per process, so a restart or a new component would lose them all. Both go to the page
                # in its config anyway (the browser decrypts), so fixed values hide nothing.
                chat.chat_history_dataset.elem_id = "qa-history"  # for the CSS that widens the list
                chat.saved_conversations.storage_key = CONVERSATIONS_KEY
                chat.saved_conversations.secret = CONVERSATIONS_KEY
                # A new or deleted conversation starts with the sources hint; a reopened one shows its last answer's sources
                # and, where documents are listed, its "Search in" choice.
                for cleared in (chat.new_chat_button.click, chatbot.clear):
                    cleared(lambda: EMPTY_PANEL, None, panel, **QUIET)
                    if scope_note is not None:
                        cleared(lambda: gr.update(value="", visible=False), None, scope_note, **QUIET)
                saved = [chat.chat_history_dataset, chat.saved_conversations]
                chat.chat_history_dataset.click(reopened_panel, saved, panel, **QUIET)
                if catalog is not None and search is not None and scope_note is not None:
                    chat.chat_history_dataset.click(make_reopen_scope(catalog), saved, [search, scope_note], **QUIET)
                if feedback is not None:
                    on_like = make_on_like(feedback, chain.limits.max_history_turns)
                    chatbot.like(on_like, inputs=[chatbot], outputs=None, api_visibility="undocumented", show_progress="hidden")
            with gr.Column(scale=2):
                if catalog is not None and search is not None:  # the Documents panel (ui/documents.py), where a writer serves
                    from ui.documents import build_documents_panel

                    build_documents_panel(catalog, search, blocks)
                panel.render()
    return blocks


def ui_assets() -> dict[str, Any]:
    """Return the theme, CSS and head script to hand to gr.mount_gradio_app."""
    from ui.documents import CSS as DOCUMENTS_CSS

    return {"theme": THEME, "css": CSS + DOCUMENTS_CSS, "head": HEAD}
