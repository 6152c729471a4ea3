"""YAML read safely for settings and nodes files: ``yaml.safe_load``, except that an
integer or a date/time Python cannot hold (an integer of more than 4,300 digits,
``2025-13-45``) becomes an ``UnreadableScalar`` the reader can name by file and key,
instead of a ValueError halfway through the parse."""

from __future__ import annotations

from typing import Any


class UnreadableScalar(str):
    """A YAML scalar that reads as an integer or a date/time but is none Python can hold or
    show: ``2025-13-45``, ``2025-02-30 10:00:00``, an integer of more than 4,300 digits
    (Python's int/str conversion limit). ``load_yaml`` keeps it as its text, with ``why``,
    so the reader can name the file and the key instead of failing halfway through the
    parse with a ValueError."""

    why: str

    def describe(self) -> str:
        """``'2025-13-45' is not a valid date/time (month must be in 1..12)``, the text cut
        short when long (a 100,000-digit number is named by its length)."""
        shown = repr(str(self)) if len(self) <= 40 else f"{str(self)[:20]!r}... ({len(self):,} characters)"
        return f"{shown} is not {self.why}"


def _unreadable(text: str, why: str) -> UnreadableScalar:
    value = UnreadableScalar(text)
    value.why = why
    return value


def _checked_constructor(kind: str) -> Any:
    """A SafeLoader constructor for ``tag:yaml.org,2002:KIND`` that returns an
    ``UnreadableScalar`` where PyYAML's own one raises (or builds an integer that Python
    refuses to print)."""
    import sys

    import yaml

    original = yaml.SafeLoader.yaml_constructors[f"tag:yaml.org,2002:{kind}"]

    def construct(loader: Any, node: Any) -> Any:
        text = str(node.value)
        try:
            value = original(loader, node)
            if isinstance(value, int):
                str(value)  # 0x + 5,000 hex digits is an int whose decimal text Python refuses
        except (ValueError, OverflowError) as err:
            if kind == "int":
                return _unreadable(text, f"an integer tlsmgm reads (more than "
                                         f"{sys.get_int_max_str_digits():,} digits)")
            return _unreadable(text, f"a valid date/time ({str(err) or type(err).__name__})")
        return value

    return construct


def load_yaml(text: str) -> Any:
    """``yaml.safe_load(text)``, except that an integer or date/time Python cannot hold
    becomes an ``UnreadableScalar`` instead of a ValueError mid-parse. YAMLError and
    RecursionError (nesting deeper than Python's stack) are the caller's to report."""
    import yaml

    class _Loader(yaml.SafeLoader):
        pass

    for kind in ("int", "timestamp"):
        _Loader.add_constructor(f"tag:yaml.org,2002:{kind}", _checked_constructor(kind))
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
