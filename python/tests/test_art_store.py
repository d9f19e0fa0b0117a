"""The W&B Artifacts guide's snippets (the seeds), rewritten against art_store, plus errors."""

from __future__ import annotations

import json
import multiprocessing
from typing import Any
import os
from pathlib import Path

import pytest

import art_store
from art_store import Artifact, Store


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ART_STORE", raising=False)
    monkeypatch.delenv("ART_RUN", raising=False)
    return Store.init(tmp_path)


def tree(root: Path, files: dict) -> Path:
    for name, content in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content if isinstance(content, bytes) else content.encode())
    return root


def read_tree(root: Path) -> dict:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(Path(root).rglob("*"))
        if p.is_file()
    }


def test_log_then_download_restores_every_byte(store: Store, tmp_path: Path) -> None:
    data = tree(tmp_path / "data", {"train.csv": "x,y\n1,2\n", "img/cat.png": os.urandom(5000)})
    art = Artifact("dataset", type="dataset", description="toy", metadata={"rows": 1})
    art.add_dir(data)
    logged = store.log_artifact(art, aliases=["baseline"])

    assert logged is art
    assert (art.name, art.type, art.version) == ("dataset", "dataset", "v0")
    assert art.qualified_name == "dataset:v0"
    assert art.aliases == ["latest", "baseline"]
    assert art.state == "committed"
    assert art.size == 8 + 5000
    assert art.source_path == "data"
    assert len(art.digest) == 64
    assert art.created_at is not None and art.created_at.tzinfo is not None

    got = store.artifact("dataset:baseline")
    assert got.digest == art.digest and got.description == "toy" and got.metadata == {"rows": 1}
    assert [f.path for f in got.files()] == ["img/cat.png", "train.csv"]
    out = got.download()
    assert Path(out) == (tmp_path / "artifacts" / "dataset:v0").resolve()
    assert read_tree(Path(out)) == read_tree(data)
    got.verify()


def test_files_named_staged_and_objects(store: Store, tmp_path: Path) -> None:
    src = tree(tmp_path / "src", {"a.txt": "alpha", "dir/b.txt": "beta"})
    art = Artifact("mixed", type="dataset")
    art.add_file(src / "a.txt")
    art.add_file(src / "a.txt", name="renamed/a2.txt")
    art.add_dir(src / "dir", name="sub")
    with art.new_file("notes.txt") as f:
        f.write("written in python")
    with art.new_file("raw.bin", mode="wb") as f:
        f.write(b"\x00\x01")
    art.add({"rows": [[1, "a"], [2, "b"]]}, "table")
    assert art.get("table") == {"rows": [[1, "a"], [2, "b"]]}
    store.log_artifact(art)

    # Staged content has no lasting source directory.
    assert art.source_path is None
    dest = Path(art.checkout(tmp_path / "co"))
    assert read_tree(dest) == {
        "a.txt": b"alpha",
        "notes.txt": b"written in python",
        "raw.bin": b"\x00\x01",
        "renamed/a2.txt": b"alpha",
        "sub/b.txt": b"beta",
        "table.json": json.dumps({"rows": [[1, "a"], [2, "b"]]}, indent=1).encode(),
    }
    logged = store.artifact("mixed:latest")
    assert logged.get("table") == {"rows": [[1, "a"], [2, "b"]]}
    assert logged.read_bytes("sub/b.txt") == b"beta"
    with logged.open("notes.txt") as f:
        assert f.read() == "written in python"
    one = Path(logged.get_path("renamed/a2.txt").download(tmp_path / "one"))
    assert one == tmp_path / "one" / "renamed" / "a2.txt" and one.read_bytes() == b"alpha"
    assert sorted(p.name for p in (tmp_path / "one").rglob("*")) == ["a2.txt", "renamed"]
    with pytest.raises(art_store.NotFoundError, match="`mixed:v0` has no file `nope`"):
        logged.read_bytes("nope")
    with pytest.raises(art_store.NotFoundError):
        logged.get_entry("nope")


