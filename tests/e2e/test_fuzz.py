"""Schema-driven fuzzing of the live API (schemathesis): every generated request, valid or
not, gets an answer that is not a server error."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import lone_api


def test_no_server_error_over_a_thousand_generated_requests(tmp_path: Path) -> None:
    # An API of its own (no worker: accepted jobs stay queued), so the fuzzing touches
    # nothing the other tests use; failed authentications are not rate-limited here.
    report = tmp_path / "report.json"
    with lone_api(tmp_path, {"DESCENT_MAX_AUTH_FAILURES": "1000000"}) as lone:
        st = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
        assert st is not None, "schemathesis is a test dependency (make install)"
        run = subprocess.run(
            [
                st,
                "run",
                f"{lone.base_url}/openapi.json",
                "--checks",
                "not_a_server_error",
                "--max-examples",
                "50",
                "--seed",
                "1",
                "--header",
                f"Authorization: Bearer {lone.token}",
                "--report-json-path",
                str(report),
            ],
            capture_output=True,
            text=True,
            timeout=900,
        )
        summary = json.loads(report.read_text())
        cases = summary["test_cases"]
        print(f"schemathesis: {cases['generated']} cases, {cases['with_failures']} failing")
        assert run.returncode == 0, run.stdout[-6000:] + lone.log.read_text()[-3000:]
        assert cases["generated"] >= 1000 and cases["with_failures"] == 0, cases
