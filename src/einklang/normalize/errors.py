"""The one error type the normalisers raise."""


class InvalidValue(ValueError):
    """A value that cannot be normalised; ``reason`` is meant for the person fixing the data."""

    def __init__(self, reason: str, value: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.value = value
