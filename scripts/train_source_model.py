"""Train and cache the pretrained source model of chapter 14 (a small CNN that names rendered
glyphs of up to a thousand classes), so that the transfer-learning notebook only loads it.

    python scripts/train_source_model.py                 # the sizes of $COURSE_PROFILE (default full)
    python scripts/train_source_model.py --n-classes 100 --n-per-class 100 --epochs 4 --retrain

The weights go to ``$COURSE_CACHE_DIR/models`` (default ``~/.cache/course_utils/models``).
"""

from __future__ import annotations

import argparse

from course_utils.data.glyphs import glyph_classes
from course_utils.pretrained import SOURCE_SETTINGS, load_source_model, source_weights_path
from course_utils.profile import get_profile


def main(argv=None) -> int:
    profile = get_profile()
    defaults = SOURCE_SETTINGS[profile.name]
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-classes", type=int, default=defaults["n_classes"], help="glyph classes")
    parser.add_argument("--n-per-class", type=int, default=defaults["n_per_class"], help="images a class")
    parser.add_argument("--epochs", type=int, default=defaults["epochs"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--retrain", action="store_true", help="train again even when cached")
    args = parser.parse_args(argv)
    load_source_model(n_classes=args.n_classes, n_per_class=args.n_per_class, epochs=args.epochs,
                      seed=args.seed, retrain=args.retrain)
    print(source_weights_path(glyph_classes()[:args.n_classes], args.n_per_class, args.epochs, args.seed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
