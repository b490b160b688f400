"""The execution cache is cleared when library code changes (MyST-NB keys on cells only)."""

from runners.book_cache import library_digest, refresh


def test_cache_cleared_only_when_library_changes(tmp_path):
    (tmp_path / "rarescale").mkdir()
    lib = tmp_path / "rarescale" / "theory.py"
    lib.write_text("x = 1\n")
    (tmp_path / "requirements.txt").write_text("numpy==2.4.6\n")
    cache = tmp_path / "_build" / ".jupyter_cache"
    cache.mkdir(parents=True)
    (cache / "global.db").write_text("outputs")

    d0 = library_digest(tmp_path)
    assert refresh(cache, d0)  # first build with a stamp: cache of unknown origin cleared
    cache.mkdir()
    (cache / "global.db").write_text("outputs")
    assert not refresh(cache, library_digest(tmp_path))  # nothing changed: kept
    assert (cache / "global.db").exists()

    lib.write_text("x = 2\n")  # library edit
    doctrees = tmp_path / "_build" / ".doctrees"
    doctrees.mkdir()
    assert refresh(cache, library_digest(tmp_path), also=(doctrees,))
    assert not cache.exists() and not doctrees.exists()
    cache.mkdir()
    assert not refresh(cache, library_digest(tmp_path))
    (tmp_path / "requirements.txt").write_text("numpy==2.4.7\n")  # pin change
    assert refresh(cache, library_digest(tmp_path))
