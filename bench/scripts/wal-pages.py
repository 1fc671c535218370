#!/usr/bin/env python3
"""Which B-trees the writes of an ontask SQLite database put into its WAL.

Reads the `-wal` file beside DATABASE frame by frame (the current generation
only: frames whose salts match the header's), maps each frame's page to the
table or index that owns it now (SQLite's `dbstat` table, read from a copy so
the original is left as it is), and prints frames per B-tree, per transaction
and per task.

    bench/scripts/wal-pages.py DATA_DIR/ontask.db [TASKS]

TASKS defaults to the rows in `tasks`. For a per-create figure, start a server
on an empty data directory with a WAL bound too large to be reached
(ONTASK_SQLITE__WAL_LIMIT_MIB=4096), run creates, and stop it with `kill -9`
so the WAL is left behind (a clean shutdown checkpoints it away). The largest
generation of frames in the file is counted: the run's, if the WAL did not
start over during it.
"""
import collections
import shutil
import sqlite3
import struct
import sys
import tempfile
from pathlib import Path

WAL_HEADER = 32
FRAME_HEADER = 24


def frames(wal: Path):
    """Yields (page number, is_commit) for each frame of the largest generation.

    A checkpoint that copied every frame lets the next write start the file
    over, so after a run on a server left idle the current generation may be
    a few frames, written over the start of the run's own: its frames still
    follow, with the salts they were written under (their first few are lost).
    """
    data = wal.read_bytes()
    if len(data) < WAL_HEADER:
        return
    magic, _version, page_size, _seq, _salt1, _salt2 = struct.unpack(">IIIIII", data[:24])
    if magic not in (0x377F0682, 0x377F0683):
        sys.exit(f"{wal}: not a WAL file")
    by_salt: dict[tuple[int, int], list[tuple[int, bool]]] = collections.defaultdict(list)
    offset = WAL_HEADER
    while offset + FRAME_HEADER + page_size <= len(data):
        page, commit_size, s1, s2 = struct.unpack(">IIII", data[offset : offset + 16])
        by_salt[(s1, s2)].append((page, commit_size != 0))
        offset += FRAME_HEADER + page_size
    if by_salt:
        yield from max(by_salt.values(), key=len)


def owners(database: Path) -> dict[int, str]:
    """Page number -> the table or index it belongs to, read from a copy."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / database.name
        shutil.copy(database, copy)
        wal = database.with_name(database.name + "-wal")
        if wal.exists():
            shutil.copy(wal, copy.with_name(copy.name + "-wal"))
        conn = sqlite3.connect(copy)
        try:
            return dict((page, name) for name, page in conn.execute("SELECT name, pageno FROM dbstat"))
        except sqlite3.OperationalError as e:
            sys.exit(f"this Python's SQLite has no dbstat table ({e}); run it with another Python")
        finally:
            conn.close()


def main() -> None:
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    database = Path(sys.argv[1])
    wal = database.with_name(database.name + "-wal")
    if not wal.exists():
        sys.exit(f"{wal} does not exist (was the server stopped with kill -9?)")
    if len(sys.argv) == 3:
        tasks = int(sys.argv[2])
    else:
        conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
        tasks = conn.execute("SELECT COUNT(*) FROM tasks").fetchone()[0]
        conn.close()
    names = owners(database)
    per_tree: collections.Counter[str] = collections.Counter()
    # Transactions by the set of B-trees they wrote, so a create batch and a
    # consumer's turn show apart.
    kinds: collections.Counter[str] = collections.Counter()
    kind_frames: collections.Counter[str] = collections.Counter()
    trees_in_txn: set[str] = set()
    frames_in_txn = 0
    total = commits = 0
    for page, is_commit in frames(wal):
        name = names.get(page, "(free or reused)")
        per_tree[name] += 1
        trees_in_txn.add(name)
        frames_in_txn += 1
        total += 1
        if is_commit:
            commits += 1
            kind = "tasks" if "tasks" in trees_in_txn else ", ".join(sorted(trees_in_txn))
            kinds[kind] += 1
            kind_frames[kind] += frames_in_txn
            trees_in_txn, frames_in_txn = set(), 0
    if not total:
        sys.exit("the WAL holds no frames")
    page_size = struct.unpack(">I", wal.read_bytes()[8:12])[0]
    print(f"{total} frames of {page_size} bytes in {commits} transactions; {tasks} tasks")
    print(f"{total / max(tasks, 1):.2f} pages and {total * page_size / max(tasks, 1) / 1024:.1f} KiB of WAL per task")
    print("\nframes per B-tree (per task):")
    for name, n in per_tree.most_common():
        print(f"  {n:>9}  {n / max(tasks, 1):7.2f}  {name}")
    print("\ntransactions by what they wrote (a create batch is any that wrote `tasks`):")
    for kind, n in kinds.most_common():
        print(f"  {n:>7} txns, {kind_frames[kind] / n:6.1f} frames each  {kind}")


if __name__ == "__main__":
    main()