def test_dedup_only_changed_files_add_to_the_store(store: Store, tmp_path: Path) -> None:
    data = tree(tmp_path / "data", {f"f{i}.bin": os.urandom(200_000) for i in range(5)})
    v0 = Artifact("images", type="dataset")
    v0.add_dir(data)
    store.log_artifact(v0)
    after_v0 = store.size()
    assert after_v0 > 5 * 200_000

    # The seed's bird.png: one new file, the rest unchanged.
    (data / "bird.png").write_bytes(os.urandom(100_000))
    v1 = Artifact("images", type="dataset")
    v1.add_dir(data)
    store.log_artifact(v1)
    grown = store.size() - after_v0
    assert v1.version == "v1"
    assert 100_000 <= grown < 150_000

    # Same content again: no new version, nothing stored.
    v2 = Artifact("images", type="dataset")
    v2.add_dir(data)
    store.log_artifact(v2)
    assert v2.version == "v1"
    assert store.size() - after_v0 == grown
    assert [a.version for a in store.artifact_versions("images")] == ["v0", "v1"]


def test_update_description_metadata_and_aliases_after_logging(
    store: Store, tmp_path: Path
) -> None:
    art = Artifact("model", type="model", metadata={"arch": "mlp", "layers": 2})
    art.add_file(tree(tmp_path, {"w.bin": b"w"}) / "w.bin")
    store.log_artifact(art, aliases=["candidate"])

    a = store.artifact("model:latest")
    a.description = "an mlp"
    a.metadata["layers"] = 3  # selectively update a key
    a.aliases.append("production")  # add an alias
    a.aliases.remove("candidate")  # remove one
    a.save()

    fresh = Store(tmp_path).artifact("model:production")
    assert fresh.description == "an mlp"
    assert fresh.metadata == {"arch": "mlp", "layers": 3}
    assert fresh.aliases == ["latest", "production"]
    with pytest.raises(art_store.NotFoundError, match="`model:candidate` does not exist"):
        store.artifact("model:candidate")

    fresh.metadata = {"replaced": True}  # replace the metadata entirely
    fresh.save()
    assert store.artifact("model:v0").metadata == {"replaced": True}


def test_lineage_walks_both_ways(store: Store, tmp_path: Path) -> None:
    raw = Artifact("raw", type="dataset")
    raw.add_file(tree(tmp_path, {"raw.csv": "1\n"}) / "raw.csv")
    store.log_artifact(raw)
    with store.init_run(job_type="preprocess") as prep:
        prep.use_artifact("raw:latest")
        clean = Artifact("clean", type="dataset")
        with clean.new_file("clean.csv") as f:
            f.write("1\n")
        prep.log_artifact(clean)
    with store.init_run(job_type="train") as train:
        train.use_artifact(clean)

    # Up from an artifact: who logged it and what that run used.
    got = store.artifact("clean:latest")
    producer = got.logged_by()
    assert producer is not None and producer.id == prep.id
    assert [a.qualified_name for a in producer.used_artifacts()] == ["raw:v0"]
    # Down from an artifact and from a run.
    assert [r.id for r in got.used_by()] == [train.id]
    assert [r.id for r in store.artifact("raw:v0").used_by()] == [prep.id]
    assert [a.qualified_name for a in prep.logged_artifacts()] == ["clean:v0"]
    assert store.artifact("raw:v0").logged_by() is None
    ids = {n["id"] for n in store.lineage("clean:v0")["nodes"]}
    assert ids == {"raw:v0", prep.id, "clean:v0", train.id}


def test_best_run_of_a_sweep_and_its_model(store: Store, tmp_path: Path) -> None:
    for lr, acc in [(0.1, 0.81), (0.01, 0.93), (0.001, 0.88)]:
        with store.init_run(group="sweep-1", job_type="train", config={"lr": lr}) as run:
            model = Artifact("model", type="model", metadata={"lr": lr})
            with model.new_file("weights.bin", mode="wb") as f:
                f.write(f"weights for {lr}".encode())
            run.log_artifact(model)
            run.summary["acc"] = acc
    with store.init_run(group="other") as run:
        run.summary["acc"] = 0.99

    best = store.best_run("acc", group="sweep-1")
    assert best.config == {"lr": 0.01} and best.summary == {"acc": 0.93}
    assert best.status == "ok"
    [model] = best.logged_artifacts()
    assert model.metadata == {"lr": 0.01}
    path = Path(model.download(tmp_path / "best"))
    assert (path / "weights.bin").read_bytes() == b"weights for 0.01"
    ranked = store.runs(group="sweep-1", sort="-summary.acc")
    assert [r.summary["acc"] for r in ranked] == [0.93, 0.88, 0.81]
    assert store.best_run("acc", group="sweep-1", minimize=True).summary["acc"] == 0.81


