"""`qa eval`: retrieval, answer, citation and refusal metrics on a question set, beside the LangChain quickstart."""
