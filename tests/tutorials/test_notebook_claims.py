"""What README's notebook table says about a notebook holds for the notebook itself
(checked on the notebook's source; tests/viz runs the notebooks)."""

import json
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_readme_counts_the_blocks_the_cnn_notebook_folds():
    book = json.loads((REPO / "tutorials" / "notebooks" / "03_cnn_backward_graph.ipynb")
                      .read_text(encoding="utf-8"))
    code = "\n".join("".join(cell["source"]) for cell in book["cells"]
                     if cell["cell_type"] == "code")
    blocks = int(re.search(r"for _ in range\((\d+)\):\s*\n\s*blocks \+=", code).group(1))
    row = next(line for line in (REPO / "README.md").read_text(encoding="utf-8").splitlines()
               if line.startswith("| `03_cnn_backward_graph.ipynb`"))
    assert f"a {blocks}-block stack folded" in row
