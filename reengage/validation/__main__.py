"""``python -m reengage.validation``: the validation suite (see :mod:`reengage.validation.validate`)."""

from reengage.validation.validate import main

if __name__ == "__main__":
    raise SystemExit(main())
