"""The Gradio web chat: a thin shell over the answer chain."""