def test_run_status_failed_on_exception_and_finished_runs_refuse_logs(
    store: Store, tmp_path: Path
) -> None:
    with pytest.raises(ZeroDivisionError):
        with store.init_run(name="crash") as run:
            run.summary["step"] = 3
            1 / 0
    assert run.status == "failed"
    assert store.run(run.id).summary == {"step": 3}

    art = Artifact("late", type="model")
    art.add_file(tree(tmp_path, {"m": "m"}) / "m")
    with pytest.raises(art_store.ArtError, match="finished"):
        run.log_artifact(art)
    # Log to an existing run: resume it by id.
    with store.init_run(id=run.id) as again:
        again.log_artifact(art)
    assert again.id == run.id and again.status == "ok"
    assert art.logged_by().id == run.id


def test_delete_versions_without_aliases(store: Store, tmp_path: Path) -> None:
    f = tmp_path / "ckpt.bin"
    for i in range(4):
        f.write_bytes(f"epoch {i}".encode())
        art = Artifact("ckpt", type="model")
        art.add_file(f)
        store.log_artifact(art, aliases=["best"] if i == 1 else [])

    # The seed: delete every version that has no alias.
    for version in store.artifact_versions("ckpt"):
        if len(version.aliases) == 0:
            version.delete()
    assert [v.version for v in store.artifact_versions("ckpt")] == ["v1", "v3"]
    assert [v.state for v in store.artifact_versions("ckpt", include_deleted=True)] == [
        "deleted",
        "committed",
        "deleted",
        "committed",
    ]
    with pytest.raises(art_store.RefusedError, match="has aliases best"):
        store.artifact("ckpt:best").delete()
    store.artifact("ckpt:best").delete(delete_aliases=True)
    assert [v.version for v in store.artifact_versions("ckpt")] == ["v3"]
    store.gc(grace="0s")
    assert Path(store.artifact("ckpt:latest").download(tmp_path / "d")).joinpath(
        "ckpt.bin"
    ).read_bytes() == b"epoch 3"


def test_prune_unaliased(store: Store, tmp_path: Path) -> None:
    f = tmp_path / "x"
    for i in range(3):
        f.write_text(str(i))
        art = Artifact("x", type="data")
        art.add_file(f)
        store.log_artifact(art)
    assert store.prune(["x"]) == ["x:v0", "x:v1"]


def test_artifact_used_after_logging_raises(store: Store, tmp_path: Path) -> None:
    f = tree(tmp_path, {"a": "a"}) / "a"
    art = Artifact("once", type="data")
    art.add_file(f)
    store.log_artifact(art)
    with pytest.raises(art_store.ArtifactFinalizedError, match="`once:v0` is logged"):
        art.add_file(f)
    with pytest.raises(art_store.ArtifactFinalizedError):
        with art.new_file("b"):
            pass
    with pytest.raises(art_store.ArtifactFinalizedError):
        store.log_artifact(art)
    assert issubclass(art_store.ArtifactFinalizedError, art_store.ArtError)


