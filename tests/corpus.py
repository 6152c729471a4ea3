"""Where the real-world config corpus lives: ``../shared/corpus/real-world`` beside the
repository (TLSMGM_CORPUS overrides). Tests skip when it is absent; never copy it here."""

from __future__ import annotations

import os
from pathlib import Path

CORPUS = Path(os.environ.get("TLSMGM_CORPUS")
              or Path(__file__).resolve().parents[2] / "shared" / "corpus" / "real-world")
FILES = sorted(CORPUS.glob("*.cfg")) if CORPUS.is_dir() else []
