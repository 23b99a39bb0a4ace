"""The worker side of the process boundary never imports trio (it cost 0.5 s a start)."""

from __future__ import annotations

import subprocess
import sys


def test_a_worker_process_does_not_import_trio() -> None:
    code = (
        "import sys, lunard.worker.main\n"
        "loaded = sorted(m for m in sys.modules if m == 'trio' or m.startswith('trio.'))\n"
        "print(','.join(loaded))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == ""


def test_messages_re_exports_the_wire_types() -> None:
    from lunard import messages, wire

    for name in messages.__all__:
        assert getattr(messages, name) is getattr(wire, name)