def test_errors_carry_the_cli_messages(store: Store, tmp_path: Path) -> None:
    art = Artifact("dataset", type="dataset")
    art.add_file(tree(tmp_path, {"a": "a"}) / "a")
    store.log_artifact(art, aliases=["prod"])

    with pytest.raises(art_store.NotFoundError) as e:
        store.artifact("datasett:latest")
    assert str(e.value) == "no artifact named `datasett`; did you mean `dataset`?"
    with pytest.raises(art_store.NotFoundError, match="`dataset:v7` does not exist"):
        store.artifact("dataset:v7")
    with pytest.raises(art_store.InvalidInputError, match="invalid artifact name `bad name`"):
        store.artifact("bad name")
    with pytest.raises(art_store.InvalidInputError):
        store.runs(sort="-nonsense")
    with pytest.raises(art_store.NotAStoreError, match="is not an art store"):
        Store(tmp_path / "nowhere")
    other = Artifact("dataset", type="model")
    other.add_file(tmp_path / "a")
    with pytest.raises(art_store.InvalidInputError, match="dataset"):
        store.log_artifact(other)
    # A checkout over a file art has not seen is refused (the CLI's exit 3).
    dest = tree(tmp_path / "dest", {"a": "local edit"})
    with pytest.raises(art_store.RefusedError):
        store.artifact("dataset:prod").checkout(dest)
    assert (dest / "a").read_text() == "local edit"
    store.artifact("dataset:prod").checkout(dest, force=True)
    assert (dest / "a").read_text() == "a"
    for cls in (art_store.NotFoundError, art_store.RefusedError, art_store.InvalidInputError):
        assert issubclass(cls, art_store.ArtError)


def test_progress_bars_do_not_change_results(store: Store, tmp_path: Path) -> None:
    noisy = Store(tmp_path, progress=True)
    art = Artifact("shown", type="data")
    art.add_dir(tree(tmp_path / "d", {"a": os.urandom(100_000)}))
    noisy.log_artifact(art)
    out = Path(noisy.artifact("shown").download(tmp_path / "out"))
    assert (out / "a").read_bytes() == (tmp_path / "d" / "a").read_bytes()


