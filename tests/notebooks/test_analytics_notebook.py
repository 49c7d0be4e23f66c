"""notebooks/03 runs end to end with nbclient, and its outputs say what they should."""

from __future__ import annotations

import json
from pathlib import Path

import nbclient
import nbformat

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def outputs_of(cell: nbformat.NotebookNode) -> tuple[str, list[str]]:
    texts, kinds = [], []
    for output in cell.get("outputs", []):
        kinds += list(output.get("data", {}))
        texts.append(output.get("text") or output.get("data", {}).get("text/plain", ""))
    return "\n".join(texts), kinds


def test_analytics_notebook_runs_and_reports() -> None:
    notebook = nbformat.read(NOTEBOOKS / "03_transcript_analytics.ipynb", as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code")
    nbclient.NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": NOTEBOOKS}}
    ).execute()
    code = [outputs_of(cell) for cell in notebook.cells if cell.cell_type == "code"]
    everything = "\n".join(text for text, _ in code)

    assert "<RecordedSession 'sample_session': 124 events, 9 turns>" in everything
    assert "heard: 'Once upon a time'" in everything
    assert "rectangle_area" in everything  # in the tool calls' table and the transcript's tool turn
    assert "(simulated usage)" in everything
    assert "**user**" in everything
    pngs = sum(kinds.count("image/png") for _, kinds in code)
    assert pngs == 4  # timeline, latency distribution, talk time, tokens and cost
    assert not [
        o for cell in notebook.cells for o in cell.get("outputs", []) if o["output_type"] == "error"
    ]
    recorded = [
        json.loads(line)
        for line in (NOTEBOOKS / "data" / "sample_session.jsonl").read_text().splitlines()
    ]
    assert len(recorded) == 124


def test_notebooks_are_committed_without_outputs() -> None:
    paths = sorted(NOTEBOOKS.glob("*.ipynb"))
    assert [p.name[:2] for p in paths] == ["01", "02", "03", "04", "05"]
    for path in paths:
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code":
                assert not cell.outputs, path.name
                assert cell.execution_count is None, path.name
