"""lims.filestore: the content-addressed folders of documents, evidence and certificates."""

from __future__ import annotations

import hashlib

from lims import filestore


def test_store_names_the_file_by_its_sha256_and_keeps_one_copy(tmp_path):
    data = "受控文件 SOP-01 v2".encode()
    sha = filestore.store(data, tmp_path / "docs")
    assert sha == hashlib.sha256(data).hexdigest()
    assert filestore.store(data, tmp_path / "docs") == sha
    assert [p.name for p in (tmp_path / "docs").iterdir()] == [sha]  # no temporary file left behind
    assert filestore.read(tmp_path / "docs", sha) == data and filestore.intact(data, sha)


def test_a_file_no_longer_matching_its_name_is_replaced_by_the_next_store(tmp_path):
    sha = filestore.store(b"original", tmp_path)
    (tmp_path / sha).write_bytes(b"altered")
    assert not filestore.intact(filestore.read(tmp_path, sha) or b"", sha)
    filestore.store(b"original", tmp_path)
    assert filestore.read(tmp_path, sha) == b"original"


def test_read_answers_none_for_what_is_not_a_stored_file(tmp_path):
    sha = hashlib.sha256(b"x").hexdigest()
    assert filestore.read(tmp_path, sha) is None  # missing
    (tmp_path / sha).mkdir()
    assert filestore.read(tmp_path, sha) is None  # a directory of that name
    (tmp_path / "secret").write_bytes(b"outside the store's names")
    for name in ("secret", "../secret", sha.upper(), sha[:-1], ""):
        assert filestore.read(tmp_path, name) is None  # only a lower-case SHA-256 names a file