def test_store_discovery_and_art_store_env(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    assert Store().dir == store.dir
    elsewhere = tmp_path.parent / (tmp_path.name + "-other")
    elsewhere.mkdir()
    Store.init(elsewhere)
    monkeypatch.setenv("ART_STORE", str(elsewhere))
    assert Store().dir == (elsewhere / ".artifacts").resolve()


def test_module_init_run_joins_art_run(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outer = store.init_run(name="from-cli")  # what `art run exec` starts
    monkeypatch.setenv("ART_RUN", outer.id)
    with art_store.init_run(store=store) as run:
        assert run.id == outer.id
        run.summary["loss"] = 0.5
    # The CLI finishes the run; the block only saved the summary.
    assert store.run(outer.id).status == "running"
    assert store.run(outer.id).summary == {"loss": 0.5}
    monkeypatch.delenv("ART_RUN")
    with art_store.init_run(name="own", store=str(tmp_path)) as own:
        pass
    assert own.id != outer.id and own.status == "ok"


def _log_in_child(root: str, i: int) -> None:
    s = Store(root)
    art = Artifact("shared", type="data")
    with art.new_file(f"part{i}.txt") as f:
        f.write(str(i) * 10_000)
    s.log_artifact(art)


def test_concurrent_log_from_two_processes(store: Store, tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_log_in_child, args=(str(tmp_path), i)) for i in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    versions = store.artifact_versions("shared")
    assert [v.version for v in versions] == ["v0", "v1"]
    assert sorted(f.path for v in versions for f in v.files()) == ["part0.txt", "part1.txt"]


@pytest.fixture(scope="module")
def big_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """96 MiB of incompressible files: long enough to log that it can be interrupted."""
    root = tmp_path_factory.mktemp("big")
    for i in range(1536):
        (root / f"f{i:04}.bin").write_bytes(os.urandom(64 * 1024))
    return root


def test_long_operations_release_the_gil(store: Store, big_tree: Path) -> None:
    import threading

    art = Artifact("big", type="data")
    art.add_dir(big_tree)
    worker = threading.Thread(target=store.log_artifact, args=(art,))
    worker.start()
    spins = 0
    while worker.is_alive():
        spins += 1
    worker.join()
    assert art.version == "v0"
    # With the GIL held for the whole log this thread would barely run.
    assert spins > 10_000


CHILD = """
import sys, art_store
store = art_store.Store(sys.argv[1])
art = art_store.Artifact("big", type="data")
art.add_dir(sys.argv[2])
print("go", flush=True)
try:
    store.log_artifact(art)
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(0)
print("finished", flush=True)
"""


def test_ctrl_c_stops_a_log_and_leaves_the_store_unchanged(
    tmp_path: Path, big_tree: Path
) -> None:
    import signal
    import subprocess
    import sys
    import time

    # A log that ends before the signal lands proves nothing: try again on a new store.
    for attempt in range(5):
        root = tmp_path / f"attempt{attempt}"
        root.mkdir()
        store = Store.init(root)
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(root), str(big_tree)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "go"
        time.sleep(0.02)
        child.send_signal(signal.SIGINT)
        out, _ = child.communicate(timeout=120)
        assert child.returncode == 0
        if out.strip() == "finished":
            continue
        assert out.strip() == "interrupted"
        assert store.artifacts() == []
        with pytest.raises(art_store.NotFoundError):
            store.artifact("big")
        return
    pytest.fail("the log always finished before Ctrl-C reached it")


def test_registry_link_promote_and_protect(store: Store, tmp_path: Path) -> None:
    """Seed 002's ``artifact.link(target_path, aliases)``: a collection of promoted models."""
    versions = []
    for i in range(2):
        a = Artifact("model", "model")
        a.add_file(str(tree(tmp_path / f"m{i}", {"w.bin": f"weights {i}"}) / "w.bin"))
        versions.append(store.log_artifact(a))
    staging = versions[0].link("classifier", aliases=["staging"])
    assert staging.qualified_name == "classifier:v0"
    assert staging.source == "model:v0"
    store.protect_alias("classifier", "production")
    prod = versions[1].link("classifier", aliases=["production"])
    assert store.artifact("classifier:production").source == "model:v1"
    with pytest.raises(art_store.RefusedError, match="protected"):
        versions[0].link("classifier", aliases=["production"])
    with pytest.raises(art_store.RefusedError, match="linked into classifier:v1"):
        versions[1].delete()
    assert store.artifact("model:v1").linked_in == ["classifier:v1"]
    assert [c.qualified_name for c in store.collection("classifier")] == ["classifier:v0", "classifier:v1"]
    assert store.collections() == ["classifier"]
    assert [a.name for a in store.artifacts()] == ["model"]
    out = prod.download(tmp_path / "prod")
    assert read_tree(Path(out)) == {"w.bin": b"weights 1"}
    versions[0].tag("golden")
    assert store.artifact("model:v0").tags == ["golden"]
    versions[0].set_ttl("30d")
    assert store.artifact("model:v0").ttl_expires_at is not None


def test_push_clone_and_pull_merge(store: Store, tmp_path: Path) -> None:
    """Two stores share a directory remote; the second to push pulls, and its version is
    renumbered after the first's."""
    a = Artifact("ds", "dataset")
    a.add_dir(str(tree(tmp_path / "d0", {"x.txt": "x"})))
    store.log_artifact(a)
    store.remote_add("origin", str(tmp_path / "remote-parent"))
    store.push()
    other = Store.clone(str(tmp_path / "remote-parent"), tmp_path / "other")
    assert [v.qualified_name for v in other.artifact_versions("ds")] == ["ds:v0"]
    b = Artifact("ds", "dataset")
    b.add_dir(str(tree(tmp_path / "d1", {"x.txt": "from a"})))
    store.log_artifact(b)
    store.push()
    c = Artifact("ds", "dataset")
    c.add_dir(str(tree(tmp_path / "d2", {"x.txt": "from other"})))
    other.log_artifact(c)
    with pytest.raises(art_store.RefusedError, match="pull"):
        other.push()
    pulled = other.pull()
    assert pulled["renumbered"] == [{"artifact": "ds", "from": 1, "to": 2}]
    other.push()
    store.pull()
    assert store.artifact("ds:v2").read_bytes("x.txt") == b"from other"
    assert other.pull(data=True)["data"]["packs"] >= 0


def _read_streaming(store_dir: str, queue: Any) -> None:
    import hashlib
    import resource

    s = Store(store_dir)
    a = s.artifact("big:latest")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    h = hashlib.blake2b()
    with a.open("big.bin", "rb") as f:
        while True:
            block = f.read(1 << 20)
            if not block:
                break
            h.update(block)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put((h.hexdigest(), (after - before) * 1024))


def test_open_streams_a_100_mib_file_without_a_checkout(store: Store, tmp_path: Path) -> None:
    """``open(name)`` of a 100 MiB file reads it without a checkout, its peak memory flat."""
    import hashlib

    data_dir = tmp_path / "big"
    data_dir.mkdir()
    rng_block = os.urandom(1 << 20)
    h = hashlib.blake2b()
    with open(data_dir / "big.bin", "wb") as f:
        for i in range(100):
            block = bytes([i]) + rng_block[1:]
            f.write(block)
            h.update(block)
    a = Artifact("big", "dataset")
    a.add_dir(str(data_dir))
    store.log_artifact(a)
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(target=_read_streaming, args=(str(store.dir), queue))
    child.start()
    digest, grew = queue.get(timeout=300)
    child.join()
    assert digest == h.hexdigest()
    assert grew < 40 << 20, f"peak RSS grew by {grew} bytes reading 100 MiB"
    with store.artifact("big").open("big.bin", "rb") as f:
        assert f.read(5) == bytes([0]) + rng_block[1:5]


def test_add_reference_pins_the_object_where_it_lives(store: Store, tmp_path: Path) -> None:
    """Seeds 001/002's ``add_reference``: the bytes stay where they are; a download gets
    exactly them, or names what changed."""
    bucket = tree(tmp_path / "bucket", {"imgs/a.png": "A", "imgs/b.png": "B", "labels.csv": "x,y\n"})
    a = Artifact("refs", "dataset")
    a.add_reference(str(bucket / "imgs"), name="images")
    a.add_reference(f"file://{bucket / 'labels.csv'}")
    a.add_file(str(tree(tmp_path / "own", {"notes.txt": "stored"}) / "notes.txt"))
    logged = store.log_artifact(a)
    out = Path(logged.download(tmp_path / "out"))
    assert read_tree(out) == {
        "images/a.png": b"A",
        "images/b.png": b"B",
        "labels.csv": b"x,y\n",
        "notes.txt": b"stored",
    }
    (bucket / "imgs" / "b.png").write_text("changed")
    with pytest.raises(art_store.ArtError, match="b.png"):
        logged.download(tmp_path / "again")
    assert not (tmp_path / "again" / "notes.txt").exists()
    only_refs = Artifact("refs-only", "dataset")
    only_refs.add_reference(str(bucket / "labels.csv"), checksum=False)
    with pytest.raises(art_store.InvalidInputError, match="same `checksum`"):
        only_refs.add_reference(str(bucket / "imgs"))
    assert store.log_artifact(only_refs).file_count == 1


def test_a_dataframe_round_trips_through_add_and_get(store: Store, tmp_path: Path) -> None:
    """A table (pandas DataFrame) saved with ``add`` and read back with ``get``, before and
    after logging; JSON objects keep working beside it."""
    if os.environ.get("ART_TEST_REQUIRE_PANDAS"):
        import pandas as pd
    else:
        pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"id": [1, 2, 3], "score": [0.5, 0.25, 1.0], "label": ["cat", "dog", "cat"]})
    a = Artifact("eval", "table")
    a.add(df, "predictions")
    a.add({"rows": 3}, "summary")
    pd.testing.assert_frame_equal(a.get("predictions"), df)
    logged = store.log_artifact(a)
    assert {f.path for f in logged.files()} == {"predictions.csv", "summary.json"}
    pd.testing.assert_frame_equal(store.artifact("eval").get("predictions"), df)
    assert store.artifact("eval").get("summary") == {"rows": 3}
    with pytest.raises(art_store.NotFoundError):
        logged.get("missing")


