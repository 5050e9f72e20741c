"""The README as a newcomer meets it: what it promises at the top, and the pictures it shows."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
#: the largest picture the README may show (a committed PNG of the default run)
MAX_IMAGE_BYTES = 200_000


def test_every_image_the_readme_names_exists_and_is_small():
    images = re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", README)
    assert 2 <= len(images) <= 4, f"the README shows {len(images)} pictures; it should show 2-3 of the default run"
    for name in images:
        path = ROOT / name
        assert path.is_file(), f"README shows {name}, which is not in the repository (commit it from ./run_all.sh)"
        assert path.stat().st_size <= MAX_IMAGE_BYTES, f"{name}: {path.stat().st_size} bytes > {MAX_IMAGE_BYTES}"


def test_the_readme_opens_with_what_a_newcomer_needs():
    top = "\n".join(README.splitlines()[:20])
    for command in ("./run_all.sh --profile smoke", "./run_all.sh ", "./run_all.sh test", "--only 09",
                    "python -m slswin_lib spot"):
        assert command in top, f"the README's first lines lack {command!r}"
    assert "runs/quick/spotters" in README[:3000], "say where the spotters of a run are"
    assert re.search(r"\d+ min", top), "give the run times"


def test_readme_tables_are_compact():
    """At most 8 columns, ME before MaE."""
    for line in README.splitlines():
        if line.startswith("|") and not set(line) <= set("|-: "):
            cells = line.strip().strip("|").split("|")
            assert len(cells) <= 8, f"a README table row has {len(cells)} columns: {line[:120]}"
    for header in (line for line in README.splitlines() if line.startswith("|") and "ME" in line and "MaE" in line):
        assert header.index("ME") < header.index("MaE"), f"ME before MaE: {header[:120]}"
