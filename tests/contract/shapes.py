"""Comparing an answer with one of Microsoft's examples by shape: keys and kinds of values."""

from __future__ import annotations


def shape(value):
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


def assert_has_shape(actual, expected, path="$"):
    """Every key the example has is there, with the same kind of value (extra keys are allowed)."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{path}: expected an object"
        for key, sub in expected.items():
            assert key in actual, f"{path}.{key} missing"
            assert_has_shape(actual[key], sub, f"{path}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list), f"{path}: expected a list"
        if expected and actual:
            assert_has_shape(actual[0], expected[0], f"{path}[0]")
    else:
        assert type(actual).__name__ == expected, f"{path}: {type(actual).__name__} is not {expected}"