def _upsert_in_child(root: str, i: int) -> None:
    s = Store(root)
    with s.init_run(group="eval", job_type="eval") as run:
        art = Artifact("preds", type="predictions")
        with art.new_file(f"shard-{i}.txt") as f:
            f.write(f"{i}\n" * 1000)
        with art.new_file("classes.txt") as f:
            f.write("cat\ndog\n")
        run.upsert_artifact(art)
        assert art.state == "pending" and art.distributed_id == "eval"


def test_collaborative_writers_upsert_then_one_run_finishes(store: Store, tmp_path: Path) -> None:
    # Seed 004: several runs of one group write parts; a last one commits the version.
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_upsert_in_child, args=(str(tmp_path), i)) for i in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    (pending,) = store.pending("preds")
    assert (pending["distributed_id"], pending["parts"]) == ("eval", 3)

    with store.init_run(group="eval", job_type="merge") as run:
        art = Artifact("preds", type="predictions", description="all shards")
        with art.new_file("summary.json") as f:
            f.write('{"n": 3}')
        run.finish_artifact(art, aliases=["evaluated"])
    assert art.qualified_name == "preds:v0" and art.state == "committed"
    assert sorted(f.path for f in art.files()) == [
        "classes.txt", "shard-0.txt", "shard-1.txt", "shard-2.txt", "summary.json"
    ]
    assert art.read_bytes("shard-2.txt") == b"2\n" * 1000
    assert store.pending("preds") == []
    # Every writer produced it: the lineage has the merge run and the three writers.
    graph = store.lineage("preds:v0", direction="up")
    assert len([n for n in graph["nodes"] if n["kind"] == "run"]) == 4

    # Writers that disagree on a path are refused unless one is preferred.
    for content in ("a", "b"):
        draft = Artifact("preds", type="predictions")
        with draft.new_file("x.txt") as f:
            f.write(content)
        store.upsert_artifact(draft, "clash")
    with pytest.raises(art_store.RefusedError, match="x.txt"):
        store.finish_artifact(Artifact("preds", type="predictions"), "clash")
    done = store.finish_artifact(Artifact("preds", type="predictions"), "clash", prefer="last")
    assert done.read_bytes("x.txt") == b"b"


