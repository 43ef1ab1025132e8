"""Exceptions raised by the engine.

Every message names the problem and, where there is one, the fix. The Processing layer turns
:class:`SmdError` into ``QgsProcessingException`` unchanged, so these texts are what users read.
"""

from .i18n import translate


class SmdError(Exception):
    """An error the user can act on (bad input, missing data, incompatible file).

    ``str(error)`` is the message in the language the plugin chose (:mod:`i18n`; English by default, and
    ``error.args[0]`` is always the English text).
    """

    def __str__(self) -> str:
        return translate(super().__str__())


class InputError(SmdError):
    """An input is missing, unreadable or inconsistent with the others."""


class ModelFileError(SmdError):
    """A model file is not a smdownscale model, is damaged, or comes from an incompatible version."""


class Canceled(SmdError):  # noqa: N818 (a state, not an error type name)
    """The user canceled the run; partial outputs have been removed."""

    def __init__(self, message: str = "Canceled by the user; no output was written.") -> None:
        super().__init__(message)
