"""Build the natural-text corpus from Debian's documentation packages (``make corpus``).

    python -m runners.natural_corpus                       # every source, vocabularies 4096 and 16384
    python -m runners.natural_corpus --vocab 4096 --sources python-docs debian-handbook

Installs nothing: a missing package is named with the ``apt-get install`` line that
provides it. Writes ``data/natural/<name>.bin`` and ``<name>.json`` (``$RARESCALE_DATA``
moves ``data/``), the tokenizer to ``book/data/tokenizers/`` (once; reused after), and the
statistics chapter 4 reads as the artifact ``natural_corpus``. A build whose packages and
tokenizer match a recorded one must give the recorded checksum
(``book/data/natural_corpus.json``); ``--record`` records a new one. Bad input is one line
on stderr and exit code 2, with nothing written.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rarescale.pretrain import natural
from rarescale.pretrain.data import data_root
from rarescale.store.artifacts import REPO_ROOT
from rarescale.store.files import write_atomically
from rarescale.validation import ConfigError


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sources", nargs="+", default=list(natural.SOURCES),
                        help=f"of {', '.join(natural.SOURCES)} (default: all)")
    parser.add_argument("--vocab", type=int, nargs="+", default=list(natural.VOCAB_SIZES))
    parser.add_argument("--out", type=Path, default=None, help="default: $RARESCALE_DATA/natural")
    parser.add_argument("--deb-root", type=Path, default=natural.DEB_ROOT)
    parser.add_argument("--book-data", type=Path, default=REPO_ROOT / "book" / "data")
    parser.add_argument("--min-tokens", type=int, default=1)
    parser.add_argument("--retrain-tokenizer", action="store_true")
    parser.add_argument("--record", action="store_true",
                        help="record this build's checksum for its package versions")
    parser.add_argument("--no-artifact", action="store_true",
                        help="do not save the statistics as the book's artifact")
    args = parser.parse_args(argv)
    out = args.out or data_root() / "natural"
    try:
        for v in args.vocab:
            if v < 256 + 1:
                raise ConfigError(f"--vocab {v}: a byte-level BPE needs at least 257 tokens.")
        recorded = natural.recorded_checksums(args.book_data)
        for vocab in args.vocab:
            print(f"natural corpus, vocabulary {vocab}:", flush=True)
            stats = natural.build(args.sources, vocab, out, args.book_data, deb_root=args.deb_root,
                                  min_tokens=args.min_tokens, retrain_tokenizer=args.retrain_tokenizer)
            key = natural.versions_key(stats)
            print(f"  {stats['tokens']:,} tokens ({stats['validation_tokens']:,} held out), "
                  f"{stats['documents']:,} documents, Zipf exponent {stats['zipf_exponent']:.3f}, "
                  f"{stats['build_time_s']:.0f} s\n  sha256 {stats['sha256']}")
            if args.record:
                recorded[key] = stats["sha256"]
                text = json.dumps(recorded, indent=1, sort_keys=True) + "\n"
                write_atomically(args.book_data / "natural_corpus.json",
                                 lambda tmp: Path(tmp).write_text(text))
            elif key in recorded and recorded[key] != stats["sha256"]:
                print(f"natural corpus: {stats['name']} differs from the checksum recorded for "
                      f"the same packages and tokenizer ({recorded[key][:12]}…): the build is not "
                      "deterministic, or its code changed (--record accepts it).", file=sys.stderr)
                return 1
            else:
                print("  matches the recorded checksum" if key in recorded
                      else "  no checksum recorded for these versions (--record records one)")
            if not args.no_artifact and not _statistics_unchanged(stats):
                natural.save_statistics(stats)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


def _statistics_unchanged(stats: dict) -> bool:
    """Whether the statistics artifact of this build already holds these statistics (all but
    the build's time): a rebuild of the same corpus then leaves it, and the book's cache, as
    they are."""
    from rarescale.store.artifacts import ArtifactError

    try:
        saved = natural.load_statistics(tuple(stats["sources"]), stats["vocab_size"])
    except ArtifactError:
        return False
    drop = ("build_time_s", "synthetic")
    same = {k: v for k, v in saved.items() if k not in drop} == \
        json.loads(json.dumps({k: v for k, v in stats.items() if k not in drop}))
    if same:
        print("  statistics artifact unchanged: kept")
    return same


if __name__ == "__main__":
    sys.exit(main())
