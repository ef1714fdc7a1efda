"""Errors whose messages are written for users and may be shown verbatim."""


class QAError(Exception):
    """Base class: a problem the user can act on (the CLI exits with code 2)."""


class ConfigError(QAError):
    """A configuration value is missing, malformed or out of range."""


class InputError(QAError):
    """A question, history or document is invalid."""


class StoreError(QAError):
    """The passage store is missing, unreachable or built with another model."""


class ProviderError(QAError):
    """The configured answer provider cannot be used."""


class UnsupportedType(InputError):
    """A document's file type is not one the assistant can read."""


class TooLarge(InputError):
    """A document or request is over a configured size limit."""
