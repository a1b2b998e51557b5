"""The README is generated where it describes the code, and CI runs what it says."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_readme_generated_sections_are_current():
    result = subprocess.run([sys.executable, "-m", "cogapp", "--check", "README.md"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, "README.md is stale: run `cog -r README.md`\n" + result.stdout + result.stderr


def test_quickstart_is_two_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text()
    quickstart = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```bash\n(.+?)\n```", quickstart, re.DOTALL)
    assert len(commands) >= 2
    setup_and_demo, setup_and_test = commands[0].strip(), commands[1].strip()
    assert "\n" not in setup_and_demo and "steppe demo" in setup_and_demo
    assert "\n" not in setup_and_test and "pytest" in setup_and_test
    assert setup_and_test in (ROOT / ".ci" / "run").read_text()