def test_new_draft_patches_a_version_reading_only_the_added_files(
    store: Store, tmp_path: Path
) -> None:
    data = tree(tmp_path / "data", {f"img/{i}.bin": os.urandom(2000) for i in range(50)})
    tree(data, {"labels.csv": "id,label\n", "tmp/scratch.txt": "x"})
    base = Artifact("dataset", type="dataset", metadata={"source": "scraper"})
    base.add_dir(data)
    store.log_artifact(base)

    draft = store.artifact("dataset:latest").new_draft()
    draft.add_file(tree(tmp_path / "new", {"50.bin": b"fifty"}) / "50.bin", "img/50.bin")
    draft.remove("tmp/")
    draft.remove("labels.csv")
    store.log_artifact(draft, aliases=["patched"])
    assert draft.qualified_name == "dataset:v1"
    assert draft.metadata == {"source": "scraper"}, "the patch keeps the version's metadata"
    assert draft._info["new_blobs"] == 2, "the added file and a manifest"
    expected = {f"img/{i}.bin": (data / f"img/{i}.bin").read_bytes() for i in range(50)}
    expected["img/50.bin"] = b"fifty"
    assert read_tree(Path(draft.download(tmp_path / "out"))) == expected

    edited = store.artifact("dataset:latest").new_draft()
    edited.metadata["day"] = 5
    edited.add_file(tree(tmp_path / "new2", {"51.bin": b"51"}) / "51.bin", "img/51.bin")
    store.log_artifact(edited)
    assert store.artifact("dataset:latest").metadata == {"source": "scraper", "day": 5}

    stale = store.artifact("dataset:v0").new_draft()
    stale.remove("img/0.bin")
    with pytest.raises(art_store.RefusedError, match="--onto-latest"):
        store.log_artifact(stale)
    nothing = store.artifact("dataset:latest").new_draft()
    nothing.remove("*.png")
    with pytest.raises(art_store.InvalidInputError, match="matches no file"):
        store.log_artifact(nothing)
