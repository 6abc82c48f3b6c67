"""``python -m dlnlib.report``: merge the verification rows, render ``figures/VERIFICATION.md``, exit 1 on a failure.

See :func:`dlnlib.report.verification.main` (``report``, the default, and ``check ci|paper``).
"""

from .verification import main

if __name__ == "__main__":
    raise SystemExit(main())
